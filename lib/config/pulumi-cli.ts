/**
 * The checks the Pulumi CLI makes on Pulumi.yaml and on a stack's config before it starts the
 * program, restated so that `npm run plan` refuses what `pulumi preview` would refuse (the CLI
 * cannot be installed where the tests run). Restated from pulumi/pulumi v3.248.0, the CLI that
 * goes with the @pulumi/pulumi SDK pinned here:
 * - `sdk/go/common/workspace/project.go` `Project.Validate` and `ValidateConfigValue`, and the
 *   `project.json` schema: what a `config:` declaration may say;
 * - `sdk/go/common/workspace/config.go` `mergeConfig` (run by
 *   `ValidateStackConfigAndApplyProjectConfig`) and `validateStackConfigValue`: a declared key of
 *   the project's namespace with neither `default` nor `value` must be set by the stack; an
 *   explicitly typed key's value (the stack's, or the default the CLI put in its place) must be
 *   of its type; a `secret: true` key must be `secure:`. The first failing rule is the only error.
 *
 * Where else the program leans on the CLI (what mocks do not show):
 * - The CLI hands the program every declared default as if the stack had set it (mergeConfig),
 *   in PULUMI_CONFIG; readStackConfig does the same for `npm run plan`.
 * - A key without `:` in Pulumi.yaml is the project's (`configKeyIsNamespacedByProject`); the
 *   program reads `openstack-rt:<key>` and refuses to run under another project name.
 * - Secret keys reach the program through PULUMI_CONFIG_SECRET_KEYS (from-pulumi.ts,
 *   isSecretConfigKey). A secret cannot be declared here: a `secret: true` key without a stack
 *   value fails as missing, and a default is never `secure:`, so `sshPrivateKey` stays undeclared.
 * - `pulumi:tags` and other `pulumi:` keys are the engine's; they pass through untouched.
 * - The stack name is the `<name>` of `Pulumi.<name>.yaml`, as the CLI names it in its errors.
 */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";

/** The Pulumi release whose rules this file restates. */
export const PULUMI_CLI_RULES_VERSION = "3.248.0";

const CONFIG_TYPES = ["string", "integer", "boolean", "array", "object"] as const;

export interface ConfigItemsType {
  type: string;
  items?: ConfigItemsType;
}

/** One key of Pulumi.yaml's `config:`, in its long form. */
export interface ProjectConfigDeclaration {
  type?: string;
  items?: ConfigItemsType;
  description?: string;
  default?: unknown;
  value?: unknown;
  secret?: boolean;
}

export interface PulumiProject {
  name: string;
  config?: Record<string, unknown>;
}

/** The long form of a declaration; a bare scalar or array is a `value` (project.json's short form). */
function declaration(raw: unknown): ProjectConfigDeclaration {
  if (raw !== null && typeof raw === "object" && !Array.isArray(raw)) return raw;
  return { value: raw };
}

function isProjectKey(projectName: string, key: string): boolean {
  return !key.includes(":") || key.startsWith(`${projectName}:`);
}

/** `ValidateConfigValue`: values as Go sees them (YAML scalars of a plain value arrive as strings). */
function matchesType(type: string, items: ConfigItemsType | undefined, value: unknown): boolean {
  switch (type) {
    case "string":
      return typeof value === "string";
    case "integer":
      if (typeof value === "number") return Number.isInteger(value);
      return typeof value === "string" && /^[+-]?\d+$/.test(value) && Number.isSafeInteger(Number(value));
    case "boolean":
      return typeof value === "boolean" || value === "true" || value === "false";
    case "object":
      return value !== null && typeof value === "object" && !Array.isArray(value);
    default:
      return Array.isArray(value) && items !== undefined && value.every((v) => matchesType(items.type, items.items, v));
  }
}

/** `InferFullTypeName`: `array<object>`. */
function typeName(type: string, items: ConfigItemsType | undefined): string {
  return items === undefined ? type : `array<${typeName(items.type, items.items)}>`;
}

function itemsProblems(items: ConfigItemsType, key: string): string[] {
  if (!(CONFIG_TYPES as readonly string[]).includes(items.type))
    return [`configuration key '${key}': items type '${items.type}' is not one of ${CONFIG_TYPES.join(", ")}`];
  if (items.type === "array" && items.items === undefined)
    return [`configuration key '${key}': items of type array need their own items`];
  return items.items ? itemsProblems(items.items, key) : [];
}

