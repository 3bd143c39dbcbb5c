/**
 * A stack's plan as Markdown, for the pull-request comment (`npm run plan -- --markdown`): a
 * summary line, the changes against the base branch's plan, and the full plan folded away.
 * Pure.
 */
import type { StackPlan } from "../plan/stack";
import type { EntityChange } from "./plan-diff";
import type { PlanImpact } from "../desired/impact";
import { describeFlavorImpact, describeHostImpact, describeServerImpact } from "./plan-diff";
import type { Problem } from "../config/problems";
import { OTHER_FLAVORS_LAND_THERE } from "../plan/rt-warnings";
import { withoutStalldLine } from "../plan/stalld";

/** C0 and C1 controls and Unicode's line and paragraph separators: none may reach a line of the comment. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/**
 * Inline code that holds any value and nothing else: a user's value cannot close it early or
 * bring raw HTML or a new line into the comment. The fence is one backtick longer than the
 * longest run of backticks inside, padded with a space when the value starts or ends with a
 * backtick or a space (CommonMark strips one space on each side); line breaks become spaces
 * and other control characters their \uXXXX escapes. A `|` is escaped as `\|`, which a GFM
 * table reads as part of the cell even after a backslash, and shows as `|`.
 */
export function code(value: string): string {
  const t = value
    .replace(/\r\n|[\r\n\u2028\u2029]/g, " ")
    .replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)
    .replace(/\|/g, "\\|");
  if (t === "") return "";
  const longest = Math.max(0, ...Array.from(t.matchAll(/`+/g), (m) => m[0].length));
  const fence = "`".repeat(longest + 1);
  const pad = longest > 0 || t.startsWith(" ") || t.endsWith(" ") ? " " : "";
  return `${fence}${pad}${t}${pad}${fence}`;
}

/** Plain text in a line of the comment (a table cell, a list item): Markdown and HTML specials escaped, one line. */
export function text(t: string): string {
  return t
    .replace(/\r\n|[\r\n\u2028\u2029]/g, " ")
    .replace(CONTROL, " ")
    .replace(/[\\`*_[\]<>|&~]/g, (c) => `\\${c}`);
}

export interface MarkdownWarnings {
  warnings: readonly Problem[];
  notes: readonly Problem[];
}

/** The warnings as a GitHub alert, never folded; the notes one line each. Empty without any. */
function warningsSection(w: MarkdownWarnings | undefined): string[] {
  if (!w || (w.warnings.length === 0 && w.notes.length === 0)) return [];
  const out: string[] = [];
  if (w.warnings.length > 0) {
    out.push("> [!WARNING]", `> **${plural(w.warnings.length, "warning")}** about the stack config:`, ">");
    for (const x of w.warnings) out.push(`> - ${code(x.path)}: ${text(x.message)}`);
    out.push("");
  }
  for (const n of w.notes) out.push(`_Note:_ ${code(n.path)}: ${text(n.message)}`, "");
  return out;
}

function table(head: string[], rows: string[][]): string[] {
  return [
    `| ${head.join(" | ")} |`,
    `|${head.map(() => " --- ").join("|")}|`,
    ...rows.map((r) => `| ${r.map((c) => c || " ").join(" | ")} |`),
  ];
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** One line per added or removed entity: what it is. */
function describe(plan: StackPlan, section: EntityChange["section"], name: string): string {
  if (section === "host") {
    const h = plan.hosts.find((x) => x.name === name);
    if (!h) return "";
    return `${h.os}, isolated ${code(h.isolated)}, ${plural(h.nodes.length, "NUMA node")}`;
  }
  if (section === "flavor") {
    const f = plan.flavors.find((x) => x.name === name);
    return f ? `${f.vcpus} vCPUs, ${f.ramMb} MiB, RT vCPUs ${code(f.guest.realtimeVcpus) || "none"}` : "";
  }
  const s = plan.servers.find((x) => x.name === name);
  return s
    ? `flavor ${code(s.flavor)}, ${s.pinnedHost ? `pinned to ${code(s.pinnedHost)}` : `can go to ${s.candidates.map(code).join(", ") || "no planned host yet"}`}`
    : "";
}

function changesSection(changes: EntityChange[], before: StackPlan, after: StackPlan): string[] {
  const out: string[] = [];
  for (const c of changes) {
    const what = `**${c.section} ${code(c.name)}**`;
    if (c.kind === "changed") {
      out.push(
        `- changed ${what}`,
        "",
        ...table(
          ["setting", "before", "after"],
          c.fields.map((f) => [
            code(f.path),
            f.before === null ? "_(none)_" : code(f.before) || '""',
            f.after === null ? "_(none)_" : code(f.after) || '""',
          ]),
        ).map((l) => `  ${l}`),
        "",
      );
    } else {
      const desc = describe(c.kind === "added" ? after : before, c.section, c.name);
      out.push(`- ${c.kind} ${what}${desc ? `: ${desc}` : ""}`);
    }
  }
  return out;
}

function fullPlan(plan: StackPlan): string[] {
  const bare = withoutStalldLine(plan.hosts);
  const hosts = table(
    [
      "host",
      "OS",
      "SMT",
      "housekeeping",
      "isolated = TuneD isolated_cores",
      "kernel arguments",
      "huge pages per node",
      "cpu_dedicated_set",
      "cpu_shared_set",
    ],
    plan.hosts.map((h) => [
      code(h.name),
      h.os,
      h.smt ? "on" : "off",
      code(h.housekeeping),
      code(h.isolated),
      code(h.kernel.args.join(" ")),
      h.hugepages.sizes
        .map((s) => `${s.name}: ${s.perNode.map((p) => `node${p.node} ${p.count}`).join(", ")}`)
        .join("; ") + (h.hugepages.method === "boot-unit" ? " (boot unit)" : ""),
      code(h.nova.cpuDedicatedSet),
      code(h.nova.cpuSharedSet ?? ""),
    ]),
  );
  const flavors = table(
    [
      "flavor",
      "vCPUs",
      "RAM MiB",
      "disk GB",
      "public",
      "RT vCPUs",
      "at most, per host running only this flavor",
      "extra specs",
    ],
    plan.flavors.map((f) => [
      code(f.name),
      String(f.vcpus),
      String(f.ramMb),
      String(f.diskGb),
      f.isPublic ? "yes" : "no",
      code(f.guest.realtimeVcpus),
      f.hosts.map((h) => `${code(h.host)}: ${h.capacity}`).join(", "),
      Object.entries(f.extraSpecs)
        .map(([k, v]) => code(`${k}=${v}`))
        .join("<br>"),
    ]),
  );
  const servers = table(
    ["server", "flavor", "placement"],
    plan.servers.map((s) => [
      code(s.name),
      code(s.flavor),
      s.pinnedHost ? `pinned to ${code(s.pinnedHost)}` : s.candidates.map(code).join(", ") || "no planned host yet",
    ]),
  );
  return [
    "#### Hosts",
    "",
    ...hosts,
    "",
    `_RT hosts:_ ${text(OTHER_FLAVORS_LAND_THERE)}`,
    "",
    ...(bare === null ? [] : [`_RT hosts without stalld:_ ${text(bare)}`, ""]),
    "#### Flavors",
    "",
    ...flavors,
    "",
    ...(plan.servers.length ? ["#### Servers", "", ...servers, ""] : []),
  ];
}

export interface MarkdownDiff {
  /** What the plan is compared with, such as the base branch. */
  label: string;
  before: StackPlan;
  changes: EntityChange[];
  /** What applying the plan does to hosts, flavors and servers. */
  impact?: PlanImpact;
}

/** The impact for a reviewer: the summary in bold, then one item per host, flavor and server touched. */
function impactSection(impact: PlanImpact): string[] {
  const out = [`**Impact of \`pulumi up\`:** ${text(impact.summary)}.`, ""];
  for (const h of impact.hosts) {
    const [head, ...rest] = describeHostImpact(h);
    out.push(`- ${text(head)}`, ...rest.map((l) => `  - ${text(l.trim())}`));
  }
  for (const h of impact.unknownHosts)
    out.push(`- host ${code(h)}: not compared (the base plan document lists no host steps)`);
  for (const f of impact.flavors) out.push(`- ${text(describeFlavorImpact(f))}`);
  for (const s of impact.servers) out.push(`- ${text(describeServerImpact(s))}`);
  if (impact.hosts.length === 0 && impact.unknownHosts.length === 0) out.push("- no host step runs again");
  return [...out, ""];
}

/** The plan of one stack; with `diff`, its changes against the other plan first. */
export function renderPlanMarkdown(
  stack: string,
  plan: StackPlan,
  diff?: MarkdownDiff,
  warnings?: MarkdownWarnings,
): string {
  const counts = `${plural(plan.hosts.length, "host")}, ${plural(plan.flavors.length, "flavor")}, ${plural(plan.servers.length, "server")}`;
  const out = [`### Stack ${code(stack)}`, "", ...warningsSection(warnings)];
  const i = diff?.impact;
  // A changed script re-runs steps with no plan value changed: the impact shows it even then.
  if (i !== undefined && i.hosts.length + i.unknownHosts.length + i.flavors.length + i.servers.length > 0)
    out.push(...impactSection(i));
  if (diff === undefined) out.push(`${counts}.`, "");
  else if (diff.changes.length === 0) out.push(`${counts}. **No changes** against ${code(diff.label)}.`, "");
  else {
    const changes = changesSection(diff.changes, diff.before, plan);
    while (changes.at(-1) === "") changes.pop();
    out.push(
      `${counts}. **${plural(diff.changes.length, "change")}** against ${code(diff.label)}:`,
      "",
      ...changes,
      "",
    );
  }
  out.push("<details><summary>Full plan</summary>", "", ...fullPlan(plan), "</details>");
  return `${out.join("\n")}\n`;
}

/** A stack whose config does not plan: every problem, so the comment says what to fix. */
export function renderProblemsMarkdown(
  stack: string,
  problems: readonly Problem[],
  warnings?: MarkdownWarnings,
): string {
  const lines = [
    `### Stack ${code(stack)}`,
    "",
    `**The config does not plan**: ${plural(problems.length, "problem")}.`,
    "",
  ];
  for (const p of problems) lines.push(`- ${code(p.path)}: ${text(p.message)}`);
  if (warnings && (warnings.warnings.length > 0 || warnings.notes.length > 0))
    lines.push("", ...warningsSection(warnings));
  while (lines.at(-1) === "") lines.pop();
  return `${lines.join("\n")}\n`;
}
