/**
 * What applying one plan where another was applied does (`planImpact`): per host the steps that
 * run again, a nova-compute restart, a reboot, the maintenance around it and the guests it
 * touches; per flavor a new revision; per server replaced or kept. Decided as the engine decides
 * (a step runs again when its arguments, triggers or script differ); lib/render/plan-diff.ts
 * writes it out. Pure.
 */
import type { StackPlan } from "../plan/stack";
import type { GuestPolicy, StepFingerprint } from "./rollout";
import { flavorRevisionName } from "./rollout";

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

/** "1 host reboots", "2 hosts reboot". */
export const counted = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

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
