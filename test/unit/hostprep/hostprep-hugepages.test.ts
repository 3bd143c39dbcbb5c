/**
 * 2 MiB huge pages beside the 1 GiB ones: hugepagesz/hugepages pairs on the kernel command line
 * (hostprep/common.sh parse_kernel_args; kernel-args.sh with Debian's GRUB and RHEL's grubby), the
 * boot unit's <node>:<count>:<size> entries and the reserve script it runs, the hugetlbfs mount
 * units of --hugetlbfs-mount, the reboot verdict of kernel-args.sh and reboot.sh on all of them,
 * and host-facts.sh's hugepages and hugetlbfs sections.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { verifyUnit } from "../../support/systemd-verify";
import type { TestRoot } from "../../support/debian-root";
import {
  FIXTURES_DIR,
  HOSTPREP_DIR,
  RT_KERNEL,
  RT_VERSION,
  buildDebianRoot,
  buildRhelRoot,
  removedAfterEach,
  runScript,
  show,
  snapshotDiff,
  sourcedCmdline,
} from "../../support/debian-root";

/** The plan's arguments for a host with both sizes, the counts on the command line (kernel 5.16 and later). */
const BOTH = "default_hugepagesz=1G hugepagesz=1G hugepages=0:4,1:4 hugepagesz=2M hugepages=0:512,1:512";
/** The same host with a boot unit reserving the counts (older kernels). */
const SIZES_ONLY = "default_hugepagesz=1G hugepagesz=1G hugepagesz=2M";
const ENTRIES = "0:4:1G,1:4:1G,0:512:2M,1:512:2M";

const GRUB = "/etc/default/grub";
const UNIT = "/etc/systemd/system/hugetlb-gigantic-pages.service";
const RESERVE = "/usr/local/lib/openstack-rt/hugetlb-reserve-pages";
const MARK = "# Installed by openstack-rt hostprep/kernel-args.sh";
const mountUnit = (size: string) => `/etc/systemd/system/dev-hugepages${size}.mount`;
const mountLink = (size: string) => `/etc/systemd/system/sysinit.target.wants/dev-hugepages${size}.mount`;
const nrPages = (node: number, size: "1G" | "2M") =>
  `/sys/devices/system/node/node${node}/hugepages/hugepages-${size === "1G" ? "1048576kB" : "2048kB"}/nr_hugepages`;

/** /proc/mounts of a host where systemd mounted its /dev/hugepages (default size 1 GiB), as the kernel prints it. */
const BASE_MOUNTS =
  "sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0\n" +
  "proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n" +
  "hugetlbfs /dev/hugepages hugetlbfs rw,relatime,pagesize=1024M 0 0\n";
const MOUNT_2M = "hugetlbfs /dev/hugepages2M hugetlbfs rw,relatime,pagesize=2M 0 0\n";
const MOUNT_1G = "hugetlbfs /dev/hugepages1G hugetlbfs rw,relatime,pagesize=1024M 0 0\n";

const GRUB_CFG = readFileSync(join(FIXTURES_DIR, "debian-12-rt", "grub.cfg"), "utf8");
const FIXTURE_ARGS = "default_hugepagesz=1G hugepagesz=1G hugepages=0:4,1:4";
/** The RT kernel's command line with these planned arguments, as reboot.sh's own test has it. */
const rtCmdline = (args: string) =>
  `BOOT_IMAGE=/boot/vmlinuz-${RT_KERNEL} root=UUID=2f6c3c1e-8d1a-4c55-9a7e-51a0c3f0d7b4 ro ${args} quiet skew_tick=1 isolcpus=managed_irq,domain,4-11 nohz=on nohz_full=4-11 rcu_nocbs=4-11 irqaffinity=0-3`;

const track = removedAfterEach();

const kernelArgs = (root: TestRoot, os: string, args: string, ...more: string[]) =>
  runScript("kernel-args.sh", ["--os", os, "--args", args, ...more, "--root", root.dir]);

/** The lines of a unit file that set something, as "Key=value". */
const settings = (unit: string) => unit.split("\n").filter((l) => /^[A-Za-z]+=/.test(l));

