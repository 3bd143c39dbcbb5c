/**
 * The dev stack as tests use it: its raw config (Pulumi.yaml defaults + Pulumi.dev.yaml), fresh
 * for each caller to mutate, and that config planned by planStack, the program's planner.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { StackConfig } from "../../lib/config/schema";
import { readStackConfig } from "../../lib/config/stack-files";
import type { HostPlan } from "../../lib/plan/host";
import type { FlavorPlan, StackPlan } from "../../lib/plan/stack";
import { planStack } from "../../lib/plan/stack";

export const PROJECT_DIR = join(__dirname, "..", "..");

export function devRaw(): Record<string, unknown> & {
  hosts: Record<string, unknown>[];
  flavors: Record<string, unknown>[];
  servers: Record<string, unknown>[];
} {
  const raw = readStackConfig(PROJECT_DIR, join(PROJECT_DIR, "Pulumi.dev.yaml"));
  if (raw.problems.length) throw new Error(JSON.stringify(raw.problems));
  return structuredClone(raw.values) as ReturnType<typeof devRaw>;
}

/** The dev stack's config and plan; fails the test, naming every problem, when it does not plan. */
export function devStack(): { config: StackConfig; plan: StackPlan } {
  const result = planStack(devRaw());
  if (!result.ok) assert.fail(result.problems.map((p) => `${p.path}: ${p.message}`).join("\n"));
  return { config: result.config, plan: result.plan };
}

export function devStackPlan(): StackPlan {
  return devStack().plan;
}

/** The dev stack's host plans: compute-rt-01 (debian-12) and compute-rt-02 (rhel-9). */
export function devHostPlans(): { debian: HostPlan; rhel: HostPlan; plan: StackPlan } {
  const plan = devStackPlan();
  const debian = plan.hosts.find((h) => h.os === "debian-12");
  const rhel = plan.hosts.find((h) => h.os === "rhel-9");
  assert.ok(debian && rhel, "the dev stack has a debian-12 and a rhel-9 host");
  return { debian, rhel, plan };
}

export function devHost(name = "compute-rt-01"): HostPlan {
  const host = devStackPlan().hosts.find((h) => h.name === name);
  assert.ok(host, `dev stack has no planned host ${name}`);
  return host;
}

export function devFlavor(name: string): FlavorPlan {
  const flavor = devStackPlan().flavors.find((f) => f.name === name);
  assert.ok(flavor, `dev stack has no flavor ${name}`);
  return flavor;
}
