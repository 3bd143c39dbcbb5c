/**
 * A stack's plan as Markdown, for the pull-request comment (`npm run plan -- --markdown`): a
 * summary line, the changes against the base branch's plan, and the full plan folded away.
 * Pure.
 */
import type { StackPlan } from "./plan";
import { isPlannedHost } from "./plan";
import type { EntityChange } from "./plan-diff";
import type { Problem } from "./problems";

/** Inline code that survives any content, including backticks and table pipes. */
export function code(text: string): string {
  const t = text.replace(/\r?\n/g, " ").replace(/\|/g, "\\|");
  if (t === "") return "";
  const fence = t.includes("`") ? "``" : "`";
  return `${fence}${fence.length > 1 ? " " : ""}${t}${fence.length > 1 ? " " : ""}${fence}`;
}

/** Plain table-cell text: Markdown and HTML specials escaped. */
function text(t: string): string {
  return t.replace(/[\\`*_[\]<>|]/g, (c) => `\\${c}`).replace(/\r?\n/g, " ");
}

function table(head: string[], rows: string[][]): string[] {
  return [`| ${head.join(" | ")} |`, `|${head.map(() => " --- ").join("|")}|`, ...rows.map((r) => `| ${r.map((c) => c || " ").join(" | ")} |`)];
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** One line per added or removed entity: what it is. */
function describe(plan: StackPlan, section: EntityChange["section"], name: string): string {
  if (section === "host") {
    const h = plan.hosts.find((x) => x.name === name);
    if (!h) return "";
    return isPlannedHost(h) ? `${h.os}, isolated ${code(h.isolated)}, ${plural(h.nodes.length, "NUMA node")}` : text(h.pending);
  }
  if (section === "flavor") {
    const f = plan.flavors.find((x) => x.name === name);
    return f ? `${f.vcpus} vCPUs, ${f.ramMb} MiB, RT vCPUs ${code(f.guest.realtimeVcpus) || "none"}` : "";
  }
  const s = plan.servers.find((x) => x.name === name);
  return s ? `flavor ${code(s.flavor)}, ${s.pinnedHost ? `pinned to ${code(s.pinnedHost)}` : `can go to ${s.candidates.map(code).join(", ") || "no planned host yet"}`}` : "";
}

function changesSection(changes: EntityChange[], before: StackPlan, after: StackPlan): string[] {
  const out: string[] = [];
  for (const c of changes) {
    const what = `**${c.section} ${code(c.name)}**`;
    if (c.kind === "changed") {
      out.push(`- changed ${what}`, "", ...table(["setting", "before", "after"], c.fields.map((f) => [code(f.path), f.before === null ? "_(none)_" : code(f.before) || '""', f.after === null ? "_(none)_" : code(f.after) || '""'])).map((l) => `  ${l}`), "");
    } else {
      const desc = describe(c.kind === "added" ? after : before, c.section, c.name);
      out.push(`- ${c.kind} ${what}${desc ? `: ${desc}` : ""}`);
    }
  }
  return out;
}

function fullPlan(plan: StackPlan): string[] {
  const hosts = table(
    ["host", "OS", "SMT", "housekeeping", "isolated = TuneD isolated_cores", "kernel arguments", "1 GiB pages", "cpu_dedicated_set", "cpu_shared_set"],
    plan.hosts.map((h) =>
      isPlannedHost(h)
        ? [
            code(h.name),
            h.os,
            h.smt ? "on" : "off",
            code(h.housekeeping),
            code(h.isolated),
            code(h.kernel.args.join(" ")),
            h.hugepages.perNode.map((p) => `node${p.node}: ${p.count}`).join(", ") + (h.hugepages.method === "boot-unit" ? " (boot unit)" : ""),
            code(h.nova.cpuDedicatedSet),
            code(h.nova.cpuSharedSet ?? ""),
          ]
        : [code(h.name), text(h.pending), "", "", "", "", "", "", ""],
    ),
  );
  const flavors = table(
    ["flavor", "vCPUs", "RAM MiB", "disk GB", "public", "RT vCPUs", "instances per host", "extra specs"],
    plan.flavors.map((f) => [
      code(f.name),
      String(f.vcpus),
      String(f.ramMb),
      String(f.diskGb),
      f.isPublic ? "yes" : "no",
      code(f.guest.realtimeVcpus),
      f.hosts.map((h) => `${code(h.host)}: ${h.capacity}`).join(", "),
      Object.entries(f.extraSpecs).map(([k, v]) => code(`${k}=${v}`)).join("<br>"),
    ]),
  );
  const servers = table(
    ["server", "flavor", "placement"],
    plan.servers.map((s) => [code(s.name), code(s.flavor), s.pinnedHost ? `pinned to ${code(s.pinnedHost)}` : s.candidates.map(code).join(", ") || "no planned host yet"]),
  );
  return ["#### Hosts", "", ...hosts, "", "#### Flavors", "", ...flavors, "", ...(plan.servers.length ? ["#### Servers", "", ...servers, ""] : [])];
}

export interface MarkdownDiff {
  /** What the plan is compared with, such as the base branch. */
  label: string;
  before: StackPlan;
  changes: EntityChange[];
}

/** The plan of one stack; with `diff`, its changes against the other plan first. */
export function renderPlanMarkdown(stack: string, plan: StackPlan, diff?: MarkdownDiff): string {
  const counts = `${plural(plan.hosts.length, "host")}, ${plural(plan.flavors.length, "flavor")}, ${plural(plan.servers.length, "server")}`;
  const out = [`### Stack ${code(stack)}`, ""];
  if (diff === undefined) out.push(`${counts}.`, "");
  else if (diff.changes.length === 0) out.push(`${counts}. **No changes** against ${code(diff.label)}.`, "");
  else {
    const changes = changesSection(diff.changes, diff.before, plan);
    while (changes.at(-1) === "") changes.pop();
    out.push(`${counts}. **${plural(diff.changes.length, "change")}** against ${code(diff.label)}:`, "", ...changes, "");
  }
  out.push("<details><summary>Full plan</summary>", "", ...fullPlan(plan), "</details>");
  return `${out.join("\n")}\n`;
}

/** A stack whose config does not plan: every problem, so the comment says what to fix. */
export function renderProblemsMarkdown(stack: string, problems: readonly Problem[]): string {
  const lines = [`### Stack ${code(stack)}`, "", `**The config does not plan**: ${plural(problems.length, "problem")}.`, ""];
  for (const p of problems) lines.push(`- ${code(p.path)}: ${text(p.message)}`);
  return `${lines.join("\n")}\n`;
}
