/*
 * Fixtures: host/this-machine holds real outputs of this (non-RT, 2-CPU, one-node) VM: uname -v,
 * /proc/cmdline, /proc/interrupts, sysfs isolated (no nohz_full file), `grep .` of the 1 GiB page
 * counts, tuned-adm active/verify with their stderr (no TuneD daemon here), and its topology
 * (`lscpu -p=CPU,CORE,SOCKET,NODE`, the node MemTotal lines). host/rt-host is crafted to be what
 * the dev plan's compute-rt-01 (Debian 12, RT kernel, TuneD realtime-virtual-host with
 * isolated_cores=4-11; 2 NUMA nodes of 6 CPUs, MemTotal a little under the declared 16 GiB)
 * prints when it is set up right; its grub.cfg is Debian 12's grub-mkconfig output for it
 * (host/boot/make-grub-cfg.sh).
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { checkHostFacts } from "../../../lib/checks/host";
import type { CheckResult } from "../../../lib/checks/result";
import { formatReport } from "../../../lib/checks/result";
import type { HostPlan } from "../../../lib/plan/host";
import { devHost } from "../../support/dev-config";
import { rtHostSections } from "../../support/rt-host-facts";

const RT_HOST = rtHostSections();

/** The facts by meaning, as these tests vary them; toSections gives host-facts.sh's sections. */
interface HostFacts {
  unameV: string;
  tunedActive: string;
  tunedVerify: { exitCode: number; output: string };
  cmdline: string;
  isolated: string;
  nohzFull: string | null;
  hugepages: string;
  hugetlbfs: string;
  novaConf: string;
  applied: string;
  tunedVariables: string;
  interrupts: string;
  lscpu: string;
  nodeMeminfo: string;
  bootGrubby: string;
  bootGrubCfg: string;
  bootGrubenv: string;
  /** host-facts.sh's cpu-power section; by default GOOD_CPU_POWER. */
  cpuPower?: string;
  /** host-facts.sh's stalld and rt-throttling sections; by default a Debian host's: no stalld, the realtime profile's -1. */
  stalld?: string;
  rtThrottling?: string;
  /** host-facts.sh's kthreads and tuned-scheduler sections; by default the recorded RT host's (rt-host-facts.ts). */
  kthreads?: string;
  tunedScheduler?: string;
}

/** The dev host's 12 CPUs under TuneD's realtime profile: acpi-cpufreq at performance, no intel_pstate, haltpoll idle. */
const GOOD_CPU_POWER = [
  "/sys/devices/system/cpu/online:0-11",
  "/sys/devices/system/cpu/cpuidle/current_driver:haltpoll",
  ...Array.from({ length: 12 }, (_, c) => [
    `/sys/devices/system/cpu/cpu${c}/cpuidle/state0/name:POLL`,
    `/sys/devices/system/cpu/cpu${c}/cpuidle/state0/disable:0`,
    `/sys/devices/system/cpu/cpu${c}/cpuidle/state1/name:haltpoll idle`,
    `/sys/devices/system/cpu/cpu${c}/cpuidle/state1/disable:0`,
    `/sys/devices/system/cpu/cpu${c}/cpufreq/scaling_governor:performance`,
  ]).flat(),
].join("\n");

function toSections(f: HostFacts): Record<string, string> {
  return {
    "uname-v": f.unameV,
    "tuned-active": f.tunedActive,
    "tuned-verify": `exit=${f.tunedVerify.exitCode}\n${f.tunedVerify.output}`,
    cmdline: f.cmdline,
    isolated: f.isolated,
    "nohz-full": f.nohzFull ?? "<absent>",
    hugepages: f.hugepages,
    hugetlbfs: f.hugetlbfs,
    "nova-conf": f.novaConf,
    applied: f.applied,
    "tuned-variables": f.tunedVariables,
    interrupts: f.interrupts,
    lscpu: f.lscpu,
    "node-meminfo": f.nodeMeminfo,
    "boot-grubby": f.bootGrubby,
    "boot-grub-cfg": f.bootGrubCfg,
    "boot-grubenv": f.bootGrubenv,
    "cpu-power": f.cpuPower ?? GOOD_CPU_POWER,
    stalld: f.stalld ?? "<absent>",
    "rt-throttling": f.rtThrottling ?? "-1",
    kthreads: f.kthreads ?? RT_HOST.kthreads,
    "tuned-scheduler": f.tunedScheduler ?? RT_HOST["tuned-scheduler"],
  };
}

