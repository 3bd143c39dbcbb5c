/**
 * Per-host plan: which CPUs keep the host running (housekeeping), which are isolated for
 * guests, and the TuneD, kernel, hugepage and nova-compute settings that follow from that.
 */
import type { HostConfig } from "./config";
import type { CpuSet } from "./cpuset";
import { difference, formatCpuList, union } from "./cpuset";
import type { Problem } from "./problems";
import type { Topology } from "./topology";
import { threadSiblingGroups } from "./topology";

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
}

export type HugepageMethod = "cmdline" | "boot-unit";

export interface HostPlan {
  name: string;
  os: HostConfig["os"];
  smt: boolean;
  nodes: NodePlan[];
  housekeeping: string;
  isolated: string;
  tuned: { profile: "realtime-virtual-host"; isolatedCores: string };
  kernel: {
    /** Arguments this project adds to the bootloader's command line. */
    args: string[];
    /** Arguments TuneD's realtime-virtual-host profile adds for these isolated cores. */
    tunedArgs: string[];
  };
  hugepages: { sizeKb: 1048576; method: HugepageMethod; perNode: { node: number; count: number }[] };
  nova: {
    cpuDedicatedSet: string;
    cpuSharedSet: string | null;
    reservedHostMemoryMb: number;
    /** `[DEFAULT] reserved_huge_pages` entries. */
    reservedHugePages: string[];
  };
}

/** Kernels older than 5.16 do not take per-node counts (`hugepages=0:4,1:4`) on the command line. */
const KERNEL_TAKES_PER_NODE_HUGEPAGES: Record<HostConfig["os"], boolean> = {
  "debian-12": true, // 6.1
  "ubuntu-24.04": true, // 6.8
  "ubuntu-22.04": false, // 5.15
  "rhel-9": false, // 5.14
  "rhel-8": false, // 4.18
};

/** Memory a node keeps in small pages for the kernel and host processes, whatever the config says. */
export const MIN_SMALL_PAGE_MB_PER_NODE = 1024;

/** Takes whole cores, lowest CPU ids first, until `want` CPUs are housekeeping (SMT siblings stay together). */
export function pickHousekeeping(cores: readonly CpuSet[], want: number): CpuSet {
  const picked: number[] = [];
  for (const core of cores) {
    if (picked.length >= want) break;
    picked.push(...core);
  }
  return union(picked);
}

export function hugepagesPerNode(host: HostConfig, nodeCount: number): number[] {
  const v = host.hugepages1gPerNode;
  return typeof v === "number" ? Array<number>(nodeCount).fill(v) : v;
}

