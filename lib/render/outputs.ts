/**
 * The outputs of an openstack-rt stack, typed for the stacks that read them through a
 * `StackReference` (an application stack that boots more guests on the RT flavors, a monitoring
 * stack that scrapes the RT servers). The program exports exactly these names; docs/stack-outputs.md
 * shows a consumer.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { CheckResult } from "../checks/result";
import type { FlavorPlan, ServerPlan } from "../plan/stack";
import type { HostPlan } from "../plan/host";

export interface AggregateOutput {
  id: string;
  name: string;
  /** nova-compute service host names. */
  hosts: string[];
  /** The aggregate's availability zone, or null when it has none (hosts stay in Nova's default zone). */
  zone: string | null;
  metadata: Record<string, string>;
}

export interface FlavorOutput {
  id: string;
  name: string;
  vcpus: number;
  ramMb: number;
  diskGb: number;
  isPublic: boolean;
  /** The complete extra specs, as Nova holds them. */
  extraSpecs: Record<string, string>;
  /** Guest vCPUs that run RT work (the guest's TuneD isolated_cores); "" for a flavor without realtime. */
  realtimeVcpus: string;
  housekeepingVcpus: string;
}

export interface ImageOutput {
  id: string;
  name: string;
  /** sha256 of the uploaded local file; null for an image Glance fetched from a URL. */
  sha256: string | null;
}

export interface KeypairOutput {
  name: string;
  fingerprint: string;
}

export interface SecurityGroupOutput {
  id: string;
  name: string;
}

export interface ServerOutput {
  id: string;
  name: string;
  flavor: string;
  flavorId: string;
  /** The RT host the server is pinned to, or null when Nova places it within the aggregate. */
  host: string | null;
  /** The fixed IPv4 address Nova reports first. */
  accessIpV4: string;
  floatingIp: string | null;
  /** The image's default user: `ssh <loginUser>@<floatingIp ?? accessIpV4>` with the stack's keypair. */
  loginUser: string;
  /** The guest's SSH host key (planted through its user data): pin it, `<address> <hostKey>` in known_hosts. */
  hostKey: string;
}

/** The cloud objects' outputs (components/cloud/rt-cloud.ts). */
export interface CloudOutputs {
  aggregate: AggregateOutput;
  /** By flavor name. */
  flavors: Record<string, FlavorOutput>;
  image: ImageOutput;
  keypair: KeypairOutput;
  securityGroup: SecurityGroupOutput;
  /** By server name. */
  servers: Record<string, ServerOutput>;
}

/** One verification resource's verdict (components/*-verification.ts). */
export interface VerificationOutput {
  passed: boolean;
  results: CheckResult[];
}

/** Everything the program exports: the plan, the cloud objects and the verification results. */
export interface StackOutputs extends CloudOutputs {
  /** By host name, by server name: the host, domain and guest checks that ran. */
  verification: {
    hosts: Record<string, VerificationOutput>;
    domains: Record<string, VerificationOutput>;
    guests: Record<string, VerificationOutput>;
  };
  /** Each planned RT host: CPU map per NUMA node, TuneD, kernel arguments, hugepages, nova-compute settings. */
  hostPlans: HostPlan[];
  /** Each flavor's complete extra specs, guest RT vCPUs and capacity per host. */
  flavorPlans: FlavorPlan[];
  /** Each server and the hosts Nova can place it on. */
  serverPlans: ServerPlan[];
}

/** One Output per stack output. */
export type Outputs<T> = { [K in keyof T]: pulumi.Output<T[K]> };

// A record rather than a list, so that the compiler insists on every output name.
const OUTPUT_NAMES: Record<keyof StackOutputs, true> = {
  hostPlans: true,
  flavorPlans: true,
  serverPlans: true,
  aggregate: true,
  flavors: true,
  image: true,
  keypair: true,
  securityGroup: true,
  servers: true,
  verification: true,
};
export const STACK_OUTPUT_NAMES = Object.keys(OUTPUT_NAMES) as (keyof StackOutputs)[];

/**
 * Reads an openstack-rt stack's outputs, typed. `requireOutput` makes a missing output fail the
 * consumer's preview instead of yielding undefined later.
 */
export function readStackOutputs(ref: pulumi.StackReference): Outputs<StackOutputs> {
  return Object.fromEntries(
    STACK_OUTPUT_NAMES.map((name) => [name, ref.requireOutput(name)]),
  ) as unknown as Outputs<StackOutputs>;
}
