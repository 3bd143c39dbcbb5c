/**
 * The kernel-thread priority check. host-facts.sh runs for real in a mount namespace of its own,
 * with Debian's TuneD 2.20.0-1 profiles (test/fixtures/host/kthreads/tuned-2.20.0, copied from the
 * package) bound over /usr/lib/tuned and a scratch /etc/tuned, on this machine's own kernel threads;
 * a 12-CPU RT host's threads as the section prints them (rt-applied.txt) exercise the comparison.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { runHostChecks } from "../../../lib/checks/host-check";
import { checkKthreads, kthreadsCheck, parseKthreads, parseTunedScheduler } from "../../../lib/checks/host-kthreads";
import type { CheckResult } from "../../../lib/checks/result";
import { hostFactsArgs, parseSections } from "../../../lib/checks/verification";
import type { HostPlan } from "../../../lib/plan/host";
import { planStack } from "../../../lib/plan/stack";
import { scriptText } from "../../../lib/providers/collect";
import { SCRATCH } from "../../support/debian-root";
import { devRaw } from "../../support/dev-config";

const FIXTURES = join(__dirname, "..", "..", "fixtures", "host", "kthreads");
const TUNED = join(FIXTURES, "tuned-2.20.0");
const RT_APPLIED = readFileSync(join(FIXTURES, "rt-applied.txt"), "utf8");

const planned = (() => {
  const r = planStack(devRaw());
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  return r.plan.hosts[0];
})();

const dir = mkdtempSync(join(SCRATCH, "host-kthreads-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let roots = 0;

/**
 * host-facts.sh's sections on this machine with TuneD 2.20's profiles as /usr/lib/tuned and an
 * /etc/tuned holding `etc` (path -> text); `perf` puts a perf module on python3's path.
 */
