/**
 * Where the guest image comes from: a URL, or a local file, checked and hashed before any
 * resource is registered, so that a missing file fails the preview with the setting's name.
 * The file's sha256 goes into an image property (components/cloud/image.ts), where the provider sees
 * it: a changed file at the same path is a diff, and a replacement.
 *
 * Its only I/O is reading the local image file.
 */
import { createHash } from "node:crypto";
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import type { StackConfig } from "../config/schema";
import { settingPath } from "../config/schema";
import type { Problem } from "../config/problems";

/** The image property holding the uploaded file's sha256. */
export const SHA256_PROPERTY = "openstack_rt_source_sha256";

export type ImageSource =
  /** `path` as configured (relative to the project directory, where Pulumi runs the provider too). */
  { kind: "file"; path: string; sha256: string } | { kind: "url"; url: string };

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

/** The image's source, or why it has none: `image` has exactly one of file and url (planStack checks that). */
export function imageSource(
  image: StackConfig["image"],
  projectDir: string,
): { ok: true; source: ImageSource } | { ok: false; problem: Problem } {
  if (SHA256_PROPERTY in image.properties) {
    return {
      ok: false,
      problem: {
        path: settingPath(["image", "properties", SHA256_PROPERTY]),
        message: `got ${JSON.stringify(image.properties[SHA256_PROPERTY])}, but the program sets it from the image file; remove it`,
      },
    };
  }
  if (image.url !== undefined) return { ok: true, source: { kind: "url", url: image.url } };
  const file = image.file ?? "";
  const full = isAbsolute(file) ? file : resolve(projectDir, file);
  const path = settingPath(["image", "file"]);
  try {
    if (!statSync(full).isFile())
      return {
        ok: false,
        problem: {
          path,
          message: `got "${file}" (${full}), which is not a regular file; give the path of the image file`,
        },
      };
    return { ok: true, source: { kind: "file", path: file, sha256: sha256File(full) } };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    const why =
      code === "ENOENT"
        ? "does not exist"
        : code === "EACCES"
          ? "cannot be read (permission denied)"
          : `cannot be read (${code})`;
    return {
      ok: false,
      problem: {
        path,
        message: `got "${file}" (${full}), which ${why}; give the path of the image file, relative to the project directory or absolute`,
      },
    };
  }
}