describe("kernel arguments with 1 GiB and 2 MiB pages", () => {
  it("Debian: both pairs go into GRUB_CMDLINE_LINUX in plan order, replacing an older layout of either size; unchanged the second time", () => {
    const root = track(buildDebianRoot());
    // A host prepared for 1 GiB pages only, with a 2 MiB count someone added by hand.
    root.write(
      GRUB,
      root
        .read(GRUB)
        .replace(
          'GRUB_CMDLINE_LINUX=""',
          'GRUB_CMDLINE_LINUX="quiet hugepagesz=2M hugepages=64 default_hugepagesz=1G hugepagesz=1G hugepages=0:2,1:2 console=ttyS0"',
        ),
    );
    const first = kernelArgs(root, "debian-12", BOTH);
    assert.equal(first.status, 0, show(first));
    assert.deepEqual(first.tripped, []);
    assert.equal(sourcedCmdline(root), `quiet console=ttyS0 ${BOTH}`);
    assert.ok(first.lines.includes(`skipped (--root ${root.dir}): update-grub`), show(first));
    assert.equal(first.values.get("reboot_reason"), `/proc/cmdline lacks ${BOTH}`);
    assert.equal(first.values.get("reboot_needed"), "yes");
    assert.equal(first.last, "changed");

    const snap = root.snapshot();
    const second = kernelArgs(root, "debian-12", BOTH);
    assert.equal(second.status, 0, show(second));
    assert.equal(second.last, "unchanged", show(second));
    assert.ok(!second.stdout.includes("update-grub"), show(second));
    assert.deepEqual(snapshotDiff(snap, root.snapshot()), []);

    // Once the kernel runs with them, no reboot; the same words paired the other way round are
    // another command line (hugepages= counts the pages of the hugepagesz= before it).
    root.write("/proc/cmdline", `BOOT_IMAGE=/boot/vmlinuz-${RT_KERNEL} ro quiet console=ttyS0 ${BOTH}\n`);
    assert.equal(kernelArgs(root, "debian-12", BOTH).values.get("reboot_needed"), "no");
    root.write(
      "/proc/cmdline",
      `BOOT_IMAGE=/boot/vmlinuz-${RT_KERNEL} ro default_hugepagesz=1G hugepagesz=1G hugepages=0:512,1:512 hugepagesz=2M hugepages=0:4,1:4\n`,
    );
    assert.equal(kernelArgs(root, "debian-12", BOTH).values.get("reboot_needed"), "yes");
  });

  it("RHEL: grubby removes the old words, then adds the pairs in one call, in order; /etc/default/grub gets the same; unchanged the second time", () => {
    const root = track(buildRhelRoot());
    root.write(GRUB, root.read(GRUB).replace("rhgb quiet", `rhgb quiet ${FIXTURE_ARGS}`));
    const first = kernelArgs(root, "rhel-9", BOTH);
    assert.equal(first.status, 0, show(first));
    assert.deepEqual(first.tripped, []);
    assert.deepEqual(
      first.lines.filter((l) => l.includes("grubby")),
      [
        `skipped (--root ${root.dir}): grubby --update-kernel=ALL --remove-args=${FIXTURE_ARGS}`,
        `skipped (--root ${root.dir}): grubby --update-kernel=ALL --args=${BOTH}`,
      ],
    );
    assert.match(sourcedCmdline(root), new RegExp(` rhgb quiet ${BOTH}$`));
    assert.equal(first.last, "changed");

    const snap = root.snapshot();
    const second = kernelArgs(root, "rhel-9", BOTH);
    assert.equal(second.status, 0, show(second));
    assert.equal(second.last, "unchanged", show(second));
    assert.ok(!second.stdout.includes("grubby"), show(second));
    assert.deepEqual(snapshotDiff(snap, root.snapshot()), []);
  });

  it("takes one count before the first hugepagesz= (the default size's) and one after each", () => {
    const root = track(buildDebianRoot());
    const args = "hugepages=16 hugepagesz=1G hugepages=4 hugepagesz=2M hugepages=256";
    const r = kernelArgs(root, "debian-12", args);
    assert.equal(r.status, 0, show(r));
    assert.equal(sourcedCmdline(root), args);
  });

  it("refuses repeats the kernel does not read as one pair per size, in both scripts, changing nothing", () => {
    const root = track(buildDebianRoot());
    root.write("/boot/grub/grub.cfg", GRUB_CFG);
    const snap = root.snapshot();
    for (const [args, why] of [
      ["hugepagesz=1G hugepages=0:4,1:4 hugepages=0:2,1:2", /gives two hugepages= counts after hugepagesz=1G/],
      ["hugepages=4 hugepages=8 hugepagesz=2M", /gives two hugepages= counts before the first hugepagesz=/],
      [
        "hugepagesz=2M hugepages=1 hugepagesz=1G hugepagesz=2M",
        /gives hugepagesz=2M for a page size an earlier hugepagesz= names/,
      ],
      ["hugepagesz=1G hugepagesz=1024M", /gives hugepagesz=1024M for a page size an earlier hugepagesz= names/],
      ["default_hugepagesz=1G default_hugepagesz=2M", /names default_hugepagesz twice/],
      ["hugepagesz=2M hugepages", /kernel argument hugepages needs a count/],
    ] as const) {
      for (const r of [
        kernelArgs(root, "debian-12", args),
        runScript("reboot.sh", ["--args", args, "--expect-rt", "no", "--root", root.dir]),
      ]) {
        assert.equal(r.status, 2, `${args}\n${show(r)}`);
        assert.match(r.stderr, why, args);
        assert.deepEqual(r.tripped, []);
      }
    }
    // A count on the command line and the boot unit would reserve the pages twice.
    const both = kernelArgs(root, "debian-12", BOTH, "--hugepages-unit", ENTRIES);
    assert.equal(both.status, 2, show(both));
    assert.match(both.stderr, /--args sets hugepages=0:4,1:4 while --hugepages-unit reserves the pages/);
    assert.deepEqual(snapshotDiff(snap, root.snapshot()), []);
  });
});