/** Every host check on host-facts.sh's sections, as a deployment runs them (the latency stages run apart). */
function checkHost(f: HostFacts, p: HostPlan): CheckResult[] {
  const sections = toSections(f);
  return [...checkHostFacts(sections, p, "observed"), ...checkHostFacts(sections, p, "measured")];
}

function loadFacts(dir: string): HostFacts {
  const file = (name: string) => join(__dirname, "..", "..", "fixtures", "host", dir, name);
  const read = (name: string) => (existsSync(file(name)) ? readFileSync(file(name), "utf8") : "");
  return {
    unameV: read("uname-v.txt"),
    tunedActive: read("tuned-adm-active.txt"),
    tunedVerify: { exitCode: Number(read("tuned-adm-verify.rc")), output: read("tuned-adm-verify.txt") },
    cmdline: read("cmdline.txt"),
    isolated: read("isolated.txt"),
    nohzFull: existsSync(file("nohz_full.txt")) ? read("nohz_full.txt") : null,
    hugepages: read("hugepages.txt"),
    hugetlbfs: read("hugetlbfs.txt"),
    novaConf: read("nova.conf"),
    applied: read("applied.txt"),
    tunedVariables: read("tuned-variables.txt"),
    interrupts: read("interrupts.txt"),
    lscpu: read("lscpu.txt"),
    nodeMeminfo: read("node-meminfo.txt"),
    bootGrubby: existsSync(file("boot-grubby.txt")) ? read("boot-grubby.txt") : "<absent>",
    bootGrubCfg: existsSync(file("grub.cfg")) ? read("grub.cfg") : "<absent>",
    bootGrubenv: read("grubenv.txt"),
  };
}

function result(results: CheckResult[], check: string): CheckResult {
  const r = results.find((x) => x.check === check);
  assert.ok(r, `no "${check}" result in:\n${formatReport(results)}`);
  return r;
}

function failing(results: CheckResult[], check: string): CheckResult {
  const r = result(results, check);
  assert.equal(r.ok, false, `"${check}" should fail:\n${formatReport(results)}`);
  return r;
}

/** Replaces exactly one occurrence, so a mutation that misses its target fails the test. */
function swap(text: string, from: string, to: string): string {
  assert.equal(text.split(from).length, 2, `"${from}" should occur exactly once`);
  return text.replace(from, to);
}

const plan = devHost("compute-rt-01");
const rtHost = loadFacts("rt-host");
const check = (changes: Partial<HostFacts>, p: HostPlan = plan) => checkHost({ ...rtHost, ...changes }, p);

describe("checkHost on a correctly set up RT host of the dev plan", () => {
  const results = checkHost(rtHost, plan);

  it("passes every check", () => {
    assert.deepEqual(
      results.filter((r) => !r.ok),
      [],
      formatReport(results),
    );
  });

  it("covers every part of the host the plan configures", () => {
    const checks = [
      "RT kernel",
      "TuneD profile",
      "TuneD verify",
      "cmdline default_hugepagesz",
      "cmdline hugepagesz 1G",
      "cmdline hugepages 1G",
      "cmdline isolcpus",
      "cmdline nohz",
      "cmdline nohz_full",
      "cmdline rcu_nocbs",
      "cmdline irqaffinity",
      "sysfs isolated",
      "sysfs nohz_full",
      "1G pages node 0",
      "1G pages node 1",
      "nova cpu_dedicated_set",
      "nova cpu_shared_set",
      "nova vcpu_pin_set",
      "device IRQs on isolated CPUs",
      "boot entry arguments",
      "boot entry kernel",
    ];
    for (const c of checks) assert.equal(result(results, c).ok, true, c);
  });
});

