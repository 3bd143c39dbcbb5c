/**
 * Kernel-thread priorities, verified on the host rather than trusted to the profile. TuneD's
 * realtime-virtual-host profile puts the per-CPU kernel threads above the guests' vCPUs (SCHED_FIFO
 * 1) with [scheduler] group rules: ksoftirqd and ktimers FIFO 2, rcuc and rcub FIFO 4, ktimersoftd
 * FIFO 3 (TuneD 2.20). host-facts.sh prints the active profile's [scheduler] lines file by file
 * (`tuned-scheduler`) and those threads as ps shows them (`kthreads`); this merges the rules as
 * TuneD does and compares each rule with its threads on the isolated CPUs.
 *
 * TuneD's scheduler plugin (plugins/plugin_scheduler.py) matches each rule's Python regex with
 * re.search against a kernel thread's name in brackets ("[ksoftirqd/4]"), sorts the rules by their
 * rule priority as text, and gives a thread the policy and priority of the last rule that matches.
 * The plugin imports the perf Python module: where that is missing (Debian) it does not load and
 * no rule is applied.
 */
import type { CpuSet } from "../cpu/cpuset";
import { cpuSet, formatCpuList, isCpuSpecError, isSubset, parseCpuList } from "../cpu/cpuset";
import type { HostPlan } from "../plan/host";
import { hostCheck } from "./host-check";
import type { CheckResult } from "./result";
import { excerpt, fail, pass, verdict } from "./result";

/** One kernel thread: ps's CLS and RTPRIO, the CPUs it may run on, its name. */
export interface KernelThread {
  pid: number;
  /** ps's CLS column: TS, FF, RR, B, IDL, DLN... */
  cls: string;
  /** ps's RTPRIO; "-" (no RT priority) is 0. */
  rtprio: number;
  /** Cpus_allowed_list; null when the thread ended before it was read ("?"). */
  cpus: string | null;
  name: string;
}

export type KthreadsParse =
  { ok: true; threads: KernelThread[]; truncated: boolean } | { ok: false; error: string; hint: string };

export function parseKthreads(text: string): KthreadsParse {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  if (lines.some((l) => l.trim() === "<absent>"))
    return { ok: false, error: "no ps on the host", hint: "install procps (ps) on the host" };
  const threads: KernelThread[] = [];
  let truncated = false;
  for (const line of lines) {
    if (line.trim() === "<truncated>") {
      truncated = true;
      continue;
    }
    const m = /^\s*(\d+) ([A-Z?-]+) (\d+|-) ([0-9,-]+|\?) (\S+)$/.exec(line);
    if (!m)
      return {
        ok: false,
        error: `unreadable line ${excerpt(line, 50)}`,
        hint: 'the kthreads section is "pid class rtprio cpus name" lines: run hostprep/verify/host-facts.sh on the host by hand',
      };
    threads.push({
      pid: Number(m[1]),
      cls: m[2],
      rtprio: m[3] === "-" ? 0 : Number(m[3]),
      cpus: m[4] === "?" ? null : m[4],
      name: m[5],
    });
  }
  return { ok: true, threads, truncated };
}

/** A `group.<name>=<rule_prio>:<policy>:<prio>:<affinity>:<regex>` rule as TuneD reads it. */
export interface GroupRule {
  group: string;
  rulePrio: string;
  /** ps's CLS of the policy it sets (f FF, r RR, o TS, b B, i IDL); null for `*` (policy kept). */
  cls: string | null;
  priority: number;
  regex: string;
}

export interface SchedulerFacts {
  /** The names in /etc/tuned/active_profile; null without the file. */
  active: string[] | null;
  /** Whether python3 imports perf, which TuneD's scheduler plugin needs to load. */
  perf: boolean;
  /** The rules TuneD applies, in its order (the last one matching a thread wins). */
  rules: GroupRule[];
  /** Profiles TuneD would not find, names it would refuse, files left out. */
  problems: string[];
}

const CLS_OF_POLICY: Record<string, string> = { f: "FF", r: "RR", o: "TS", b: "B", i: "IDL" };
const POLICY_OF_CLS: Record<string, string> = {
  TS: "SCHED_OTHER",
  FF: "SCHED_FIFO",
  RR: "SCHED_RR",
  B: "SCHED_BATCH",
  IDL: "SCHED_IDLE",
  DLN: "SCHED_DEADLINE",
};
const policyName = (cls: string) => POLICY_OF_CLS[cls] ?? `class ${cls}`;

/** Python's str.split(sep, max): at most max splits, the rest left in the last part. */
function splitN(text: string, sep: string, max: number): string[] {
  const parts = text.split(sep);
  return parts.length > max + 1 ? [...parts.slice(0, max), parts.slice(max).join(sep)] : parts;
}

