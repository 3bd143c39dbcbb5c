/**
 * hostprep/tuned.sh --stalld on|off: stalld's CLIST set in RHEL's /etc/sysconfig/stalld and the
 * service enabled with RT throttling off; or no stalld, a running one stopped, and the profile's
 * own RT throttling value left to TuneD (no sysctl.d file); and packages.sh --stalld refused where
 * the family ships no stalld.
 */
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, symlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterEach, describe, it } from "node:test";
import type { TestRoot } from "../../support/debian-root";
import { FIXTURES_DIR, buildDebianRoot, buildRhelRoot, runScript, show, snapshotDiff } from "../../support/debian-root";

const STALLD_CONF = "/etc/sysconfig/stalld";
const RUNTIME = "/proc/sys/kernel/sched_rt_runtime_us";
const WANTS = "/etc/systemd/system/multi-user.target.wants/stalld.service";
const SHIPPED_STALLD = readFileSync(join(FIXTURES_DIR, "rhel-9", "sysconfig-stalld"), "utf8");

/** What `systemctl enable stalld` leaves: the WantedBy symlink. */
function enable(root: TestRoot): void {
  mkdirSync(dirname(root.path(WANTS)), { recursive: true });
  symlinkSync("/usr/lib/systemd/system/stalld.service", root.path(WANTS));
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

  it("off (Debian, no stalld): the realtime profile's -1 stands, no sysctl.d file, nothing of stalld; then unchanged", () => {
    root = buildDebianRoot();
    root.write("/etc/tuned/active_profile", "realtime-virtual-host\n");
    root.write(RUNTIME, "-1\n");
    const before = root.snapshot();
    const first = runScript("tuned.sh", args("off"));
    assert.equal(first.status, 0, show(first));
    assert.deepEqual(first.tripped, []);
    const written = snapshotDiff(before, root.snapshot());
    assert.deepEqual(
      written.filter((p) => p.includes("sysctl")),
      [],
      `no sysctl file over the profile's value: ${written.join(", ")}`,
    );
    assert.equal(root.read(RUNTIME), "-1\n");
    assert.ok(!first.stdout.includes("sched_rt_runtime_us"), show(first));
    assert.ok(!first.stdout.includes("stalld"), show(first));

    const snap = root.snapshot();
    const second = runScript("tuned.sh", args("off"));
    assert.equal(second.last, "unchanged", show(second));
    assert.deepEqual(snapshotDiff(snap, root.snapshot()), []);
  });

  it("on (RHEL): CLIST set in stalld's file, other lines kept, stalld enabled and restarted, throttling off", () => {
    root = buildRhelRoot();
    root.write("/etc/tuned/active_profile", "realtime-virtual-host\n");
    root.write(STALLD_CONF, SHIPPED_STALLD);
    // Throttling on, as the kernel boots.
    root.write(RUNTIME, "950000\n");
    const first = runScript("tuned.sh", args("on"));
    assert.equal(first.status, 0, show(first));
    assert.deepEqual(first.tripped, []);
    assert.deepEqual(
      root.read(STALLD_CONF).split("\n"),
      SHIPPED_STALLD.split("\n").map((l) => (l === "CLIST=" ? 'CLIST="-c 4-11"' : l)),
    );
    for (const line of [
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

  it("off where stalld is installed and enabled: disabled and stopped, then the profile applied again for its own value", () => {
    root = buildRhelRoot();
    root.write(STALLD_CONF, SHIPPED_STALLD);
    root.write("/usr/lib/systemd/system/stalld.service", "[Unit]\nDescription=Stall Monitor\n");
    // The profile already active with these cores: only the stopped stalld calls for activation.
    root.write("/etc/tuned/active_profile", "realtime-virtual-host\n");
    root.write("/etc/tuned/realtime-virtual-host-variables.conf", "isolated_cores=4-11\n");
    enable(root);
    // stalld's unit puts back the value it saved when it stops (throttlectl on).
    root.write(RUNTIME, "950000\n");
    const r = runScript("tuned.sh", args("off"));
    assert.equal(r.status, 0, show(r));
    assert.deepEqual(r.tripped, []);
    const stop = r.lines.indexOf(`skipped (--root ${root.dir}): systemctl disable --now stalld.service`);
    const activate = r.lines.indexOf(`skipped (--root ${root.dir}): tuned-adm profile realtime-virtual-host`);
    assert.ok(stop >= 0 && activate > stop, show(r));
    assert.ok(!r.stdout.includes("sysctl"), "the profile sets the value, not tuned.sh");
  });

  it("off on a host whose stalld is installed but neither enabled nor running: nothing to stop, nothing re-applied", () => {
    root = buildRhelRoot();
    root.write(STALLD_CONF, SHIPPED_STALLD);
    root.write("/usr/lib/systemd/system/stalld.service", "[Unit]\nDescription=Stall Monitor\n");
    root.write("/etc/tuned/active_profile", "realtime-virtual-host\n");
    root.write("/etc/tuned/realtime-virtual-host-variables.conf", "isolated_cores=4-11\n");
    const r = runScript("tuned.sh", args("off"));
    assert.equal(r.status, 0, show(r));
    assert.ok(!r.stdout.includes("stalld"), show(r));
    assert.ok(!r.stdout.includes("tuned-adm profile"), show(r));
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
