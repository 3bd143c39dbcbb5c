/**
 * Reads a stack's config the way the Pulumi CLI hands it to the program: the project's
 * declared defaults from Pulumi.yaml, overlaid by `Pulumi.<stack>.yaml`, namespace stripped.
 * Used by `npm run plan` and the tests; the deployed program reads `pulumi.Config` instead.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { CONFIG_NAMESPACE, SECRET_KEYS } from "./config";
import type { Problem } from "./problems";

export interface RawStackConfig {
  /** Values of the `openstack-rt:` keys, with the project's defaults filled in. */
  values: Record<string, unknown>;
  /** Secret keys that are set (as `secure:` values); their values are never read here. */
  secretsSet: string[];
  problems: Problem[];
}

/** The `default:` of every key declared in Pulumi.yaml's `config:` section. */
export function projectDefaults(projectDir: string): Record<string, unknown> {
  const project = parse(readFileSync(join(projectDir, "Pulumi.yaml"), "utf8")) as { config?: Record<string, { default?: unknown }> };
  const out: Record<string, unknown> = {};
  for (const [key, decl] of Object.entries(project.config ?? {})) {
    if (decl && typeof decl === "object" && "default" in decl) out[key] = decl.default;
  }
  return out;
}

export function readStackConfig(projectDir: string, stackFile: string): RawStackConfig {
  const problems: Problem[] = [];
  let doc: unknown;
  try {
    doc = parse(readFileSync(stackFile, "utf8"));
  } catch (e) {
    const why = e instanceof Error ? e.message.split("\n")[0] : String(e);
    return { values: {}, secretsSet: [], problems: [{ path: stackFile, message: `cannot read the stack file: ${why}` }] };
  }
  const config = (doc as { config?: Record<string, unknown> } | null)?.config ?? {};
  const values: Record<string, unknown> = { ...projectDefaults(projectDir) };
  const secretsSet: string[] = [];
  for (const [fullKey, value] of Object.entries(config)) {
    const [ns, key] = fullKey.includes(":") ? fullKey.split(/:(.*)/s, 2) : [CONFIG_NAMESPACE, fullKey];
    if (ns !== CONFIG_NAMESPACE) continue; // provider settings such as openstack:authUrl
    const isSecure = typeof value === "object" && value !== null && "secure" in value;
    if ((SECRET_KEYS as readonly string[]).includes(key)) {
      if (!isSecure) {
        problems.push({
          path: `${CONFIG_NAMESPACE}:${key}`,
          message: `is in clear text in ${stackFile}; remove it and set it with \`pulumi config set --secret ${key}\``,
        });
      }
      secretsSet.push(key);
      continue;
    }
    values[key] = value;
  }
  return { values, secretsSet, problems };
}
