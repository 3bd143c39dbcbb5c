/**
 * DomainVerification: finds a server's libvirt domain on the RT hosts and proves Nova pinned it
 * as planned (vcpupin inside cpu_dedicated_set, emulatorpin, vcpusched on the RT vCPUs, 1 GiB
 * locked pages, strict numatune, PMU off).
 */
import type * as pulumi from "@pulumi/pulumi";
import type { DomainCandidate } from "../../lib/providers/domain-check";
import { bundledProvider } from "../../lib/providers/bundle";
import { domainCheckProvider } from "../../lib/providers/domain-check";
import { scriptText } from "../../lib/checks/collect";
import { VerificationResource } from "./verification-resource";

export interface DomainVerificationArgs {
  serverName: string;
  serverId: pulumi.Input<string>;
  /** The RT hosts the server may run on, each with what its domain must look like there. */
  candidates: pulumi.Input<pulumi.Input<DomainCandidate>[]>;
  verifyRevision?: pulumi.Input<string>;
}

export class DomainVerification extends VerificationResource {
  constructor(name: string, args: DomainVerificationArgs, opts?: pulumi.CustomResourceOptions) {
    const inputs = { ...args, script: scriptText("domain-xml.sh"), verifyRevision: args.verifyRevision ?? "" };
    super(bundledProvider("domain-check", domainCheckProvider), name, inputs, opts, "DomainVerification");
  }
}
