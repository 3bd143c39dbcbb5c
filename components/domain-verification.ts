/**
 * DomainVerification: finds a server's libvirt domain on the RT hosts and proves Nova pinned it
 * as planned (vcpupin inside cpu_dedicated_set, emulatorpin, vcpusched on the RT vCPUs, 1 GiB
 * locked pages, strict numatune, PMU off).
 */
import * as pulumi from "@pulumi/pulumi";
import type { DomainExpectation } from "../lib/checks/domain";
import type { CheckResult } from "../lib/checks/result";
import { checkProvider, checkResourceOptions, checkResourceProps } from "../lib/check-provider";
import type { SshTarget } from "../lib/ssh";
import { scriptText, sshRunner, verifyDomain } from "../lib/verify";

export interface DomainCandidate {
  host: string;
  target: SshTarget;
  expectation: DomainExpectation;
}

interface DomainVerificationInputs {
  serverId: string;
  candidates: DomainCandidate[];
  privateKey?: string;
  script: string;
  verifyRevision: string;
}

export interface DomainVerificationArgs {
  serverId: pulumi.Input<string>;
  /** The RT hosts the server may run on, each with what its domain must look like there. */
  candidates: pulumi.Input<pulumi.Input<DomainCandidate>[]>;
  privateKey?: pulumi.Input<string>;
  verifyRevision?: pulumi.Input<string>;
}

export const domainVerificationProvider = checkProvider<DomainVerificationInputs>(
  (i) => `domain verification of server ${i.serverId}`,
  (i) => `domain-verification-${i.serverId}`,
  async (i) => {
    const auth = { privateKey: i.privateKey, agentSocket: process.env.SSH_AUTH_SOCK };
    const found = await verifyDomain(
      i.serverId,
      i.candidates.map((c) => ({ name: c.host, run: sshRunner(c.target, auth, {}, { "domain-xml.sh": i.script }), expectation: c.expectation })),
    );
    return found.results;
  },
);

export class DomainVerification extends pulumi.dynamic.Resource {
  declare readonly results: pulumi.Output<CheckResult[]>;
  declare readonly passed: pulumi.Output<boolean>;

  constructor(name: string, args: DomainVerificationArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      domainVerificationProvider,
      name,
      checkResourceProps(args, scriptText("domain-xml.sh")),
      checkResourceOptions(opts),
      "verify",
      "DomainVerification",
    );
  }
}
