/**
 * Rollout decisions on a live cloud, as pure functions: which hosts change together
 * (`deployment.maxUnavailable`), when a host needs maintenance at all, the reason Nova records
 * for a disabled nova-compute, what to do with the guests found on it (`deployment.guests`),
 * and the revisioned Nova name of a flavor. The components and the host-maintenance provider
 * (lib/providers/host-maintenance.ts) only carry these out.
 */
import { createHash } from "node:crypto";
import type { StackConfig } from "../config/schema";
import { settingPath } from "../config/schema";
import type { FlavorPlan } from "../plan/stack";
import type { Problem } from "../config/problems";

export type { Guest, GuestDecision, GuestPolicy } from "./maintenance";
export {
  decideGuests,
  disabledByStack,
  maintenanceNotice,
  maintenanceReason,
  reasonPrefix,
  reenableHint,
} from "./maintenance";

/** Problems with `deployment` that the schema alone cannot see. */
export function rolloutProblems(config: StackConfig): Problem[] {
  const d = config.deployment;
  if (d.rollingReboots === true && d.maxUnavailable > 1)
    return [
      {
        path: settingPath(["deployment", "rollingReboots"]),
        message:
          `got true together with maxUnavailable: ${d.maxUnavailable}; rollingReboots is replaced by ` +
          `deployment.maxUnavailable (how many hosts change at once, their whole step chain up to the host ` +
          `checks): remove rollingReboots and keep maxUnavailable`,
      },
    ];
  return [];
}

/** `deployment.maxUnavailable`, with the retired `rollingReboots: true` read as 1. */
export function maxUnavailable(
  deployment: Pick<StackConfig["deployment"], "maxUnavailable" | "rollingReboots">,
): number {
  return deployment.rollingReboots === true ? 1 : deployment.maxUnavailable;
}

/** The hosts in config order, cut into batches of at most `size`: batch n+1 starts after batch n is checked. */
export function batches<T>(items: readonly T[], size: number): T[][] {
  if (!Number.isSafeInteger(size) || size < 1) throw new Error(`batch size must be a whole number >= 1, not ${size}`);
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** What of a host step decides whether it runs again (lib/desired/host-steps.ts HostStep). */
export interface StepFingerprint {
  id: string;
  args: readonly string[];
  triggers: unknown;
  /** The script text sent on stdin (a changed script re-runs the step). */
  script: string;
}

/**
 * The digest of every step that may change the host (all but the read-only facts). The
 * maintenance resources take it as their input: a host whose steps would all be skipped by
 * the engine (same plan values, arguments and scripts as at the last `pulumi up`) keeps the
 * same digest, so its maintenance does not run and its nova-compute is not disabled.
 */
export function changeDigest(steps: readonly StepFingerprint[]): string {
  const h = createHash("sha256");
  for (const s of steps) {
    if (s.id === "facts") continue;
    h.update(JSON.stringify([s.id, s.args, s.triggers, createHash("sha256").update(s.script).digest("hex")]));
    h.update("\n");
  }
  return h.digest("hex").slice(0, 32);
}

/**
 * The flavor's name in Nova: the configured name and a revision derived from everything Nova
 * fixes at creation (vCPUs, RAM, disk, visibility) and the extra specs. Another size or another
 * extra spec is another flavor, created next to the old one, so the servers can move to it one
 * at a time; the old revision goes when nothing of this stack uses it any more.
 */
export function flavorRevisionName(
  plan: Pick<FlavorPlan, "name" | "vcpus" | "ramMb" | "diskGb" | "isPublic" | "extraSpecs">,
): string {
  const spec = {
    vcpus: plan.vcpus,
    ramMb: plan.ramMb,
    diskGb: plan.diskGb,
    isPublic: plan.isPublic,
    extraSpecs: Object.fromEntries(Object.entries(plan.extraSpecs).sort(([a], [b]) => a.localeCompare(b))),
  };
  const rev = createHash("sha256").update(JSON.stringify(spec)).digest("hex").slice(0, 8);
  return `${plan.name}.r${rev}`;
}
