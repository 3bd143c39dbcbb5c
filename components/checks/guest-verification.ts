/**
 * GuestVerification: waits for an RT guest to be ready (SSH, cloud-init done, RT kernel), proves
 * its RT setup (TuneD realtime-virtual-guest with isolated_cores = the RT vCPUs), then proves its
 * latency in stages, each held to its own budget and none after the first that fails: hwlatdetect,
 * cyclictest on the RT vCPUs under load on the others, oslat on the RT vCPUs.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { GuestPlan } from "../../lib/plan/stack";
import type { SshTarget } from "../../lib/transport/ssh";
import type { GuestBudget } from "../../lib/checks/verification";
import { scriptText } from "../../lib/providers/collect";
import { VerificationResource } from "./verification-resource";

export interface GuestVerificationArgs {
  serverName: pulumi.Input<string>;
  /** The guest's address and login user; `proxy` reaches it through a bastion. */
  target: pulumi.Input<SshTarget>;
  guest: pulumi.Input<GuestPlan>;
  /** Each latency stage's duration and budget (latency.guest in the stack config). */
  budget: pulumi.Input<GuestBudget>;
  /** How long a new guest may take to install its RT kernel and reboot into it. */
  readyTimeoutSeconds: pulumi.Input<number>;
  verifyRevision?: pulumi.Input<string>;
}

export class GuestVerification extends VerificationResource {
  constructor(name: string, args: GuestVerificationArgs, opts?: pulumi.CustomResourceOptions) {
    const inputs = { ...args, script: scriptText("guest-latency.sh"), verifyRevision: args.verifyRevision ?? "" };
    super("guest-check", name, inputs, opts, "GuestVerification");
  }
}
