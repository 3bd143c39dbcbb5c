/**
 * HostVerification: proves an RT host matches its plan (RT kernel, TuneD, command line,
 * isolation, 1 GiB pages, nova.conf, IRQs, the latency stages) and fails `pulumi up` with the report
 * when it does not. It runs again after each reboot of the host. Servers depend on it.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { HostPlan } from "../../lib/plan/host";
import type { SshTarget } from "../../lib/transport/ssh";
import type { HostVerifyOptions } from "../../lib/checks/verification";
import { HOST_FACTS_TIMEOUT_SECONDS } from "../../lib/checks/verification";
import { hostprepCopyName } from "../../lib/desired/step-connection";
import { stepFiles } from "../../lib/hostprep/scripts";
import { VerificationResource } from "./verification-resource";

export interface HostVerificationArgs {
  hostName: string;
  target: pulumi.Input<SshTarget>;
  plan: pulumi.Input<HostPlan>;
  latency: pulumi.Input<HostVerifyOptions["latency"]>;
  /** The boot id the host runs after its prep: a new boot checks it again. */
  bootId: pulumi.Input<string>;
  /** Change it to re-run the checks with nothing else changed. */
  verifyRevision?: pulumi.Input<string>;
}

export class HostVerification extends VerificationResource {
  constructor(name: string, args: HostVerificationArgs, opts?: pulumi.CustomResourceOptions) {
    const inputs = {
      ...args,
      timeoutSeconds: HOST_FACTS_TIMEOUT_SECONDS,
      hostprepCopy: hostprepCopyName(args.hostName),
      scripts: {
        "host-facts.sh": stepFiles("verify/host-facts.sh"),
        "guest-latency.sh": stepFiles("verify/guest-latency.sh"),
      },
      verifyRevision: args.verifyRevision ?? "",
    };
    super("host-check", name, inputs, opts, "HostVerification");
  }
}
