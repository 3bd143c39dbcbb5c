/**
 * GuestHostKey: the SSH host key an RT guest gets through its user data (lib/desired/cloud-init.ts
 * withSshHostKey), so the guest checks pin it like the hosts' keys. The private half is a secret
 * in state and in the user data; the public half is the server's `hostKey` output.
 */
import type * as pulumi from "@pulumi/pulumi";
import { BundledResource } from "../bundled-resource";

export class GuestHostKey extends BundledResource {
  declare readonly publicKey: pulumi.Output<string>;
  declare readonly privateKey: pulumi.Output<string>;

  constructor(name: string, args: { comment: string }, opts?: pulumi.CustomResourceOptions) {
    super(
      "ssh-host-key",
      name,
      { ...args, publicKey: undefined, privateKey: undefined },
      { ...opts, additionalSecretOutputs: ["privateKey"] },
      "guest",
      "GuestHostKey",
    );
  }
}
