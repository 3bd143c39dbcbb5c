/**
 * The Nova session of a dynamic provider that calls OpenStack's API (host maintenance, the
 * server-host lookup). The credentials come from `configure` (the stack's `openstack:*` config,
 * as the openstack provider reads it), the `OS_*` environment or clouds.yaml, read at each
 * operation: never an input, an output or state, and never in a message.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { NovaSession } from "../transport/nova-api/client";
import { authenticate } from "../transport/nova-api/client";
import type { ConfigLookup } from "../transport/nova-api/credentials";
import { resolveCredentials } from "../transport/nova-api/credentials";

/** The stack config keys of the openstack provider that the credentials are read from. */
export const OPENSTACK_CONFIG_KEYS = [
  "authUrl",
  "cloud",
  "userName",
  "userId",
  "password",
  "token",
  "applicationCredentialId",
  "applicationCredentialSecret",
  "tenantName",
  "tenantId",
  "projectDomainName",
  "projectDomainId",
  "userDomainName",
  "userDomainId",
  "domainName",
  "domainId",
  "region",
  "endpointType",
] as const;

export interface OpenStackSessionOptions {
  env?: NodeJS.ProcessEnv;
  fetch?: typeof fetch;
}

export interface OpenStackSession {
  configure: (req: pulumi.dynamic.ConfigureRequest) => Promise<void>;
  /** A fresh token and compute endpoint from the credentials configured now. */
  session: () => Promise<NovaSession>;
}

export function openstackSession(options: OpenStackSessionOptions = {}): OpenStackSession {
  const held: { config: Record<string, unknown> } = { config: {} };
  return {
    configure: (req) => {
      const config: Record<string, unknown> = {};
      for (const key of OPENSTACK_CONFIG_KEYS) {
        const v: unknown = req.config.get(`openstack:${key}`);
        if (v !== undefined) config[key] = v;
      }
      held.config = config;
      return Promise.resolve();
    },
    session: () => {
      const lookup: ConfigLookup = (key) => held.config[key];
      return authenticate(resolveCredentials(lookup, options.env ?? process.env), { fetch: options.fetch });
    },
  };
}