/**
 * The active profile's [scheduler] options merged as TuneD's profile merger does (each file's unit
 * over the previous ones: `replace` true drops them, `drop` removes the options it lists, a key
 * set again keeps its place), then its group rules as the scheduler plugin takes them: five
 * fields, a valid policy and an integer priority (TuneD ignores the others), sorted by rule
 * priority as text.
 */
export function parseTunedScheduler(text: string): SchedulerFacts {
  const facts: SchedulerFacts = { active: null, perf: false, rules: [], problems: [] };
  let merged = new Map<string, string>();
  let unit: Map<string, string> | null = null;
  let replace = false;
  let drop: string[] = [];
  const mergeUnit = () => {
    if (unit === null) return;
    if (replace) merged = new Map();
    for (const d of drop) merged.delete(d);
    for (const [k, v] of unit) merged.set(k, v);
  };
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "<absent>") return facts;
    if (line.startsWith("active=")) facts.active = line.slice("active=".length).split(/\s+/).filter(Boolean);
    else if (line === "perf=yes") facts.perf = true;
    else if (/^(missing|bad-name)=/.test(line))
      facts.problems.push(
        line.startsWith("missing=")
          ? `no profile ${excerpt(line.slice(8), 40)}`
          : `a name TuneD refuses: ${excerpt(line.slice(9), 40)}`,
      );
    else if (line === "<truncated>") facts.problems.push("more than 32 profile files, the rest not read");
    else if (line.startsWith("file=")) {
      mergeUnit();
      unit = new Map();
      replace = false;
      drop = [];
    } else if (unit !== null) {
      // TuneD's ConfigParser: "=" delimits, "#" after whitespace starts a comment.
      const eq = line.indexOf("=");
      if (eq < 0) continue;
      const key = line.slice(0, eq).trim();
      const value = line
        .slice(eq + 1)
        .replace(/\s#.*$/, "")
        .trim();
      if (key === "replace") replace = ["True", "true", "1"].includes(value);
      else if (key === "drop") drop = value.split(/\b\s*[,;]\s*/);
      else unit.set(key, value);
    }
  }
  mergeUnit();
  const rules: GroupRule[] = [];
  for (const [key, value] of merged) {
    if (!key.startsWith("group.")) continue;
    const f = splitN(value, ":", 4);
    if (f.length !== 5 || !/^\s*[+-]?\d+\s*$/.test(f[2]) || (f[1] !== "*" && !(f[1] in CLS_OF_POLICY))) continue;
    rules.push({
      group: key.slice("group.".length),
      rulePrio: f[0],
      cls: f[1] === "*" ? null : CLS_OF_POLICY[f[1]],
      priority: Number(f[2]),
      regex: f[4],
    });
  }
  // Array.prototype.sort is stable, as Python's sorted is.
  facts.rules = rules.sort((a, b) => (a.rulePrio < b.rulePrio ? -1 : a.rulePrio > b.rulePrio ? 1 : 0));
  return facts;
}

/** A word from the host, shown as is when it is plain, else quoted and escaped. */
const shown = (text: string) => (/^[A-Za-z0-9_.,/:-]{1,60}$/.test(text) ? text : excerpt(text, 60));

const wanted = (r: GroupRule) => `${r.cls === null ? "priority" : policyName(r.cls)} ${r.priority}`;

const CHECK = "kernel thread priorities";

