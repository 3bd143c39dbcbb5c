/**
 * The whole stack, decided before the first resource is registered: the config (lib/config.ts),
 * its plan (lib/plan.ts), each planned host's prep steps (lib/host-steps.ts) and the cloud
 * objects' decisions (lib/decide-cloud.ts), with every problem found listed once. The program
 * (lib/pulumi-config.ts) and `npm run plan` (lib/cli/plan.ts) both run it, so a config that
 * plans clean does not fail at preview, and a preview fails before touching anything.
 *
 * Its only I/O is reading (hashing) a local image file, relative to `projectDir`.
 */
import type { StackConfig } from "./config";
import { parseStackConfig, settingPath } from "./config";
import type { CloudDecisions } from "./decide-cloud";
import { decideCloud } from "./decide-cloud";
import { HostStepError, hostSteps } from "./host-steps";
import type { StackPlan } from "./plan";
import { planConfig } from "./plan";
import { rolloutProblems } from "./rollout";
import type { Problem } from "./problems";
import { uniqueProblems } from "./problems";
import type { StackWarnings } from "./warnings";
import { stackWarnings } from "./warnings";

/**
 * `warnings` and `notes` (lib/warnings.ts) come with either outcome once the config parses: a
 * config with problems still shows what else is wrong with it.
 */
export type StackDecision = (
  { ok: true; config: StackConfig; plan: StackPlan; cloud: CloudDecisions } | { ok: false; problems: Problem[] }
) &
  StackWarnings;

/** `raw`: the values of the stack's config keys, namespace stripped; `projectDir`: where Pulumi.yaml is. */
export function decideStack(raw: Record<string, unknown>, projectDir: string): StackDecision {
  const parsed = parseStackConfig(raw);
  if (!parsed.ok) return { ok: false, problems: uniqueProblems(parsed.problems), warnings: [], notes: [] };
  const config = parsed.config;
  const { warnings, notes } = stackWarnings(config);
  // The plan is partial when it has problems; the later checks still run on it, to list theirs too.
  const { plan, problems } = planConfig(config);
  problems.push(...hostPrepProblems(config, plan));
  problems.push(...rolloutProblems(config));
  const cloud = decideCloud(config, plan, projectDir);
  if (!cloud.ok) problems.push(...cloud.problems);
  if (problems.length > 0 || !cloud.ok) return { ok: false, problems: uniqueProblems(problems), warnings, notes };
  return { ok: true, config, plan, cloud: cloud.cloud, warnings, notes };
}

/**
 * What host prep would refuse in a planned host's steps: the hostprep scripts take narrower
 * values than the schema (CPU ids up to 8191, 256 characters per kernel argument, ...), and
 * ComputeHost builds the steps only after registering itself.
 */
function hostPrepProblems(config: StackConfig, plan: StackPlan): Problem[] {
  return plan.hosts.flatMap((p) => {
    const i = config.hosts.findIndex((h) => h.name === p.name);
    try {
      hostSteps(p, config.hosts[i]);
      return [];
    } catch (e) {
      if (!(e instanceof HostStepError)) throw e;
      return [
        {
          path: settingPath(["hosts", i]),
          message: `the host prep scripts refuse its plan (${e.message}); change the host's settings this value is planned from`,
        },
      ];
    }
  });
}
