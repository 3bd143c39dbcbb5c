/**
 * One RT flavor: the planner's vCPUs, memory, disk and complete extra specs (CPU policy,
 * realtime mask, page size, NUMA nodes, PMU and the scoped aggregate keys). A private flavor is
 * opened to the project that boots the servers.
 */
import * as openstack from "@pulumi/openstack";
import * as pulumi from "@pulumi/pulumi";
import type { FlavorOutput } from "../lib/outputs";
import type { FlavorPlan } from "../lib/plan";

export interface RtFlavorArgs {
  plan: FlavorPlan;
  /** The project given access to a private flavor (compute.FlavorAccess); required for one. */
  accessProjectId?: pulumi.Input<string>;
}

export class RtFlavor extends pulumi.ComponentResource {
  readonly flavor: openstack.compute.Flavor;
  readonly output: pulumi.Output<FlavorOutput>;

  constructor(name: string, args: RtFlavorArgs, opts?: pulumi.ComponentResourceOptions) {
    super("openstack-rt:flavors:RtFlavor", name, {}, opts);
    const p = args.plan;
    this.flavor = new openstack.compute.Flavor(
      `${name}-flavor`,
      { name: p.name, vcpus: p.vcpus, ram: p.ramMb, disk: p.diskGb, isPublic: p.isPublic, extraSpecs: p.extraSpecs },
      // Extra specs update in place; any other change replaces the flavor, and Nova refuses a
      // second flavor of the same name, so the old one goes first. Servers keep the copy of the
      // flavor they were booted with (their user data carries the plan, so they are rebuilt).
      { parent: this, deleteBeforeReplace: true },
    );
    if (!p.isPublic) {
      if (args.accessProjectId === undefined)
        throw new Error(`private flavor ${p.name} needs the project to open it to`);
      new openstack.compute.FlavorAccess(
        `${name}-access`,
        { flavorId: this.flavor.id, tenantId: args.accessProjectId },
        { parent: this },
      );
    }
    const f = this.flavor;
    this.output = pulumi.all([f.id, f.extraSpecs]).apply(([id, extraSpecs]): FlavorOutput => ({
      id,
      name: p.name,
      vcpus: p.vcpus,
      ramMb: p.ramMb,
      diskGb: p.diskGb,
      isPublic: p.isPublic,
      extraSpecs,
      realtimeVcpus: p.guest.realtimeVcpus,
      housekeepingVcpus: p.guest.housekeepingVcpus,
    }));
    this.registerOutputs({ output: this.output });
  }
}
