/**
 * The checks of an RT compute host, judged on host-facts.sh's sections (collected over SSH by the
 * caller): topology, kernel, TuneD, the command line and the default boot entry's, sysfs CPU
 * isolation, huge pages, nova.conf and interrupts. Pure: text in, results out. The latency
 * stages run apart (lib/checks/latency-stages.ts).
 */
import type { HostPlan } from "../plan/host";
import { checkCmdline, checkSysfsCpus } from "./host-cmdline";
import { checkNovaApplied, checkTunedApplied } from "./host-applied";
import { checkHugepages, checkHugetlbfsMounts } from "./host-hugepages";
import { checkInterrupts } from "./host-irq";
import { checkNovaConf } from "./host-nova";
import { checkTopology } from "./host-topology";
import { bootEntryCheck } from "./host-boot-entry";
import { cpuPowerCheck } from "./host-power";
import { stalldCheck } from "./host-stalld";
import { kthreadsCheck } from "./host-kthreads";
import type { CheckResult } from "./result";
import { excerpt, verdict } from "./result";
import type { HostCheck, HostSections } from "./host-check";
import { hostCheck, runHostChecks } from "./host-check";

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

export function checkTuned(
  active: string,
  verify: { exitCode: number; output: string },
  profile: string,
): CheckResult[] {
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

/** An RT host runs the RT kernel and has isolcpus; a cpu-partitioning host keeps its distribution kernel and relies on systemd's CPUAffinity. */
const isRt = (plan: HostPlan) => plan.tuned.profile !== "cpu-partitioning";

const sysfsHint = (plan: HostPlan) =>
  `the kernel isolates other CPUs than the plan's ${plan.isolated}: it uses what /proc/cmdline said at boot, so fix the command line and reboot`;

/**
 * Every host check, in report order. Built in a pure call so that bundles which import this module
 * for one helper (the guest check's checkKernel) leave the list and its checks out.
 */
export const HOST_CHECKS: readonly HostCheck[] = /* @__PURE__ */ (() => [
  hostCheck({
    sections: ["lscpu", "node-meminfo"],
    kind: "observed",
    check: (f, plan) => checkTopology(f.lscpu, f["node-meminfo"], plan),
  }),
  hostCheck({ sections: ["uname-v"], kind: "observed", applies: isRt, check: (f) => [checkKernel(f["uname-v"])] }),
  hostCheck({
    sections: ["tuned-active", "tuned-verify"],
    kind: "observed",
    check: (f, plan) => {
      const exit = /^exit=(\d+)/.exec(f["tuned-verify"]);
      const output = f["tuned-verify"].replace(/^exit=\d+\n?/, "");
      return checkTuned(f["tuned-active"], { exitCode: exit ? Number(exit[1]) : -1, output }, plan.tuned.profile);
    },
  }),
  hostCheck({
    sections: ["applied", "tuned-variables"],
    kind: "observed",
    check: (f, plan) => checkTunedApplied(f.applied, f["tuned-variables"], plan),
  }),
  kthreadsCheck,
  hostCheck({ sections: ["cmdline"], kind: "observed", check: (f, plan) => checkCmdline(f.cmdline, plan) }),
  bootEntryCheck,
  cpuPowerCheck,
  stalldCheck,
  hostCheck({
    sections: ["isolated"],
    kind: "observed",
    applies: isRt,
    check: (f, plan) => [checkSysfsCpus("isolated", f.isolated, plan.isolated, sysfsHint(plan))],
  }),
  hostCheck({
    sections: ["nohz-full"],
    kind: "observed",
    check: (f, plan) => {
      const text = f["nohz-full"] === "<absent>" ? null : f["nohz-full"];
      return [checkSysfsCpus("nohz_full", text, plan.isolated, sysfsHint(plan))];
    },
  }),
  hostCheck({ sections: ["hugepages"], kind: "observed", check: (f, plan) => checkHugepages(f.hugepages, plan) }),
  hostCheck({
    sections: ["hugetlbfs"],
    kind: "observed",
    check: (f, plan) => checkHugetlbfsMounts(f.hugetlbfs, plan),
  }),
  hostCheck({ sections: ["nova-conf"], kind: "observed", check: (f, plan) => checkNovaConf(f["nova-conf"], plan) }),
  hostCheck({ sections: ["applied"], kind: "observed", check: (f, plan) => [checkNovaApplied(f.applied, plan)] }),
  hostCheck({
    sections: ["interrupts"],
    kind: "measured",
    check: (f, plan) => [checkInterrupts(f.interrupts, plan.isolated, plan.housekeeping)],
  }),
])();

/** Runs the host checks of one kind on host-facts.sh's sections. */
export function checkHostFacts(sections: HostSections, plan: HostPlan, kind: HostCheck["kind"]): CheckResult[] {
  return runHostChecks(sections, plan, kind, HOST_CHECKS);
}