describe("the boot unit with 1 GiB and 2 MiB entries", () => {
  it("runs the reserve script with the entries in plan order under a size-neutral description; unchanged the second time", () => {
    const root = track(buildRhelRoot());
    const r = kernelArgs(root, "rhel-9", SIZES_ONLY, "--hugepages-unit", ENTRIES);
    assert.equal(r.status, 0, show(r));
    assert.deepEqual(r.tripped, []);
    const unit = root.read(UNIT);
    assert.match(unit, new RegExp(`^ExecStart=/bin/sh ${RESERVE} 0:4:1G 1:4:1G 0:512:2M 1:512:2M$`, "m"));
    assert.match(unit, /^Description=Reserve huge pages on each NUMA node \(openstack-rt\)$/m);
    assert.doesNotMatch(unit, /GiB|MiB/, "the description names no size");
    const verify = verifyUnit(root.path(UNIT));
    assert.equal(verify.status, 0, verify.stderr);
    assert.deepEqual(verify.complaints, []);
    assert.ok(r.lines.includes(`skipped (--root ${root.dir}): grubby --update-kernel=ALL --args=${SIZES_ONLY}`));

    const snap = root.snapshot();
    const again = kernelArgs(root, "rhel-9", SIZES_ONLY, "--hugepages-unit", ENTRIES);
    assert.equal(again.last, "unchanged", show(again));
    assert.deepEqual(snapshotDiff(snap, root.snapshot()), []);
  });

  it("rewrites the unit a host got from the 1 GiB-only version, under the same name", () => {
    const root = track(buildRhelRoot());
    // What the earlier kernel-args.sh installed and enabled.
    root.write(
      UNIT,
      `${MARK}\n[Unit]\nDescription=Reserve 1 GiB huge pages on each NUMA node (openstack-rt)\nDefaultDependencies=no\n` +
        `Before=dev-hugepages.mount sysinit.target\nConditionPathExists=/sys/devices/system/node\n\n[Service]\nType=oneshot\n` +
        `RemainAfterExit=yes\nExecStart=/bin/sh ${RESERVE} 0:4 1:4\n\n[Install]\nWantedBy=sysinit.target\n`,
    );
    mkdirSync(root.path("/etc/systemd/system/sysinit.target.wants"), { recursive: true });
    symlinkSync(UNIT, root.path("/etc/systemd/system/sysinit.target.wants/hugetlb-gigantic-pages.service"));
    const r = kernelArgs(root, "rhel-9", SIZES_ONLY, "--hugepages-unit", ENTRIES);
    assert.equal(r.status, 0, show(r));
    assert.ok(r.lines.includes(`installed ${UNIT} (reserves 0:4:1G 1:4:1G 0:512:2M 1:512:2M)`), show(r));
    assert.ok(!r.stdout.includes("enabled hugetlb-gigantic-pages.service"), "the link stays as it was");
    assert.match(root.read(UNIT), /^ExecStart=.* 0:4:1G 1:4:1G 0:512:2M 1:512:2M$/m);
    assert.deepEqual(
      readdirSync(root.path("/etc/systemd/system")).filter((f) => f.endsWith(".service")),
      ["hugetlb-gigantic-pages.service"],
    );
  });

  it("kernel-args.sh and reboot.sh reboot while a node holds another count of either size", () => {
    const root = track(buildDebianRoot());
    root.write("/boot/grub/grub.cfg", GRUB_CFG.replaceAll(FIXTURE_ARGS, SIZES_ONLY));
    root.setKernel(RT_KERNEL, RT_VERSION, rtCmdline(SIZES_ONLY));
    assert.equal(kernelArgs(root, "debian-12", SIZES_ONLY, "--hugepages-unit", ENTRIES).status, 0);
    const reboot = () =>
      runScript("reboot.sh", [
        "--args",
        SIZES_ONLY,
        "--hugepages-unit",
        ENTRIES,
        "--expect-rt",
        "yes",
        "--root",
        root.dir,
      ]);
    const verdicts = () => {
      const k = kernelArgs(root, "debian-12", SIZES_ONLY, "--hugepages-unit", ENTRIES);
      const b = reboot();
      assert.equal(k.status, 0, show(k));
      assert.equal(b.status, 0, show(b));
      return {
        kernelArgs: [k.values.get("reboot_needed"), k.values.get("reboot_reason")],
        reboot: [b.last, b.lines.filter((l) => l.startsWith("reboot_reason="))],
      };
    };
    // What the unit does at boot.
    for (const node of [0, 1]) {
      root.write(nrPages(node, "1G"), "4\n");
      root.write(nrPages(node, "2M"), "512\n");
    }
    assert.deepEqual(verdicts(), { kernelArgs: ["no", undefined], reboot: ["unchanged", []] });
    root.write(nrPages(1, "2M"), "0\n");
    const why = "node 1 holds 0 pages of 2 MiB, the boot unit reserves 512";
    assert.deepEqual(verdicts(), { kernelArgs: ["yes", why], reboot: ["changed", [`reboot_reason=${why}`]] });
    // The 1 GiB pages are checked first, as they are reserved first.
    root.write(nrPages(0, "1G"), "3\n");
    assert.equal(reboot().values.get("reboot_reason"), "node 0 holds 3 pages of 1 GiB, the boot unit reserves 4");
    rmSync(root.path(nrPages(0, "1G")));
    root.write(nrPages(1, "2M"), "512\n");
    assert.equal(reboot().values.get("reboot_reason"), "node 0 holds no pages of 1 GiB, the boot unit reserves 4");
  });
});

