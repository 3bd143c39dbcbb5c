/**
 * openstack-rt: config -> plan -> resources. The plan is decided by pure functions (lib/) before
 * any resource is registered, so a bad config fails `pulumi preview` with every problem listed.
 * Then, per RT host: host prep and host checks; on the controller: the scheduler filters; in
 * the cloud: aggregate, flavors, image, security group, keypair and servers, each server after
 * the hosts it may land on are prepared and verified; last, the domain and guest checks.
 * The outputs are typed in lib/render/outputs.ts (StackOutputs) for the stacks that read them.
 */
import * as pulumi from "@pulumi/pulumi";
import { prepareHosts } from "./components/host/compute-host";
import { Controller } from "./components/host/controller";
import { verifyServerDomain } from "./components/checks/domain-verification";
import { GuestVerification } from "./components/checks/guest-verification";
import { HostVerification } from "./components/checks/host-verification";
import { RtCloud } from "./components/cloud/rt-cloud";
import type { Outputs, StackOutputs, VerificationOutput } from "./lib/render/outputs";
import { controllerName, controllersOf } from "./lib/desired/host-steps";
import { planFromPulumiConfig } from "./lib/desired/from-pulumi";

const cfg = new pulumi.Config();
const desired = planFromPulumiConfig(cfg);
const { config, plan } = desired;

// The SDK takes a stack trace for each of its internal promises (runtime/debuggable.ts, about 50
// per resource), source-mapped through tsx: over half the CPU of a 100-host program. Pulumi
// records where each resource is declared with a limit of its own (resource.ts, sourcePosition);
// from here on an error carries its message, which this program's errors are written to be read by.
Error.stackTraceLimit = 0;
const privateKey = cfg.getSecret("sshPrivateKey");

// In batches of deployment.maxUnavailable: each batch's steps wait for the previous batch's
// host checks (and, with maintenance, for its nova-compute to be enabled again).
const prepared = prepareHosts({
  hosts: desired.hosts,
  deployment: config.deployment,
  privateKey,
  verify: (h, i) =>
    new HostVerification(
      `${h.hostName}-verification`,
      { hostName: h.hostName, ...desired.hosts[i].check, bootId: h.bootId },
      { dependsOn: [h] },
    ),
});
const hosts = prepared.map((p) => p.host);
const hostChecks = prepared.map((p) => p.checks as HostVerification);
// Every nova-scheduler host (`controller`, or each of `controllers`); the first keeps the name "controller".
const controllers = controllersOf(config).map(
  (controller, i) => new Controller(controllerName(i), { controller, privateKey }),
);

const cloud = new RtCloud("openstack-rt", {
  desired,
  schedulers: controllers,
  hostReadiness: Object.fromEntries(
    hosts.map((h, i) => [
      h.hostName,
      {
        aggregateHost: h.aggregateHost,
        resources: [
          h,
          hostChecks[i],
          ...controllers,
          ...(prepared[i].maintenanceEnd ? [prepared[i].maintenanceEnd] : []),
        ],
      },
    ]),
  ),
});

const domainChecks = desired.servers.map((s) => {
  const server = cloud.servers.get(s.name)!;
  return [s.name, verifyServerDomain(s.name, s.domainCheck, server.output.id, { dependsOn: [server] })] as const;
});
const guestChecks = desired.servers.flatMap((s) => {
  if (s.guestCheck === null) return [];
  const server = cloud.servers.get(s.name)!;
  const target = server.output.apply((o) => ({
    host: o.floatingIp ?? o.accessIpV4,
    port: 22,
    user: o.loginUser,
    hostKey: o.hostKey,
  }));
  return [
    [
      s.name,
      new GuestVerification(
        `${s.name}-guest-verification`,
        { serverName: s.name, target, ...s.guestCheck },
        {
          dependsOn: [server],
        },
      ),
    ] as const,
  ];
});

type Check = { verdict: pulumi.Output<VerificationOutput> };
function verdicts(checks: readonly (readonly [string, Check])[]): pulumi.Output<Record<string, VerificationOutput>> {
  return pulumi
    .all(checks.map(([, c]) => c.verdict))
    .apply((vs) => Object.fromEntries(vs.map((v, i) => [checks[i][0], v])));
}

const outputs: Outputs<StackOutputs> = {
  hostPlans: pulumi.output(plan.hosts),
  flavorPlans: pulumi.output(plan.flavors),
  serverPlans: pulumi.output(plan.servers),
  ...cloud.outputs,
  verification: pulumi
    .all([
      verdicts(hosts.map((h, i) => [h.hostName, hostChecks[i]] as const)),
      verdicts(domainChecks),
      verdicts(guestChecks),
    ])
    .apply(([hostVerdicts, domains, guests]) => ({ hosts: hostVerdicts, domains, guests })),
};

export const {
  hostPlans,
  flavorPlans,
  serverPlans,
  aggregate,
  flavors,
  image,
  keypair,
  securityGroup,
  servers,
  verification,
} = outputs;
