/**
 * Reads the stack config through Pulumi's runtime and decides the whole stack (decideStack)
 * before the program registers anything: the desired state, which is all the program uses. A bad config fails the preview with one RunError
 * listing every problem: Pulumi prints a RunError's message without a stack trace. The keys
 * are sorted as `npm run plan` sorts a stack file's (sortConfigKeys): a key in an unknown
 * namespace and a secret in clear text are problems here too. Warnings are logged once each.
 */
import * as pulumi from "@pulumi/pulumi";
import { CONFIG_NAMESPACE } from "../config/schema";
import { decideStack } from "./decide";
import type { DesiredState } from "./state";
import type { Problem } from "../config/problems";
import { formatProblems } from "../config/problems";
import { sortConfigKeys } from "../config/stack-files";

/**
 * Whether a config key holds a secret (`pulumi config set --secret`). The SDK knows it from the
 * keys the CLI marks secret (PULUMI_CONFIG_SECRET_KEYS, or setAllConfig's secretKeys under
 * mocks) and answers with runtime.isConfigSecret, which @pulumi/pulumi 3.248 exports but does
 * not declare (it is @internal). Without it, the environment variable is read; without that
 * too, nothing can tell, and the key passes (`npm run plan` still checks the stack file).
 */
export function isSecretConfigKey(fullKey: string): boolean {
  const sdk = (pulumi.runtime as unknown as { isConfigSecret?: (k: string) => boolean }).isConfigSecret;
  if (typeof sdk === "function") return sdk(fullKey);
  const env = process.env.PULUMI_CONFIG_SECRET_KEYS;
  if (env === undefined) return true;
  try {
    const keys: unknown = JSON.parse(env);
    return Array.isArray(keys) && keys.includes(fullKey);
  } catch {
    return true;
  }
}

/**
 * `cfg`: the project's config (its namespace must be openstack-rt). `projectDir` is where a
 * relative image.file is read from: the project directory, which is where Pulumi runs the
 * program (and the provider, which uploads the file).
 */
export function planFromPulumiConfig(cfg: pulumi.Config, projectDir = process.cwd()): DesiredState {
  const problems: Problem[] = [];
  if (cfg.name !== CONFIG_NAMESPACE) {
    problems.push({
      path: "Pulumi.yaml",
      message: `the project is named "${cfg.name}"; its settings are read as ${CONFIG_NAMESPACE}:<key>, so name it ${CONFIG_NAMESPACE}`,
    });
  }
  const entries = Object.entries(pulumi.runtime.allConfig()).map(([k, v]): [string, unknown] => [
    k,
    configValueFromText(v),
  ]);
  const sorted = sortConfigKeys(entries, (key) => isSecretConfigKey(key), "the stack's config");
  problems.push(...sorted.problems);
  const decided = decideStack(sorted.values, projectDir, pulumi.getStack());
  for (const w of decided.warnings) void pulumi.log.warn(`${w.path}: ${w.message}`);
  for (const n of decided.notes) void pulumi.log.info(`${n.path}: ${n.message}`);
  if (!decided.ok) problems.push(...decided.problems);
  if (problems.length > 0 || !decided.ok) throw new pulumi.RunError(formatProblems(problems));
  return decided.desired;
}

/**
 * Pulumi hands structured values over as JSON text and plain strings as they are. A string
 * where the schema wants a structure (`pulumi config set openstack-rt:network provider-net`)
 * stays a string, and the schema names the setting, instead of a JSON error ending the run.
 */
export function configValueFromText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