describe("checkHost on this machine (not an RT host)", () => {
  const results = checkHost(loadFacts("this-machine"), plan);

  it("fails with what this machine actually has", () => {
    assert.equal(failing(results, "RT kernel").observed, "#1 SMP PREEMPT_DYNAMIC @0");
    assert.equal(failing(results, "TuneD profile").observed, '"No current active profile."');
    assert.equal(failing(results, "TuneD verify").observed, 'exit 1: "Not supported in no_daemon mode."');
    assert.equal(failing(results, "cmdline isolcpus").observed, "absent");
    assert.match(failing(results, "sysfs nohz_full").hint, /CONFIG_NO_HZ_FULL/);
    assert.equal(failing(results, "sysfs isolated").observed, "none");
    assert.equal(failing(results, "1G pages node 0").observed, "0");
    assert.equal(failing(results, "1G pages node 1").observed, "no count for this node");
    assert.equal(failing(results, "nova.conf").observed, "empty output");
    assert.match(
      failing(results, "device IRQs on isolated CPUs").observed,
      /^no column for CPUs 4-11 \(this host has CPUs 0-1\)/,
    );
  });

  it("names the device IRQs counted on CPU 1 when CPU 1 is the isolated one, not the per-CPU LOC/RES/CAL rows", () => {
    const oneCpu: HostPlan = { ...plan, isolated: "1", housekeeping: "0" };
    const r = failing(checkHost(loadFacts("this-machine"), oneCpu), "device IRQs on isolated CPUs");
    assert.match(r.observed, /IRQ 36 virtio1-req\.0: \d+ on CPU1/);
    assert.match(r.observed, /IRQ 26 ttyS0: \d+ on CPU1/);
    assert.doesNotMatch(r.observed, /LOC|RES|CAL|TLB/);
    assert.match(r.hint, /echo 0 > \/proc\/irq\/<n>\/smp_affinity_list/);
  });

  it("reads grep's bare count as node 0 of a one-node plan", () => {
    const oneNode = (count: number): HostPlan => ({
      ...plan,
      hugepages: { ...plan.hugepages, sizes: [{ ...plan.hugepages.sizes[0], perNode: [{ node: 0, count }] }] },
    });
    const bare = { ...loadFacts("this-machine"), hugepages: "0\n" };
    assert.equal(failing(checkHost(bare, oneNode(1)), "1G pages node 0").observed, "0");
    assert.equal(result(checkHost(bare, oneNode(0)), "1G pages node 0").ok, true);
    assert.equal(failing(checkHost(bare, plan), "1G pages node 0").observed, "a count without its node name");
  });
});

