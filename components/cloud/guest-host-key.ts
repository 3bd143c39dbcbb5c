/**
 * GuestHostKey: the SSH host key an RT guest gets through its user data (lib/desired/cloud-init.ts
 * withSshHostKey), so the guest checks pin it like the hosts' keys. The private half is a secret
 * in state and in the user data; the public half is the server's `hostKey` output.
 */
import * as pulumi from "@pulumi/pulumi";
import { bundledProvider } from "../../lib/providers/bundle";
import { sshHostKeyProvider } from "../../lib/providers/ssh-host-key";

export class GuestHostKey extends pulumi.dynamic.Resource {
  declare readonly publicKey: pulumi.Output<string>;
  declare readonly privateKey: pulumi.Output<string>;

  constructor(name: string, args: { comment: string }, opts?: pulumi.CustomResourceOptions) {
    super(
      bundledProvider("ssh-host-key", sshHostKeyProvider),
      name,
      { ...args, publicKey: undefined, privateKey: undefined },
      { ...opts, additionalSecretOutputs: ["privateKey"] },
      "guest",
      "GuestHostKey",
    );
  }
}
