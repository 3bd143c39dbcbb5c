/**
 * Two stack plans compared: which hosts, flavors and servers were added, removed or changed,
 * and for a changed one each setting that differs (`nodes[0].isolated`, `extraSpecs.hw:pmu`).
 * `npm run plan -- --diff <other>` prints it and the pull-request comment shows it. Pure.
 */
import type { StackPlan } from "../plan/stack";
import type { Problem } from "../config/problems";

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
): { ok: true; plan: StackPlan } | { ok: false; problems: Problem[] } {
  const d = doc as (Partial<Record<"valid" | keyof StackPlan, unknown>> & { problems?: Problem[] }) | null;
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
  return { ok: true, plan: { hosts: d.hosts, flavors: d.flavors, servers: d.servers } as StackPlan };
}