describe("the reserve script (POSIX sh, run by the boot unit)", () => {
  const reserveIn = (root: TestRoot, args: string[]) =>
    spawnSync("/bin/sh", [root.path(RESERVE), ...args], {
      encoding: "utf8",
      env: { PATH: "/usr/bin:/bin", HUGETLB_SYSFS: root.path("/sys"), HUGETLB_PROC: root.path("/proc") },
    });

  it("is shellcheck-clean and fills each node's pool of each size, in the order given", () => {
    const root = track(buildRhelRoot());
    assert.equal(kernelArgs(root, "rhel-9", SIZES_ONLY, "--hugepages-unit", ENTRIES).status, 0);
    const sc = spawnSync("shellcheck", ["-s", "sh", root.path(RESERVE)], { encoding: "utf8" });
    assert.equal(sc.status, 0, sc.stdout);
    const run = reserveIn(root, ["0:4:1G", "1:4:1G", "0:512:2M", "1:512:2M"]);
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(run.stdout.trimEnd().split("\n"), [
      "hugetlb-reserve-pages: node 0: 4 pages of 1 GiB",
      "hugetlb-reserve-pages: node 1: 4 pages of 1 GiB",
      "hugetlb-reserve-pages: node 0: 512 pages of 2 MiB",
      "hugetlb-reserve-pages: node 1: 512 pages of 2 MiB",
    ]);
    for (const node of [0, 1]) {
      assert.equal(root.read(nrPages(node, "1G")), "4\n");
      assert.equal(root.read(nrPages(node, "2M")), "512\n");
    }
    const reversed = reserveIn(root, ["1:256:2M", "0:2:1G"]);
    assert.equal(reversed.status, 0, reversed.stderr);
    assert.deepEqual(reversed.stdout.trimEnd().split("\n"), [
      "hugetlb-reserve-pages: node 1: 256 pages of 2 MiB",
      "hugetlb-reserve-pages: node 0: 2 pages of 1 GiB",
    ]);
    assert.equal(root.read(nrPages(1, "2M")), "256\n");
    assert.equal(root.read(nrPages(0, "1G")), "2\n");
  });

  it("refuses the old <node>:<count> form and other sizes before writing anything", () => {
    const root = track(buildRhelRoot());
    assert.equal(kernelArgs(root, "rhel-9", SIZES_ONLY, "--hugepages-unit", ENTRIES).status, 0);
    for (const bad of [["0:4:1G", "1:4"], ["0:4:1G", "1:4:4M"], ["0:4:1G", "x:4:2M"], ["0:4:1G", "0::2M"], ["2M"]]) {
      const snap = root.snapshot();
      const run = reserveIn(root, bad);
      assert.equal(run.status, 2, `${bad.join(" ")}\n${run.stderr}`);
      assert.match(run.stderr, /arguments must be <node>:<count>:<size> with size 1G or 2M/);
      assert.deepEqual(snapshotDiff(snap, root.snapshot()), [], bad.join(" "));
    }
  });

  it("retries, then fails naming the node and the size, when a node keeps holding fewer 2 MiB pages", () => {
    const root = track(buildRhelRoot());
    assert.equal(kernelArgs(root, "rhel-9", SIZES_ONLY, "--hugepages-unit", ENTRIES).status, 0);
    // Writes to /dev/null succeed and read back nothing: a node that never gets its pages.
    rmSync(root.path(nrPages(1, "2M")));
    symlinkSync("/dev/null", root.path(nrPages(1, "2M")));
    root.write("/proc/sys/vm/compact_memory", "");
    const run = reserveIn(root, ENTRIES.split(","));
    assert.equal(run.status, 1);
    assert.match(run.stderr, /node 1 holds no pages of 2 MiB after 5 attempts, wanted 512/);
    assert.equal(root.read(nrPages(0, "2M")), "512\n", "node 0 still done");
    assert.equal(root.read(nrPages(1, "1G")), "4\n", "the 1 GiB pages still done");
    assert.equal(root.read("/proc/sys/vm/compact_memory"), "1\n", "memory was compacted between attempts");
  });
});

