/**
 * Two stack plans compared: which hosts, flavors and servers were added, removed or changed,
 * and for a changed one each setting that differs (`nodes[0].isolated`, `extraSpecs.hw:pmu`);
 * and what applying the change does (decided by planImpact, lib/desired/impact.ts) as text.
 * `npm run plan -- --diff <other>` prints it and the pull-request comment shows it. Pure.
 */
import type { StackPlan } from "../plan/stack";
import type { Problem } from "../config/problems";
import type { GuestPolicy, StepFingerprint } from "../desired/rollout";
import type { FlavorImpact, HostImpact, ImpactSide, Likelihood, PlanImpact, ServerImpact } from "../desired/impact";
import { counted } from "../desired/impact";

export type Section = "host" | "flavor" | "server";

export interface FieldChange {
  /** Path inside the entity, such as `nodes[0].isolated` or `extraSpecs.hw:cpu_realtime_mask`. */
  path: string;
  /** The value before and after, as text; null where the setting does not exist. */
  before: string | null;
  after: string | null;
}

export interface EntityChange {
  section: Section;
  name: string;
  kind: "added" | "removed" | "changed";
  /** Only for "changed". */
  fields: FieldChange[];
}

type Entity = { name: string };

const SECTIONS: { section: Section; key: keyof StackPlan }[] = [
  { section: "host", key: "hosts" },
  { section: "flavor", key: "flavors" },
  { section: "server", key: "servers" },
];

/**
 * Leaf settings of an entity as text. A list of plain values is one setting ("a b c": kernel
 * arguments, candidate hosts); a list of objects is keyed by the field that names each element
 * (a NUMA node's `id`, a host's `host`, a hugepage entry's `node`), else by position.
 */
export function flatten(value: unknown, prefix = "", out = new Map<string, string>()): Map<string, string> {
  if (Array.isArray(value)) {
    if (value.every((v) => v === null || typeof v !== "object")) {
      out.set(prefix, value.map(String).join(" "));
      return out;
    }
    value.forEach((v: unknown, i) => {
      const o = v as Record<string, unknown>;
      const key = ["id", "host", "node", "name"].find(
        (k) => k in o && (typeof o[k] === "string" || typeof o[k] === "number"),
      );
      flatten(v, `${prefix}[${key === undefined ? i : String(o[key])}]`, out);
    });
    return out;
  }
  if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value))
      if (v !== undefined) flatten(v, prefix === "" ? k : `${prefix}.${k}`, out);
    return out;
  }
  out.set(prefix, typeof value === "string" ? value : (JSON.stringify(value) ?? "null"));
  return out;
}

function fieldChanges(before: unknown, after: unknown): FieldChange[] {
  const a = flatten(before);
  const b = flatten(after);
  const paths = [...new Set([...a.keys(), ...b.keys()])];
  return paths
    .filter((p) => a.get(p) !== b.get(p))
    .map((path) => ({ path, before: a.get(path) ?? null, after: b.get(path) ?? null }));
}

/** What changed from `before` to `after`, section by section, entities in `after`'s order (removed ones last). */
export function diffPlans(before: StackPlan, after: StackPlan): EntityChange[] {
  const changes: EntityChange[] = [];
  for (const { section, key } of SECTIONS) {
    const old = new Map((before[key] as Entity[]).map((e) => [e.name, e]));
    const now = new Map((after[key] as Entity[]).map((e) => [e.name, e]));
    for (const [name, e] of now) {
      const was = old.get(name);
      if (was === undefined) changes.push({ section, name, kind: "added", fields: [] });
      else {
        const fields = fieldChanges(was, e);
        if (fields.length > 0) changes.push({ section, name, kind: "changed", fields });
      }
    }
    for (const name of old.keys()) if (!now.has(name)) changes.push({ section, name, kind: "removed", fields: [] });
  }
  return changes;
}

const SIGN = { added: "+", removed: "-", changed: "~" } as const;
const shown = (v: string | null) => (v === null ? "(none)" : v === "" ? '""' : v);

/** The diff as text, for the terminal. */
export function formatPlanDiff(changes: EntityChange[], label: string): string {
  if (changes.length === 0) return `No changes against ${label}.\n`;
  const lines = [`${changes.length} change${changes.length === 1 ? "" : "s"} against ${label}:`];
  for (const c of changes) {
    lines.push(`${SIGN[c.kind]} ${c.section} ${c.name}${c.kind === "changed" ? "" : ` (${c.kind})`}`);
    for (const f of c.fields) lines.push(`    ${f.path}: ${shown(f.before)} -> ${shown(f.after)}`);
  }
  return `${lines.join("\n")}\n`;
}

/**
 * A plan read back from `npm run plan -- --json` (of any revision): the other side of a diff.
 * Only its shape is checked; its content is what that revision planned.
 */
