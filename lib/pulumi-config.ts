/** Reads the stack config through `pulumi.Config` and plans it; a bad config fails the preview with every problem. */
import type * as pulumi from "@pulumi/pulumi";
import { STACK_CONFIG_KEYS } from "./config";
import type { StackConfig } from "./config";
import type { StackPlan } from "./plan";
import { planStack } from "./plan";
import { PlanError } from "./problems";

export function planFromPulumiConfig(cfg: pulumi.Config): { config: StackConfig; plan: StackPlan } {
  const raw: Record<string, unknown> = {};
  for (const key of STACK_CONFIG_KEYS) {
    const value = cfg.getObject<unknown>(key);
    if (value !== undefined) raw[key] = value;
  }
  const result = planStack(raw);
  if (!result.ok) throw new PlanError(result.problems);
  return { config: result.config, plan: result.plan };
}
