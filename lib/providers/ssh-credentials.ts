/**
 * The SSH credentials of a dynamic provider. The private key never travels as a resource input,
 * so it is in no state, inputs or outputs: the engine hands the provider the stack's config in
 * `configure` (the secret `openstack-rt:sshPrivateKey`, decrypted), and every operation,
 * `pulumi refresh` included, uses the key configured now. Without one, the SSH agent of the
 * provider's process (SSH_AUTH_SOCK) signs.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { SshAuth } from "../transport/ssh";

export const PRIVATE_KEY_CONFIG = "openstack-rt:sshPrivateKey";

export interface SshCredentials {
  configure: (req: pulumi.dynamic.ConfigureRequest) => Promise<void>;
  auth: () => SshAuth;
}

export function sshCredentials(): SshCredentials {
  const held: { privateKey?: string } = {};
  return {
    configure: (req) => {
      const key: unknown = req.config.get(PRIVATE_KEY_CONFIG);
      held.privateKey = typeof key === "string" && key !== "" ? key : undefined;
      return Promise.resolve();
    },
    auth: () => ({ privateKey: held.privateKey, agentSocket: process.env.SSH_AUTH_SOCK }),
  };
}
