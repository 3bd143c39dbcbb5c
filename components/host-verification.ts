/**
 * HostVerification: proves an RT host matches its plan (RT kernel, TuneD, command line,
 * isolation, 1 GiB pages, nova.conf, IRQs, hwlatdetect) and fails `pulumi up` with the report
 * when it does not. Servers depend on it.
 */
import * as pulumi from "@pulumi/pulumi";
import type { CheckResult } from "../lib/checks/result";
import { checkProvider, checkResourceOptions, checkResourceProps } from "../lib/check-provider";
import type { HostPlan } from "../lib/plan-host";
import type { SshTarget } from "../lib/ssh";
import type { HostVerifyOptions } from "../lib/verify";
import { scriptText, sshRunner, verifyHost } from "../lib/verify";

interface HostVerificationInputs {
  target: SshTarget;
  privateKey?: string;
  plan: HostPlan;
  hwlatdetect: HostVerifyOptions["hwlatdetect"];
  script: string;
  verifyRevision: string;
}

export interface HostVerificationArgs {
  target: pulumi.Input<SshTarget>;
  /** Secret; when absent the provider uses the SSH agent (SSH_AUTH_SOCK). */
  privateKey?: pulumi.Input<string>;
  plan: pulumi.Input<HostPlan>;
  hwlatdetect: pulumi.Input<HostVerifyOptions["hwlatdetect"]>;
  /** Change it to re-run the checks with nothing else changed. */
  verifyRevision?: pulumi.Input<string>;
}

export const hostVerificationProvider = checkProvider<HostVerificationInputs>(
  (i) => `host verification of ${i.plan.name}`,
  (i) => `host-verification-${i.plan.name}`,
  (i) =>
    verifyHost(
      sshRunner(i.target, { privateKey: i.privateKey, agentSocket: process.env.SSH_AUTH_SOCK }, {}, { "host-facts.sh": i.script }),
      i.plan,
      { hwlatdetect: i.hwlatdetect },
    ),
);

export class HostVerification extends pulumi.dynamic.Resource {
  declare readonly results: pulumi.Output<CheckResult[]>;
  declare readonly passed: pulumi.Output<boolean>;

  constructor(name: string, args: HostVerificationArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      hostVerificationProvider,
      name,
      checkResourceProps(args, scriptText("host-facts.sh")),
      checkResourceOptions(opts),
      "verify",
      "HostVerification",
    );
  }
}
