/**
 * The cloud objects of an RT stack, from its config and plan: the aggregate of the RT hosts,
 * the flavors, the guest image, the security group, the keypair and the servers. Everything
 * that can be wrong with the input is found before the first resource is registered, and
 * reported together (PlanError), like the planner's own problems.
 */
import * as openstack from "@pulumi/openstack";
import * as pulumi from "@pulumi/pulumi";
import type { GuestFamily } from "../lib/cloud-init";
import { cloudInitUserData, guestFamily, guestSetup, needsRtSetup } from "../lib/cloud-init";
import type { StackConfig } from "../lib/config";
import type { CloudOutputs, Outputs } from "../lib/outputs";
import type { StackPlan } from "../lib/plan";
import { isPlannedHost } from "../lib/plan";
import type { Problem } from "../lib/problems";
import { PlanError } from "../lib/problems";
import { RtAggregate } from "./aggregate";
import { RtFlavor } from "./flavors";
import type { ImageSource } from "./image";
import { imageSource, RtImage } from "./image";
import { RtKeypair } from "./keypair";
import { RtSecurityGroup } from "./security-group";
import { RtServer, serverAvailabilityZone } from "./server";

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
  config: StackConfig;
  plan: StackPlan;
  /** Per RT host, by nova service host name. A server waits for every host Nova may place it on. */
  hostReadiness?: Record<string, HostReadiness>;
  /** The directory a relative image.file is read from: the project directory, where Pulumi runs the program. */
  projectDir?: string;
}

export interface ServerDecision {
  name: string;
  flavor: string;
  host: string | null;
  availabilityZone: string | undefined;
  /** The RT hosts whose readiness the server waits for. */
  waitsFor: string[];
  floatingIpPool: string | undefined;
  userData: string;
}

export interface CloudDecisions {
  image: ImageSource;
  servers: ServerDecision[];
}

/**
 * Every decision the components only carry out. Throws PlanError with every problem found.
 * Its only I/O is reading (hashing) a local image file.
 */
export function decideCloud(config: StackConfig, plan: StackPlan, projectDir: string): CloudDecisions {
  const problems: Problem[] = [];
  const image = imageSource(config.image, projectDir);
  if (!image.ok) problems.push(image.problem);

  const flavors = new Map(plan.flavors.map((f) => [f.name, f]));
  const flavorOf = (flavor: string) => {
    const f = flavors.get(flavor);
    // The planner refuses a server of an unknown flavor, so this is a caller's mistake.
    if (!f) throw new Error(`server flavor ${flavor} is not in the plan`);
    return f;
  };
  const rtFlavors = [...new Set(config.servers.map((s) => s.flavor))].filter((f) => needsRtSetup(flavorOf(f), config.image));
  let family: GuestFamily | undefined;
  if (rtFlavors.length > 0) {
    const g = guestFamily(config.image, rtFlavors);
    if (g.ok) family = g.family;
    else problems.push(g.problem);
  }
  if (problems.length > 0 || !image.ok) throw new PlanError(problems);

  // Nova may put an unpinned server on any host it fits, and on hosts not planned yet.
  const pending = plan.hosts.filter((h) => !isPlannedHost(h)).map((h) => h.name);
  const userData = new Map<string, string>();
  const servers = plan.servers.map((s, i): ServerDecision => {
    const flavor = flavorOf(s.flavor);
    if (!userData.has(flavor.name)) userData.set(flavor.name, cloudInitUserData(flavor, guestSetup(flavor, config.image, family)));
    const hosts = new Set(s.pinnedHost !== null ? [s.pinnedHost] : [...s.candidates, ...pending]);
    return {
      name: s.name,
      flavor: s.flavor,
      host: s.pinnedHost,
      availabilityZone: serverAvailabilityZone(config.aggregate.zone, s.pinnedHost),
      waitsFor: config.hosts.map((h) => h.name).filter((h) => hosts.has(h)),
      floatingIpPool: config.servers[i].floatingIpPool,
      userData: userData.get(flavor.name)!,
    };
  });
  return { image: image.source, servers };
}

export class RtCloud extends pulumi.ComponentResource {
  readonly aggregate: RtAggregate;
  readonly flavors: Map<string, RtFlavor>;
  readonly image: RtImage;
  readonly securityGroup: RtSecurityGroup;
  readonly keypair: RtKeypair;
  readonly servers: Map<string, RtServer>;
  /** The stack outputs of the cloud objects (lib/outputs.ts). */
  readonly outputs: Outputs<CloudOutputs>;

  constructor(name: string, args: RtCloudArgs, opts?: pulumi.ComponentResourceOptions) {
    const { config, plan } = args;
    const decided = decideCloud(config, plan, args.projectDir ?? process.cwd());
    super("openstack-rt:cloud:RtCloud", name, {}, opts);
    const parent = { parent: this };

    this.aggregate = new RtAggregate(
      name,
      {
        name: config.aggregate.name,
        hosts: config.hosts.map((h) => args.hostReadiness?.[h.name]?.aggregateHost ?? h.name),
        zone: config.aggregate.zone,
        metadata: config.aggregate.metadata,
      },
      parent,
    );
    // A private flavor is opened to the project the servers are booted in: the one these credentials act in.
    const projectId = plan.flavors.some((f) => !f.isPublic) ? openstack.identity.getAuthScopeOutput({ name: "current" }, parent).projectId : undefined;
    this.flavors = new Map(plan.flavors.map((f) => [f.name, new RtFlavor(`${name}-${f.name}`, { plan: f, accessProjectId: projectId }, parent)]));
    const img = config.image;
    this.image = new RtImage(
      name,
      { name: img.name, source: decided.image, diskFormat: img.diskFormat, containerFormat: img.containerFormat, properties: img.properties },
      parent,
    );
    this.securityGroup = new RtSecurityGroup(name, config.securityGroup, parent);
    this.keypair = new RtKeypair(name, config.keypair, parent);

    this.servers = new Map(
      decided.servers.map((s) => {
        const server = new RtServer(
          `${name}-${s.name}`,
          {
            name: s.name,
            flavor: s.flavor,
            flavorId: this.flavors.get(s.flavor)!.flavor.id,
            imageId: this.image.image.id,
            keyPair: this.keypair.keypair.name,
            securityGroups: [this.securityGroup.group.name],
            network: config.network.name,
            availabilityZone: s.availabilityZone,
            host: s.host,
            userData: s.userData,
            floatingIpPool: s.floatingIpPool,
            loginUser: img.loginUser,
            // The scheduler needs the aggregate's hosts and metadata; SSH needs the rules.
            dependsOn: [this.aggregate, this.securityGroup, ...s.waitsFor.flatMap((h) => args.hostReadiness?.[h]?.resources ?? [])],
          },
          parent,
        );
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
