/**
 * hostprep/tuned.sh --stalld on|off: stalld's CLIST set in RHEL's /etc/sysconfig/stalld and the
 * service enabled, or RT throttling kept on through /etc/sysctl.d, read back with TuneD's own
 * sysctl re-apply; and packages.sh --stalld refused where the family ships no stalld.
 */
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, symlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterEach, describe, it } from "node:test";
import type { TestRoot } from "../../support/debian-root";
import {
  FIXTURES_DIR,
  buildDebianRoot,
  buildRhelRoot,
  runScript,
  show,
  snapshotDiff,
  systemPython,
} from "../../support/debian-root";

const STALLD_CONF = "/etc/sysconfig/stalld";
const THROTTLING = "/etc/sysctl.d/90-openstack-rt-rt-throttling.conf";
const RUNTIME = "/proc/sys/kernel/sched_rt_runtime_us";
const WANTS = "/etc/systemd/system/multi-user.target.wants/stalld.service";
const SHIPPED_STALLD = readFileSync(join(FIXTURES_DIR, "rhel-9", "sysconfig-stalld"), "utf8");

/** What `systemctl enable stalld` leaves: the WantedBy symlink. */
function enable(root: TestRoot): void {
  mkdirSync(dirname(root.path(WANTS)), { recursive: true });
  symlinkSync("/usr/lib/systemd/system/stalld.service", root.path(WANTS));
}

/** What TuneD 2.20 writes when it re-applies this sysctl.d file after its profile (reapply_sysctl). */
function tunedReapplies(path: string): string {
  return systemPython(
    [
      "import sys",
      "import tuned.plugins.plugin_sysctl as p",
      "p._write_sysctl = lambda option, value, ignore_missing=False: print(f'{option}={value}')",
      "p._apply_sysctl_config_file(sys.argv[1], {'kernel.sched_rt_runtime_us': '-1'})",
    ].join("\n"),
    [path],
  ).trim();
}

