/**
 * Verifies an RT compute host from the raw output of a few commands, collected over SSH by the
 * caller: the kernel, TuneD, the command line, sysfs CPU isolation, huge pages, nova.conf,
 * interrupts and (optionally) hwlatdetect. Pure: text in, results out.
 */
import type { HostPlan } from "../plan/host";
import { checkCmdline, checkSysfsCpus } from "./host-cmdline";
import { checkNovaApplied, checkTunedApplied } from "./host-applied";
import { checkHugepages, checkHugetlbfsMounts } from "./host-hugepages";
import { checkInterrupts } from "./host-irq";
import { checkNovaConf } from "./host-nova";
import { checkTopology } from "./host-topology";
import { checkHwlatdetect, parseHwlatdetect } from "./latency";
import type { CheckResult } from "./result";
import { excerpt, verdict } from "./result";

export interface HostFacts {
  /** `uname -v` */
  unameV: string;
  /** `tuned-adm active`, stdout and stderr */
  tunedActive: string;
  /** `tuned-adm verify`: its exit code and output */
  tunedVerify: { exitCode: number; output: string };
  /** /proc/cmdline */
  cmdline: string;
  /** /sys/devices/system/cpu/isolated */
  isolated: string;
  /** /sys/devices/system/cpu/nohz_full; null when the file does not exist */
  nohzFull: string | null;
  /** `grep -H . /sys/devices/system/node/node*\/hugepages/hugepages-*\/nr_hugepages` */
  hugepages: string;
  /** The hugetlbfs lines of /proc/mounts */
  hugetlbfs: string;
  /** nova-compute's nova.conf, whole or its [compute] section */
  novaConf: string;
  /** host-facts.sh's `applied` section: when nova-compute started and TuneD applied, when their files changed */
  applied: string;
  /** /etc/tuned/<profile>-variables.conf */
  tunedVariables: string;
  /** /proc/interrupts */
  interrupts: string;
  /** hwlatdetect's output, when it was run */
  hwlatdetect?: string;
  /** `lscpu -p=CPU,CORE,SOCKET,NODE` */
  lscpu: string;
  /** the `Node <N> MemTotal: <kB> kB` lines of /sys/devices/system/node/node*\/meminfo */
  nodeMeminfo: string;
}

export interface HostCheckOptions {
  /** Worst firmware stall hwlatdetect may report; OpenShift's default limit is 20 µs. */
  hwlatThresholdUs: number;
}

export const DEFAULT_HOST_CHECK_OPTIONS: HostCheckOptions = { hwlatThresholdUs: 20 };

/** One non-empty line of plain text, safe to show as is. */
function printable(text: string): boolean {
  return text !== "" && [...text].every((c) => c.charCodeAt(0) >= 0x20);
}

export function checkKernel(unameV: string): CheckResult {
  // Mainline and RHEL print "PREEMPT_RT"; the older -rt patch sets printed "PREEMPT RT".
  const rt = /PREEMPT_RT|PREEMPT RT/.test(unameV);
  return verdict(
    "RT kernel",
    rt,
    "PREEMPT_RT in uname -v",
    printable(unameV.trim()) ? unameV.trim() : excerpt(unameV),
    "the running kernel is not PREEMPT_RT: install the RT kernel (Debian: linux-image-rt-amd64, RHEL: kernel-rt), make it the default boot entry and reboot",
  );
}

/** The line of tuned-adm's output that carries its verdict (it also prints DBus noise and log hints). */
function keyLine(text: string): string {
  const lines = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "");
  return excerpt(
    lines.find((l) => /succeeded|failed|not supported|no current|error/i.test(l)) ?? lines.pop() ?? "",
    80,
  );
}

/**
 * What TuneD's log says about a verify, which host-facts.sh prints after tuned-adm's own output:
 * the settings that differ ("verify: failed: ...") and those the running kernel lacks, skipped
 * with --ignore-missing ("verify: skipped, missing: ...").
 */
export function tunedVerifyLog(output: string): { failed: string[]; missing: string[]; excused: number } {
  const failed: { text: string; sysctl: string | null }[] = [];
  const missing: string[] = [];
  const absent = new Set<string>();
  for (const line of output.split("\n")) {
    const gone = /^absent sysctl: (\S+)$/.exec(line.trim());
    if (gone) absent.add(gone[1]);
    const m = /(?:tuned\.plugins\.(?:plugin_)?(\w+):\s+)?verify: (failed|skipped, missing): (.*)$/.exec(line.trim());
    if (!m) continue;
    if (m[2] === "failed")
      failed.push({
        text: `${m[1] && m[1] !== "base" ? `${m[1]} ` : ""}${m[3]}`,
        sysctl: /^'([\w.-]+)' = 'None', expected /.exec(m[3])?.[1] ?? null,
      });
    else missing.push(m[3].replace(/^'(.*)'$/, "$1"));
  }
  // A sysctl TuneD read as 'None' that host-facts.sh found absent from /proc/sys is one the
  // kernel lacks (TuneD 2.20 fails those even with --ignore-missing): skipped, not failed.
  const excused = failed.filter((f) => f.sysctl !== null && absent.has(f.sysctl));
  missing.push(...excused.map((f) => f.sysctl as string));
  return { failed: failed.filter((f) => !excused.includes(f)).map((f) => f.text), missing, excused: excused.length };
}

