/**
 * The guest image in Glance, from a local file or a URL. A local file's sha256 goes into an
 * image property, where the provider sees it: a changed file at the same path is a diff, and a
 * replacement, since Glance cannot swap the data of an existing image.
 */
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { createHash } from "node:crypto";
import { isAbsolute, resolve } from "node:path";
import * as openstack from "@pulumi/openstack";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../lib/config";
import { settingPath } from "../lib/config";
import type { ImageOutput } from "../lib/outputs";
import type { Problem } from "../lib/problems";

/** The image property holding the uploaded file's sha256. */
export const SHA256_PROPERTY = "openstack_rt_source_sha256";

export type ImageSource =
  /** `path` as configured (relative to the project directory, where Pulumi runs the provider too). */
  | { kind: "file"; path: string; sha256: string }
  | { kind: "url"; url: string };

/** sha256 of a file, read in chunks so that a multi-GB image does not have to fit in memory. */
export function sha256File(path: string): string {
  const hash = createHash("sha256");
  const buf = Buffer.alloc(4 << 20);
  const fd = openSync(path, "r");
  try {
    for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) hash.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash.digest("hex");
}

/**
 * Where the image comes from; a local file is checked and hashed here, before any resource is
 * registered, so a missing file fails the preview with the setting's name.
 */
export function imageSource(image: StackConfig["image"], projectDir: string): { ok: true; source: ImageSource } | { ok: false; problem: Problem } {
  if (SHA256_PROPERTY in image.properties) {
    return { ok: false, problem: { path: settingPath(["image", "properties", SHA256_PROPERTY]), message: "is set by the program from the image file; remove it" } };
  }
  if (image.url !== undefined) return { ok: true, source: { kind: "url", url: image.url } };
  const file = image.file ?? "";
  const full = isAbsolute(file) ? file : resolve(projectDir, file);
  const path = settingPath(["image", "file"]);
  try {
    if (!statSync(full).isFile()) return { ok: false, problem: { path, message: `got "${file}" (${full}), which is not a regular file; give the path of the image file` } };
    return { ok: true, source: { kind: "file", path: file, sha256: sha256File(full) } };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    const why = code === "ENOENT" ? "does not exist" : code === "EACCES" ? "cannot be read (permission denied)" : `cannot be read (${code})`;
    return { ok: false, problem: { path, message: `got "${file}" (${full}), which ${why}; give the path of the image file, relative to the project directory or absolute` } };
  }
}

export interface RtImageArgs {
  name: string;
  source: ImageSource;
  diskFormat: string;
  containerFormat: string;
  properties: Record<string, string>;
}

export class RtImage extends pulumi.ComponentResource {
  readonly image: openstack.images.Image;
  readonly output: pulumi.Output<ImageOutput>;

  constructor(name: string, args: RtImageArgs, opts?: pulumi.ComponentResourceOptions) {
    super("openstack-rt:image:RtImage", name, {}, opts);
    const src = args.source;
    this.image = new openstack.images.Image(
      `${name}-image`,
      {
        name: args.name,
        diskFormat: args.diskFormat,
        containerFormat: args.containerFormat,
        ...(src.kind === "file" ? { localFilePath: src.path } : { imageSourceUrl: src.url }),
        properties: src.kind === "file" ? { ...args.properties, [SHA256_PROPERTY]: src.sha256 } : args.properties,
      },
      // Properties update in place, so a new checksum alone would leave the old data in Glance.
      { parent: this, replaceOnChanges: [`properties.${SHA256_PROPERTY}`] },
    );
    const sha256 = src.kind === "file" ? src.sha256 : null;
    this.output = pulumi.all([this.image.id, this.image.name]).apply(([id, imageName]): ImageOutput => ({ id, name: imageName, sha256 }));
    this.registerOutputs({ output: this.output });
  }
}
