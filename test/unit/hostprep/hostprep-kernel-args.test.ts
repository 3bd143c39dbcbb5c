/**
 * hostprep/kernel-args.sh: GRUB_CMDLINE_LINUX in Debian's /etc/default/grub (from grub2-common)
 * and RHEL 9's, the 1 GiB page boot unit, and the reboot verdict, with the dev plan's arguments.
 * 2 MiB pages beside the 1 GiB ones and the hugetlbfs mounts: test/hostprep-hugepages.test.ts.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { verifyUnit } from "../../support/systemd-verify";
import { hostSteps } from "../../../lib/desired/host-steps";
import type { HostPlan } from "../../../lib/plan/host";
import type { TestRoot } from "../../support/debian-root";
import {
  buildDebianRoot,
  buildRhelRoot,
  removedAfterEach,
  runScript,
  show,
  snapshotDiff,
  sourcedCmdline,
} from "../../support/debian-root";
import { devStack } from "../../support/dev-config";

const GRUB = "/etc/default/grub";
const UNIT = "/etc/systemd/system/hugetlb-gigantic-pages.service";
const LINK = "/etc/systemd/system/sysinit.target.wants/hugetlb-gigantic-pages.service";
const RESERVE = "/usr/local/lib/openstack-rt/hugetlb-reserve-pages";

const dev = devStack();
const debian = dev.plan.hosts.find((h) => h.os === "debian-12")!;
const rhel = dev.plan.hosts.find((h) => h.os === "rhel-9")!;

/** The arguments the kernel-args step of a host plan passes (lib/desired/host-steps.ts), without --root. */
function stepArgs(plan: HostPlan): string[] {
  const host = dev.config.hosts.find((h) => h.name === plan.name);
  if (!host) throw new Error(`no host config for ${plan.name}`);
  return hostSteps(plan, host).find((s) => s.id === "kernel-args")!.args;
}

/** The arguments a caller passes for a host plan. */
function planArgs(plan: HostPlan, root: TestRoot): string[] {
  return [...stepArgs(plan), "--root", root.dir];
}