export function checkKthreads(kthreadsText: string, schedulerText: string, plan: HostPlan): CheckResult[] {
  const facts = parseTunedScheduler(schedulerText);
  const profile = plan.tuned.profile;
  if (facts.active === null && !/^<absent>$/m.test(schedulerText))
    return [
      fail(
        CHECK,
        `the [scheduler] rules of ${profile}`,
        `no active= line: ${excerpt(schedulerText)}`,
        "run hostprep/verify/host-facts.sh on the host by hand and read its tuned-scheduler section",
      ),
    ];
  if (facts.active === null || facts.active.length === 0)
    return [
      fail(
        CHECK,
        `the [scheduler] rules of ${profile}`,
        "no active TuneD profile (/etc/tuned/active_profile)",
        `TuneD runs no profile: run \`tuned-adm profile ${profile}\` with the tuned service running`,
      ),
    ];
  const active = facts.active.map(shown).join(" ");
  const problems = facts.problems.length ? `; ${facts.problems.join("; ")}` : "";
  if (facts.rules.length === 0)
    return [pass(CHECK, `the group rules of ${active}`, `${active} sets none: nothing to verify${problems}`)];
  if (!facts.perf)
    return [
      pass(
        CHECK,
        `the group rules of ${active}`,
        `not applied here: TuneD's scheduler plugin needs the perf Python module, which this host lacks, so TuneD sets no thread priority${problems}`,
      ),
    ];
  const threads = parseKthreads(kthreadsText);
  if (!threads.ok) return [fail(CHECK, `the group rules of ${active}`, threads.error, threads.hint)];
  let isolated: readonly number[];
  try {
    isolated = parseCpuList(plan.isolated);
  } catch (e) {
    if (!isCpuSpecError(e)) throw e;
    return [
      fail(
        CHECK,
        `the group rules of ${active}`,
        e.message,
        "the plan's isolated CPU list is malformed: a bug in the caller",
      ),
    ];
  }
  const compiled = facts.rules.map((r) => {
    try {
      return new RegExp(r.regex);
    } catch {
      return null;
    }
  });
  const results: CheckResult[] = [];
  const unreadable = facts.rules.filter((_, i) => compiled[i] === null);
  if (unreadable.length)
    results.push(
      fail(
        CHECK,
        "group rules whose regex the check can read",
        unreadable.map((r) => `${shown(r.group)}: ${excerpt(r.regex, 40)}`).join("; "),
        "the check reads TuneD's Python regexes as JavaScript ones; write these without Python-only syntax (such as (?P<name>...)) or verify them by hand with `ps -eLo pid,cls,rtprio,psr,comm`",
      ),
    );
  // Each thread on the isolated CPUs under the last rule that matches it, as TuneD applies them.
  const onIsolated = threads.threads.filter((t) => {
    if (t.cpus === null) return false;
    try {
      const cpus = parseCpuList(t.cpus);
      return cpus.length > 0 && isSubset(cpus, isolated);
    } catch (e) {
      if (isCpuSpecError(e)) return false;
      throw e;
    }
  });
  const byRule = new Map<GroupRule, KernelThread[]>(facts.rules.map((r) => [r, []]));
  for (const t of onIsolated) {
    let rule: GroupRule | null = null;
    for (let i = 0; i < facts.rules.length; i++) if (compiled[i]?.test(`[${t.name}]`)) rule = facts.rules[i];
    if (rule) byRule.get(rule)?.push(t);
  }
  const truncated = threads.truncated ? " (the thread list was cut at 8192 lines)" : "";
  for (const [rule, ts] of byRule) {
    if (unreadable.includes(rule)) continue;
    const check = `kthread ${shown(rule.group)}`;
    const expected = `${wanted(rule)} on CPUs ${plan.isolated}`;
    if (ts.length === 0) {
      const any = threads.threads.some((t) => compiled[facts.rules.indexOf(rule)]?.test(`[${t.name}]`));
      const why = any
        ? `none on CPUs ${plan.isolated} alone where it is the last rule that matches`
        : "this kernel has no such thread";
      results.push(pass(check, expected, `${why}${truncated}`));
      continue;
    }
    const wrong = ts.filter((t) => (rule.cls !== null && t.cls !== rule.cls) || t.rtprio !== rule.priority);
    const cpus = formatCpuList(onCpus(ts));
    results.push(
      verdict(
        check,
        wrong.length === 0,
        expected,
        wrong.length === 0
          ? `${wanted(rule)}: ${ts.length} thread${ts.length === 1 ? "" : "s"} on CPUs ${cpus}${truncated}`
          : wrong
              .slice(0, 4)
              .map((t) => `${shown(t.name)} (CPUs ${shown(t.cpus ?? "")}): ${policyName(t.cls)} ${t.rtprio}`)
              .join("; ") + (wrong.length > 4 ? `; and ${wrong.length - 4} more` : ""),
        `TuneD sets these when it applies the profile, and sets threads created later only while its daemon watches for them (the scheduler plugin's runtime tuning; runtime=0 turns it off): \`tuned-adm profile ${active}\` sets them again. If they change back, something else sets them (tuna, chrt, a unit of your own); stalld shows a thread it is boosting as SCHED_DEADLINE for a few seconds`,
      ),
    );
  }
  return results;
}

/** The CPUs these threads may run on (each list already parsed once). */
function onCpus(ts: readonly KernelThread[]): CpuSet {
  return cpuSet(ts.flatMap((t) => (t.cpus === null ? [] : parseCpuList(t.cpus))));
}

export const kthreadsCheck = /* @__PURE__ */ hostCheck({
  sections: ["kthreads", "tuned-scheduler"],
  kind: "observed",
  check: (f, plan) => checkKthreads(f.kthreads, f["tuned-scheduler"], plan),
});