describe("hugetlbfs mounts (--hugetlbfs-mount)", () => {
  it("installs and enables dev-hugepages2M.mount for sysinit.target; unchanged the second time", () => {
    const root = track(buildDebianRoot());
    const r = kernelArgs(root, "debian-12", BOTH, "--hugetlbfs-mount", "2M");
    assert.equal(r.status, 0, show(r));
    assert.deepEqual(r.tripped, []);
    const unit = root.read(mountUnit("2M"));
    assert.ok(unit.startsWith(`${MARK}\n`), unit);
    assert.deepEqual(settings(unit), [
      "Description=Huge Pages File System of 2 MiB pages (openstack-rt)",
      "DefaultDependencies=no",
      "Before=sysinit.target",
      "ConditionPathExists=/sys/kernel/mm/hugepages/hugepages-2048kB",
      "What=hugetlbfs",
      "Where=/dev/hugepages2M",
      "Type=hugetlbfs",
      "Options=pagesize=2M",
      "WantedBy=sysinit.target",
    ]);
    const verify = verifyUnit(root.path(mountUnit("2M")));
    assert.equal(verify.status, 0, verify.stderr);
    assert.deepEqual(verify.complaints, []);
    assert.equal(
      execFileSync("systemctl", [`--root=${root.dir}`, "is-enabled", "dev-hugepages2M.mount"], {
        encoding: "utf8",
      }).trim(),
      "enabled",
    );
    assert.equal(
      r.lines.filter((l) => l === `skipped (--root ${root.dir}): systemctl daemon-reload`).length,
      1,
      show(r),
    );

    const snap = root.snapshot();
    const again = kernelArgs(root, "debian-12", BOTH, "--hugetlbfs-mount", "2M");
    assert.equal(again.last, "unchanged", show(again));
    assert.ok(!again.stdout.includes("daemon-reload"), show(again));
    assert.deepEqual(snapshotDiff(snap, root.snapshot()), []);
  });

  it("mounts 1 GiB pages at /dev/hugepages1G when the default size is 2 MiB", () => {
    const root = track(buildDebianRoot());
    const args = "default_hugepagesz=2M hugepagesz=2M hugepages=0:512,1:512 hugepagesz=1G hugepages=0:4,1:4";
    const r = kernelArgs(root, "debian-12", args, "--hugetlbfs-mount", "1G");
    assert.equal(r.status, 0, show(r));
    const unit = settings(root.read(mountUnit("1G")));
    for (const want of [
      "ConditionPathExists=/sys/kernel/mm/hugepages/hugepages-1048576kB",
      "Where=/dev/hugepages1G",
      "Options=pagesize=1G",
    ])
      assert.ok(unit.includes(want), `${want}\n${unit.join("\n")}`);
    const verify = verifyUnit(root.path(mountUnit("1G")));
    assert.equal(verify.status, 0, verify.stderr);
    assert.equal(readlinkSync(root.path(mountLink("1G"))), mountUnit("1G"));
  });

  it("removes its mount unit of a size no longer given, and leaves units without its mark alone", () => {
    const root = track(buildDebianRoot());
    assert.equal(kernelArgs(root, "debian-12", BOTH, "--hugetlbfs-mount", "2M", "--hugetlbfs-mount", "1G").status, 0);
    for (const size of ["1G", "2M"]) assert.equal(readlinkSync(root.path(mountLink(size))), mountUnit(size));
    // An override of systemd's own /dev/hugepages mount, someone else's.
    root.write(
      "/etc/systemd/system/dev-hugepages.mount",
      "[Mount]\nWhat=hugetlbfs\nWhere=/dev/hugepages\nType=hugetlbfs\n",
    );

    const r = kernelArgs(root, "debian-12", BOTH, "--hugetlbfs-mount", "2M");
    assert.equal(r.status, 0, show(r));
    assert.equal(r.last, "changed");
    assert.ok(r.lines.includes("removed /etc/systemd/system/dev-hugepages1G.mount: no --hugetlbfs-mount 1G"), show(r));
    assert.ok(r.lines.includes(`skipped (--root ${root.dir}): systemctl daemon-reload`), show(r));
    assert.equal(root.exists(mountUnit("1G")), false);
    assert.equal(isLink(root.path(mountLink("1G"))), false);
    assert.equal(readlinkSync(root.path(mountLink("2M"))), mountUnit("2M"));
    assert.ok(root.exists(mountUnit("2M")));

    const none = kernelArgs(root, "debian-12", BOTH);
    assert.equal(none.status, 0, show(none));
    assert.deepEqual(
      readdirSync(root.path("/etc/systemd/system")).filter((f) => f.endsWith(".mount")),
      ["dev-hugepages.mount"],
    );
    assert.deepEqual(readdirSync(root.path("/etc/systemd/system/sysinit.target.wants")), []);

    // Someone else's unit for a size no longer given stays.
    root.write(
      mountUnit("1G"),
      "[Mount]\nWhat=hugetlbfs\nWhere=/dev/hugepages1G\nType=hugetlbfs\nOptions=pagesize=1G\n",
    );
    const snap = root.snapshot();
    const foreign = kernelArgs(root, "debian-12", BOTH);
    assert.equal(foreign.last, "unchanged", show(foreign));
    assert.deepEqual(snapshotDiff(snap, root.snapshot()), []);
  });

  it("stops, changing nothing, where someone else's unit already mounts the requested path", () => {
    const root = track(buildDebianRoot());
    root.write(
      mountUnit("2M"),
      "[Mount]\nWhat=hugetlbfs\nWhere=/dev/hugepages2M\nType=hugetlbfs\nOptions=pagesize=2M,mode=1770\n",
    );
    const snap = root.snapshot();
    const r = kernelArgs(root, "debian-12", BOTH, "--hugetlbfs-mount", "2M");
    assert.equal(r.status, 1, show(r));
    assert.match(r.stderr, /dev-hugepages2M\.mount exists without this script's mark/);
    assert.match(r.stderr, /put back .*\/etc\/default\/grub/);
    // Only the record that update-grub, which ran on the edited file, runs again first.
    assert.deepEqual(snapshotDiff(snap, root.snapshot()), [
      "var/lib/openstack-rt",
      "var/lib/openstack-rt/pending",
      "var/lib/openstack-rt/pending/kernel-args",
    ]);
  });

  it("kernel-args.sh: a reboot is needed until /proc/mounts shows hugetlbfs with the page size at the path", () => {
    const root = track(buildDebianRoot());
    root.write("/proc/cmdline", `BOOT_IMAGE=/boot/vmlinuz-${RT_KERNEL} ro ${BOTH}\n`);
    const verdict = (mounts: string | null, ...sizes: string[]) => {
      if (mounts === null) rmSync(root.path("/proc/mounts"), { force: true });
      else root.write("/proc/mounts", mounts);
      const r = kernelArgs(root, "debian-12", BOTH, ...sizes.flatMap((s) => ["--hugetlbfs-mount", s]));
      return [r.status, r.values.get("reboot_needed"), r.values.get("reboot_reason") ?? r.stderr.trim()];
    };
    const missing2M = "/proc/mounts has no hugetlbfs mount of 2 MiB pages (pagesize=2M) at /dev/hugepages2M";
    assert.deepEqual(verdict(BASE_MOUNTS, "2M"), [0, "yes", missing2M]);
    assert.deepEqual(verdict(BASE_MOUNTS + MOUNT_2M, "2M"), [0, "no", ""]);
    // Another page size at the path, or another file system there, is not the mount.
    assert.deepEqual(verdict(BASE_MOUNTS + MOUNT_2M.replace("pagesize=2M", "pagesize=1024M"), "2M"), [
      0,
      "yes",
      missing2M,
    ]);
    assert.deepEqual(verdict(`${BASE_MOUNTS}tmpfs /dev/hugepages2M tmpfs rw,pagesize=2M 0 0\n`, "2M"), [
      0,
      "yes",
      missing2M,
    ]);
    // The kernel prints 1 GiB pages as pagesize=1024M.
    assert.deepEqual(verdict(BASE_MOUNTS + MOUNT_2M, "2M", "1G"), [
      0,
      "yes",
      "/proc/mounts has no hugetlbfs mount of 1 GiB pages (pagesize=1024M) at /dev/hugepages1G",
    ]);
    assert.deepEqual(verdict(BASE_MOUNTS + MOUNT_1G + MOUNT_2M, "2M", "1G"), [0, "no", ""]);
    // Without mounts asked for, /proc/mounts is not read; with them, it must be there.
    assert.deepEqual(verdict(null), [0, "no", ""]);
    const [status, , err] = verdict(null, "2M");
    assert.equal(status, 1);
    assert.match(String(err), /cannot read .*\/proc\/mounts/);
  });

  it("reboot.sh: reboots for a missing mount when its unit is enabled, stops when it is not, and is unchanged once mounted", () => {
    const root = track(buildDebianRoot());
    root.write("/boot/grub/grub.cfg", GRUB_CFG.replaceAll(FIXTURE_ARGS, BOTH));
    root.setKernel(RT_KERNEL, RT_VERSION, rtCmdline(BOTH));
    root.write("/proc/mounts", BASE_MOUNTS);
    const reboot = () =>
      runScript("reboot.sh", ["--args", BOTH, "--hugetlbfs-mount", "2M", "--expect-rt", "yes", "--root", root.dir]);

    // kernel-args.sh has not installed the mount unit: the host would come back without the mount.
    const stop = reboot();
    assert.equal(stop.status, 1, show(stop));
    assert.match(
      stop.stderr,
      /dev-hugepages2M\.mount is not installed and enabled .*: a reboot would not bring the hugetlbfs mount at \/dev\/hugepages2M\. Run kernel-args\.sh with --hugetlbfs-mount 2M\./,
    );
    assert.ok(!stop.stdout.includes("systemd-run"), show(stop));

    assert.equal(kernelArgs(root, "debian-12", BOTH, "--hugetlbfs-mount", "2M").status, 0);
    const go = reboot();
    assert.equal(go.status, 0, show(go));
    assert.deepEqual(go.tripped, []);
    assert.deepEqual(go.lines.slice(0, 1), [
      "reboot_reason=/proc/mounts has no hugetlbfs mount of 2 MiB pages (pagesize=2M) at /dev/hugepages2M",
    ]);
    assert.ok(go.stdout.includes("systemd-run --on-active=5"), show(go));
    assert.equal(go.last, "changed");

    root.write("/proc/mounts", BASE_MOUNTS + MOUNT_2M);
    const done = reboot();
    assert.equal(done.status, 0, show(done));
    assert.deepEqual(done.lines, ["boot_id=5b0d3f0e-3c55-4a4c-8f47-3d1d0f9b2a61", "unchanged"]);
  });
});

/** Is there a symlink at p (a link's target under --root is a host path, so existsSync cannot tell)? */
function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

describe("host-facts.sh: the hugepages and hugetlbfs sections", () => {
  it("prints every size's nr_hugepages per node and the hugetlbfs lines of /proc/mounts, as this machine has them", () => {
    // Stand-ins for the commands that wait for or ask services: only the two sections matter here.
    const bin = mkdtempSync(join(tmpdir(), "host-facts-bin-"));
    try {
      writeFileSync(join(bin, "systemctl"), "#!/bin/sh\necho running\n");
      writeFileSync(join(bin, "tuned-adm"), "#!/bin/sh\nexit 0\n");
      for (const f of ["systemctl", "tuned-adm"]) chmodSync(join(bin, f), 0o755);
      const out = execFileSync("bash", [join(HOSTPREP_DIR, "verify", "host-facts.sh")], {
        encoding: "utf8",
        env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}`, LC_ALL: "C" },
        stdio: ["ignore", "pipe", "pipe"],
        maxBuffer: 64 << 20,
      });
      const sections = new Map<string, string[]>();
      let current = "";
      for (const line of out.split("\n")) {
        const m = /^=== (.+) ===$/.exec(line);
        if (m) sections.set((current = m[1]), []);
        else if (current && line !== "") sections.get(current)!.push(line);
      }
      assert.ok(sections.has("end"), "the script ran to its end");
      assert.equal(sections.has("hugepages-1g"), false, "the 1 GiB-only section is gone");
      const names = [...sections.keys()];
      assert.deepEqual(names.slice(names.indexOf("hugepages"), names.indexOf("hugepages") + 2), [
        "hugepages",
        "hugetlbfs",
      ]);

      const nodeDir = "/sys/devices/system/node";
      const expected = existsSync(nodeDir)
        ? readdirSync(nodeDir)
            .filter((d) => /^node\d+$/.test(d))
            .flatMap((d) => {
              const dir = `${nodeDir}/${d}/hugepages`;
              return existsSync(dir)
                ? readdirSync(dir).map(
                    (s) => `${dir}/${s}/nr_hugepages:${readFileSync(`${dir}/${s}/nr_hugepages`, "utf8").trim()}`,
                  )
                : [];
            })
        : [];
      assert.deepEqual([...sections.get("hugepages")!].sort(), expected.sort());
      const mounts = readFileSync("/proc/mounts", "utf8")
        .split("\n")
        .filter((l) => l.split(" ")[2] === "hugetlbfs");
      assert.deepEqual(sections.get("hugetlbfs"), mounts);
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });
});
