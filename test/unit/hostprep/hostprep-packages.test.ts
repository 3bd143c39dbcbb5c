/**
 * hostprep/packages.sh: what is installed is read with dpkg-query from the root's dpkg
 * database, written here from the real control data of Debian's packages (dpkg-deb -f), the
 * way dpkg records an installed package.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { TestRoot } from "../../support/debian-root";
import {
  FIXTURES_DIR,
  buildDebianRoot,
  buildRhelRoot,
  runScript,
  show,
  snapshotDiff,
  writeDpkgStatus,
} from "../../support/debian-root";

const ARCH = execFileSync("dpkg", ["--print-architecture"], { encoding: "utf8" }).trim();
const RT_META = `linux-image-rt-${ARCH}`;

describe("packages.sh on Debian 12", () => {
  let root: TestRoot;
  beforeEach(() => {
    root = buildDebianRoot();
  });
  afterEach(() => root.remove());

  it("runs on an architecture Debian builds an RT kernel for", () => {
    assert.ok(["amd64", "arm64"].includes(ARCH), `dpkg architecture ${ARCH}`);
  });

  it("installs what is missing: the RT kernel, tuna and rt-tests next to an installed tuned", () => {
    writeDpkgStatus(root, { tuned: "install ok installed" });
    const r = runScript("packages.sh", ["--os", "debian-12", "--root", root.dir]);
    assert.equal(r.status, 0, show(r));
    assert.deepEqual(r.tripped, []);
    assert.deepEqual(r.lines, [
      "installed: tuned",
      `missing: ${RT_META} tuna rt-tests`,
      `skipped (--root ${root.dir}): apt-get update`,
      `skipped (--root ${root.dir}): env DEBIAN_FRONTEND=noninteractive apt-get install -y ${RT_META} tuna rt-tests`,
      "changed",
    ]);
  });

  it("counts a removed package whose config files stay (rc) as missing", () => {
    writeDpkgStatus(root, {
      tuned: "install ok installed",
      tuna: "install ok installed",
      [RT_META]: "install ok installed",
      "rt-tests": "deinstall ok config-files",
    });
    const r = runScript("packages.sh", ["--os", "debian-12", "--root", root.dir]);
    assert.ok(r.lines.includes("missing: rt-tests"), show(r));
    assert.equal(r.last, "changed");
  });

  it("is unchanged, and changes nothing, when all four are installed", () => {
    writeDpkgStatus(root, {
      tuned: "install ok installed",
      tuna: "install ok installed",
      [RT_META]: "install ok installed",
      "rt-tests": "hold ok installed",
    });
    // dpkg itself agrees that they are installed.
    const q = spawnSync(
      "dpkg-query",
      [
        `--admindir=${root.path("/var/lib/dpkg")}`,
        "-W",
        "-f=${Package} ${db:Status-Abbrev}\n",
        "tuned",
        RT_META,
        "rt-tests",
      ],
      { encoding: "utf8" },
    );
    assert.deepEqual(q.stdout.split("\n").filter(Boolean).sort(), [`${RT_META} ii `, "rt-tests hi ", "tuned ii "]);
    const snap = root.snapshot();
    const r = runScript("packages.sh", ["--os", "debian-12", "--root", root.dir]);
    assert.equal(r.status, 0, show(r));
    assert.deepEqual(r.lines, [`installed: ${RT_META} tuned tuna rt-tests`, "unchanged"]);
    assert.deepEqual(snapshotDiff(snap, root.snapshot()), []);
  });

  it("refuses to run the Debian package list on another distribution", () => {
    const r = runScript("packages.sh", ["--os", "ubuntu-24.04", "--root", root.dir]);
    assert.equal(r.status, 1, show(r));
    assert.match(r.stderr, /--os ubuntu-24\.04, but .* says ID=debian VERSION_ID=12/);
  });
});

describe("packages.sh on Ubuntu 22.04", () => {
  it("fails with the Ubuntu Pro instructions when apt does not know linux-image-realtime", () => {
    const root = buildDebianRoot();
    try {
      root.write("/etc/os-release", readFileSync(join(FIXTURES_DIR, "ubuntu-22.04", "os-release"), "utf8"));
      writeDpkgStatus(root, {
        tuned: "install ok installed",
        tuna: "install ok installed",
        "rt-tests": "install ok installed",
      });
      // The root's apt has no Ubuntu Pro source (no lists at all), as on a host without Pro.
      const r = runScript("packages.sh", ["--os", "ubuntu-22.04", "--root", root.dir]);
      assert.equal(r.status, 1, show(r));
      assert.ok(r.lines.includes("missing: linux-image-realtime"), show(r));
      assert.match(
        r.stderr,
        /apt does not know linux-image-realtime: .*Ubuntu Pro.*pro attach <token>.*'pro enable realtime-kernel'/,
      );
      assert.ok(!r.stdout.includes("apt-get install"), "nothing is installed without the kernel");
    } finally {
      root.remove();
    }
  });
});

describe("packages.sh on RHEL 9", () => {
  it("asks rpm, and enables the RT and NFV repositories the subscription way before dnf", () => {
    const root = buildRhelRoot();
    try {
      const r = runScript("packages.sh", ["--os", "rhel-9", "--root", root.dir]);
      assert.deepEqual(r.tripped, []);
      const rpm = spawnSync("sh", ["-c", "command -v rpm"]).status === 0;
      if (!rpm) {
        // This machine has no rpm: the script says so instead of guessing.
        assert.equal(r.status, 1, show(r));
        assert.match(r.stderr, /rpm not found: --os rhel-9 needs a RHEL-family host/);
        return;
      }
      // rpm is there, and the root has no rpm database: everything is missing.
      assert.equal(r.status, 0, show(r));
      const arch = execFileSync("uname", ["-m"], { encoding: "utf8" }).trim();
      assert.deepEqual(r.lines, [
        "missing: kernel-rt kernel-rt-kvm tuned-profiles-realtime tuned-profiles-nfv-host rt-tests",
        `skipped (--root ${root.dir}): subscription-manager repos --enable=rhel-9-for-${arch}-rt-rpms --enable=rhel-9-for-${arch}-nfv-rpms`,
        `skipped (--root ${root.dir}): dnf install -y kernel-rt kernel-rt-kvm tuned-profiles-realtime tuned-profiles-nfv-host rt-tests`,
        "changed",
      ]);
    } finally {
      root.remove();
    }
  });
});
