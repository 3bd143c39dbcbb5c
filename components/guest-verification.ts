/**
 * GuestVerification: inside an RT guest, proves the RT kernel and TuneD realtime-virtual-guest
 * with isolated_cores = the RT vCPUs, then runs cyclictest on the RT vCPUs under load on the
 * others and holds the result to the latency budget.
 */
import * as pulumi from "@pulumi/pulumi";
import type { CheckResult } from "../lib/checks/result";
import { checkProvider, checkResourceOptions, checkResourceProps } from "../lib/check-provider";
import type { GuestPlan } from "../lib/plan";
import type { SshTarget } from "../lib/ssh";
import type { GuestBudget } from "../lib/verify";
import { scriptText, sshRunner, verifyGuest } from "../lib/verify";

interface GuestVerificationInputs {
  serverName: string;
  target: SshTarget;
  privateKey?: string;
  guest: GuestPlan;
  budget: GuestBudget;
  script: string;
  verifyRevision: string;
}

export interface GuestVerificationArgs {
  serverName: pulumi.Input<string>;
  /** The guest's address and login user; `proxy` reaches it through a bastion. */
  target: pulumi.Input<SshTarget>;
  privateKey?: pulumi.Input<string>;
  guest: pulumi.Input<GuestPlan>;
  budget: pulumi.Input<GuestBudget>;
  verifyRevision?: pulumi.Input<string>;
}

export const guestVerificationProvider = checkProvider<GuestVerificationInputs>(
  (i) => `guest verification of ${i.serverName}`,
  (i) => `guest-verification-${i.serverName}`,
  (i) =>
    verifyGuest(
      sshRunner(i.target, { privateKey: i.privateKey, agentSocket: process.env.SSH_AUTH_SOCK }, {}, { "guest-latency.sh": i.script }),
      i.guest,
      i.budget,
    ),
);

export class GuestVerification extends pulumi.dynamic.Resource {
  declare readonly results: pulumi.Output<CheckResult[]>;
  declare readonly passed: pulumi.Output<boolean>;

  constructor(name: string, args: GuestVerificationArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      guestVerificationProvider,
      name,
      checkResourceProps(args, scriptText("guest-latency.sh")),
      checkResourceOptions(opts),
      "verify",
      "GuestVerification",
    );
  }
}