export function checkTuned(active: string, verify: HostFacts["tunedVerify"], profile: string): CheckResult[] {
  const current = /^Current active profile:\s*(.+)$/m.exec(active)?.[1].trim() ?? null;
  const profiles = current?.split(/\s+/) ?? [];
  const { failed: failures, missing, excused } = tunedVerifyLog(verify.output);
  const shown =
    failures
      .slice(0, 3)
      .map((f) => excerpt(f, 90))
      .join("; ") + (failures.length > 3 ? `; and ${failures.length - 3} more` : "");
  // A non-zero exit counts as passed only when TuneD logged why and every reason is a setting
  // this kernel lacks.
  const ok = verify.exitCode === 0 ? /succeeded/.test(verify.output) : excused > 0 && failures.length === 0;
  const skipped = missing.length
    ? `; not in this kernel, skipped: ${missing.slice(0, 6).join(", ")}${missing.length > 6 ? ` and ${missing.length - 6} more` : ""}`
    : "";
  return [
    verdict(
      "TuneD profile",
      profiles.includes(profile),
      profile,
      current ?? keyLine(active),
      `run \`tuned-adm profile ${profile}\` after setting isolated_cores in /etc/tuned/${profile}-variables.conf, with the tuned service running (\`systemctl enable --now tuned\`)`,
    ),
    // TuneD 2.20 prints "Verfication succeeded" (sic); the exit code is what counts.
    verdict(
      "TuneD verify",
      ok,
      "exit 0, settings match the profile",
      ok
        ? `exit ${verify.exitCode}${skipped}`
        : `exit ${verify.exitCode}: ${failures.length ? shown : keyLine(verify.output)}`,
      `TuneD's settings are not (or no longer) applied${failures.length ? "" : " (the mismatching settings are in /var/log/tuned/tuned.log)"}: \`systemctl restart tuned\`, and reboot when the bootloader settings changed; a setting the hardware cannot take (a sysctl the kernel refuses) needs a profile that overrides it`,
    ),
  ];
}

/** What the host is and is set up to be: its declared topology, kernel, TuneD, command line, isolation, huge pages, nova.conf, and whether TuneD and nova-compute run with their files as they are. */
export function checkHostState(facts: HostFacts, plan: HostPlan): CheckResult[] {
  const rt = plan.tuned.profile !== "cpu-partitioning";
  const sysfsHint = `the kernel isolates other CPUs than the plan's ${plan.isolated}: it uses what /proc/cmdline said at boot, so fix the command line and reboot`;
  return [
    ...checkTopology(facts.lscpu, facts.nodeMeminfo, plan),
    // A cpu-partitioning host keeps its distribution kernel and has no isolcpus (systemd's
    // CPUAffinity keeps tasks off the isolated CPUs): neither is checked there.
    ...(rt ? [checkKernel(facts.unameV)] : []),
    ...checkTuned(facts.tunedActive, facts.tunedVerify, plan.tuned.profile),
    ...checkTunedApplied(facts.applied, facts.tunedVariables, plan),
    ...checkCmdline(facts.cmdline, plan),
    ...(rt ? [checkSysfsCpus("isolated", facts.isolated, plan.isolated, sysfsHint)] : []),
    checkSysfsCpus("nohz_full", facts.nohzFull, plan.isolated, sysfsHint),
    ...checkHugepages(facts.hugepages, plan),
    ...checkHugetlbfsMounts(facts.hugetlbfs, plan),
    ...checkNovaConf(facts.novaConf, plan),
    checkNovaApplied(facts.applied, plan),
  ];
}

/** How the host behaves at this moment: device interrupts on isolated CPUs, and hwlatdetect when it ran. */
export function checkHostRuntime(
  facts: HostFacts,
  plan: HostPlan,
  opts: HostCheckOptions = DEFAULT_HOST_CHECK_OPTIONS,
): CheckResult[] {
  const results = [checkInterrupts(facts.interrupts, plan.isolated, plan.housekeeping)];
  if (facts.hwlatdetect !== undefined)
    results.push(checkHwlatdetect(parseHwlatdetect(facts.hwlatdetect), opts.hwlatThresholdUs));
  return results;
}

export function checkHost(
  facts: HostFacts,
  plan: HostPlan,
  opts: HostCheckOptions = DEFAULT_HOST_CHECK_OPTIONS,
): CheckResult[] {
  return [...checkHostState(facts, plan), ...checkHostRuntime(facts, plan, opts)];
}
