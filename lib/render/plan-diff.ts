/**
 * Two stack plans compared: which hosts, flavors and servers were added, removed or changed,
 * and for a changed one each setting that differs (`nodes[0].isolated`, `extraSpecs.hw:pmu`);
 * and what applying the change does (`planImpact`): per host the steps that run again, a
 * nova-compute restart, a reboot, the maintenance around it and the guests it touches; per
 * flavor a new revision; per server replaced or kept. `npm run plan -- --diff <other>` prints
 * it and the pull-request comment shows it. Pure.
 */
import type { StackPlan } from "../plan/stack";
import type { Problem } from "../config/problems";
import type { GuestPolicy, StepFingerprint } from "../desired/rollout";
import { flavorRevisionName } from "../desired/rollout";

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

/** Nothing deployed yet: the other side of a first `pulumi up`. */
export const NOTHING_DEPLOYED: ImpactSide = { plan: { hosts: [], flavors: [], servers: [] }, steps: {}, image: null };

/** One side of a comparison, as far as the impact of applying it goes. */
export interface ImpactSide {
  plan: StackPlan;
  /**
   * Each host's steps as the engine compares them (lib/desired/host-steps.ts; `script` is the
   * bundled script's sha256), or null when the side does not say (a plan document of an older
   * revision): then the hosts' impact is unknown.
   */
  steps: Record<string, StepFingerprint[]> | null;
  /** What the servers boot: the image file's sha256 or its URL's; null when unknown. */
  image: string | null;
}

/** deployment.* of the stack being applied: what happens around a host that changes. */
export interface RolloutSettings {
  maintenance: boolean;
  guests: GuestPolicy;
}

/** "yes", "no", or "maybe": only if the host differs from what it is planned to be (a changed script re-checks it). */
export type Likelihood = "yes" | "no" | "maybe";

export interface HostImpact {
  host: string;
  kind: "added" | "removed" | "changed";
  /** The steps that run again, in order (the read-only facts step not counted). */
  steps: string[];
  novaRestart: Likelihood;
  /** configMode verify: the step only checks nova.conf; the deployment tool restarts nova-compute. */
  novaVerifyOnly: boolean;
  reboot: Likelihood;
  /** Disabled in Nova during the change (deployment.maintenance), with what happens to its guests. */
  maintenance: { guests: GuestPolicy } | null;
  /** This stack's servers pinned to the host, and those Nova may have placed there. */
  pinnedServers: string[];
  candidateServers: string[];
}

export interface FlavorImpact {
  flavor: string;
  kind: "added" | "removed" | "revised";
  before: string | null;
  after: string | null;
}

export interface ServerImpact {
  server: string;
  kind: "added" | "removed" | "replaced";
  reason: string;
}

export interface PlanImpact {
  hosts: HostImpact[];
  /** Hosts of the plan whose impact the other side cannot tell (no steps in its document). */
  unknownHosts: string[];
  flavors: FlavorImpact[];
  servers: ServerImpact[];
  /** "2 hosts reboot, 1 flavor revision, 3 servers replaced" */
  summary: string;
}

// Values of the reboot step's triggers whose change puts something new on the next boot's
// command line or page pools (reboot.sh reboots when /proc/cmdline lacks it); a value dropped
// from the kernel arguments is not missing from the running command line, so it reboots nothing.
const BOOT_VALUES = ["os", "hugepagesUnit", "profile", "isolatedCores", "expectRt"] as const;

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

function rebootOf(before: StepFingerprint | undefined, after: StepFingerprint): Likelihood {
  if (before === undefined) return "maybe";
  if (same(before.triggers, after.triggers) && same(before.args, after.args)) return "maybe";
  const was = (before.triggers ?? {}) as Record<string, unknown>;
  const now = (after.triggers ?? {}) as Record<string, unknown>;
  if (BOOT_VALUES.some((k) => !same(was[k], now[k]))) return "yes";
  const had = (k: string) => new Set(Array.isArray(was[k]) ? (was[k] as string[]) : []);
  const added = (k: string) => (Array.isArray(now[k]) ? (now[k] as string[]) : []).some((v) => !had(k).has(v));
  return added("kernelArgs") || added("hugetlbfsMounts") ? "yes" : "maybe";
}

function hostImpact(
  host: string,
  kind: HostImpact["kind"],
  before: StepFingerprint[],
  after: StepFingerprint[],
  settings: RolloutSettings,
  plan: StackPlan,
): HostImpact | null {
  const old = new Map(before.map((s) => [s.id, s]));
  const rerun = after.filter((s) => s.id !== "facts" && (kind !== "changed" || !same(old.get(s.id), s)));
  if (rerun.length === 0) return null;
  const step = (id: string) => rerun.find((s) => s.id === id);
  const nova = step("nova-compute");
  const verifyOnly = nova !== undefined && nova.args.includes("--check");
  const novaConfChanges =
    nova !== undefined && (kind !== "changed" || !same(old.get(nova.id)?.triggers, nova.triggers));
  const reboot = step("reboot");
  const rebootLikely: Likelihood =
    reboot === undefined ? "no" : kind === "added" ? "maybe" : rebootOf(old.get("reboot"), reboot);
  // A reboot restarts nova-compute too; so does nova-compute.sh when it rewrites nova.conf, which a
  // changed planned value makes it do (a new host's nova.conf may already be as planned).
  const writes = nova !== undefined && !verifyOnly;
  const novaRestart: Likelihood =
    rebootLikely === "yes" || (writes && novaConfChanges && kind === "changed")
      ? "yes"
      : writes || rebootLikely === "maybe"
        ? "maybe"
        : "no";
  return {
    host,
    kind,
    steps: rerun.map((s) => s.id),
    novaRestart,
    novaVerifyOnly: verifyOnly,
    reboot: rebootLikely,
    maintenance: settings.maintenance ? { guests: settings.guests } : null,
    pinnedServers: plan.servers.filter((s) => s.pinnedHost === host).map((s) => s.name),
    candidateServers: plan.servers
      .filter((s) => s.pinnedHost === null && s.candidates.includes(host))
      .map((s) => s.name),
  };
}