function collect(etc: Record<string, string>, perf = false): Record<string, string> {
  const root = join(dir, `root${roots++}`);
  for (const [path, text] of Object.entries(etc)) {
    mkdirSync(join(root, path, ".."), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  mkdirSync(join(root, "py"), { recursive: true });
  if (perf) writeFileSync(join(root, "py", "perf.py"), "");
  const out = execFileSync(
    "unshare",
    [
      "--mount",
      "bash",
      "-c",
      'mount --bind "$2" /usr/lib/tuned && mount --bind "$1" /etc/tuned && shift 2 && exec bash -s -- "$@"',
      "_",
      root,
      TUNED,
      ...hostFactsArgs(planned),
    ],
    {
      input: scriptText("host-facts.sh"),
      encoding: "utf8",
      maxBuffer: 64 << 20,
      env: { ...process.env, PYTHONPATH: join(root, "py") },
    },
  );
  const { sections, complete } = parseSections(out);
  assert.ok(complete, out.slice(-400));
  return Object.fromEntries(sections);
}

const active = (profile: string) => ({ active_profile: `${profile}\n` });
const judge = (sections: Record<string, string>, plan: HostPlan = planned): CheckResult[] =>
  runHostChecks(sections, plan, "observed", [kthreadsCheck]);
const byCheck = (results: CheckResult[]) => new Map(results.map((r) => [r.check, r]));

const RVH_RULES = [
  "group.ksoftirqd=0:f:2:*:^\\[ksoftirqd",
  "group.ktimers=0:f:2:*:^\\[ktimers",
  "group.rcuc=0:f:4:*:^\\[rcuc",
  "group.rcub=0:f:4:*:^\\[rcub",
  "group.ktimersoftd=0:f:3:*:^\\[ktimersoftd",
];

describe("host-facts.sh's kthreads and tuned-scheduler sections, run for real", () => {
  it("realtime-virtual-host: its files in TuneD's load order, includes first, and its five rules", () => {
    const s = collect(active("realtime-virtual-host"));
    assert.equal(
      s["tuned-scheduler"],
      [
        "active=realtime-virtual-host",
        "perf=no",
        ...["latency-performance", "network-latency", "realtime", "realtime-virtual-host"].map(
          (p) => `file=/usr/lib/tuned/${p}/tuned.conf`,
        ),
        ...RVH_RULES,
      ].join("\n"),
    );
    // The recorded RT host's section (test/support/rt-host-facts.ts) is this output.
    assert.equal(s["tuned-scheduler"], readFileSync(join(FIXTURES, "debian12-rvh-scheduler.txt"), "utf8").trimEnd());
    const rules = parseTunedScheduler(s["tuned-scheduler"]).rules;
    assert.deepEqual(
      rules.map((r) => [r.group, r.cls, r.priority]),
      [
        ["ksoftirqd", "FF", 2],
        ["ktimers", "FF", 2],
        ["rcuc", "FF", 4],
        ["rcub", "FF", 4],
        ["ktimersoftd", "FF", 3],
      ],
    );
  });

  it("this machine's kernel threads in ps's format: every line parses, ksoftirqd/0 among them", () => {
    const s = collect(active("realtime-virtual-host"));
    const parsed = parseKthreads(s.kthreads);
    assert.ok(parsed.ok, s.kthreads);
    const k0 = parsed.threads.find((t) => t.name === "ksoftirqd/0");
    assert.ok(k0, s.kthreads);
    assert.equal(k0.cpus, "0");
    assert.ok(parsed.threads.every((t) => /^(ksoftirqd|ktimers|ktimersoftd|rcuc|rcub)\/\d+$/.test(t.name)));
  });

  it("without the perf module (Debian) TuneD applies no rule: the check says so and passes", () => {
    const r = judge(collect(active("realtime-virtual-host")));
    assert.equal(r.length, 1);
    assert.equal(r[0].ok, true);
    assert.match(r[0].observed, /^not applied here: TuneD's scheduler plugin needs the perf Python module/);
  });

  it("with it, this machine's ksoftirqd on a CPU planned isolated fails, naming thread, CPU, observed and expected", () => {
    const s = collect(active("realtime-virtual-host"), true);
    assert.match(s["tuned-scheduler"], /^perf=yes$/m);
    const r = byCheck(judge(s, { ...planned, isolated: "0" }));
    const k = r.get("kthread ksoftirqd");
    assert.equal(k?.ok, false);
    // This machine is not PREEMPT_RT: ksoftirqd is SCHED_OTHER, and there are no rcuc or ktimers threads.
    assert.equal(k.observed, "ksoftirqd/0 (CPUs 0): SCHED_OTHER 0");
    assert.equal(k.expected, "SCHED_FIFO 2 on CPUs 0");
    assert.match(k.hint, /`tuned-adm profile realtime-virtual-host` sets them again/);
    assert.equal(r.get("kthread ktimers")?.ok, true);
    assert.equal(r.get("kthread ktimers")!.observed, "this kernel has no such thread");
  });

  it("an /etc/tuned profile of the same name that includes the shipped one and overrides and disables rules", () => {
    const s = collect(
      {
        ...active("realtime-virtual-host"),
        "realtime-virtual-host/tuned.conf":
          "[main]\ninclude=realtime-virtual-host\n\n[scheduler]\n# rcuc above the other threads\ngroup.rcuc=0:f:10:*:^\\[rcuc  # ours\ngroup.ktimersoftd=\n",
      },
      true,
    );
    const lines = s["tuned-scheduler"].split("\n");
    assert.deepEqual(lines.filter((l) => l.startsWith("file=")).slice(-2), [
      "file=/usr/lib/tuned/realtime-virtual-host/tuned.conf",
      "file=/etc/tuned/realtime-virtual-host/tuned.conf",
    ]);
    const rules = parseTunedScheduler(s["tuned-scheduler"]).rules;
    assert.deepEqual(
      rules.map((r) => `${r.group}:${r.priority}`),
      ["ksoftirqd:2", "ktimers:2", "rcuc:10", "rcub:4"],
    );
  });

  it("cpu-partitioning sets no group rule: nothing to verify", () => {
    const r = judge(collect(active("cpu-partitioning"), true));
    assert.equal(r.length, 1);
    assert.equal(r[0].ok, true);
    assert.equal(r[0].observed, "cpu-partitioning sets none: nothing to verify");
  });

  it("no active profile fails, and a missing included profile is named", () => {
    const none = judge(collect({}, true));
    assert.equal(none[0].ok, false);
    assert.equal(none[0].observed, "no active TuneD profile (/etc/tuned/active_profile)");
    const s = collect(
      { ...active("mine"), "mine/tuned.conf": "[main]\ninclude=gone\n[scheduler]\ngroup.x=0:f:1:*:^\\[ksoftirqd\n" },
      true,
    );
    assert.match(s["tuned-scheduler"], /^missing=gone$/m);
  });
});

const rvhSection = (perf: boolean, rules = RVH_RULES) =>
  [
    "active=realtime-virtual-host",
    `perf=${perf ? "yes" : "no"}`,
    "file=/usr/lib/tuned/realtime-virtual-host/tuned.conf",
    ...rules,
  ].join("\n");

describe("the check on a 12-CPU RT host's threads", () => {
  it("all applied: one pass per rule with its thread count; rcub (not bound to isolated CPUs) and ktimersoftd (absent) pass with why", () => {
    const r = checkKthreads(RT_APPLIED, rvhSection(true), planned);
    assert.deepEqual(
      r.map((x) => [x.check, x.ok, x.observed]),
      [
        ["kthread ksoftirqd", true, "SCHED_FIFO 2: 8 threads on CPUs 4-11"],
        ["kthread ktimers", true, "SCHED_FIFO 2: 8 threads on CPUs 4-11"],
        ["kthread rcuc", true, "SCHED_FIFO 4: 8 threads on CPUs 4-11"],
        ["kthread rcub", true, "none on CPUs 4-11 alone where it is the last rule that matches"],
        ["kthread ktimersoftd", true, "this kernel has no such thread"],
      ],
    );
  });

  it("threads at the kernel's own priorities fail per rule, at most four named", () => {
    const kernel = RT_APPLIED.replace(/ FF 2 (\d+) ksoftirqd/g, " TS - $1 ksoftirqd").replace(
      / FF 4 (\d+) rcuc\/6$/m,
      " FF 1 $1 rcuc/6",
    );
    const r = byCheck(checkKthreads(kernel, rvhSection(true), planned));
    assert.equal(r.get("kthread ksoftirqd")?.ok, false);
    assert.equal(
      r.get("kthread ksoftirqd")!.observed,
      "ksoftirqd/4 (CPUs 4): SCHED_OTHER 0; ksoftirqd/5 (CPUs 5): SCHED_OTHER 0; ksoftirqd/6 (CPUs 6): SCHED_OTHER 0; ksoftirqd/7 (CPUs 7): SCHED_OTHER 0; and 4 more",
    );
    assert.equal(r.get("kthread rcuc")!.observed, "rcuc/6 (CPUs 6): SCHED_FIFO 1");
    assert.equal(r.get("kthread ktimers")?.ok, true);
  });

  it("the 6.1 RT kernel's own priorities, where TuneD could apply the rules: ksoftirqd, ktimers and rcuc fail", () => {
    const defaults = readFileSync(join(FIXTURES, "rt-kernel-defaults.txt"), "utf8");
    const r = checkKthreads(defaults, rvhSection(true), planned);
    assert.deepEqual(
      r.filter((x) => !x.ok).map((x) => x.check),
      ["kthread ksoftirqd", "kthread ktimers", "kthread rcuc"],
    );
    // The same threads on Debian (no perf module): TuneD sets none, and the check says so.
    assert.deepEqual(
      checkKthreads(defaults, rvhSection(false), planned).map((x) => x.ok),
      [true],
    );
  });

  it("TuneD's order: rules sorted by rule priority as text, the last match wins; `*` keeps the policy", () => {
    const rules = [
      "group.all=10:f:1:*:\\[.*\\]$",
      "group.ksoftirqd=2:*:2:*:^\\[ksoftirqd",
      "group.rcuc=0:f:4:*:^\\[rcuc",
      "group.bad=0:x:9:*:^\\[ktimers",
    ];
    const facts = parseTunedScheduler(rvhSection(true, rules));
    // "10" sorts before "2" as text; x is no policy, so TuneD drops that rule.
    assert.deepEqual(
      facts.rules.map((x) => x.group),
      ["rcuc", "all", "ksoftirqd"],
    );
    const r = byCheck(checkKthreads(RT_APPLIED, rvhSection(true, rules), planned));
    assert.equal(r.get("kthread ksoftirqd")?.expected, "priority 2 on CPUs 4-11");
    assert.equal(r.get("kthread ksoftirqd")?.ok, true);
    // ktimers and rcuc now fall under "all" (FIFO 1): ktimers at 2 and rcuc at 4 fail.
    assert.equal(r.get("kthread all")?.ok, false);
    assert.equal(r.get("kthread rcuc")!.observed, "none on CPUs 4-11 alone where it is the last rule that matches");
  });

  it("replace drops the inherited rules; drop removes one", () => {
    const section = [
      "active=a b",
      "perf=yes",
      "file=/usr/lib/tuned/a/tuned.conf",
      ...RVH_RULES,
      "file=/etc/tuned/b/tuned.conf",
      "drop=group.rcub, group.ktimersoftd",
      "file=/etc/tuned/c/tuned.conf",
    ].join("\n");
    assert.deepEqual(
      parseTunedScheduler(section).rules.map((x) => x.group),
      ["ksoftirqd", "ktimers", "rcuc"],
    );
    const replaced = `${section}\nreplace=1\ngroup.only=0:f:5:*:^\\[rcuc`;
    assert.deepEqual(
      parseTunedScheduler(replaced).rules.map((x) => x.group),
      ["only"],
    );
  });

  it("unreadable output fails with what came back; host text is escaped", () => {
    const bad = checkKthreads("bogus line", rvhSection(true), planned);
    assert.equal(bad[0].ok, false);
    assert.match(bad[0].observed, /^unreadable line "bogus line"$/);
    assert.equal(checkKthreads("<absent>", rvhSection(true), planned)[0].observed, "no ps on the host");
    const esc = checkKthreads("99 TS - 4 ksoftirqd/4\u001b[31m", rvhSection(true), planned);
    assert.ok(
      esc.every((x) => !x.observed.includes("\u001b")),
      JSON.stringify(esc),
    );
  });
});
