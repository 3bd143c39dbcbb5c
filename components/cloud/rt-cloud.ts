/**
 * The cloud objects of an RT stack, from its desired state (decideStack, lib/desired/decide.ts):
 * the aggregate of the RT hosts, the flavors, the guest image, the security group, the keypair
 * and the servers. Everything that can be wrong with the input was found and reported before
 * the first resource was registered; this only carries it out.
 */
import * as openstack from "@pulumi/openstack";
import * as pulumi from "@pulumi/pulumi";
import type { DesiredState } from "../../lib/desired/state";
import type { CloudOutputs, Outputs } from "../../lib/render/outputs";
import { RtAggregate } from "./aggregate";
import { RtFlavor } from "./flavor";
import { RtImage } from "./image";
import { RtKeypair } from "./keypair";
import { RtSecurityGroup } from "./security-group";
import { RtServer } from "./server";

/** What the cloud objects wait for on one RT host (host prep and host checks are built elsewhere). */
export interface HostReadiness {
  /**
   * The host's nova service host name, resolved once the host is ready (such as the host prep's
   * name after its reboot): the aggregate takes the host only then.
   */
  aggregateHost?: pulumi.Input<string>;
  /** Resources a server must wait for before Nova may place it on this host: host prep, host verification. */
  resources: pulumi.Resource[];
}

export interface RtCloudArgs {
  /** decideStack's desired state: the config, its plan, the image source and every server's decisions. */
  desired: DesiredState;
  /** Per RT host, by nova service host name. A server waits for every host Nova may place it on. */
  hostReadiness?: Record<string, HostReadiness>;
  /**
   * The scheduler steps (Controller). The aggregate waits for them: nova-api tells the
   * schedulers of an aggregate change by a fanout cast, and a scheduler being restarted misses
   * it, or makes nova-api fail the request with a 500 (MessageDeliveryFailure: the fanout
   * exchange went with the last scheduler's queue).
   */
  schedulers?: pulumi.Resource[];
}

export class RtCloud extends pulumi.ComponentResource {
  readonly aggregate: RtAggregate;
  readonly flavors: Map<string, RtFlavor>;
  readonly image: RtImage;
  readonly securityGroup: RtSecurityGroup;
  readonly keypair: RtKeypair;
  readonly servers: Map<string, RtServer>;
  /** The stack outputs of the cloud objects (lib/render/outputs.ts). */
  readonly outputs: Outputs<CloudOutputs>;

  constructor(name: string, args: RtCloudArgs, opts?: pulumi.ComponentResourceOptions) {
    const { config, plan } = args.desired;
    super("openstack-rt:cloud:RtCloud", name, {}, opts);
    const parent = { parent: this };

    this.aggregate = new RtAggregate(
      name,
      {
        name: config.aggregate.name,
        hosts: config.hosts.map((h) => args.hostReadiness?.[h.name]?.aggregateHost ?? h.name),
        zone: config.aggregate.zone,
        metadata: config.aggregate.metadata,
        protect: config.deployment.protect,
        dependsOn: args.schedulers,
      },
      parent,
    );
    // A private flavor is opened to the project the servers are booted in: the one these credentials act in.
    const projectId = plan.flavors.some((f) => !f.isPublic)
      ? openstack.identity.getAuthScopeOutput({ name: "current" }, parent).projectId
      : undefined;
    this.flavors = new Map(
      plan.flavors.map((f) => [
        f.name,
        new RtFlavor(
          `${name}-${f.name}`,
          { plan: f, accessProjectId: projectId, protect: config.deployment.protect },
          parent,
        ),
      ]),
    );
    const img = config.image;
    this.image = new RtImage(
      name,
      {
        name: img.name,
        source: args.desired.image,
        diskFormat: img.diskFormat,
        containerFormat: img.containerFormat,
        properties: img.properties,
        protect: config.deployment.protect,
      },
      parent,
    );
    this.securityGroup = new RtSecurityGroup(name, config.securityGroup, parent);
    this.keypair = new RtKeypair(name, config.keypair, parent);

    // One server at a time: each waits for the one before it, so a flavor or image change
    // replaces the servers one by one (each deleted just before its replacement is created).
    let previous: RtServer | undefined;
    // Hosts an earlier server waits for: a later one waits for them through the chain, so each
    // host's readiness is named once, not by every server (hosts x servers in the state).
    const awaited = new Set<string>();
    this.servers = new Map(
      args.desired.servers.map(({ decision: s }) => {
        const server = new RtServer(
          `${name}-${s.name}`,
          {
            name: s.name,
            flavor: s.flavor,
            flavorId: this.flavors.get(s.flavor)!.flavor.id,
            imageId: this.image.imageId,
            keyPair: this.keypair.keypair.name,
            securityGroups: [this.securityGroup.group.name],
            network: config.network.name,
            availabilityZone: s.availabilityZone,
            host: s.host,
            userData: s.userData,
            floatingIpPool: s.floatingIpPool,
            loginUser: img.loginUser,
            // The scheduler needs the aggregate's hosts and metadata; SSH needs the rules.
            dependsOn: [
              this.aggregate,
              this.securityGroup,
              ...s.waitsFor.filter((h) => !awaited.has(h)).flatMap((h) => args.hostReadiness?.[h]?.resources ?? []),
              ...(previous === undefined ? [] : [previous]),
            ],
          },
          parent,
        );
        previous = server;
        s.waitsFor.forEach((h) => awaited.add(h));
        return [s.name, server];
      }),
    );

    const byName = <T>(entries: [string, pulumi.Output<T>][]): pulumi.Output<Record<string, T>> =>
      pulumi.all(Object.fromEntries(entries)) as pulumi.Output<Record<string, T>>;
    this.outputs = {
      aggregate: this.aggregate.output,
      flavors: byName([...this.flavors].map(([n, f]) => [n, f.output])),
      image: this.image.output,
      keypair: this.keypair.output,
      securityGroup: this.securityGroup.output,
      servers: byName([...this.servers].map(([n, s]) => [n, s.output])),
    };
    this.registerOutputs(this.outputs);
  }
}