/** What the CLI refuses in Pulumi.yaml's `config:` before it reads any stack (every problem, not only the first). */
export function projectConfigProblems(project: PulumiProject): string[] {
  const problems: string[] = [];
  for (const [key, raw] of Object.entries(project.config ?? {})) {
    const decl = declaration(raw);
    if (decl.default !== undefined && decl.value !== undefined)
      problems.push(`project config '${key}' cannot have both a 'default' and 'value' attribute`);
    if (decl.type !== undefined && !(CONFIG_TYPES as readonly string[]).includes(decl.type)) {
      problems.push(`configuration key '${key}': type '${decl.type}' is not one of ${CONFIG_TYPES.join(", ")}`);
      continue;
    }
    if (decl.items !== undefined) problems.push(...itemsProblems(decl.items, key));
    if (isProjectKey(project.name, key)) {
      if (decl.type === "array" && decl.items === undefined)
        problems.push(
          `The configuration key '${key}' declares an array but does not specify the underlying type via the 'items' attribute`,
        );
      else if (
        decl.type !== undefined &&
        decl.default !== undefined &&
        !matchesType(decl.type, decl.items, decl.default)
      )
        problems.push(
          `The default value specified for configuration key '${key}' is not of the expected type '${typeName(decl.type, decl.items)}'`,
        );
    } else {
      if (decl.type !== undefined)
        problems.push(`Configuration key '${key}' is not namespaced by the project and should not define a type`);
      if (decl.default !== undefined)
        problems.push(
          `Configuration key '${key}' is not namespaced by the project and should not define a default value`,
        );
      if (decl.value === undefined)
        problems.push(`Configuration key '${key}' is namespaced and must provide an attribute 'value'`);
    }
  }
  return problems;
}

/** `formatMissingKeys`: 'a', or 'a' and 'b', or 'a', 'b' and 'c' (sorted when several). */
function missingKeys(keys: string[]): string {
  if (keys.length === 1) return `value '${keys[0]}'`;
  const quoted = [...keys].sort().map((k) => `'${k}'`);
  return `values ${quoted.slice(0, -1).join(", ")} and ${quoted[quoted.length - 1]}`;
}

function isSecure(value: unknown): boolean {
  return value !== null && typeof value === "object" && !Array.isArray(value) && "secure" in value;
}

/** Why the CLI refuses a stack: keys it must set, or one key's value; `message` is the CLI's own. */
export type StackConfigRefusal = { missing: string[]; message: string } | { key: string; message: string; fix: string };

/**
 * The CLI's refusal of a stack's `config:` (full keys, `openstack-rt:hosts`, as the stack file
 * has them), or null when the CLI starts the program. Secure values are not decrypted: a typed
 * secret is checked for being `secure:` only.
 */
export function stackConfigRefusal(
  project: PulumiProject,
  stackName: string,
  stackConfig: Record<string, unknown>,
): StackConfigRefusal | null {
  const keys = Object.keys(project.config ?? {}).sort();
  const fullKey = (key: string) => (key.includes(":") ? key : `${project.name}:${key}`);
  const merged = new Map<string, unknown>(Object.entries(stackConfig).map(([k, v]) => [fullKey(k), v]));
  const missing: string[] = [];
  for (const key of keys) {
    const decl = declaration(project.config?.[key]);
    if (merged.has(fullKey(key))) continue;
    if (decl.value === undefined && decl.default === undefined) {
      if (isProjectKey(project.name, key)) missing.push(key);
      continue;
    }
    merged.set(fullKey(key), decl.default !== undefined ? decl.default : decl.value);
  }
  if (missing.length > 0)
    return { missing, message: `Stack '${stackName}' is missing configuration ${missingKeys(missing)}` };
  for (const key of keys) {
    const decl = declaration(project.config?.[key]);
    if (decl.type === undefined) continue;
    const value = merged.get(fullKey(key));
    if (decl.secret === true && !isSecure(value))
      return {
        key,
        message: `Stack '${stackName}' with configuration key '${key}' must be encrypted as it's secret`,
        fix: `set it with \`pulumi config set --secret ${key}\``,
      };
    if (isSecure(value)) continue;
    // A plain scalar reaches the check as its text; a mapping or list as the structure JSON gives.
    const seen: unknown =
      value !== null && typeof value === "object" ? JSON.parse(JSON.stringify(value)) : String(value);
    if (!matchesType(decl.type, decl.items, seen))
      return {
        key,
        message: `Stack '${stackName}' with configuration key '${key}' must be of type '${typeName(decl.type, decl.items)}'`,
        fix: `give it a value of that type, as Pulumi.yaml declares it`,
      };
  }
  return null;
}

/** Pulumi.yaml's name and config declarations. */
export function readPulumiProject(projectDir: string, file = "Pulumi.yaml"): PulumiProject {
  const project = parse(readFileSync(join(projectDir, file), "utf8")) as Partial<PulumiProject> | null;
  return { name: String(project?.name ?? ""), config: project?.config ?? {} };
}

/** The stack name the CLI gives `Pulumi.<name>.yaml`. */
export function stackNameOf(stackFile: string): string {
  const base = stackFile.split(/[\\/]/).pop() ?? stackFile;
  const m = /^Pulumi\.(.+)\.ya?ml$/.exec(base);
  return m ? m[1] : base;
}
