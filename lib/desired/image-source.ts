/**
 * Where the guest image comes from: a URL, or a local file, checked and hashed before any
 * resource is registered, so that a missing file fails the preview with the setting's name.
 * The file's sha256 goes into an image property (components/cloud/image.ts), where the provider sees
 * it: a changed file at the same path is a diff, and a replacement.
 *
 * Its only I/O is reading the local image file.
 */
import { createHash } from "node:crypto";
import { closeSync, openSync, readSync, realpathSync, statSync } from "node:fs";
import { isAbsolute, resolve, sep } from "node:path";
import type { StackConfig } from "../config/schema";
import { settingPath } from "../config/schema";
import type { Problem } from "../config/problems";
import { show } from "../config/problems";

/** The image property holding the uploaded file's sha256. */
export const SHA256_PROPERTY = "openstack_rt_source_sha256";

export type ImageSource =
  /**
   * `path` as configured (relative to the project directory, where Pulumi runs the provider too);
   * `md5` is what Glance reports as the uploaded data's `checksum`, compared after the upload
   * (components/cloud/image.ts) so that the data in Glance is the file that was previewed.
   */
  { kind: "file"; path: string; sha256: string; md5: string } | { kind: "url"; url: string };

/** sha256 and md5 of a file in one pass, read in chunks so that a multi-GB image does not have to fit in memory. */
export function hashFile(path: string): { sha256: string; md5: string } {
  const sha256 = createHash("sha256");
  const md5 = createHash("md5");
  const buf = Buffer.alloc(4 << 20);
  const fd = openSync(path, "r");
  try {
    for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) {
      sha256.update(buf.subarray(0, n));
      md5.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return { sha256: sha256.digest("hex"), md5: md5.digest("hex") };
}

/** Kernel and device file systems: reading them is not reading an image (and may never end). */
const SPECIAL_TREES = ["/proc", "/sys", "/dev"];

const within = (dir: string, path: string) => path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);

/**
 * The image's source, or why it has none: `image` has exactly one of file and url
 * (hasOneImageSource, a config rule). A file is a regular, non-empty file; a relative path must stay inside the
 * project directory once symlinks are followed (an absolute path is the operator's explicit
 * choice), and nothing under /proc, /sys or /dev is read.
 */
export function imageSource(
  image: StackConfig["image"],
  projectDir: string,
): { ok: true; source: ImageSource } | { ok: false; problem: Problem } {
  if (SHA256_PROPERTY in image.properties) {
    return {
      ok: false,
      problem: {
        path: settingPath(["image", "properties", SHA256_PROPERTY]),
        message: `got ${show(image.properties[SHA256_PROPERTY])}, but the program sets it from the image file; remove it`,
      },
    };
  }
  if (image.url !== undefined) return { ok: true, source: { kind: "url", url: image.url } };
  const file = image.file ?? "";
  const full = isAbsolute(file) ? file : resolve(projectDir, file);
  const path = settingPath(["image", "file"]);
  const refuse = (why: string) => ({
    ok: false as const,
    problem: { path, message: `got ${show(file)} (${full}), ${why}` },
  });
  try {
    const real = realpathSync(full);
    const special = SPECIAL_TREES.find((t) => within(t, real));
    if (special)
      return refuse(
        `which is ${real === full ? "" : `a link to ${show(real)}, `}under ${special}, not an image file; give the path of the image file`,
      );
    if (!isAbsolute(file) && !within(realpathSync(projectDir), real))
      return refuse(
        `which leads to ${show(real)}, outside the project directory; give an image file inside the project directory, or its absolute path if you mean one elsewhere`,
      );
    const st = statSync(real);
    if (!st.isFile()) return refuse("which is not a regular file; give the path of the image file");
    if (st.size === 0) return refuse("which is empty; give the path of the image file (was its download cut short?)");
    return { ok: true, source: { kind: "file", path: file, ...hashFile(real) } };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    const why =
      code === "ENOENT"
        ? "does not exist"
        : code === "EACCES"
          ? "cannot be read (permission denied)"
          : `cannot be read (${code})`;
    return refuse(`which ${why}; give the path of the image file, relative to the project directory or absolute`);
  }
}
