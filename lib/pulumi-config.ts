/**
 * Reads the stack config through `pulumi.Config` and decides the whole stack (decideStack)
 * before the program registers anything. A bad config fails the preview with one RunError
 * listing every problem: Pulumi prints a RunError's message without a stack trace.
 */
import * as pulumi from "@pulumi/pulumi";
import { STACK_CONFIG_KEYS } from "./config";
import type { StackConfig } from "./config";
import type { CloudDecisions } from "./decide-cloud";
import { decideStack } from "./decide-stack";
import type { StackPlan } from "./plan";
import { formatProblems } from "./problems";

/**
 * `projectDir` is where a relative image.file is read from: the project directory, which is
 * where Pulumi runs the program (and the provider, which uploads the file).
 */
export function planFromPulumiConfig(cfg: pulumi.Config, projectDir = process.cwd()): { config: StackConfig; plan: StackPlan; cloud: CloudDecisions } {
  const raw: Record<string, unknown> = {};
  for (const key of STACK_CONFIG_KEYS) {
    const value = cfg.get(key);
    if (value !== undefined) raw[key] = parseValue(value);
  }
  const decided = decideStack(raw, projectDir);
  if (!decided.ok) throw new pulumi.RunError(formatProblems(decided.problems));
  return { config: decided.config, plan: decided.plan, cloud: decided.cloud };
}

/**
 * Pulumi hands structured values over as JSON text and plain strings as they are. A string
 * where the schema wants a structure (`pulumi config set openstack-rt:network provider-net`)
 * stays a string, and the schema names the setting, instead of a JSON error ending the run.
 */
function parseValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