/**
 * What applying `after` where `before` was applied does. A host's step runs again when its
 * arguments, triggers or script differ (as the engine decides, components/host/step-command.ts);
 * a server is replaced when its flavor's revision or the image differs (components/cloud/server.ts).
 */
export function planImpact(before: ImpactSide, after: ImpactSide, settings: RolloutSettings): PlanImpact {
  const hosts: HostImpact[] = [];
  const unknownHosts: string[] = [];
  const wasHost = new Set(before.plan.hosts.map((h) => h.name));
  for (const h of after.plan.hosts) {
    const now = after.steps?.[h.name];
    const was = before.steps?.[h.name];
    const kind = wasHost.has(h.name) ? "changed" : "added";
    if (now === undefined || (kind === "changed" && was === undefined)) {
      unknownHosts.push(h.name);
      continue;
    }
    const impact = hostImpact(h.name, kind, was ?? [], now, settings, after.plan);
    if (impact) hosts.push(impact);
  }
  for (const h of before.plan.hosts)
    if (!after.plan.hosts.some((x) => x.name === h.name))
      hosts.push({
        host: h.name,
        kind: "removed",
        steps: [],
        novaRestart: "no",
        novaVerifyOnly: false,
        reboot: "no",
        maintenance: null,
        pinnedServers: [],
        candidateServers: [],
      });

  const revision = (plan: StackPlan, name: string) => {
    const f = plan.flavors.find((x) => x.name === name);
    return f === undefined ? null : flavorRevisionName(f);
  };
  const flavors: FlavorImpact[] = [];
  for (const name of new Set([...after.plan.flavors, ...before.plan.flavors].map((f) => f.name))) {
    const [b, a] = [revision(before.plan, name), revision(after.plan, name)];
    if (b === a) continue;
    flavors.push({
      flavor: name,
      kind: b === null ? "added" : a === null ? "removed" : "revised",
      before: b,
      after: a,
    });
  }

  const servers: ServerImpact[] = [];
  const imageChanged = before.image !== null && after.image !== null && before.image !== after.image;
  for (const s of after.plan.servers) {
    const was = before.plan.servers.find((x) => x.name === s.name);
    if (was === undefined) {
      servers.push({ server: s.name, kind: "added", reason: `new, flavor ${s.flavor}` });
      continue;
    }
    const [b, a] = [revision(before.plan, was.flavor), revision(after.plan, s.flavor)];
    const why = [
      ...(b !== a
        ? [was.flavor === s.flavor ? `flavor ${s.flavor} revised` : `flavor ${was.flavor} -> ${s.flavor}`]
        : []),
      ...(imageChanged ? ["another image"] : []),
    ];
    if (why.length > 0) servers.push({ server: s.name, kind: "replaced", reason: why.join(", ") });
  }
  for (const s of before.plan.servers)
    if (!after.plan.servers.some((x) => x.name === s.name))
      servers.push({ server: s.name, kind: "removed", reason: "deleted" });

  return { hosts, unknownHosts, flavors, servers, summary: impactSummary(hosts, unknownHosts, flavors, servers) };
}

const counted = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

function impactSummary(
  hosts: HostImpact[],
  unknownHosts: string[],
  flavors: FlavorImpact[],
  servers: ServerImpact[],
): string {
  const n = (pred: (h: HostImpact) => boolean) => hosts.filter(pred).length;
  const parts = [
    counted(
      n((h) => h.reboot === "yes"),
      "host reboots",
      "hosts reboot",
    ),
    counted(
      n((h) => h.novaRestart === "yes"),
      "host restarts nova-compute",
      "hosts restart nova-compute",
    ),
    ...(n((h) => h.reboot === "maybe") > 0
      ? [
          counted(
            n((h) => h.reboot === "maybe"),
            "host may reboot",
            "hosts may reboot",
          ),
        ]
      : []),
    counted(flavors.filter((f) => f.kind === "revised").length, "flavor revision", "flavor revisions"),
    ...(flavors.some((f) => f.kind === "added")
      ? [counted(flavors.filter((f) => f.kind === "added").length, "flavor created", "flavors created")]
      : []),
    counted(servers.filter((s) => s.kind === "replaced").length, "server replaced", "servers replaced"),
    ...(servers.some((s) => s.kind === "added")
      ? [counted(servers.filter((s) => s.kind === "added").length, "server created", "servers created")]
      : []),
    ...(servers.some((s) => s.kind === "removed")
      ? [counted(servers.filter((s) => s.kind === "removed").length, "server deleted", "servers deleted")]
      : []),
  ];
  return parts.join(", ") + (unknownHosts.length > 0 ? `; hosts not compared: ${unknownHosts.join(", ")}` : "");
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
