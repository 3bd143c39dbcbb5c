/**
 * hostprep/tuned.sh against Debian's own tuned package files: isolated_cores set in place in
 * /etc/tuned/realtime-virtual-host-variables.conf, read back with TuneD's own parser.
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { TestRoot } from "../../support/debian-root";
import { buildDebianRoot, runScript, show, snapshotDiff, systemPython } from "../../support/debian-root";
import { devHostPlans } from "../../support/dev-config";

const VARS = "/etc/tuned/realtime-virtual-host-variables.conf";

/** isolated_cores as TuneD 2.20 reads the variables file (tuned.profiles.variables.Variables). */
function tunedIsolatedCores(path: string): string {
  return systemPython(
    "import sys\nfrom tuned.profiles.variables import Variables\nv = Variables()\nv.add_from_file(sys.argv[1])\nprint(v.get_env()['TUNED_isolated_cores'])",
    [path],
  ).trim();
}

describe("tuned.sh", () => {
  let root: TestRoot;
  const cores = devHostPlans().debian.tuned.isolatedCores;
  const args = () => ["--profile", "realtime-virtual-host", "--isolated-cores", cores, "--root", root.dir];

  beforeEach(() => {
    root = buildDebianRoot();
  });
  afterEach(() => root.remove());

  it("the dev plan isolates 4-11", () => {
    assert.equal(cores, "4-11");
  });

  it("sets isolated_cores in place of Debian's default line, then reports unchanged on the second run", () => {
    const shipped = root.read(VARS).split("\n");
    assert.ok(
      shipped.includes("isolated_cores=${f:calc_isolated_cores:1}"),
      "Debian's tuned ships a default isolated_cores line",
    );

    const first = runScript("tuned.sh", args());
    assert.equal(first.status, 0, show(first));
    assert.deepEqual(first.tripped, []);
    assert.equal(first.last, "changed");
    assert.ok(first.lines.includes(`set isolated_cores=${cores} in ${VARS}`), show(first));
    assert.ok(
      first.lines.includes(`skipped (--root ${root.dir}): tuned-adm profile realtime-virtual-host`),
      show(first),
    );
    // Same lines, same order; only the isolated_cores line differs.
    const written = root.read(VARS).split("\n");
    assert.deepEqual(
      written,
      shipped.map((l) => (l.startsWith("isolated_cores=") ? `isolated_cores=${cores}` : l)),
    );
    assert.equal(tunedIsolatedCores(root.path(VARS)), cores);

    // `tuned-adm profile` (skipped under --root) is what records the active profile; the test
    // does what it would have done, so the second run sees a host where it ran.
    root.write("/etc/tuned/active_profile", "realtime-virtual-host\n");
    const snap = root.snapshot();
    const second = runScript("tuned.sh", args());
    assert.equal(second.status, 0, show(second));
    assert.equal(second.last, "unchanged", show(second));
    assert.ok(!second.stdout.includes("tuned-adm"), show(second));
    assert.deepEqual(snapshotDiff(snap, root.snapshot()), []);
  });

  it("replaces the lines a seed-style `echo >>` left, keeping one", () => {
    root.write(VARS, `${root.read(VARS)}isolated_cores=4-11\nisolated_cores=2-3\n`);
    const r = runScript("tuned.sh", args());
    assert.equal(r.status, 0, show(r));
    const lines = root.read(VARS).split("\n");
    assert.deepEqual(
      lines.filter((l) => /^isolated_cores\s*=/.test(l)),
      [`isolated_cores=${cores}`],
    );
    assert.ok(lines.includes("# isolated_cores=2,4-7"), "the commented examples stay");
    assert.equal(tunedIsolatedCores(root.path(VARS)), cores);
  });

  it("re-activates a running profile whose variables changed, and activates one that is not running", () => {
    root.write("/etc/tuned/active_profile", "realtime-virtual-host\n");
    const changedFile = runScript("tuned.sh", args());
    assert.equal(changedFile.last, "changed", show(changedFile));
    assert.ok(changedFile.stdout.includes("tuned-adm profile realtime-virtual-host"), show(changedFile));

    root.write("/etc/tuned/active_profile", "balanced\n");
    const snap = root.snapshot();
    const otherProfile = runScript("tuned.sh", args());
    assert.equal(otherProfile.last, "changed", show(otherProfile));
    assert.ok(otherProfile.lines.includes("active profile: balanced"), show(otherProfile));
    assert.ok(otherProfile.stdout.includes("tuned-adm profile realtime-virtual-host"), show(otherProfile));
    assert.deepEqual(snapshotDiff(snap, root.snapshot()), [], "the variables file was already right");
  });

  it("creates the variables file when the package did not ship one", () => {
    rmSync(root.path(VARS));
    const r = runScript("tuned.sh", args());
    assert.equal(r.status, 0, show(r));
    assert.equal(root.read(VARS), `isolated_cores=${cores}\n`);
  });

  it("refuses CPUs that are not online, changing nothing", () => {
    const snap = root.snapshot();
    const r = runScript("tuned.sh", [
      "--profile",
      "realtime-virtual-host",
      "--isolated-cores",
      "4-15",
      "--root",
      root.dir,
    ]);
    assert.equal(r.status, 2, show(r));
    assert.match(r.stderr, /CPU 12, which is not online .*0-11/);
    assert.deepEqual(snapshotDiff(snap, root.snapshot()), []);
  });

  it("fails when the profile is not installed", () => {
    rmSync(root.path("/usr/lib/tuned/realtime-virtual-host"), { recursive: true });
    const snap = root.snapshot();
    const r = runScript("tuned.sh", args());
    assert.equal(r.status, 1, show(r));
    assert.match(r.stderr, /profile realtime-virtual-host is not installed.*packages\.sh/);
    assert.deepEqual(snapshotDiff(snap, root.snapshot()), []);
  });
});
