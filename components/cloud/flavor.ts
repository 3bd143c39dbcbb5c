/**
 * One RT flavor: the planner's vCPUs, memory, disk and complete extra specs (CPU policy,
 * realtime mask, page size, NUMA nodes, PMU and the scoped aggregate keys). A private flavor is
 * opened to the project that boots the servers.
 */
import * as openstack from "@pulumi/openstack";
import * as pulumi from "@pulumi/pulumi";
import type { FlavorOutput } from "../../lib/render/outputs";
import type { FlavorPlan } from "../../lib/plan/stack";
import { flavorRevisionName } from "../../lib/desired/rollout";

export interface RtFlavorArgs {
  plan: FlavorPlan;
  /** The project given access to a private flavor (compute.FlavorAccess); required for one. */
  accessProjectId?: pulumi.Input<string>;
  /** deployment.protect: a superseded or removed revision stays in Nova for the stacks that use it. */
  protect?: boolean;
}

export class RtFlavor extends pulumi.ComponentResource {
  readonly flavor: openstack.compute.Flavor;
  readonly output: pulumi.Output<FlavorOutput>;
  /** The flavor's name in Nova: the configured name and its revision. */
  readonly novaName: string;

  constructor(name: string, args: RtFlavorArgs, opts?: pulumi.ComponentResourceOptions) {
    // The module was "flavors" until the type token took its file's name; the alias keeps the
    // flavors (and, through it, their children) of existing stacks.
    super(
      "openstack-rt:flavor:RtFlavor",
      name,
      {},
      {
        ...opts,
        aliases: [...(opts?.aliases ?? []), { type: "openstack-rt:flavors:RtFlavor" }],
      },
    );
    const p = args.plan;
    this.novaName = flavorRevisionName(p);
    this.flavor = new openstack.compute.Flavor(
      `${name}-flavor`,
      {
        name: this.novaName,
        vcpus: p.vcpus,
        ram: p.ramMb,
        disk: p.diskGb,
        isPublic: p.isPublic,
        extraSpecs: p.extraSpecs,
      },
      // Every change is a new revision with its own name (lib/desired/rollout.ts flavorRevisionName),
      // so the new flavor is created next to the old one, the servers move to it one at a time,
      // and the old one is deleted last, when no server of this stack uses it any more; with
      // deployment.protect it stays in Nova instead, for whatever else uses it.
      {
        parent: this,
        replaceOnChanges: ["name"],
        retainOnDelete: args.protect ?? false,
      },
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
