/**
 * openstack-rt: config -> plan -> resources. The plan is decided by pure functions (lib/) before
 * any resource is registered, so a bad config fails `pulumi preview` with every problem listed.
 */
import * as pulumi from "@pulumi/pulumi";
import { isPlannedHost } from "./lib/plan";
import { planFromPulumiConfig } from "./lib/pulumi-config";

const { plan } = planFromPulumiConfig(new pulumi.Config());

/** Each RT host's plan: CPU map per NUMA node, TuneD, kernel arguments, hugepages, nova-compute settings. */
export const hostPlans = plan.hosts.filter(isPlannedHost);
/** Flavors with their complete extra specs, guest RT vCPUs and capacity per host. */
export const flavorPlans = plan.flavors;
/** Servers and the hosts Nova can place them on. */
export const serverPlans = plan.servers;
