/**
 * DomainVerification: finds a server's libvirt domain on the RT host that runs it and proves Nova
 * pinned it as planned (vcpupin inside cpu_dedicated_set, emulatorpin, vcpusched on the RT vCPUs,
 * 1 GiB locked pages, strict numatune, PMU off).
 */
import * as pulumi from "@pulumi/pulumi";
import type { DomainCandidate, DomainCheckTargets } from "../../lib/desired/check-targets";
import { scriptText } from "../../lib/providers/collect";
import { ServerHost } from "./server-host";
import { VerificationResource } from "./verification-resource";

export interface DomainVerificationArgs {
  serverName: string;
  serverId: pulumi.Input<string>;
  /** The host that runs the server. */
  placedOn: pulumi.Input<string>;
  /** That host with what its domain must look like there, or none when it is not a planned candidate. */
  candidates: pulumi.Input<pulumi.Input<DomainCandidate>[]>;
  verifyRevision?: pulumi.Input<string>;
}

export class DomainVerification extends VerificationResource {
  constructor(name: string, args: DomainVerificationArgs, opts?: pulumi.CustomResourceOptions) {
    const inputs = { ...args, script: scriptText("domain-xml.sh"), verifyRevision: args.verifyRevision ?? "" };
    super("domain-check", name, inputs, opts, "DomainVerification");
  }
}

/**
 * The domain check of a server, on the one host that runs it: the pinned or only candidate, else
 * the host Nova names (a ServerHost `<server>-server-host`), so that no server carries the plans
 * of every host. `opts` (the server to wait for) apply to both.
 */
export function verifyServerDomain(
  serverName: string,
  targets: DomainCheckTargets,
  serverId: pulumi.Input<string>,
  opts: pulumi.CustomResourceOptions,
): DomainVerification {
  const placedOn =
    targets.hosts.length === 1
      ? pulumi.output(targets.hosts[0])
      : new ServerHost(`${serverName}-server-host`, { serverName, serverId }, opts).host;
  const candidates = placedOn.apply((host) => {
    const candidate = targets.on(host);
    return candidate === null ? [] : [candidate];
  });
  return new DomainVerification(
    `${serverName}-domain-verification`,
    { serverName, serverId, placedOn, candidates },
    opts,
  );
}