export function planHost(
  host: HostConfig,
  topology: Topology,
  path: string,
): { plan: HostPlan | null; problems: Problem[] } {
  const problems: Problem[] = [];
  const pages = hugepagesPerNode(host, topology.nodes.length);
  if (pages.length !== topology.nodes.length) {
    problems.push({
      path: `${path}.hugepages1gPerNode`,
      message: `got ${pages.length} counts for ${topology.nodes.length} NUMA nodes; give one count per node (node order ${topology.nodes.map((n) => n.id).join(",")}) or a single number for all`,
    });
    return { plan: null, problems };
  }
  const nodes = topology.nodes.map((node, i): NodePlan => {
    const housekeeping = pickHousekeeping(node.cores, host.housekeepingCpusPerNode);
    const isolated = difference(node.cpus, housekeeping);
    const hugepageMb = pages[i] * 1024;
    if (hugepageMb + MIN_SMALL_PAGE_MB_PER_NODE > node.memoryMb) {
      problems.push({
        path: `${path}.hugepages1gPerNode`,
        message: `got ${pages[i]} pages of 1 GiB on NUMA node ${node.id}, which has ${node.memoryMb} MiB; at most ${Math.max(0, Math.floor((node.memoryMb - MIN_SMALL_PAGE_MB_PER_NODE) / 1024))} fit while ${MIN_SMALL_PAGE_MB_PER_NODE} MiB stay in small pages for the host`,
      });
    }
    if (host.reservedHugepages1gPerNode > pages[i]) {
      problems.push({
        path: `${path}.reservedHugepages1gPerNode`,
        message: `got ${host.reservedHugepages1gPerNode}, more than the ${pages[i]} pages node ${node.id} gets; reserve at most hugepages1gPerNode`,
      });
    }
    return {
      id: node.id,
      cpus: formatCpuList(node.cpus),
      threadSiblings: threadSiblingGroups(node.cores),
      memoryMb: node.memoryMb,
      housekeeping: formatCpuList(housekeeping),
      isolated: formatCpuList(isolated),
      dedicated: formatCpuList(isolated),
      shared: host.cpuSharedSet === "housekeeping" ? formatCpuList(housekeeping) : "",
      hugepages1g: pages[i],
      reservedHugepages1g: host.reservedHugepages1gPerNode,
    };
  });
  const housekeeping = union(...topology.nodes.map((n) => pickHousekeeping(n.cores, host.housekeepingCpusPerNode)));
  const isolated = difference(union(...topology.nodes.map((n) => n.cpus)), housekeeping);
  if (isolated.length === 0) {
    problems.push({
      path: `${path}.housekeepingCpusPerNode`,
      message: `got ${host.housekeepingCpusPerNode}, which leaves no CPU of the host (${formatCpuList(housekeeping)}) for RT guests; lower it so each node keeps CPUs to isolate`,
    });
  }
  // Pinned guests take their memory from the NUMA nodes of their dedicated CPUs: 1 GiB pages on
  // a node without any would be taken from the host and never used. A problem rather than a
  // silent zero, so that the plan never differs from what the config says.
  if (isolated.length > 0) {
    nodes.forEach((n, i) => {
      if (n.isolated !== "" || pages[i] === 0) return;
      const fixed = topology.nodes.map((_, j) => (j === i ? 0 : pages[j]));
      problems.push({
        path: `${path}.hugepages1gPerNode`,
        message:
          `got ${pages[i]} pages of 1 GiB on NUMA node ${n.id}, whose CPUs (${n.cpus}) are all housekeeping: no pinned guest runs there to use them; ` +
          `give that node 0 pages (hugepages1gPerNode: [${fixed.join(", ")}]) or lower housekeepingCpusPerNode`,
      });
    });
  }
  const totalMb = topology.nodes.reduce((s, n) => s + n.memoryMb, 0);
  const hugeMb = pages.reduce((s, p) => s + p * 1024, 0);
  if (host.reservedHostMemoryMb >= totalMb - hugeMb) {
    problems.push({
      path: `${path}.reservedHostMemoryMb`,
      message: `got ${host.reservedHostMemoryMb}, but only ${totalMb - hugeMb} MiB are left in small pages after ${hugeMb} MiB of 1 GiB pages; lower it or the hugepage counts`,
    });
  }
  if (problems.length > 0) return { plan: null, problems };

  const iso = formatCpuList(isolated);
  const hk = formatCpuList(housekeeping);
  const anyPages = pages.some((p) => p > 0);
  const method: HugepageMethod =
    host.hugepagesMethod === "auto"
      ? KERNEL_TAKES_PER_NODE_HUGEPAGES[host.os]
        ? "cmdline"
        : "boot-unit"
      : host.hugepagesMethod;
  const args = anyPages ? ["default_hugepagesz=1G", "hugepagesz=1G"] : [];
  if (anyPages && method === "cmdline") {
    args.push(`hugepages=${topology.nodes.map((n, i) => `${n.id}:${pages[i]}`).join(",")}`);
  }
  return {
    problems,
    plan: {
      name: host.name,
      os: host.os,
      smt: topology.smt,
      nodes,
      housekeeping: hk,
      isolated: iso,
      tuned: { profile: "realtime-virtual-host", isolatedCores: iso },
      kernel: {
        args,
        tunedArgs: [`isolcpus=${iso}`, "nohz=on", `nohz_full=${iso}`, `rcu_nocbs=${iso}`, `irqaffinity=${hk}`],
      },
      hugepages: { sizeKb: 1048576, method, perNode: topology.nodes.map((n, i) => ({ node: n.id, count: pages[i] })) },
      nova: {
        cpuDedicatedSet: iso,
        cpuSharedSet: host.cpuSharedSet === "housekeeping" ? hk : null,
        reservedHostMemoryMb: host.reservedHostMemoryMb,
        reservedHugePages:
          host.reservedHugepages1gPerNode > 0
            ? topology.nodes.map((n) => `node:${n.id},size:1GB,count:${host.reservedHugepages1gPerNode}`)
            : [],
      },
    },
  };
}
