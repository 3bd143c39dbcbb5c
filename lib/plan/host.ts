/**
 * Per-host plan: which CPUs keep the host running (housekeeping), which are isolated for
 * guests, and the TuneD, kernel, hugepage and nova-compute settings that follow from that.
 * The CPU split is decided in housekeeping.ts, the huge pages in hugepages.ts.
 */
import { kernelParamName } from "./kernel-param";
import type { PowerPlan } from "./latency-mode";
import { latencyModeKernelArgs, powerPlan, powerProblems, REALTIME_PROFILE_PSTATE_ARG } from "./latency-mode";
import type { HostConfig, NovaOwnerConfig } from "../config/schema";
import { difference, formatCpuList, union } from "../cpu/cpuset";
import type { Problem } from "../config/problems";
import type { Topology } from "../cpu/topology";
import { threadSiblingGroups } from "../cpu/topology";
import { explicitHousekeeping, pickHousekeeping } from "./housekeeping";
import type { StalldPlan } from "./stalld";
import { stalldPlan, stalldProblems } from "./stalld";
import type { HugepagePlan } from "./hugepages";
import {
  hostMemoryProblems,
  hugepageKernelArgs,
  hugepagePlan,
  idleNodePageProblems,
  nodePages,
  novaReservedHugePages,
  pageCounts,
  pageFitProblems,
} from "./hugepages";

export interface NodePlan {
  id: number;
  cpus: string;
  /** The node's SMT thread groups (cores of more than one thread) as declared: what the host check compares with the host. */
  threadSiblings: string[];
  memoryMb: number;
  housekeeping: string;
  isolated: string;
  /** CPUs Nova pins guest vCPUs to: `cpu_dedicated_set` on this node. */
  dedicated: string;
  /** CPUs Nova floats emulator threads and unpinned vCPUs on: `cpu_shared_set` on this node. */
  shared: string;
  hugepages1g: number;
  reservedHugepages1g: number;
  hugepages2m: number;
  reservedHugepages2m: number;
}

export interface HostPlan {
  name: string;
  os: HostConfig["os"];
  smt: boolean;
  nodes: NodePlan[];
  housekeeping: string;
  isolated: string;
  /** cpu-partitioning: a pinned-only host without the RT kernel (`tunedProfile`). */
  tuned: { profile: "realtime-virtual-host" | "cpu-partitioning"; isolatedCores: string };
  kernel: {
    /** Arguments this project adds to the bootloader's command line. */
    args: string[];
    /** Arguments TuneD's realtime-virtual-host profile adds for these isolated cores. */
    tunedArgs: string[];
  };
  hugepages: HugepagePlan;
  /** latencyMode and Nova's CPU power management (latency-mode.ts). */
  power: PowerPlan;
  /** stalld and kernel.sched_rt_runtime_us (stalld.ts). */
  stalld: StalldPlan;
  nova: {
    cpuDedicatedSet: string;
    cpuSharedSet: string | null;
    reservedHostMemoryMb: number;
    /** `[DEFAULT] reserved_huge_pages` entries. */
    reservedHugePages: string[];
    /**
     * Who owns nova-compute's config, when the stack or host says (`nova:`); absent means
     * `edit` of /etc/nova/nova.conf with the distribution's nova-compute service restarted.
     */
    owner?: NovaOwner;
  };
}

/** The default config file host prep edits, and the check reads, when `nova.configPath` is not set. */
export const DEFAULT_NOVA_CONF = "/etc/nova/nova.conf";

export interface NovaOwner {
  mode: "edit" | "verify";
  configPath: string;
  /** Run instead of restarting the distribution's nova-compute service (edit mode only). */
  restartCommand?: string;
}

/**
 * The stack's `nova` settings overridden key by key by a host's or controller's own; undefined
 * when neither sets a key, so `nova: {}` (Pulumi.yaml's default, which the CLI always passes)
 * plans exactly as no `nova` at all.
 */
export function mergedNovaOwner(
  stack: NovaOwnerConfig | undefined,
  own: NovaOwnerConfig | undefined,
): NovaOwnerConfig | undefined {
  const merged = { ...stack, ...own };
  return Object.values(merged).some((v) => v !== undefined) ? merged : undefined;
}

export function novaOwner(nova: NovaOwnerConfig | undefined): NovaOwner | undefined {
  // cpuPowerManagement alone says nothing about who owns the file.
  if (nova === undefined || [nova.configMode, nova.configPath, nova.restartCommand].every((v) => v === undefined))
    return undefined;
  return {
    mode: nova.configMode ?? "edit",
    configPath: nova.configPath ?? DEFAULT_NOVA_CONF,
    ...(nova.restartCommand === undefined ? {} : { restartCommand: nova.restartCommand }),
  };
}

