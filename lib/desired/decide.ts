/**
 * The whole stack, decided before the first resource is registered: the config, its rules and
 * its plan (planStack, lib/plan/stack.ts), each planned host's prep steps
 * (lib/desired/host-steps.ts) and the cloud objects' decisions (lib/desired/cloud.ts), with every
 * problem found listed once. The program
 * (lib/desired/from-pulumi.ts) and `npm run plan` (cli/plan.ts) both run it, so a config that
 * plans clean does not fail at preview, and a preview fails before touching anything.
 *
 * Its only I/O is reading (hashing) a local image file, relative to `projectDir`.
 */
import type { StackConfig } from "../config/schema";
import { settingPath } from "../config/schema";
import { decideCloud } from "./cloud";
import type { HostStep } from "./host-steps";
import { hostSteps } from "./host-steps";
import { HostStepError } from "./step-args";
import type { DesiredState } from "./state";
import { desiredState } from "./state";
import type { StackPlan } from "../plan/stack";
import { planStack } from "../plan/stack";
import { rolloutProblems } from "./rollout";
import type { Problem } from "../config/problems";
import type { StackWarnings } from "../config/warnings";
import { stackWarnings } from "../config/warnings";
import { planWarnings } from "../plan/rt-warnings";

/**
 * `warnings` and `notes` (lib/config/warnings.ts) come with either outcome once the config parses: a
 * config with problems still shows what else is wrong with it.
 */
export type StackDecision = (
  { ok: true; config: StackConfig; plan: StackPlan; desired: DesiredState } | { ok: false; problems: Problem[] }
) &
  StackWarnings;

/**
 * `raw`: the values of the stack's config keys, namespace stripped; `projectDir`: where Pulumi.yaml
 * is; `stack`: the stack's name, for the commands the warnings give.
 */
export function decideStack(raw: Record<string, unknown>, projectDir: string, stack?: string): StackDecision {
  const planned = planStack(raw);
  if (!planned.ok && planned.partial === undefined)
    return { ok: false, problems: planned.problems, warnings: [], notes: [] };
  // The plan is partial when it has problems; the later checks still run on it, to list theirs too.
  const { config, plan } = planned.ok ? planned : planned.partial!;
  const problems = planned.ok ? [] : [...planned.problems];
  const { warnings, notes } = stackWarnings(config, stack);
  const hostPrep = decideHostSteps(config, plan);
  problems.push(...hostPrep.problems);
  problems.push(...rolloutProblems(config));
  const cloud = decideCloud(config, plan, projectDir);
  if (!cloud.ok) problems.push(...cloud.problems);
  if (problems.length > 0 || !cloud.ok) return { ok: false, problems, warnings, notes };
  // The plan's own warnings need a whole plan.
  const rt = planWarnings(config, plan, stack);
  warnings.push(...rt.warnings);
  notes.push(...rt.notes);
  const desired = desiredState(config, plan, cloud.cloud, hostPrep.steps);
  return { ok: true, config, plan, desired, warnings, notes };
}

/**
 * Each planned host's prep steps, or what host prep would refuse in its plan: the hostprep
 * scripts take narrower values than the schema (CPU ids up to 8191, 256 characters per kernel
 * argument, ...).
 */
function decideHostSteps(
  config: StackConfig,
  plan: StackPlan,
): { steps: Map<string, HostStep[]>; problems: Problem[] } {
  const steps = new Map<string, HostStep[]>();
  const problems: Problem[] = [];
  for (const p of plan.hosts) {
    const i = config.hosts.findIndex((h) => h.name === p.name);
    try {
      steps.set(p.name, hostSteps(p, config.hosts[i]));
    } catch (e) {
      if (!(e instanceof HostStepError)) throw e;
      problems.push({
        path: settingPath(["hosts", i]),
        message: `the host prep scripts refuse its plan (${e.message}); change the host's settings this value is planned from`,
      });
    }
  }
  return { steps, problems };
}