export function planFromDocument(
  doc: unknown,
  source: string,
): { ok: true; plan: StackPlan; side: ImpactSide } | { ok: false; problems: Problem[] } {
  const d = doc as
    (Partial<Record<"valid" | "hostSteps" | "image" | keyof StackPlan, unknown>> & { problems?: Problem[] }) | null;
  if (d === null || typeof d !== "object")
    return { ok: false, problems: [{ path: source, message: "is not a plan document (npm run plan -- --json)" }] };
  if (d.valid === false) {
    return {
      ok: false,
      problems: (d.problems ?? []).map((p) => ({ path: `${source}: ${p.path}`, message: p.message })),
    };
  }
  for (const key of ["hosts", "flavors", "servers"] as const) {
    const list = d[key];
    if (
      !Array.isArray(list) ||
      !list.every((e) => e !== null && typeof e === "object" && typeof (e as Entity).name === "string")
    ) {
      return {
        ok: false,
        problems: [
          {
            path: source,
            message: `is not a plan document (npm run plan -- --json): "${key}" is not a list of named entries`,
          },
        ],
      };
    }
  }
  const plan = { hosts: d.hosts, flavors: d.flavors, servers: d.servers } as StackPlan;
  return {
    ok: true,
    plan,
    side: { plan, steps: documentSteps(d.hostSteps), image: typeof d.image === "string" ? d.image : null },
  };
}

/** A document's `hostSteps`, if it has them in the shape `npm run plan -- --json` writes; else null. */
function documentSteps(value: unknown): Record<string, StepFingerprint[]> | null {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return null;
  const ok = Object.values(value).every(
    (steps) =>
      Array.isArray(steps) &&
      steps.every(
        (s: Partial<StepFingerprint> | null) =>
          s !== null &&
          typeof s === "object" &&
          typeof s.id === "string" &&
          typeof s.script === "string" &&
          Array.isArray(s.args) &&
          s.args.every((a) => typeof a === "string"),
      ),
  );
  return ok ? (value as Record<string, StepFingerprint[]>) : null;
}

const GUESTS: Record<GuestPolicy, string> = {
  refuse: "the change stops there if it runs any guest (deployment.guests refuse)",
  "live-migrate": "its guests are live-migrated away first (deployment.guests live-migrate)",
  ignore: "its guests stay on it through the change (deployment.guests ignore)",
};

/** One host's impact as lines of text (no terminal escapes: host names are validated names). */
export function describeHostImpact(h: HostImpact): string[] {
  if (h.kind === "removed")
    return [`host ${h.host}: removed from the stack; nothing on it is undone, it leaves the RT aggregate`];
  const likely = (l: Likelihood, yes: string, maybe: string, no: string) =>
    l === "yes" ? yes : l === "maybe" ? maybe : no;
  const lines = [
    `host ${h.host}${h.kind === "added" ? " (new)" : ""}: runs ${h.steps.join(", ")}`,
    `  reboot: ${likely(h.reboot, "yes", "only if the running kernel lacks what is planned", "no")}`,
    `  nova-compute restart: ${
      h.novaVerifyOnly && h.novaRestart !== "yes"
        ? "no (configMode verify: nova.conf is checked; the deployment tool restarts nova-compute)"
        : likely(h.novaRestart, "yes", "only if nova.conf differs from the plan", "no")
    }`,
  ];
  const guests = [
    h.pinnedServers.length > 0
      ? `${counted(h.pinnedServers.length, "server", "servers")} of this stack pinned there (${h.pinnedServers.join(", ")})`
      : "",
    h.candidateServers.length > 0
      ? `${counted(h.candidateServers.length, "server", "servers")} of this stack may be there (${h.candidateServers.join(", ")})`
      : "",
    "other guests: unknown offline (openstack server list --all-projects --host " + h.host + ")",
  ].filter((x) => x !== "");
  lines.push(
    h.maintenance === null
      ? "  nova-compute stays enabled (deployment.maintenance false): new guests may land during the change"
      : `  nova-compute disabled during the change, re-enabled after the host checks; ${GUESTS[h.maintenance.guests]}`,
    `  guests: ${guests.join("; ")}`,
  );
  return lines;
}

export function describeFlavorImpact(f: FlavorImpact): string {
  if (f.kind === "added") return `flavor ${f.flavor}: new, created as ${f.after}`;
  if (f.kind === "removed") return `flavor ${f.flavor}: removed (${f.before} goes once no server uses it)`;
  return `flavor ${f.flavor}: new revision ${f.after} beside ${f.before} (deleted once no server uses it)`;
}

export function describeServerImpact(s: ServerImpact): string {
  if (s.kind === "replaced") return `server ${s.server}: replaced (${s.reason}): deleted, then created anew`;
  return `server ${s.server}: ${s.kind === "added" ? "created" : "deleted"}`;
}

/** The impact as text, for the terminal: what `pulumi up` would do, then the summary line. */
export function formatImpact(impact: PlanImpact, heading = "Impact of applying this plan:"): string {
  const lines = ["", heading];
  for (const h of impact.hosts) lines.push(...describeHostImpact(h).map((l) => `  ${l}`));
  for (const h of impact.unknownHosts)
    lines.push(`  host ${h}: not compared (the other plan document lists no host steps; make it with this revision)`);
  for (const f of impact.flavors) lines.push(`  ${describeFlavorImpact(f)}`);
  for (const s of impact.servers) lines.push(`  ${describeServerImpact(s)}`);
  if (impact.hosts.length === 0 && impact.unknownHosts.length === 0) lines.push("  no host step runs again");
  lines.push(`Summary: ${impact.summary}`);
  return `${lines.join("\n")}\n`;
}