describe("tuned.sh --stalld", () => {
  let root: TestRoot;
  const args = (stalld: string) => [
    "--profile",
    "realtime-virtual-host",
    "--isolated-cores",
    "4-11",
    "--stalld",
    stalld,
    "--root",
    root.dir,
  ];
  afterEach(() => root.remove());

  it("off (Debian, no stalld): RT throttling kept at 950000 over the profile's -1, then unchanged", () => {
    root = buildDebianRoot();
    root.write("/etc/tuned/active_profile", "realtime-virtual-host\n");
    root.write(RUNTIME, "-1\n");
    const first = runScript("tuned.sh", args("off"));
    assert.equal(first.status, 0, show(first));
    assert.deepEqual(first.tripped, []);
    assert.ok(first.lines.includes(`set kernel.sched_rt_runtime_us=950000 in ${THROTTLING}`), show(first));
    assert.ok(first.lines.includes("kernel.sched_rt_runtime_us is -1, planned 950000"), show(first));
    assert.ok(
      first.lines.includes(`skipped (--root ${root.dir}): sysctl -w kernel.sched_rt_runtime_us=950000`),
      show(first),
    );
    assert.ok(!first.stdout.includes("stalld.service"), "no stalld to stop on Debian");
    assert.equal(tunedReapplies(root.path(THROTTLING)), "kernel.sched_rt_runtime_us=950000");

    // What `sysctl -w` (skipped under --root) would have done.
    root.write(RUNTIME, "950000\n");
    const snap = root.snapshot();
    const second = runScript("tuned.sh", args("off"));
    assert.equal(second.last, "unchanged", show(second));
    assert.deepEqual(snapshotDiff(snap, root.snapshot()), []);
  });

  it("on (RHEL): CLIST set in stalld's file, other lines kept, throttling file gone, stalld enabled and restarted", () => {
    root = buildRhelRoot();
    root.write("/etc/tuned/active_profile", "realtime-virtual-host\n");
    root.write(STALLD_CONF, SHIPPED_STALLD);
    // A host switched from stalld: false.
    root.write(THROTTLING, "kernel.sched_rt_runtime_us = 950000\n");
    root.write(RUNTIME, "950000\n");
    const first = runScript("tuned.sh", args("on"));
    assert.equal(first.status, 0, show(first));
    assert.deepEqual(first.tripped, []);
    assert.deepEqual(
      root.read(STALLD_CONF).split("\n"),
      SHIPPED_STALLD.split("\n").map((l) => (l === "CLIST=" ? 'CLIST="-c 4-11"' : l)),
    );
    assert.equal(root.exists(THROTTLING), false);
    for (const line of [
      `removed ${THROTTLING}: RT throttling off, stalld watches 4-11`,
      `set CLIST="-c 4-11" in ${STALLD_CONF}`,
      `skipped (--root ${root.dir}): systemctl enable stalld.service`,
      `skipped (--root ${root.dir}): systemctl restart stalld.service`,
      `skipped (--root ${root.dir}): sysctl -w kernel.sched_rt_runtime_us=-1`,
    ])
      assert.ok(first.lines.includes(line), `${line}\n${show(first)}`);

    // What the skipped commands would have done: the unit enabled, throttling off.
    enable(root);
    root.write(RUNTIME, "-1\n");
    const snap = root.snapshot();
    const second = runScript("tuned.sh", args("on"));
    assert.equal(second.last, "unchanged", show(second));
    assert.deepEqual(snapshotDiff(snap, root.snapshot()), []);

    // Other isolated cores: the file changes and stalld restarts to read it.
    const moved = runScript("tuned.sh", [...args("on").slice(0, 3), "6-11", ...args("on").slice(4)]);
    assert.equal(moved.status, 0, show(moved));
    assert.ok(root.read(STALLD_CONF).includes('CLIST="-c 6-11"\n'));
    assert.ok(moved.lines.includes(`skipped (--root ${root.dir}): systemctl restart stalld.service`), show(moved));
  });

  it("on without stalld installed fails and names the step that installs it", () => {
    root = buildRhelRoot();
    const r = runScript("tuned.sh", args("on"));
    assert.equal(r.status, 1, show(r));
    assert.match(
      r.stderr,
      /stalld is not installed \(.*\/etc\/sysconfig\/stalld missing\); run packages\.sh --stalld first/,
    );
  });

  it("off where stalld is installed and enabled: disabled and stopped, then throttling on", () => {
    root = buildRhelRoot();
    root.write(STALLD_CONF, SHIPPED_STALLD);
    root.write("/usr/lib/systemd/system/stalld.service", "[Unit]\nDescription=Stall Monitor\n");
    enable(root);
    const r = runScript("tuned.sh", args("off"));
    assert.equal(r.status, 0, show(r));
    const stop = r.lines.indexOf(`skipped (--root ${root.dir}): systemctl disable --now stalld.service`);
    assert.ok(stop >= 0, show(r));
    assert.ok(stop < r.lines.indexOf(`set kernel.sched_rt_runtime_us=950000 in ${THROTTLING}`), show(r));
  });

  it("refuses another value, naming the two it takes", () => {
    root = buildDebianRoot();
    const r = runScript("tuned.sh", args("yes"));
    assert.equal(r.status, 2, show(r));
    assert.match(r.stderr, /--stalld must be on or off \(got yes\)/);
  });
});

describe("packages.sh --stalld", () => {
  for (const os of ["debian-12", "ubuntu-22.04", "ubuntu-24.04"])
    it(`is bad input on ${os}, which ships no stalld`, () => {
      const root = buildDebianRoot();
      try {
        const r = runScript("packages.sh", ["--os", os, "--stalld", "--root", root.dir]);
        assert.equal(r.status, 2, show(r));
        assert.match(r.stderr, new RegExp(`--stalld: ${os} does not package stalld \\(only rhel-8 and rhel-9 do\\)`));
        assert.deepEqual(r.tripped, []);
      } finally {
        root.remove();
      }
    });
});