/** Kernel arguments the plan or TuneD's profile set: extraKernelArgs may not set them as well. */
const OWNED_KERNEL_ARGS: Record<string, string> = {
  default_hugepagesz: "hugepages1gPerNode and hugepages2mPerNode",
  hugepagesz: "hugepages1gPerNode and hugepages2mPerNode",
  hugepages: "hugepages1gPerNode and hugepages2mPerNode",
  isolcpus: "housekeepingCpusPerNode, housekeepingCpus or isolatedCpus (TuneD sets it)",
  nohz: "the TuneD profile",
  nohz_full: "housekeepingCpusPerNode, housekeepingCpus or isolatedCpus (TuneD sets it)",
  rcu_nocbs: "housekeepingCpusPerNode, housekeepingCpus or isolatedCpus (TuneD sets it)",
  irqaffinity: "housekeepingCpusPerNode, housekeepingCpus or isolatedCpus (TuneD sets it)",
};

function extraKernelArgProblems(host: HostConfig, path: string): Problem[] {
  const problems: Problem[] = [];
  const seen = new Set<string>();
  host.extraKernelArgs.forEach((arg, i) => {
    const key = kernelParamName(arg);
    const where = `${path}.extraKernelArgs[${i}]`;
    if (key in OWNED_KERNEL_ARGS)
      problems.push({
        path: where,
        message: `got "${arg}", but the plan sets ${key} itself (from ${OWNED_KERNEL_ARGS[key]}; the kernel reads - and _ in a name alike); remove it here and change that setting instead`,
      });
    else if (seen.has(key))
      problems.push({
        path: where,
        message: `got "${arg}", a second ${key}; give each key once (the kernel would take the last one)`,
      });
    seen.add(key);
  });
  return problems;
}

export function planHost(
  host: HostConfig,
  topology: Topology,
  path: string,
): { plan: HostPlan | null; problems: Problem[] } {
  const { counts, problems } = pageCounts(host, topology, path);
  if (problems.length > 0) return { plan: null, problems };
  const explicit = explicitHousekeeping(host, topology, path);
  problems.push(...explicit.problems);
  const housekeepingByNode = topology.nodes.map((node, i) =>
    explicit.perNode ? explicit.perNode[i] : pickHousekeeping(node.cores, host.housekeepingCpusPerNode),
  );
  const nodes = topology.nodes.map((node, i): NodePlan => {
    const housekeeping = formatCpuList(housekeepingByNode[i]);
    const isolated = formatCpuList(difference(node.cpus, housekeepingByNode[i]));
    return {
      id: node.id,
      cpus: formatCpuList(node.cpus),
      threadSiblings: threadSiblingGroups(node.cores),
      memoryMb: node.memoryMb,
      housekeeping,
      isolated,
      dedicated: isolated,
      shared: host.cpuSharedSet === "housekeeping" ? housekeeping : "",
      ...nodePages(host, counts, i),
    };
  });
  problems.push(...pageFitProblems(host, topology, counts, path));
  const housekeeping = union(...housekeepingByNode);
  const isolated = difference(union(...topology.nodes.map((n) => n.cpus)), housekeeping);
  if (isolated.length === 0 && explicit.problems.length === 0) {
    problems.push({
      path: `${path}.housekeepingCpusPerNode`,
      message: `got ${host.housekeepingCpusPerNode}, which leaves no CPU of the host (${formatCpuList(housekeeping)}) for RT guests; lower it so each node keeps CPUs to isolate`,
    });
  }
  if (isolated.length > 0) problems.push(...idleNodePageProblems(nodes, counts, path));
  problems.push(...hostMemoryProblems(host, topology, counts, path));
  problems.push(...extraKernelArgProblems(host, path));
  problems.push(...powerProblems(host, path));
  problems.push(...stalldProblems(host, path));
  if (problems.length > 0) return { plan: null, problems };

  const iso = formatCpuList(isolated);
  const hk = formatCpuList(housekeeping);
  const hugepages = hugepagePlan(host, topology, counts);
  const args = [...hugepageKernelArgs(hugepages), ...latencyModeKernelArgs(host.latencyMode), ...host.extraKernelArgs];
  return {
    problems,
    plan: {
      name: host.name,
      os: host.os,
      smt: topology.smt,
      nodes,
      housekeeping: hk,
      isolated: iso,
      tuned: { profile: host.tunedProfile, isolatedCores: iso },
      kernel: {
        args,
        // cpu-partitioning keeps the scheduler off the isolated CPUs with systemd's CPUAffinity
        // instead of isolcpus, and sets no irqaffinity (irqbalance's banned CPUs instead).
        tunedArgs:
          host.tunedProfile === "cpu-partitioning"
            ? ["nohz=on", `nohz_full=${iso}`, `rcu_nocbs=${iso}`]
            : [
                `isolcpus=${iso}`,
                "nohz=on",
                `nohz_full=${iso}`,
                `rcu_nocbs=${iso}`,
                `irqaffinity=${hk}`,
                REALTIME_PROFILE_PSTATE_ARG,
              ],
      },
      hugepages,
      power: powerPlan(host.latencyMode, host.nova?.cpuPowerManagement),
      stalld: stalldPlan(host, iso),
      nova: {
        cpuDedicatedSet: iso,
        cpuSharedSet: host.cpuSharedSet === "housekeeping" ? hk : null,
        reservedHostMemoryMb: host.reservedHostMemoryMb,
        reservedHugePages: novaReservedHugePages(host, topology),
        ...(host.nova === undefined ? {} : { owner: novaOwner(host.nova) }),
      },
    },
  };
}
