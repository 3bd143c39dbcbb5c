/**
 * A host's huge pages: 1 GiB and 2 MiB pages per NUMA node, checked against each node's memory,
 * and how the kernel gets them (per-node counts on the command line, or a boot unit).
 */
import type { HostConfig } from "../config/schema";
import type { Problem } from "../config/problems";
import type { Topology } from "../cpu/topology";

export type HugepageMethod = "cmdline" | "boot-unit";
export type HugepageSizeName = "1G" | "2M";

/** One huge page size the host reserves: per-node counts, as the kernel and Nova see them. */
export interface HugepageSizePlan {
  name: HugepageSizeName;
  sizeKb: number;
  perNode: { node: number; count: number }[];
}

export interface HugepagePlan {
  method: HugepageMethod;
  /** `default_hugepagesz`: the size systemd mounts at /dev/hugepages; null without huge pages. */
  defaultSize: HugepageSizeName | null;
  /** 1 GiB always (its counts are checked even when all 0), 2 MiB when the host has any. Largest first. */
  sizes: HugepageSizePlan[];
  /**
   * Sizes besides the default that need a hugetlbfs mount of their own (/dev/hugepages2M):
   * libvirt backs guests only with page sizes it finds mounted when it starts.
   */
  extraMounts: HugepageSizeName[];
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

/** How each size reads in messages and reports. */
export const SIZE_LABEL: Record<HugepageSizeName, string> = { "1G": "1 GiB", "2M": "2 MiB" };

/** The kernel arguments that come in pairs, one pair per page size: `hugepages=` counts the `hugepagesz=` before it. */
export const HUGEPAGE_PAIR_KEYS: readonly string[] = ["hugepagesz", "hugepages"];

/** The config keys of each size's per-node counts and reserved pages, and the size itself. */
const SIZE_KEYS = {
  "1G": {
    count: "hugepages1gPerNode",
    reserved: "reservedHugepages1gPerNode",
    label: SIZE_LABEL["1G"],
    mb: 1024,
    kb: 1048576,
  },
  "2M": {
    count: "hugepages2mPerNode",
    reserved: "reservedHugepages2mPerNode",
    label: SIZE_LABEL["2M"],
    mb: 2,
    kb: 2048,
  },
} as const;
const SIZE_NAMES = ["1G", "2M"] as const;

function hugepagesPerNode(host: HostConfig, nodeCount: number, size: HugepageSizeName): number[] {
  const v = host[SIZE_KEYS[size].count];
  return typeof v === "number" ? Array<number>(nodeCount).fill(v) : v;
}

export type PageCounts = Record<HugepageSizeName, number[]>;

/** Each size's count per node, in node order; a list of the wrong length is a problem. */
export function pageCounts(
  host: HostConfig,
  topology: Topology,
  path: string,
): { counts: PageCounts; problems: Problem[] } {
  const problems: Problem[] = [];
  const counts: PageCounts = { "1G": [], "2M": [] };
  for (const size of SIZE_NAMES) {
    counts[size] = hugepagesPerNode(host, topology.nodes.length, size);
    if (counts[size].length !== topology.nodes.length)
      problems.push({
        path: `${path}.${SIZE_KEYS[size].count}`,
        message: `got ${counts[size].length} counts for ${topology.nodes.length} NUMA nodes; give one count per node (node order ${topology.nodes.map((n) => n.id).join(",")}) or a single number for all`,
      });
  }
  return { counts, problems };
}

const hugeMbOf = (counts: PageCounts, i: number) =>
  SIZE_NAMES.reduce((mb, s) => mb + counts[s][i] * SIZE_KEYS[s].mb, 0);

/** The node plan's page fields. */
export function nodePages(host: HostConfig, counts: PageCounts, i: number) {
  return {
    hugepages1g: counts["1G"][i],
    reservedHugepages1g: host.reservedHugepages1gPerNode,
    hugepages2m: counts["2M"][i],
    reservedHugepages2m: host.reservedHugepages2mPerNode,
  };
}

/** Per node: both sizes fit beside the small pages the host keeps, and no more are reserved than there are. */
export function pageFitProblems(host: HostConfig, topology: Topology, counts: PageCounts, path: string): Problem[] {
  const problems: Problem[] = [];
  const pages = counts["1G"];
  const pages2m = counts["2M"];
  topology.nodes.forEach((node, i) => {
    const roomMb = node.memoryMb - MIN_SMALL_PAGE_MB_PER_NODE;
    if (hugeMbOf(counts, i) > roomMb) {
      problems.push(
        pages2m[i] === 0
          ? {
              path: `${path}.hugepages1gPerNode`,
              message: `got ${pages[i]} pages of 1 GiB on NUMA node ${node.id}, which has ${node.memoryMb} MiB; at most ${Math.max(0, Math.floor(roomMb / 1024))} fit while ${MIN_SMALL_PAGE_MB_PER_NODE} MiB stay in small pages for the host`,
            }
          : {
              path: `${path}.hugepages2mPerNode`,
              message: `got ${pages2m[i]} pages of 2 MiB beside ${pages[i]} of 1 GiB on NUMA node ${node.id} (${hugeMbOf(counts, i)} MiB), which has ${node.memoryMb} MiB; at most ${Math.max(0, Math.floor((roomMb - pages[i] * 1024) / 2))} pages of 2 MiB fit beside them while ${MIN_SMALL_PAGE_MB_PER_NODE} MiB stay in small pages for the host`,
            },
      );
    }
    for (const size of SIZE_NAMES) {
      const reserved = host[SIZE_KEYS[size].reserved];
      const have = counts[size][i];
      if (reserved > have)
        problems.push({
          path: `${path}.${SIZE_KEYS[size].reserved}`,
          message: `got ${reserved}, more than the ${have} pages of ${SIZE_KEYS[size].label} node ${node.id} gets; reserve at most ${SIZE_KEYS[size].count}`,
        });
    }
  });
  return problems;
}

/**
 * Pinned guests take their memory from the NUMA nodes of their dedicated CPUs: huge pages on a
 * node without any would be taken from the host and never used. A problem rather than a silent
 * zero, so that the plan never differs from what the config says.
 */
export function idleNodePageProblems(
  nodes: readonly { id: number; cpus: string; isolated: string }[],
  counts: PageCounts,
  path: string,
): Problem[] {
  return nodes.flatMap((n, i) =>
    n.isolated !== ""
      ? []
      : SIZE_NAMES.filter((size) => counts[size][i] > 0).map((size) => {
          const c = counts[size];
          const fixed = nodes.map((_, j) => (j === i ? 0 : c[j]));
          return {
            path: `${path}.${SIZE_KEYS[size].count}`,
            message:
              `got ${c[i]} pages of ${SIZE_KEYS[size].label} on NUMA node ${n.id}, whose CPUs (${n.cpus}) are all housekeeping: no pinned guest runs there to use them; ` +
              `give that node 0 pages (${SIZE_KEYS[size].count}: [${fixed.join(", ")}]) or lower housekeepingCpusPerNode`,
          };
        }),
  );
}

/** reserved_host_memory_mb must leave something of the small pages the huge pages leave. */
export function hostMemoryProblems(host: HostConfig, topology: Topology, counts: PageCounts, path: string): Problem[] {
  const totalMb = topology.nodes.reduce((s, n) => s + n.memoryMb, 0);
  const hugeMb = topology.nodes.reduce((s, _, i) => s + hugeMbOf(counts, i), 0);
  if (host.reservedHostMemoryMb < totalMb - hugeMb) return [];
  return [
    {
      path: `${path}.reservedHostMemoryMb`,
      message: `got ${host.reservedHostMemoryMb}, but only ${totalMb - hugeMb} MiB are left in small pages after ${hugeMb} MiB of huge pages; lower it or the hugepage counts`,
    },
  ];
}

/** `[DEFAULT] reserved_huge_pages`: Nova reads the size with oslo's string_to_bytes, "1GB" and "2MB". */
export function novaReservedHugePages(host: HostConfig, topology: Topology): string[] {
  return SIZE_NAMES.flatMap((size) => {
    const reserved = host[SIZE_KEYS[size].reserved];
    return reserved > 0 ? topology.nodes.map((n) => `node:${n.id},size:${size}B,count:${reserved}`) : [];
  });
}

export function hugepagePlan(host: HostConfig, topology: Topology, counts: PageCounts): HugepagePlan {
  const method: HugepageMethod =
    host.hugepagesMethod === "auto"
      ? KERNEL_TAKES_PER_NODE_HUGEPAGES[host.os]
        ? "cmdline"
        : "boot-unit"
      : host.hugepagesMethod;
  const has = (size: HugepageSizeName) => counts[size].some((c) => c > 0);
  const sizes = SIZE_NAMES.filter((size) => size === "1G" || has(size)).map((size) => ({
    name: size,
    sizeKb: SIZE_KEYS[size].kb,
    perNode: topology.nodes.map((n, i) => ({ node: n.id, count: counts[size][i] })),
  }));
  // The RT guests' size is the default: it is what /dev/hugepages serves.
  const defaultSize = SIZE_NAMES.find(has) ?? null;
  return { method, defaultSize, sizes, extraMounts: SIZE_NAMES.filter((s) => has(s) && s !== defaultSize) };
}

/**
 * The command line for the plan's pages: default_hugepagesz, then for each size with pages its
 * hugepagesz and, when the kernel takes per-node counts, `hugepages=` right after it: that
 * count belongs to the hugepagesz before it.
 */
export function hugepageKernelArgs(plan: HugepagePlan): string[] {
  if (plan.defaultSize === null) return [];
  const args = [`default_hugepagesz=${plan.defaultSize}`];
  for (const size of plan.sizes) {
    if (size.perNode.every((n) => n.count === 0)) continue;
    const perNode = `hugepages=${size.perNode.map((n) => `${n.node}:${n.count}`).join(",")}`;
    // Kernels before 5.7 (RHEL 8's 4.18) register no 2 MiB pool once the default is 1 GiB
    // unless hugepagesz=2M names it, so the boot unit's sizes are named as well.
    args.push(`hugepagesz=${size.name}`);
    if (plan.method === "cmdline") args.push(perNode);
  }
  return args;
}
