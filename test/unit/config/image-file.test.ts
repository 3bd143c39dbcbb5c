/**
 * image.file: only a regular, non-empty image file is read, from the project directory or an
 * absolute path the operator gave (never /proc, /sys or /dev); and what Glance holds after the
 * upload is the file the plan hashed.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../../../lib/config/schema";
import type { ImageSource } from "../../../lib/desired/image-source";
import { imageSource } from "../../../lib/desired/image-source";
import { verifiedImageId } from "../../../components/cloud/image";
import { setProgramMocks } from "../../support/mocks";

const scratch = mkdtempSync(join(tmpdir(), "image-file-"));
after(() => rmSync(scratch, { recursive: true, force: true }));
const project = join(scratch, "project");
mkdirSync(project);

const image = (file: string): StackConfig["image"] => ({
  name: "img",
  file,
  diskFormat: "qcow2",
  containerFormat: "bare",
  properties: {},
  prebuiltRt: false,
  loginUser: "debian",
});
const problemOf = (file: string) => {
  const r = imageSource(image(file), project);
  assert.ok(!r.ok, `${file} is refused`);
  assert.equal(r.problem.path, "openstack-rt:image.file");
  return r.problem.message;
};

describe("image.file", () => {
  it("refuses /proc, /sys and /dev, also through a link in the project", () => {
    assert.match(problemOf("/proc/self/environ"), /under \/proc, not an image file/);
    assert.match(problemOf("/dev/zero"), /under \/dev, not an image file/);
    assert.match(problemOf("/sys/kernel/uevent_seqnum"), /under \/sys, not an image file/);
    symlinkSync("/proc/self/environ", join(project, "environ.qcow2"));
    assert.match(problemOf("environ.qcow2"), /which is a link to "\/proc\/\d+\/environ", under \/proc/);
  });

  it("refuses a relative path that leaves the project directory, and takes an absolute one outside it", () => {
    writeFileSync(join(scratch, "outside.qcow2"), "data");
    assert.match(problemOf("../outside.qcow2"), /which leads to ".*outside\.qcow2", outside the project directory/);
    symlinkSync(join(scratch, "outside.qcow2"), join(project, "link.qcow2"));
    assert.match(problemOf("link.qcow2"), /outside the project directory/);
    const abs = imageSource(image(join(scratch, "outside.qcow2")), project);
    assert.ok(abs.ok && abs.source.kind === "file");
  });

  it("refuses an empty file, and hashes a real one with sha256 and md5", () => {
    writeFileSync(join(project, "empty.qcow2"), "");
    assert.match(problemOf("empty.qcow2"), /which is empty/);
    writeFileSync(join(project, "guest.qcow2"), "image");
    const r = imageSource(image("guest.qcow2"), project);
    assert.deepEqual(r, {
      ok: true,
      source: {
        kind: "file",
        path: "guest.qcow2",
        sha256: createHash("sha256").update("image").digest("hex"),
        md5: createHash("md5").update("image").digest("hex"),
      },
    });
  });
});

/** The RtImage's verified id under mocks where Glance reports `checksum`. */
async function verifiedId(source: ImageSource, checksum: string | undefined): Promise<string> {
  await setProgramMocks({ stack: "test", state: () => (checksum ? { checksum } : {}) });
  const { RtImage } = await import("../../../components/cloud/image");
  const img = new RtImage("t", { name: "img", source, diskFormat: "qcow2", containerFormat: "bare", properties: {} });
  return (img.imageId as unknown as { promise(): Promise<string> }).promise();
}

describe("the upload is the planned file", () => {
  const file: ImageSource = {
    kind: "file",
    path: "guest.qcow2",
    sha256: "a".repeat(64),
    md5: "0123456789abcdef0123456789abcdef",
  };

  it("gives the image's id when Glance's checksum is the planned md5", async () => {
    assert.equal(await verifiedId(file, file.kind === "file" ? file.md5 : ""), "t-image-id");
  });

  it("fails, naming both checksums and what to do, when the file changed between preview and upload", () => {
    assert.throws(
      () => verifiedImageId("img", file, "id", "ffffffffffffffffffffffffffffffff"),
      (e: unknown) =>
        pulumi.RunError.isInstance(e) &&
        /^image img: Glance holds data with checksum \(md5\) "f{32}", but guest\.qcow2 had 0123456789abcdef0123456789abcdef when it was planned .*the file changed between the preview and the upload/.test(
          e.message,
        ),
    );
    assert.equal(verifiedImageId("img", { kind: "url", url: "https://example.org/i" }, "id", "f".repeat(32)), "id");
  });
});
