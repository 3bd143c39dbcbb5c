/**
 * hostprep/reboot.sh: reboot only when that brings the planned state. The default boot entry
 * comes from a grub.cfg as update-grub writes it on a Debian 12 host with the RT kernel
 * (test/fixtures/hostprep/debian-12-rt/grub.cfg).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { TestRoot } from "../../support/debian-root";
import {
  FIXTURES_DIR,
  RT_KERNEL,
  RT_VERSION,
  STOCK_CMDLINE,
  STOCK_KERNEL,
  STOCK_VERSION,
  buildDebianRoot,
  runScript,
  show,
  snapshotDiff,
} from "../../support/debian-root";
import { devHostPlans } from "../../support/dev-config";

const GRUB_CFG = readFileSync(join(FIXTURES_DIR, "debian-12-rt", "grub.cfg"), "utf8");
const { debian } = devHostPlans();
const ARGS = debian.kernel.args.join(" ");
const BOOT_ID = "5b0d3f0e-3c55-4a4c-8f47-3d1d0f9b2a61";
const RT_CMDLINE = `BOOT_IMAGE=/boot/vmlinuz-${RT_KERNEL} root=UUID=2f6c3c1e-8d1a-4c55-9a7e-51a0c3f0d7b4 ro ${ARGS} quiet skew_tick=1 isolcpus=managed_irq,domain,4-11 nohz=on nohz_full=4-11 rcu_nocbs=4-11 irqaffinity=0-3`;

describe("reboot.sh", () => {
  let root: TestRoot;
  const run = (expectRt = "yes", args = ARGS) =>
    runScript("reboot.sh", ["--args", args, "--expect-rt", expectRt, "--root", root.dir]);

  beforeEach(() => {
    root = buildDebianRoot();
    root.write("/boot/grub/grub.cfg", GRUB_CFG);
  });
  afterEach(() => root.remove());

  it("schedules a detached reboot after the RT kernel and the arguments were installed, printing the boot id to wait on", () => {
    const snap = root.snapshot();
    const r = run();
    assert.equal(r.status, 0, show(r));
    assert.deepEqual(r.tripped, []);
    assert.deepEqual(r.lines, [
      "reboot_reason=/proc/cmdline lacks default_hugepagesz=1G",
      "reboot_reason=/proc/cmdline lacks hugepagesz=1G",
      "reboot_reason=/proc/cmdline lacks hugepages=0:4,1:4",
      `reboot_reason=running kernel ${STOCK_KERNEL}, the default boot entry starts ${RT_KERNEL}`,
      `boot_id=${BOOT_ID}`,
      `skipped (--root ${root.dir}): systemd-run --on-active=5 --timer-property=AccuracySec=1s systemctl reboot`,
      "changed",
    ]);
    assert.deepEqual(snapshotDiff(snap, root.snapshot()), [], "reboot.sh writes no file");
  });

  it("is unchanged once the RT kernel runs with the arguments", () => {
    root.setKernel(RT_KERNEL, RT_VERSION, RT_CMDLINE);
    const r = run();
    assert.equal(r.status, 0, show(r));
    assert.deepEqual(r.lines, [`boot_id=${BOOT_ID}`, "unchanged"]);
  });

  it("reboots for a missing argument alone, and for the kernel alone", () => {
    root.setKernel(RT_KERNEL, RT_VERSION, RT_CMDLINE.replace(" hugepages=0:4,1:4", ""));
    const args = run();
    assert.deepEqual(args.values.get("reboot_reason"), "/proc/cmdline lacks hugepages=0:4,1:4");
    assert.equal(args.last, "changed");

    root.setKernel(STOCK_KERNEL, STOCK_VERSION, RT_CMDLINE.replace(RT_KERNEL, STOCK_KERNEL));
    const kernel = run();
    assert.deepEqual(
      kernel.lines.filter((l) => l.startsWith("reboot_reason=")),
      [`reboot_reason=running kernel ${STOCK_KERNEL}, the default boot entry starts ${RT_KERNEL}`],
    );
    assert.equal(kernel.last, "changed");
  });

  it("with --expect-rt no, only the command line counts", () => {
    root.setKernel(STOCK_KERNEL, STOCK_VERSION, `${STOCK_CMDLINE} ${ARGS}`);
    assert.equal(run("no").last, "unchanged");
    root.setKernel(STOCK_KERNEL, STOCK_VERSION, STOCK_CMDLINE);
    assert.equal(run("no").last, "changed");
  });

  it("refuses to reboot when the default entry is not an RT kernel: it would come back the same", () => {
    root.write("/boot/grub/grub.cfg", GRUB_CFG.replaceAll(`vmlinuz-${RT_KERNEL}`, `vmlinuz-${STOCK_KERNEL}`));
    const r = run();
    assert.equal(r.status, 1, show(r));
    assert.match(r.stderr, new RegExp(`default boot entry starts ${STOCK_KERNEL}, not an RT kernel`));
    assert.ok(!r.stdout.includes("systemd-run"), show(r));
  });

  it("stops when the default RT entry already runs but the kernel is no PREEMPT_RT build", () => {
    root.setKernel(RT_KERNEL, STOCK_VERSION, RT_CMDLINE);
    const r = run();
    assert.equal(r.status, 1, show(r));
    assert.match(
      r.stderr,
      /running kernel 6\.1\.0-28-rt-amd64 is the default entry .*uname -v says .#1 SMP PREEMPT_DYNAMIC .*\(no PREEMPT_RT\)/,
    );
  });

  it("refuses to guess the default entry when GRUB_DEFAULT is not 0", () => {
    root.write("/etc/default/grub", root.read("/etc/default/grub").replace("GRUB_DEFAULT=0", "GRUB_DEFAULT=saved"));
    const r = run();
    assert.equal(r.status, 1, show(r));
    assert.match(r.stderr, /GRUB_DEFAULT=saved in \/etc\/default\/grub: cannot tell which kernel boots next/);
  });

  it("reboots when TuneD's bootloader arguments are not on the command line yet (new isolated cores)", () => {
    // TuneD records what its bootloader plugin added in /etc/tuned/bootcmdline, in the form
    // tuned.utils.commands.add_modify_option_in_file writes. The fixture's tuned_params are TuneD's
    // arguments for isolated cores 4-11.
    const tunedParams = /^set tuned_params="(.*)"$/m.exec(GRUB_CFG)![1];
    const bootcmdline = (params: string) =>
      root.read("/etc/tuned/bootcmdline").replace(/^TUNED_BOOT_CMDLINE=.*$/m, `TUNED_BOOT_CMDLINE="${params}"`);
    // The default entry's linux line, $tuned_params expanded, as the kernel then shows it.
    const linux = /^\tlinux\t\/boot\/vmlinuz-\S+ (.*) \$tuned_params$/m.exec(GRUB_CFG)![1];
    root.setKernel(RT_KERNEL, RT_VERSION, `BOOT_IMAGE=/boot/vmlinuz-${RT_KERNEL} ${linux} ${tunedParams}`);
    root.write("/etc/tuned/bootcmdline", bootcmdline(tunedParams));
    assert.equal(run().last, "unchanged");

    // A profile switch to new cores: TuneD rewrites bootcmdline and grub.cfg's tuned_params.
    const newParams = tunedParams.replaceAll("4-11", "2-11").replace("irqaffinity=0-3", "irqaffinity=0-1");
    root.write("/etc/tuned/bootcmdline", bootcmdline(newParams));
    root.write(
      "/boot/grub/grub.cfg",
      GRUB_CFG.replace(`set tuned_params="${tunedParams}"`, `set tuned_params="${newParams}"`),
    );
    const r = run();
    assert.equal(r.status, 0, show(r));
    assert.deepEqual(
      r.lines.filter((l) => l.startsWith("reboot_reason=")),
      [
        "reboot_reason=/proc/cmdline lacks isolcpus=managed_irq,domain,2-11 (TuneD, /etc/tuned/bootcmdline)",
        "reboot_reason=/proc/cmdline lacks nohz_full=2-11 (TuneD, /etc/tuned/bootcmdline)",
        "reboot_reason=/proc/cmdline lacks rcu_nocbs=2-11 (TuneD, /etc/tuned/bootcmdline)",
        "reboot_reason=/proc/cmdline lacks irqaffinity=0-1 (TuneD, /etc/tuned/bootcmdline)",
      ],
    );
    assert.equal(r.last, "changed");
  });

  it("stops, without rebooting, when the default GRUB entry would not pass the planned or TuneD's arguments", () => {
    const tunedParams = /^set tuned_params="(.*)"$/m.exec(GRUB_CFG)![1];
    root.write("/etc/tuned/bootcmdline", `TUNED_BOOT_CMDLINE="${tunedParams}"\n`);
    const stops = (cfg: string, why: RegExp) => {
      root.write("/boot/grub/grub.cfg", cfg);
      const r = run();
      assert.equal(r.status, 1, show(r));
      assert.match(r.stderr, why);
      assert.ok(!r.stdout.includes("systemd-run"), show(r));
    };
    // What the first e2e image did: a grub.d drop-in reset GRUB_CMDLINE_LINUX_DEFAULT, so
    // update-grub wrote entries without $tuned_params although 00_tuned still set it.
    stops(
      GRUB_CFG.replaceAll(" $tuned_params", ""),
      /default boot entry in \S+grub\.cfg does not pass skew_tick=1 tsc=reliable .* irqaffinity=0-3: a reboot would not bring them\. TuneD's arguments reach GRUB through \$tuned_params/,
    );
    // grub.cfg older than TuneD's profile switch.
    stops(
      GRUB_CFG.replace(
        `set tuned_params="${tunedParams}"`,
        `set tuned_params="${tunedParams.replaceAll("4-11", "6-11")}"`,
      ),
      /does not pass isolcpus=managed_irq,domain,4-11 nohz_full=4-11 rcu_nocbs=4-11: /,
    );
    // The planned arguments missing from the entry: kernel-args.sh has not run.
    stops(
      GRUB_CFG.replaceAll(" hugepages=0:4,1:4", ""),
      /does not pass hugepages=0:4,1:4: a reboot would not bring it\. Run kernel-args\.sh/,
    );
    // The entry is fine: the reboot goes ahead.
    root.write("/boot/grub/grub.cfg", GRUB_CFG);
    assert.equal(run().last, "changed");
  });

  it("stops, without rebooting, when /etc/tuned/bootcmdline holds anything but plain kernel arguments", () => {
    root.setKernel(RT_KERNEL, RT_VERSION, RT_CMDLINE);
    for (const params of ["$(reboot)", "`reboot`", "a;reboot", "quiet\\ x"]) {
      root.write("/etc/tuned/bootcmdline", `TUNED_BOOT_CMDLINE="${params}"\n`);
      const r = run();
      assert.equal(r.status, 1, `${params}\n${show(r)}`);
      assert.match(r.stderr, /sets TUNED_BOOT_CMDLINE=.* which is not a plain list of kernel arguments/);
      assert.deepEqual(r.tripped, []);
      assert.ok(!r.stdout.includes("systemd-run"), show(r));
    }
  });

  it("with --hugepages-unit, reboots until every node holds the pages the boot unit reserves", () => {
    root.setKernel(RT_KERNEL, RT_VERSION, RT_CMDLINE);
    const withUnit = () =>
      runScript("reboot.sh", [
        "--args",
        "default_hugepagesz=1G hugepagesz=1G",
        "--hugepages-unit",
        "0:4:1G,1:4:1G",
        "--expect-rt",
        "yes",
        "--root",
        root.dir,
      ]);
    const r = withUnit();
    assert.equal(r.status, 0, show(r));
    assert.deepEqual(r.values.get("reboot_reason"), "node 0 holds 0 pages of 1 GiB, the boot unit reserves 4");
    assert.equal(r.last, "changed");
    // What the unit does at boot.
    for (const node of [0, 1])
      root.write(`/sys/devices/system/node/node${node}/hugepages/hugepages-1048576kB/nr_hugepages`, "4\n");
    assert.equal(withUnit().last, "unchanged");
  });

  it("knows RT kernel names of every supported family", () => {
    for (const release of [
      "6.1.0-28-rt-amd64",
      "4.18.0-513.5.1.rt7.307.el8_9.x86_64",
      "5.14.0-427.13.1.el9_4.x86_64+rt",
      "6.8.1-1015-realtime",
    ]) {
      root.setKernel(release, RT_VERSION, RT_CMDLINE);
      root.write("/boot/grub/grub.cfg", GRUB_CFG.replaceAll(`vmlinuz-${RT_KERNEL}`, `vmlinuz-${release}`));
      const r = run();
      assert.equal(r.status, 0, `${release}\n${show(r)}`);
      assert.equal(r.last, "unchanged", release);
    }
  });
});
