/**
 * RebootWaiter: finishes a host's reboot step. reboot.sh schedules the reboot detached and
 * prints the boot id it leaves behind; this dynamic resource then polls the host over SSH until
 * /proc/sys/kernel/random/boot_id differs, within deployment.rebootTimeoutSeconds, and fails
 * with the host's name and the timeout when it does not come back.
 *
 * The provider (lib/providers/reboot-wait.ts) holds no key: it takes the stack's secret sshPrivateKey from the engine's `configure`, or uses the SSH
 * agent. The host is asked only by `create` and `update`, which run when an input changes (the
 * reboot step ran again) and not on an unchanged `up`.
 */
import type * as pulumi from "@pulumi/pulumi";
import { BundledResource } from "../bundled-resource";
import type { SshTarget } from "../../lib/transport/ssh";

export interface RebootWaiterArgs {
  hostName: pulumi.Input<string>;
  target: pulumi.Input<SshTarget>;
  previousBootId: pulumi.Input<string>;
  rebootScheduled: pulumi.Input<boolean>;
  timeoutSeconds: pulumi.Input<number>;
}

export class RebootWaiter extends BundledResource {
  /** The boot id the host came back with (the previous one when no reboot was scheduled). */
  declare public readonly bootId: pulumi.Output<string>;

  constructor(name: string, args: RebootWaiterArgs, opts?: pulumi.CustomResourceOptions) {
    super("reboot-wait", name, { ...args, bootId: undefined }, opts, undefined, "RebootWaiter");
  }
}
