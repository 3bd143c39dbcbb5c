/**
 * The host aggregate of the RT hosts. Its metadata is what the flavors' scoped
 * `aggregate_instance_extra_specs:<key>` extra specs match (AggregateInstanceExtraSpecsFilter),
 * so RT flavors land on these hosts only; its zone, when set, is where the servers ask to go.
 */
import * as openstack from "@pulumi/openstack";
import * as pulumi from "@pulumi/pulumi";
import type { AggregateOutput } from "../../lib/render/outputs";

export interface RtAggregateArgs {
  /** The aggregate's name in Nova. */
  name: string;
  /**
   * nova-compute service host names (`openstack compute service list`), which can differ from
   * the hypervisor FQDNs: a wrong name is a 404 from the API. An Output here (a host's name
   * once it is prepared) makes the host join only then.
   */
  hosts: pulumi.Input<string>[];
  /** Availability zone the aggregate forms; none keeps the hosts in Nova's default zone. */
  zone?: string;
  metadata: Record<string, string>;
  /** deployment.protect: the aggregate other stacks schedule into cannot be deleted by this one. */
  protect?: boolean;
  /** What the aggregate waits for (the scheduler steps, RtCloudArgs.schedulers). */
  dependsOn?: pulumi.Resource[];
}

export class RtAggregate extends pulumi.ComponentResource {
  readonly aggregate: openstack.compute.AggregateV2;
  readonly output: pulumi.Output<AggregateOutput>;

  constructor(name: string, args: RtAggregateArgs, opts?: pulumi.ComponentResourceOptions) {
    super("openstack-rt:aggregate:RtAggregate", name, {}, opts);
    this.aggregate = new openstack.compute.AggregateV2(
      `${name}-aggregate`,
      { name: args.name, hosts: args.hosts, zone: args.zone, metadata: args.metadata },
      // Hosts and metadata update in place, so protection blocks only a destroy or a removal.
      { parent: this, protect: args.protect ?? false, dependsOn: args.dependsOn },
    );
    const a = this.aggregate;
    this.output = pulumi
      .all([a.id, a.name, a.hosts, a.zone, a.metadata])
      .apply(([id, aggName, hosts, zone, metadata]): AggregateOutput => ({
        id,
        name: aggName,
        hosts: hosts ?? [],
        zone: zone || null,
        metadata: metadata ?? {},
      }));
    this.registerOutputs({ output: this.output });
  }
}
