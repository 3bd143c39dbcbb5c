/**
 * openstack-rt: config -> plan -> resources. The plan is decided by pure functions (lib/) before
 * any resource is registered, so a bad config fails `pulumi preview` with every problem listed.
 * Then, per RT host: host prep and host checks; on the controller: the scheduler filters; in
 * the cloud: aggregate, flavors, image, security group, keypair and servers, each server after
 * the hosts it may land on are prepared and verified; last, the domain and guest checks.
 * The outputs are typed in lib/outputs.ts (StackOutputs) for the stacks that read them.
 */
import * as pulumi from "@pulumi/pulumi";
import { prepareHosts } from "./components/compute-host";
import { Controller } from "./components/controller";
import { DomainVerification } from "./components/domain-verification";
import { GuestVerification } from "./components/guest-verification";
import { HostVerification } from "./components/host-verification";
import { RtCloud } from "./components/rt-cloud";
import type { Outputs, StackOutputs, VerificationOutput } from "./lib/outputs";
import { controllerName, controllersOf } from "./lib/host-steps";
import { planFromPulumiConfig } from "./lib/pulumi-config";
import { domainCandidates, latencyBudget, wantsGuestCheck } from "./lib/verify-targets";

const cfg = new pulumi.Config();
const { config, plan, cloud: decisions } = planFromPulumiConfig(cfg);
const privateKey = cfg.getSecret("sshPrivateKey");
const planned = plan.hosts;

// In batches of deployment.maxUnavailable: each batch's steps wait for the previous batch's
// host checks (and, with maintenance, for its nova-compute to be enabled again).
const prepared = prepareHosts({
  hosts: planned.map((p) => ({ plan: p, host: config.hosts.find((h) => h.name === p.name)! })),
  deployment: config.deployment,
  privateKey,
  verify: (h, i) =>
    new HostVerification(
      `${h.hostName}-verification`,
      {
        hostName: h.hostName,
        target: config.hosts.find((c) => c.name === h.hostName)!.ssh,
        plan: planned[i],
        hwlatdetect: config.latency.hwlatdetect,
        bootId: h.bootId,
      },
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
  config,
  plan,
  decisions,
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

const domainChecks = plan.servers.map((s) => {
  const server = cloud.servers.get(s.name)!;
  return [
    s.name,
    new DomainVerification(
      `${s.name}-domain-verification`,
      { serverName: s.name, serverId: server.output.id, candidates: domainCandidates(config, plan, s) },
      { dependsOn: [server] },
    ),
  ] as const;
});
const guestChecks = plan.servers
  .filter((s) =>
    wantsGuestCheck(
      config,
      plan.flavors.find((f) => f.name === s.flavor)!,
    ),
  )
  .map((s) => {
    const server = cloud.servers.get(s.name)!;
    const target = server.output.apply((o) => ({
      host: o.floatingIp ?? o.accessIpV4,
      port: 22,
      user: o.loginUser,
      hostKey: o.hostKey,
    }));
    const guest = plan.flavors.find((f) => f.name === s.flavor)!.guest;
    return [
      s.name,
      new GuestVerification(
        `${s.name}-guest-verification`,
        {
          serverName: s.name,
          target,
          guest,
          budget: latencyBudget(config.latency.guest),
          readyTimeoutSeconds: config.latency.guest.readyTimeoutSeconds,
        },
        { dependsOn: [server] },
      ),
    ] as const;
  });

type Check = { passed: pulumi.Output<boolean>; results: pulumi.Output<VerificationOutput["results"]> };
function verdicts(checks: readonly (readonly [string, Check])[]): pulumi.Output<Record<string, VerificationOutput>> {
  return pulumi
    .all(checks.map(([, c]) => pulumi.all([c.passed, c.results])))
    .apply((vs) => Object.fromEntries(vs.map(([passed, results], i) => [checks[i][0], { passed, results }])));
}

const outputs: Outputs<StackOutputs> = {
  hostPlans: pulumi.output(planned),
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
