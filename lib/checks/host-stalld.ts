/**
 * stalld and RT throttling against the plan (lib/plan/stalld.ts): with stalld planned, the unit
 * active and the running daemon watching the isolated CPUs (its `-c`); without it, no stalld
 * running. kernel.sched_rt_runtime_us must be the plan's value: -1 with stalld and under the
 * realtime profile, the kernel's 950000 under cpu-partitioning. Read from host-facts.sh's
 * `stalld` (`active=`, `cmdline=` lines, or `<absent>` without the unit) and `rt-throttling`
 * (the sysctl's value) sections.
 */
import { isCpuSpecError, parseCpuList, sameSet } from "../cpu/cpuset";
import type { HostPlan } from "../plan/host";
import { hostCheck } from "./host-check";
import type { CheckResult } from "./result";
import { excerpt, fail, verdict } from "./result";

export interface StalldFacts {
  /** The section holds what host-facts.sh prints: an `active=` line or `<absent>`. */
  collected: boolean;
  /** The unit is installed. */
  installed: boolean;
  /** `systemctl is-active`: active, inactive, failed...; null when not printed. */
  active: string | null;
  /** The CPU list the running daemon was given (`-c`/`--cpu`), as written; null: no such option (every CPU) or not running. */
  cpus: string | null;
  /** Whether a running daemon's command line was read. */
  running: boolean;
}

export function parseStalld(text: string): StalldFacts {
  const lines = text.split("\n").map((l) => l.trim());
  const absent = lines.includes("<absent>");
  const facts: StalldFacts = { collected: absent, installed: !absent, active: null, cpus: null, running: false };
  for (const line of lines) {
    if (line.startsWith("active=")) {
      facts.active = line.slice("active=".length);
      facts.collected = true;
    }
    if (!line.startsWith("cmdline=")) continue;
    facts.running = true;
    const words = line.slice("cmdline=".length).split(/\s+/);
    words.forEach((w, i) => {
      if ((w === "-c" || w === "--cpu") && i + 1 < words.length) facts.cpus = words[i + 1];
      else if (w.startsWith("--cpu=")) facts.cpus = w.slice("--cpu=".length);
    });
  }
  return facts;
}

function sameCpus(text: string, planned: string): boolean {
  try {
    return sameSet(parseCpuList(text), parseCpuList(planned));
  } catch (e) {
    if (isCpuSpecError(e)) return false;
    throw e;
  }
}

/** A word from the host, shown as is when it is plain, else quoted and escaped. */
const shown = (text: string) => (/^[A-Za-z0-9_,.-]{1,40}$/.test(text) ? text : excerpt(text, 40));

export function checkStalld(stalldText: string, throttlingText: string, plan: HostPlan): CheckResult[] {
  const planned = plan.stalld;
  const facts = parseStalld(stalldText);
  const active = facts.active === "active";
  const state = !facts.installed ? "not installed" : active ? "active" : shown(facts.active ?? "(state not read)");
  const results: CheckResult[] = [];
  if (!facts.collected)
    results.push(
      fail(
        "stalld",
        "stalld's unit state (active= or <absent>)",
        excerpt(stalldText),
        "host-facts.sh printed no stalld state: run hostprep/verify/host-facts.sh on the host by hand and read its stalld section",
      ),
    );
  else if (planned.enabled && planned.cpus !== null) {
    const cpus = planned.cpus;
    results.push(
      verdict(
        "stalld",
        active && facts.cpus !== null && sameCpus(facts.cpus, cpus),
        `active, watching CPUs ${cpus}`,
        `${state}${facts.running ? `, watching ${facts.cpus === null ? "every CPU (no -c)" : `CPUs ${shown(facts.cpus)}`}` : ""}`,
        !facts.installed
          ? "stalld is not installed: run host prep's packages step (packages.sh --stalld), then its tuned step"
          : `set CLIST="-c ${cpus}" in /etc/sysconfig/stalld and run \`systemctl enable stalld && systemctl restart stalld\` (host prep's tuned step does both)`,
      ),
    );
  } else {
    results.push(
      verdict(
        "stalld",
        !active,
        `not running (${planned.reason})`,
        state,
        "stalld runs although the plan has none, and it turns RT throttling off: `systemctl disable --now stalld`, or set stalld: true for this host",
      ),
    );
  }
  const value = throttlingText.trim();
  const want = String(planned.schedRtRuntimeUs);
  results.push(
    verdict(
      "RT throttling",
      value === want,
      `kernel.sched_rt_runtime_us=${want}`,
      value === "" ? "(not read)" : shown(value),
      planned.enabled
        ? `stalld's unit sets -1 when it starts${plan.tuned.profile === "realtime-virtual-host" ? ", as TuneD's realtime profile does" : ""}: check that no file in /etc/sysctl.d sets it, then run \`systemctl restart stalld\``
        : `TuneD's ${plan.tuned.profile} profile ${want === "-1" ? "sets -1" : `leaves the kernel's ${want}`}: check that no file in /etc/sysctl.d sets it, then run \`tuned-adm profile ${plan.tuned.profile}\`, which applies the profile's value again`,
    ),
  );
  return results;
}

export const stalldCheck = /* @__PURE__ */ hostCheck({
  sections: ["stalld", "rt-throttling"],
  kind: "observed",
  check: (f, plan) => checkStalld(f.stalld, f["rt-throttling"], plan),
});
