/**
 * The OpenStack credentials the openstack provider uses, gathered the way it gathers them: the
 * stack's `openstack:*` config first, then the `OS_*` environment, then the `clouds.yaml` entry
 * named by `openstack:cloud` / `OS_CLOUD` (./clouds.yaml, ~/.config/openstack/clouds.yaml,
 * /etc/openstack/clouds.yaml). A dynamic provider reads them in `configure` and at each
 * operation, so they are never a resource input, output or state, and never printed.
 */
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { codedError } from "../../errors";

export interface OpenStackCredentials {
  authUrl: string;
  userName?: string;
  userId?: string;
  password?: string;
  token?: string;
  applicationCredentialId?: string;
  applicationCredentialSecret?: string;
  userDomainName?: string;
  userDomainId?: string;
  projectName?: string;
  projectId?: string;
  projectDomainName?: string;
  projectDomainId?: string;
  region?: string;
  /** public (default), internal or admin. */
  interface?: string;
}

/** Reads one `openstack:<key>` config value (the engine's config in `configure`). */
export type ConfigLookup = (key: string) => unknown;

type Field = keyof OpenStackCredentials;
/** Provider config key, environment variables and clouds.yaml path of each field, in precedence order. */
const SOURCES: Record<Field, { config: string[]; env: string[]; cloud: string[] }> = {
  authUrl: { config: ["authUrl"], env: ["OS_AUTH_URL"], cloud: ["auth.auth_url"] },
  userName: { config: ["userName"], env: ["OS_USERNAME"], cloud: ["auth.username"] },
  userId: { config: ["userId"], env: ["OS_USER_ID"], cloud: ["auth.user_id"] },
  password: { config: ["password"], env: ["OS_PASSWORD"], cloud: ["auth.password"] },
  token: { config: ["token"], env: ["OS_TOKEN", "OS_AUTH_TOKEN"], cloud: ["auth.token"] },
  applicationCredentialId: {
    config: ["applicationCredentialId"],
    env: ["OS_APPLICATION_CREDENTIAL_ID"],
    cloud: ["auth.application_credential_id"],
  },
  applicationCredentialSecret: {
    config: ["applicationCredentialSecret"],
    env: ["OS_APPLICATION_CREDENTIAL_SECRET"],
    cloud: ["auth.application_credential_secret"],
  },
  userDomainName: {
    config: ["userDomainName", "domainName"],
    env: ["OS_USER_DOMAIN_NAME", "OS_DOMAIN_NAME"],
    cloud: ["auth.user_domain_name", "auth.domain_name"],
  },
  userDomainId: {
    config: ["userDomainId", "domainId"],
    env: ["OS_USER_DOMAIN_ID", "OS_DOMAIN_ID"],
    cloud: ["auth.user_domain_id", "auth.domain_id"],
  },
  projectName: {
    config: ["tenantName", "projectName"],
    env: ["OS_PROJECT_NAME", "OS_TENANT_NAME"],
    cloud: ["auth.project_name", "auth.tenant_name"],
  },
  projectId: {
    config: ["tenantId", "projectId"],
    env: ["OS_PROJECT_ID", "OS_TENANT_ID"],
    cloud: ["auth.project_id", "auth.tenant_id"],
  },
  projectDomainName: {
    config: ["projectDomainName", "domainName"],
    env: ["OS_PROJECT_DOMAIN_NAME", "OS_DOMAIN_NAME"],
    cloud: ["auth.project_domain_name", "auth.domain_name"],
  },
  projectDomainId: {
    config: ["projectDomainId", "domainId"],
    env: ["OS_PROJECT_DOMAIN_ID", "OS_DOMAIN_ID"],
    cloud: ["auth.project_domain_id", "auth.domain_id"],
  },
  region: { config: ["region"], env: ["OS_REGION_NAME"], cloud: ["region_name"] },
  interface: { config: ["endpointType"], env: ["OS_INTERFACE", "OS_ENDPOINT_TYPE"], cloud: ["interface"] },
};

function str(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}

function at(obj: unknown, path: string): unknown {
  let cur = obj;
  for (const part of path.split(".")) {
    if (typeof cur !== "object" || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** The clouds.yaml entry `name`, or undefined when no clouds.yaml names it. */
export function cloudEntry(name: string, files: readonly string[]): Record<string, unknown> | undefined {
  for (const file of files) {
    if (!existsSync(file)) continue;
    let doc: unknown;
    try {
      doc = parse(readFileSync(file, "utf8"));
    } catch (e) {
      // The parser quotes the offending line, which may hold a password: name the file only.
      throw codedError("credentials", `${file} is not valid YAML (${(e as { name?: string }).name ?? "parse error"})`);
    }
    const entry = at(doc, `clouds`);
    if (typeof entry === "object" && entry !== null && name in entry)
      return (entry as Record<string, Record<string, unknown>>)[name];
  }
  return undefined;
}

export function defaultCloudFiles(env: NodeJS.ProcessEnv): string[] {
  return [
    ...(env.OS_CLIENT_CONFIG_FILE ? [env.OS_CLIENT_CONFIG_FILE] : []),
    join(process.cwd(), "clouds.yaml"),
    join(homedir(), ".config", "openstack", "clouds.yaml"),
    "/etc/openstack/clouds.yaml",
  ];
}

/**
 * The credentials from the three sources; an error (naming the settings, never a value) when
 * there is no auth URL or nothing to authenticate with.
 */
export function resolveCredentials(
  config: ConfigLookup,
  env: NodeJS.ProcessEnv = process.env,
  cloudFiles: readonly string[] = defaultCloudFiles(env),
): OpenStackCredentials {
  const cloudName = str(config("cloud")) ?? str(env.OS_CLOUD);
  const cloud = cloudName === undefined ? undefined : cloudEntry(cloudName, cloudFiles);
  if (cloudName !== undefined && cloud === undefined)
    throw codedError(
      "credentials",
      `the cloud "${cloudName}" (openstack:cloud or OS_CLOUD) is in none of ${cloudFiles.join(", ")}`,
    );
  const out: Partial<OpenStackCredentials> = {};
  for (const [field, src] of Object.entries(SOURCES) as [Field, (typeof SOURCES)[Field]][]) {
    const value =
      src.config.map((k) => str(config(k))).find((v) => v !== undefined) ??
      src.env.map((k) => str(env[k])).find((v) => v !== undefined) ??
      src.cloud.map((p) => str(at(cloud, p))).find((v) => v !== undefined);
    if (value !== undefined) out[field] = value;
  }
  if (out.authUrl === undefined)
    throw codedError(
      "credentials",
      "no Keystone URL: set openstack:authUrl (pulumi config set openstack:authUrl https://keystone.example:5000/v3), OS_AUTH_URL, or a clouds.yaml entry named by openstack:cloud / OS_CLOUD",
    );
  const hasUser = (out.userName !== undefined || out.userId !== undefined) && out.password !== undefined;
  const hasAppCred = out.applicationCredentialId !== undefined && out.applicationCredentialSecret !== undefined;
  if (!hasUser && !hasAppCred && out.token === undefined)
    throw codedError(
      "credentials",
      "no OpenStack credentials: set openstack:userName and openstack:password (pulumi config set --secret openstack:password), " +
        "openstack:token, an application credential, the OS_* variables, or a clouds.yaml entry",
    );
  return out as OpenStackCredentials;
}