describe("checkHost: each check fails on its own fault, with a hint that fixes it", () => {
  it("RT kernel: the -rt patch's 'PREEMPT RT' passes, PREEMPT_DYNAMIC fails", () => {
    assert.equal(result(check({ unameV: "#1 SMP PREEMPT RT Fri Apr 7 10:12:33 UTC 2017\n" }), "RT kernel").ok, true);
    assert.match(
      failing(check({ unameV: "#1 SMP PREEMPT_DYNAMIC Debian 6.1.135-1 (2025-04-25)\n" }), "RT kernel").hint,
      /linux-image-rt-amd64/,
    );
  });

  it("TuneD: another profile, and a failed verify", () => {
    assert.match(
      failing(check({ tunedActive: "Current active profile: virtual-host\n" }), "TuneD profile").hint,
      /tuned-adm profile realtime-virtual-host/,
    );
    const output =
      "Verification failed, current system settings differ from the preset profile.\nYou can mostly fix this by restarting the TuneD daemon, e.g.:\n  systemctl restart tuned\n";
    const r = failing(check({ tunedVerify: { exitCode: 1, output } }), "TuneD verify");
    assert.equal(r.observed, 'exit 1: "Verification failed, current system settings differ from the preset profile."');
    assert.match(r.hint, /tuned\.log/);
  });

  it("TuneD: a failed verify names the settings TuneD logged as differing", () => {
    // tuned-adm's output, then the lines host-facts.sh takes from /var/log/tuned/tuned.log.
    const output = [
      "Verification failed, current system settings differ from the preset profile.",
      "You can mostly fix this by restarting the TuneD daemon, e.g.:",
      "  systemctl restart tuned",
      "2026-11-21 19:47:02,311 ERROR    tuned.plugins.plugin_sysctl: verify: failed: 'kernel.nmi_watchdog' = '1', expected '0'",
      "2026-11-21 19:47:02,598 ERROR    tuned.plugins.plugin_bootloader: verify: failed: cmdline arg 'nohz_full=4-10', expected 'nohz_full=4-11'",
    ].join("\n");
    const r = failing(check({ tunedVerify: { exitCode: 1, output } }), "TuneD verify");
    assert.equal(
      r.observed,
      `exit 1: "sysctl 'kernel.nmi_watchdog' = '1', expected '0'"; "bootloader cmdline arg 'nohz_full=4-10', expected 'nohz_full=4-11'"`,
    );
    assert.doesNotMatch(r.hint, /tuned\.log/, "the log's lines are already in the report");
  });

  it("TuneD: settings the running kernel lacks are skipped (--ignore-missing) and listed, not failed", () => {
    // As on Debian 12's PREEMPT_RT kernel, which has no busy polling (seen in the e2e VM).
    const output = [
      "Verification succeeded, current system settings match the preset profile.",
      "See TuneD log file ('/var/log/tuned/tuned.log') for details.",
      "2026-11-21 20:31:02,311 INFO     tuned.plugins.base: verify: skipped, missing: 'net.core.busy_read'",
      "2026-11-21 20:31:02,312 INFO     tuned.plugins.base: verify: skipped, missing: 'net.core.busy_poll'",
    ].join("\n");
    const r = result(check({ tunedVerify: { exitCode: 0, output } }), "TuneD verify");
    assert.equal(r.ok, true);
    assert.equal(r.observed, "exit 0; not in this kernel, skipped: net.core.busy_read, net.core.busy_poll");
    const failedToo = `${output.replace("succeeded, current system settings match", "failed, current system settings differ from")}\n2026-11-21 20:31:02,313 ERROR    tuned.plugins.base: verify: failed: 'kernel.timer_migration' = '1', expected '0'`;
    assert.equal(
      failing(check({ tunedVerify: { exitCode: 1, output: failedToo } }), "TuneD verify").observed,
      `exit 1: "'kernel.timer_migration' = '1', expected '0'"`,
    );
  });

  it("TuneD: sysctls TuneD 2.20 fails as 'None' pass only when host-facts.sh found them absent from /proc/sys", () => {
    // What the e2e VM's Debian 12 RT kernel gave, --ignore-missing notwithstanding.
    const logged = [
      "Verification failed, current system settings differ from the preset profile.",
      "2026-11-21 20:46:30,101 ERROR    tuned.plugins.base: verify: failed: 'net.core.busy_read' = 'None', expected '50'",
      "2026-11-21 20:46:30,102 ERROR    tuned.plugins.base: verify: failed: 'net.core.busy_poll' = 'None', expected '50'",
      "2026-11-21 20:46:30,103 ERROR    tuned.plugins.base: verify: failed: 'kernel.numa_balancing' = 'None', expected ''",
    ];
    const absent = [
      "absent sysctl: net.core.busy_read",
      "absent sysctl: net.core.busy_poll",
      "absent sysctl: kernel.numa_balancing",
    ];
    const all = result(
      check({ tunedVerify: { exitCode: 1, output: [...logged, ...absent].join("\n") } }),
      "TuneD verify",
    );
    assert.equal(all.ok, true);
    assert.equal(
      all.observed,
      "exit 1; not in this kernel, skipped: net.core.busy_read, net.core.busy_poll, kernel.numa_balancing",
    );
    // One of them is there after all (TuneD could not read it): that one fails.
    const oneThere = failing(
      check({ tunedVerify: { exitCode: 1, output: [...logged, ...absent.slice(0, 2)].join("\n") } }),
      "TuneD verify",
    );
    assert.equal(oneThere.observed, `exit 1: "'kernel.numa_balancing' = 'None', expected ''"`);
    // A failed verify with no logged reason is a failure, whatever else was skipped.
    const unexplained =
      "Verification failed, current system settings differ from the preset profile.\n2026-11-21 20:46:30,104 INFO     tuned.plugins.base: verify: skipped, missing: 'vm.stat_interval'";
    assert.equal(result(check({ tunedVerify: { exitCode: 1, output: unexplained } }), "TuneD verify").ok, false);
  });

  it("cmdline: a missing or different isolcpus fails; flags, TuneD's comma lists and repeated keys are read as the kernel does", () => {
    assert.match(
      failing(check({ cmdline: swap(rtHost.cmdline, "isolcpus=managed_irq,domain,4-11 ", "") }), "cmdline isolcpus")
        .hint,
      /isolated_cores=4-11/,
    );
    assert.equal(
      failing(check({ cmdline: swap(rtHost.cmdline, "domain,4-11", "domain,4-10") }), "cmdline isolcpus").observed,
      "isolcpus=managed_irq,domain,4-10 (CPUs 4-10)",
    );
    assert.equal(
      result(check({ cmdline: swap(rtHost.cmdline, "irqaffinity=0,1,2,3", "irqaffinity=0-3") }), "cmdline irqaffinity")
        .ok,
      true,
    );
    assert.equal(
      result(check({ cmdline: `isolcpus=1 ${rtHost.cmdline}` }), "cmdline isolcpus").ok,
      true,
      "the last isolcpus wins",
    );
    const initArg = `${swap(rtHost.cmdline, "isolcpus=managed_irq,domain,4-11 ", "").trim()} -- isolcpus=4-11`;
    assert.equal(
      failing(check({ cmdline: initArg }), "cmdline isolcpus").observed,
      "absent",
      "arguments after -- go to init",
    );
  });

  it("cmdline: the per-node hugepages argument the project adds", () => {
    const r = failing(check({ cmdline: swap(rtHost.cmdline, " hugepages=0:4,1:4", "") }), "cmdline hugepages 1G");
    assert.equal(r.expected, "hugepages=0:4,1:4 after hugepagesz=1G");
    assert.match(r.hint, /GRUB_CMDLINE_LINUX/);
  });

  it("cmdline: with a second page size, each hugepages= counts the hugepagesz= before it, so order is meaning", () => {
    const both: HostPlan = {
      ...plan,
      kernel: { ...plan.kernel, args: [...plan.kernel.args, "hugepagesz=2M", "hugepages=0:512,1:512"] },
    };
    const right = swap(
      rtHost.cmdline,
      " hugepages=0:4,1:4",
      " hugepages=0:4,1:4 hugepagesz=2048K hugepages=0:512,1:512",
    );
    const results = checkHost({ ...rtHost, cmdline: right }, both);
    for (const name of [
      "cmdline hugepagesz 1G",
      "cmdline hugepages 1G",
      "cmdline hugepagesz 2M",
      "cmdline hugepages 2M",
    ])
      assert.equal(result(results, name).ok, true, name);
    // The same words, the counts swapped between the sizes: 512 pages of 1 GiB asked for.
    const swapped = swap(
      rtHost.cmdline,
      " hugepages=0:4,1:4",
      " hugepages=0:512,1:512 hugepagesz=2M hugepages=0:4,1:4",
    );
    const r = failing(checkHost({ ...rtHost, cmdline: swapped }, both), "cmdline hugepages 1G");
    assert.equal(r.observed, "hugepages=0:512,1:512");
    assert.equal(
      failing(checkHost({ ...rtHost, cmdline: rtHost.cmdline }, both), "cmdline hugepagesz 2M").observed,
      "absent",
    );
  });

  it("sysfs: isolated and nohz_full must equal the plan", () => {
    assert.equal(failing(check({ isolated: "4-10\n" }), "sysfs isolated").observed, "4-10");
    assert.equal(failing(check({ nohzFull: "(null)\n" }), "sysfs nohz_full").observed, "none");
    assert.equal(failing(check({ nohzFull: null }), "sysfs nohz_full").observed, "file missing");
  });

  it("1G pages: a node short of pages, with the hint for how this host reserves them", () => {
    const short = swap(
      rtHost.hugepages,
      "node1/hugepages/hugepages-1048576kB/nr_hugepages:4",
      "node1/hugepages/hugepages-1048576kB/nr_hugepages:3",
    );
    const r = failing(check({ hugepages: short }), "1G pages node 1");
    assert.equal(r.observed, "3");
    assert.match(r.hint, /hugepages=0:4,1:4 on \/proc\/cmdline/);
    const rhel = devHost("compute-rt-02");
    assert.match(failing(check({ hugepages: short }, rhel), "1G pages node 1").hint, /boot-time unit/);
  });

  it("1G pages: pages the kernel put on another node are named as such (seen in the e2e VM on 6.1)", () => {
    const moved = swap(
      swap(
        rtHost.hugepages,
        "node0/hugepages/hugepages-1048576kB/nr_hugepages:4",
        "node0/hugepages/hugepages-1048576kB/nr_hugepages:1",
      ),
      "node1/hugepages/hugepages-1048576kB/nr_hugepages:4",
      "node1/hugepages/hugepages-1048576kB/nr_hugepages:7",
    );
    const r = failing(check({ hugepages: moved }), "1G pages node 0");
    assert.equal(r.observed, "1");
    assert.match(
      r.hint,
      /^node 0 has 1 pages of 1 GiB, the plan needs 4; node 1 holds 7, more than its 4: the kernel placed node 0's pages there because node 0 had no free 1 GiB-aligned gigabyte at boot/,
    );
    assert.equal(result(check({ hugepages: moved }), "1G pages node 1").ok, true, "a surplus is no failure of its own");
  });

  it("nova.conf: sets are compared as sets; other sets, a shared set the plan lacks and vcpu_pin_set fail", () => {
    assert.equal(
      result(
        check({ novaConf: swap(rtHost.novaConf, "cpu_dedicated_set = 4-11", "cpu_dedicated_set = 4-7,8,9-11") }),
        "nova cpu_dedicated_set",
      ).ok,
      true,
    );
    assert.equal(
      result(check({ novaConf: "[compute]\ncpu_dedicated_set=4-12,^12\n" }), "nova cpu_dedicated_set").ok,
      true,
    );
    const wide = failing(
      check({ novaConf: swap(rtHost.novaConf, "cpu_dedicated_set = 4-11", "cpu_dedicated_set = 0-11") }),
      "nova cpu_dedicated_set",
    );
    assert.match(wide.hint, /^set cpu_dedicated_set = 4-11 in the \[compute\] section/);
    const shared = swap(rtHost.novaConf, "cpu_dedicated_set = 4-11", "cpu_dedicated_set = 4-11\ncpu_shared_set = 0-3");
    assert.match(failing(check({ novaConf: shared }), "nova cpu_shared_set").hint, /^remove cpu_shared_set/);
    const pinSet = swap(rtHost.novaConf, "debug = False", "debug = False\nvcpu_pin_set = 4-11");
    assert.equal(failing(check({ novaConf: pinSet }), "nova vcpu_pin_set").observed, "4-11 in [DEFAULT]");
  });

  it("interrupts: a NIC queue on isolated CPU 5 is named, the per-CPU rows on isolated CPUs are not", () => {
    const moved = swap(
      rtHost.interrupts,
      "      91233          0          0          0",
      "      91233          0          0        112",
    );
    const r = failing(check({ interrupts: moved }), "device IRQs on isolated CPUs");
    assert.equal(r.observed, "IRQ 27 eno1-TxRx-1: 112 on CPU5");
    assert.match(r.hint, /IRQBALANCE_BANNED_CPULIST=4-11/);
  });

  it("turns empty and garbage outputs into failed results, never an exception", () => {
    const empty: HostFacts = {
      unameV: "",
      tunedActive: "",
      tunedVerify: { exitCode: 127, output: "" },
      cmdline: "",
      isolated: "",
      nohzFull: "",
      hugepages: "",
      hugetlbfs: "",
      novaConf: "",
      applied: "",
      tunedVariables: "",
      interrupts: "",
      lscpu: "",
      nodeMeminfo: "",
      bootGrubby: "",
      bootGrubCfg: "",
      bootGrubenv: "",
      cpuPower: "",
      stalld: "",
      rtThrottling: "",
      kthreads: "",
      tunedScheduler: "",
    };
    const results = checkHost(empty, plan);
    const passing = results.filter((r) => r.ok).map((r) => r.check);
    assert.deepEqual(passing, [], formatReport(results));
    const garbage = "\u0000\u0001 <html>502 Bad Gateway</html>";
    const g = checkHost(
      {
        ...empty,
        unameV: garbage,
        cmdline: garbage,
        isolated: garbage,
        nohzFull: garbage,
        hugepages: garbage,
        hugetlbfs: garbage,
        interrupts: garbage,
        novaConf: garbage,
        lscpu: garbage,
        nodeMeminfo: garbage,
        bootGrubby: garbage,
        bootGrubCfg: garbage,
      },
      plan,
    );
    assert.equal(g.filter((r) => r.ok).length, 0, formatReport(g));
  });
});
