/** The keypair the RT servers get: the public key from the stack config, injected by cloud-init for the image's login user. */
import * as openstack from "@pulumi/openstack";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../../lib/config/schema";
import type { KeypairOutput } from "../../lib/render/outputs";

export class RtKeypair extends pulumi.ComponentResource {
  readonly keypair: openstack.compute.Keypair;
  readonly output: pulumi.Output<KeypairOutput>;

  constructor(name: string, args: StackConfig["keypair"], opts?: pulumi.ComponentResourceOptions) {
    super("openstack-rt:keypair:RtKeypair", name, {}, opts);
    this.keypair = new openstack.compute.Keypair(
      `${name}-keypair`,
      { name: args.name, publicKey: args.publicKey },
      // Nova's keypair names are unique per user: a new public key can only replace the old
      // keypair after it is gone. Servers keep the key they were booted with.
      { parent: this, deleteBeforeReplace: true },
    );
    this.output = pulumi
      .all([this.keypair.name, this.keypair.fingerprint])
      .apply(([keyName, fingerprint]): KeypairOutput => ({ name: keyName, fingerprint }));
    this.registerOutputs({ output: this.output });
  }
}