/** GRUB_CMDLINE_LINUX_DEFAULT as grub-mkconfig ends up with it: /etc/default/grub, then grub.d/*.cfg. */
function sourcedDefault(root: TestRoot): string {
  const script =
    'set -a; . "$1/etc/default/grub"; for f in "$1"/etc/default/grub.d/*.cfg; do [ -f "$f" ] && . "$f"; done; printf %s "$GRUB_CMDLINE_LINUX_DEFAULT"';
  return execFileSync("bash", ["-c", script, "_", root.dir], {
    encoding: "utf8",
    env: { PATH: "/usr/bin:/bin" },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** The lines of a file that differ from another version of it, as [before, after] pairs. */
function changedLines(before: string, after: string): [string, string][] {
  const a = before.split("\n");
  const b = after.split("\n");
  assert.equal(a.length, b.length, "line count changed");
  return a.flatMap((l, i): [string, string][] => (l === b[i] ? [] : [[l, b[i]]]));
}

const track = removedAfterEach();

describe("kernel-args.sh on Debian 12 (dev plan compute-rt-01: per-node pages on the command line)", () => {
  it("the dev plan's arguments", () => {
    assert.deepEqual(stepArgs(debian), [
      "--os",
      "debian-12",
      "--args",
      "default_hugepagesz=1G hugepagesz=1G hugepages=0:4,1:4",
    ]);
  });

  it("sets GRUB_CMDLINE_LINUX in the packaged /etc/default/grub, then is unchanged on the second run", () => {
    const root = track(buildDebianRoot());
    const shipped = root.read(GRUB);
    const first = runScript("kernel-args.sh", planArgs(debian, root));
    assert.equal(first.status, 0, show(first));
    assert.deepEqual(first.tripped, []);
    assert.equal(first.last, "changed");
    assert.deepEqual(changedLines(shipped, root.read(GRUB)), [
      ['GRUB_CMDLINE_LINUX=""', 'GRUB_CMDLINE_LINUX="default_hugepagesz=1G hugepagesz=1G hugepages=0:4,1:4"'],
    ]);
    assert.equal(sourcedCmdline(root), "default_hugepagesz=1G hugepagesz=1G hugepages=0:4,1:4");
    assert.ok(first.lines.includes(`skipped (--root ${root.dir}): update-grub`), show(first));
    assert.equal(first.values.get("reboot_needed"), "yes");
    assert.equal(root.exists(UNIT), false, "no boot unit for the command-line method");

    const snap = root.snapshot();
    const second = runScript("kernel-args.sh", planArgs(debian, root));
    assert.equal(second.status, 0, show(second));
    assert.equal(second.last, "unchanged", show(second));
    assert.ok(!second.stdout.includes("update-grub"), show(second));
    assert.equal(second.values.get("reboot_needed"), "yes", "the running kernel still lacks the arguments");
    assert.deepEqual(snapshotDiff(snap, root.snapshot()), []);
  });

  it("says reboot_needed=no once /proc/cmdline carries the arguments", () => {
    const root = track(buildDebianRoot());
    root.write(
      "/proc/cmdline",
      "BOOT_IMAGE=/boot/vmlinuz-6.1.0-28-rt-amd64 root=UUID=2f6c3c1e ro default_hugepagesz=1G hugepagesz=1G hugepages=0:4,1:4 quiet isolcpus=4-11\n",
    );
    const r = runScript("kernel-args.sh", planArgs(debian, root));
    assert.equal(r.values.get("reboot_needed"), "no", show(r));
    // Out of order is not the same command line: hugepages= counts the hugepagesz= before it.
    root.write(
      "/proc/cmdline",
      "BOOT_IMAGE=/boot/vmlinuz-6.1.0-28-rt-amd64 ro hugepages=0:4,1:4 default_hugepagesz=1G hugepagesz=1G\n",
    );
    assert.equal(runScript("kernel-args.sh", planArgs(debian, root)).values.get("reboot_needed"), "yes");
  });

  it("keeps the user's other arguments and TuneD's lines, replacing a value by key", () => {
    const root = track(buildDebianRoot());
    const tunedLines =
      'GRUB_CMDLINE_LINUX_DEFAULT="${GRUB_CMDLINE_LINUX_DEFAULT:+$GRUB_CMDLINE_LINUX_DEFAULT }\\$tuned_params"\n' +
      'GRUB_INITRD_OVERLAY="${GRUB_INITRD_OVERLAY:+$GRUB_INITRD_OVERLAY }\\$tuned_initrd"\n';
    root.write(
      GRUB,
      root
        .read(GRUB)
        .replace('GRUB_CMDLINE_LINUX=""', 'GRUB_CMDLINE_LINUX="console=ttyS0,115200n8 hugepages=16 net.ifnames=0"') +
        tunedLines,
    );
    const before = root.read(GRUB);
    const r = runScript("kernel-args.sh", planArgs(debian, root));
    assert.equal(r.status, 0, show(r));
    assert.deepEqual(changedLines(before, root.read(GRUB)), [
      [
        'GRUB_CMDLINE_LINUX="console=ttyS0,115200n8 hugepages=16 net.ifnames=0"',
        'GRUB_CMDLINE_LINUX="console=ttyS0,115200n8 net.ifnames=0 default_hugepagesz=1G hugepagesz=1G hugepages=0:4,1:4"',
      ],
    ]);
    assert.ok(root.read(GRUB).endsWith(tunedLines), "TuneD's bootloader lines stay");
  });

  it("rewrites single-quoted and bare assignments, keeping a trailing comment", () => {
    for (const [line, want] of [
      [
        "GRUB_CMDLINE_LINUX='quiet splash'",
        'GRUB_CMDLINE_LINUX="quiet splash default_hugepagesz=1G hugepagesz=1G hugepages=0:4,1:4"',
      ],
      [
        "GRUB_CMDLINE_LINUX=quiet  # serial console later",
        'GRUB_CMDLINE_LINUX="quiet default_hugepagesz=1G hugepagesz=1G hugepages=0:4,1:4"  # serial console later',
      ],
    ]) {
      const root = track(buildDebianRoot());
      root.write(GRUB, root.read(GRUB).replace('GRUB_CMDLINE_LINUX=""', line));
      const r = runScript("kernel-args.sh", planArgs(debian, root));
      assert.equal(r.status, 0, show(r));
      assert.ok(root.read(GRUB).split("\n").includes(want), `${line}\n${root.read(GRUB)}`);
      assert.equal(runScript("kernel-args.sh", planArgs(debian, root)).last, "unchanged");
    }
  });

  it("edits the last of several assignments (the one the shell keeps), and adds one when there is none", () => {
    const root = track(buildDebianRoot());
    root.write(GRUB, `${root.read(GRUB)}GRUB_CMDLINE_LINUX="nomodeset"\n`);
    runScript("kernel-args.sh", planArgs(debian, root));
    const lines = root.read(GRUB).split("\n");
    assert.ok(lines.includes('GRUB_CMDLINE_LINUX=""'), "the overridden first assignment is left alone");
    assert.ok(lines.includes('GRUB_CMDLINE_LINUX="nomodeset default_hugepagesz=1G hugepagesz=1G hugepages=0:4,1:4"'));
    assert.equal(sourcedCmdline(root), "nomodeset default_hugepagesz=1G hugepagesz=1G hugepages=0:4,1:4");

    const none = track(buildDebianRoot());
    none.write(GRUB, none.read(GRUB).replace('GRUB_CMDLINE_LINUX=""\n', ""));
    runScript("kernel-args.sh", planArgs(debian, none));
    assert.equal(sourcedCmdline(none), "default_hugepagesz=1G hugepagesz=1G hugepages=0:4,1:4");
  });

  it("stops, changing nothing, on assignments it cannot rewrite safely and on a grub.d override", () => {
    for (const line of [
      'GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX quiet"',
      'GRUB_CMDLINE_LINUX="`cat /etc/cmdline`"',
      'GRUB_CMDLINE_LINUX="a" ; GRUB_X=1',
    ]) {
      const root = track(buildDebianRoot());
      root.write(GRUB, root.read(GRUB).replace('GRUB_CMDLINE_LINUX=""', line));
      const snap = root.snapshot();
      const r = runScript("kernel-args.sh", planArgs(debian, root));
      assert.equal(r.status, 1, `${line}\n${show(r)}`);
      assert.match(r.stderr, /does not rewrite safely.*add these arguments there by hand: default_hugepagesz=1G/, line);
      assert.deepEqual(snapshotDiff(snap, root.snapshot()), [], line);
    }
    const root = track(buildDebianRoot());
    root.write("/etc/default/grub.d/50-cloudimg-settings.cfg", 'GRUB_CMDLINE_LINUX="console=ttyS0"\n');
    const snap = root.snapshot();
    const r = runScript("kernel-args.sh", planArgs(debian, root));
    assert.equal(r.status, 1, show(r));
    assert.match(r.stderr, /50-cloudimg-settings\.cfg sets GRUB_CMDLINE_LINUX after/);
    assert.deepEqual(snapshotDiff(snap, root.snapshot()), []);
    // Appending there is fine.
    root.write(
      "/etc/default/grub.d/50-cloudimg-settings.cfg",
      'GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX console=ttyS0"\n',
    );
    assert.equal(runScript("kernel-args.sh", planArgs(debian, root)).status, 0);
  });

  it("stops on a grub.d drop-in that sets GRUB_CMDLINE_LINUX_DEFAULT afresh: it would drop TuneD's $tuned_params", () => {
    // As TuneD's bootloader plugin leaves /etc/default/grub on Debian (seen in the e2e VM), and
    // the console setting Ubuntu's cloud images keep in a drop-in.
    const tunedLine =
      'GRUB_CMDLINE_LINUX_DEFAULT="${GRUB_CMDLINE_LINUX_DEFAULT:+$GRUB_CMDLINE_LINUX_DEFAULT }\\$tuned_params"\n';
    const root = track(buildDebianRoot());
    root.write(GRUB, root.read(GRUB) + tunedLine);
    root.write(
      "/etc/default/grub.d/50-cloudimg-settings.cfg",
      'GRUB_CMDLINE_LINUX_DEFAULT="console=tty1 console=ttyS0"\n',
    );
    const snap = root.snapshot();
    const r = runScript("kernel-args.sh", planArgs(debian, root));
    assert.equal(r.status, 1, show(r));
    assert.match(
      r.stderr,
      /50-cloudimg-settings\.cfg sets GRUB_CMDLINE_LINUX_DEFAULT after .*\/etc\/default\/grub and would override the \$tuned_params that TuneD appends there.*make it append \(GRUB_CMDLINE_LINUX_DEFAULT="\$GRUB_CMDLINE_LINUX_DEFAULT \.\.\."\)/,
    );
    assert.deepEqual(snapshotDiff(snap, root.snapshot()), []);
    for (const ok of [
      'GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT console=ttyS0"',
      'GRUB_CMDLINE_LINUX_DEFAULT="${GRUB_CMDLINE_LINUX_DEFAULT} console=ttyS0"',
      "GRUB_TIMEOUT=1",
    ]) {
      root.write("/etc/default/grub.d/50-cloudimg-settings.cfg", `${ok}\n`);
      const again = runScript("kernel-args.sh", planArgs(debian, root));
      assert.equal(again.status, 0, `${ok}\n${show(again)}`);
      assert.match(sourcedDefault(root), /\$tuned_params/, ok);
    }
  });

  it("puts every file back when a later part of the run fails", () => {
    const root = track(buildDebianRoot());
    // /etc/systemd/system as a file: installing the boot unit fails after the GRUB edit.
    rmSync(root.path("/etc/systemd/system"), { recursive: true, force: true });
    root.write("/etc/systemd/system", "not a directory\n");
    const snap = root.snapshot();
    const r = runScript("kernel-args.sh", [
      "--os",
      "debian-12",
      "--args",
      "default_hugepagesz=1G hugepagesz=1G",
      "--hugepages-unit",
      "0:4:1G,1:4:1G",
      "--root",
      root.dir,
    ]);
    assert.equal(r.status, 1, show(r));
    assert.match(r.stderr, /put back .*\/etc\/default\/grub/);
    // update-grub ran on the edited file before the failure: the next run runs it (and the
    // daemon-reload the unit would have needed) again first, on the files as they were.
    assert.deepEqual(snapshotDiff(snap, root.snapshot()), [
      "var/lib/openstack-rt",
      "var/lib/openstack-rt/pending",
      "var/lib/openstack-rt/pending/kernel-args",
    ]);
    assert.equal(root.read("/var/lib/openstack-rt/pending/kernel-args"), "update-grub\nsystemctl\tdaemon-reload\n");
    assert.match(r.stderr, /the next run of this step first runs: update-grub; systemctl daemon-reload /);
    const next = runScript("kernel-args.sh", ["--os", "debian-12", "--args", "", "--root", root.dir]);
    assert.match(next.stdout, /^a previous run changed files and ended before running: update-grub$/m, show(next));
    assert.ok(!root.exists("/var/lib/openstack-rt/pending/kernel-args"));
  });

  it("refuses --os for another distribution", () => {
    const root = track(buildDebianRoot());
    const r = runScript("kernel-args.sh", planArgs(rhel, root));
    assert.equal(r.status, 1, show(r));
    assert.match(r.stderr, /--os rhel-9, but .* says ID=debian VERSION_ID=12/);
  });
});

describe("kernel-args.sh on RHEL 9 (dev plan compute-rt-02: 5.14 kernel, so a boot unit reserves the pages)", () => {
  it("the dev plan's arguments", () => {
    assert.deepEqual(stepArgs(rhel), [
      "--os",
      "rhel-9",
      "--args",
      "default_hugepagesz=1G hugepagesz=1G",
      "--hugepages-unit",
      "0:4:1G,1:4:1G",
    ]);
  });

  it("edits /etc/default/grub, plans the grubby call, installs and enables the unit; unchanged the second time", () => {
    const root = track(buildRhelRoot());
    const shipped = root.read(GRUB);
    const first = runScript("kernel-args.sh", planArgs(rhel, root));
    assert.equal(first.status, 0, show(first));
    assert.deepEqual(first.tripped, []);
    assert.equal(first.last, "changed");
    assert.deepEqual(changedLines(shipped, root.read(GRUB)), [
      [
        'GRUB_CMDLINE_LINUX="crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M resume=/dev/mapper/rhel-swap rd.lvm.lv=rhel/root rd.lvm.lv=rhel/swap rhgb quiet"',
        'GRUB_CMDLINE_LINUX="crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M resume=/dev/mapper/rhel-swap rd.lvm.lv=rhel/root rd.lvm.lv=rhel/swap rhgb quiet default_hugepagesz=1G hugepagesz=1G"',
      ],
    ]);
    assert.ok(
      first.lines.includes(
        `skipped (--root ${root.dir}): grubby --update-kernel=ALL --args=default_hugepagesz=1G hugepagesz=1G`,
      ),
      show(first),
    );
    assert.ok(!first.stdout.includes("update-grub"), "RHEL has no update-grub");

    const unit = root.read(UNIT);
    assert.match(unit, /^ExecStart=\/bin\/sh \/usr\/local\/lib\/openstack-rt\/hugetlb-reserve-pages 0:4:1G 1:4:1G$/m);
    assert.match(unit, /^Before=dev-hugepages\.mount/m);
    assert.match(unit, /^WantedBy=sysinit\.target$/m);
    assert.match(unit, /^Type=oneshot$/m);
    // systemd itself: the unit file is valid, and the link makes it enabled.
    const verify = verifyUnit(root.path(UNIT));
    assert.equal(verify.status, 0, verify.stderr);
    assert.deepEqual(verify.complaints, [], "systemd-analyze verify has no complaint");
    assert.equal(
      execFileSync("systemctl", [`--root=${root.dir}`, "is-enabled", "hugetlb-gigantic-pages.service"], {
        encoding: "utf8",
      }).trim(),
      "enabled",
    );
    assert.ok(first.lines.includes(`skipped (--root ${root.dir}): systemctl daemon-reload`));
    assert.equal(first.values.get("reboot_needed"), "yes");

    const snap = root.snapshot();
    const second = runScript("kernel-args.sh", planArgs(rhel, root));
    assert.equal(second.last, "unchanged", show(second));
    assert.ok(!second.stdout.includes("grubby"), show(second));
    assert.deepEqual(snapshotDiff(snap, root.snapshot()), []);
  });

  it("the installed reserve script is shellcheck-clean POSIX sh and fills every node's pool", () => {
    const root = track(buildRhelRoot());
    runScript("kernel-args.sh", planArgs(rhel, root));
    const sc = spawnSync("shellcheck", ["-s", "sh", root.path(RESERVE)], { encoding: "utf8" });
    assert.equal(sc.status, 0, sc.stdout);
    const run = spawnSync("/bin/sh", [root.path(RESERVE), "0:4:1G", "1:4:1G"], {
      encoding: "utf8",
      env: { PATH: "/usr/bin:/bin", HUGETLB_SYSFS: root.path("/sys"), HUGETLB_PROC: root.path("/proc") },
    });
    assert.equal(run.status, 0, run.stderr);
    for (const node of [0, 1]) {
      assert.equal(root.read(`/sys/devices/system/node/node${node}/hugepages/hugepages-1048576kB/nr_hugepages`), "4\n");
    }
    // With the pages in place and the arguments on the running command line, no reboot.
    root.write(
      "/proc/cmdline",
      "BOOT_IMAGE=(hd0,gpt2)/vmlinuz-5.14.0-427.13.1.el9_4.x86_64+rt ro default_hugepagesz=1G hugepagesz=1G rhgb quiet\n",
    );
    assert.equal(runScript("kernel-args.sh", planArgs(rhel, root)).values.get("reboot_needed"), "no");
    root.write("/sys/devices/system/node/node1/hugepages/hugepages-1048576kB/nr_hugepages", "3\n");
    const short = runScript("kernel-args.sh", planArgs(rhel, root));
    assert.equal(short.values.get("reboot_needed"), "yes");
    assert.equal(short.values.get("reboot_reason"), "node 1 holds 3 pages of 1 GiB, the boot unit reserves 4");
  });

  it("the reserve script retries, then fails naming the node, when the kernel keeps allocating fewer pages", () => {
    const root = track(buildRhelRoot());
    runScript("kernel-args.sh", planArgs(rhel, root));
    // Writes to /dev/null succeed and read back nothing: a node that never gets its pages.
    const f = root.path("/sys/devices/system/node/node1/hugepages/hugepages-1048576kB/nr_hugepages");
    rmSync(f);
    symlinkSync("/dev/null", f);
    mkdirSync(root.path("/proc/sys/vm"), { recursive: true });
    writeFileSync(root.path("/proc/sys/vm/compact_memory"), "");
    const run = spawnSync("/bin/sh", [root.path(RESERVE), "0:4:1G", "1:4:1G"], {
      encoding: "utf8",
      env: { PATH: "/usr/bin:/bin", HUGETLB_SYSFS: root.path("/sys"), HUGETLB_PROC: root.path("/proc") },
    });
    assert.equal(run.status, 1);
    assert.match(run.stderr, /node 1 holds no pages of 1 GiB after 5 attempts, wanted 4/);
    assert.equal(
      root.read("/sys/devices/system/node/node0/hugepages/hugepages-1048576kB/nr_hugepages"),
      "4\n",
      "node 0 still done",
    );
    assert.equal(root.read("/proc/sys/vm/compact_memory"), "1\n", "memory was compacted between attempts");
  });

  it("upgrades a host the previous release prepared: the unit gets the sized entries, no reboot is asked for", () => {
    const root = track(buildRhelRoot());
    runScript("kernel-args.sh", planArgs(rhel, root));
    // The host as the release before 2 MiB pages left it, after its reboot: that release's unit
    // (entries <node>:<count>), its arguments on the running command line, the pages held.
    root.write(
      UNIT,
      readFileSync(
        join(__dirname, "..", "..", "fixtures", "hostprep", "previous-release", "hugetlb-gigantic-pages.service"),
        "utf8",
      ),
    );
    root.write(
      "/proc/cmdline",
      "BOOT_IMAGE=(hd0,gpt2)/vmlinuz-5.14.0-427.13.1.el9_4.x86_64+rt ro default_hugepagesz=1G hugepagesz=1G rhgb quiet\n",
    );
    for (const node of [0, 1])
      root.write(`/sys/devices/system/node/node${node}/hugepages/hugepages-1048576kB/nr_hugepages`, "4\n");
    const r = runScript("kernel-args.sh", planArgs(rhel, root));
    assert.equal(r.status, 0, show(r));
    assert.equal(r.last, "changed");
    assert.equal(r.values.get("reboot_needed"), "no", show(r));
    assert.match(
      root.read(UNIT),
      /^ExecStart=\/bin\/sh \/usr\/local\/lib\/openstack-rt\/hugetlb-reserve-pages 0:4:1G 1:4:1G$/m,
    );
    assert.ok(!r.stdout.includes("grubby --update-kernel"), "the boot entries already carry the arguments");
    assert.equal(runScript("kernel-args.sh", planArgs(rhel, root)).last, "unchanged");
  });

  it("takes the unit out again when the plan moves the counts to the command line", () => {
    const root = track(buildRhelRoot());
    runScript("kernel-args.sh", planArgs(rhel, root));
    const r = runScript("kernel-args.sh", [
      "--os",
      "rhel-9",
      "--args",
      "default_hugepagesz=1G hugepagesz=1G hugepages=0:4,1:4",
      "--root",
      root.dir,
    ]);
    assert.equal(r.status, 0, show(r));
    assert.equal(r.last, "changed");
    for (const f of [UNIT, LINK, RESERVE]) assert.equal(root.exists(f), false, f);
    assert.ok(
      r.stdout.includes("grubby --update-kernel=ALL --remove-args=default_hugepagesz=1G hugepagesz=1G"),
      show(r),
    );
    assert.match(sourcedCmdline(root), / rhgb quiet default_hugepagesz=1G hugepagesz=1G hugepages=0:4,1:4$/);
    assert.equal(
      runScript("kernel-args.sh", [
        "--os",
        "rhel-9",
        "--args",
        "default_hugepagesz=1G hugepagesz=1G hugepages=0:4,1:4",
        "--root",
        root.dir,
      ]).last,
      "unchanged",
    );
  });

  it("drops a hugepages= count from the command line when the unit takes over, and leaves a foreign unit alone", () => {
    const root = track(buildRhelRoot());
    root.write(
      GRUB,
      root.read(GRUB).replace("rhgb quiet", "rhgb quiet default_hugepagesz=1G hugepagesz=1G hugepages=0:4,1:4"),
    );
    const r = runScript("kernel-args.sh", planArgs(rhel, root));
    assert.equal(r.status, 0, show(r));
    assert.match(sourcedCmdline(root), / rhgb quiet default_hugepagesz=1G hugepagesz=1G$/);
    assert.ok(r.stdout.includes("--remove-args=default_hugepagesz=1G hugepagesz=1G hugepages=0:4,1:4"), show(r));

    const other = track(buildRhelRoot());
    other.write(UNIT, "[Unit]\nDescription=someone else's unit\n[Service]\nExecStart=/bin/true\n");
    const snap = other.snapshot();
    const none = runScript("kernel-args.sh", ["--os", "rhel-9", "--args", "", "--root", other.dir]);
    assert.equal(none.last, "unchanged", show(none));
    assert.deepEqual(snapshotDiff(snap, other.snapshot()), []);
  });
});
