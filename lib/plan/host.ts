/**
 * Per-host plan: which CPUs keep the host running (housekeeping), which are isolated for
 * guests, and the TuneD, kernel, hugepage and nova-compute settings that follow from that.
 */
import type { HostConfig, NovaOwnerConfig } from "../config/schema";
import type { CpuSet } from "./cpuset";
import { difference, formatCpuList, intersection, parseCpuList, union } from "./cpuset";
import type { Problem } from "../config/problems";
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
  hugepages2m: number;
  reservedHugepages2m: number;
}

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

export function novaOwner(nova: NovaOwnerConfig | undefined): NovaOwner | undefined {
  if (nova === undefined) return undefined;
  return {
    mode: nova.configMode ?? "edit",
    configPath: nova.configPath ?? DEFAULT_NOVA_CONF,
    ...(nova.restartCommand === undefined ? {} : { restartCommand: nova.restartCommand }),
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

/** The config keys of each size's per-node counts and reserved pages, and how they read in messages. */
const SIZE_KEYS = {
  "1G": { count: "hugepages1gPerNode", reserved: "reservedHugepages1gPerNode", label: "1 GiB", mb: 1024, kb: 1048576 },
  "2M": { count: "hugepages2mPerNode", reserved: "reservedHugepages2mPerNode", label: "2 MiB", mb: 2, kb: 2048 },
} as const;
const SIZE_NAMES = ["1G", "2M"] as const;

export function hugepagesPerNode(host: HostConfig, nodeCount: number, size: HugepageSizeName = "1G"): number[] {
  const v = host[SIZE_KEYS[size].count];
  return typeof v === "number" ? Array<number>(nodeCount).fill(v) : v;
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
    const key = arg.split("=")[0];
    const where = `${path}.extraKernelArgs[${i}]`;
    if (key in OWNED_KERNEL_ARGS)
      problems.push({
        path: where,
        message: `got "${arg}", but the plan sets ${key} itself (from ${OWNED_KERNEL_ARGS[key]}); remove it here and change that setting instead`,
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

/**
 * `housekeepingCpus` or `isolatedCpus`: the housekeeping CPUs per node, or null when neither is
 * given (housekeepingCpusPerNode decides). Whole cores only (SMT siblings stay together), and
 * every node keeps at least one housekeeping core, as housekeepingCpusPerNode guarantees.
 */
function explicitHousekeeping(
  host: HostConfig,
  topology: Topology,
  path: string,
): { perNode: CpuSet[] | null; problems: Problem[] } {
  if (host.housekeepingCpus === undefined && host.isolatedCpus === undefined) return { perNode: null, problems: [] };
  const problems: Problem[] = [];
  const all = union(...topology.nodes.map((n) => n.cpus));
  const hkGiven = host.housekeepingCpus === undefined ? null : parseCpuList(host.housekeepingCpus);
  const isoGiven = host.isolatedCpus === undefined ? null : parseCpuList(host.isolatedCpus);
  const key = hkGiven ? "housekeepingCpus" : "isolatedCpus";
  for (const [name, set] of [
    ["housekeepingCpus", hkGiven],
    ["isolatedCpus", isoGiven],
  ] as const) {
    const unknown = set ? difference(set, all) : [];
    if (unknown.length)
      problems.push({
        path: `${path}.${name}`,
        message: `got "${formatCpuList(set!)}", but the host has no CPU ${formatCpuList(unknown)} (its CPUs: ${formatCpuList(all)}); name only the declared topology's CPUs`,
      });
  }
  const hk = hkGiven ?? difference(all, isoGiven!);
  const iso = isoGiven ?? difference(all, hkGiven!);
  if (hkGiven && isoGiven) {
    const both = intersection(hkGiven, isoGiven);
    const neither = difference(all, union(hkGiven, isoGiven));
    if (both.length || neither.length)
      problems.push({
        path: `${path}.isolatedCpus`,
        message:
          `housekeepingCpus "${host.housekeepingCpus}" and isolatedCpus "${host.isolatedCpus}" must split the host's CPUs (${formatCpuList(all)}) between them` +
          (both.length ? `; CPUs ${formatCpuList(both)} are in both` : "") +
          (neither.length ? `; CPUs ${formatCpuList(neither)} are in neither` : "") +
          "; give one of the two lists, the other is the rest",
      });
  }
  for (const node of topology.nodes) {
    for (const core of node.cores) {
      const inHk = intersection(core, hk);
      if (inHk.length > 0 && inHk.length < core.length)
        problems.push({
          path: `${path}.${key}`,
          message: `splits the core of CPUs ${formatCpuList(core)} (SMT siblings) between housekeeping (${formatCpuList(inHk)}) and isolated (${formatCpuList(difference(core, inHk))}); a core's threads share its caches and pipeline, so keep them on one side: take all of ${formatCpuList(core)} or none`,
        });
    }
    if (intersection(node.cpus, hk).length === 0)
      problems.push({
        path: `${path}.${key}`,
        message: `leaves NUMA node ${node.id} (CPUs ${formatCpuList(node.cpus)}) without a housekeeping CPU; each node keeps at least one housekeeping core for its kernel threads and interrupts: add ${formatCpuList(node.cores[0])} to housekeeping`,
      });
  }
  if (iso.length === 0)
    problems.push({
      path: `${path}.${key}`,
      message: `leaves no CPU of the host for RT guests (housekeeping ${formatCpuList(hk)}); isolate at least one core`,
    });
  return { perNode: topology.nodes.map((n) => intersection(n.cpus, hk)), problems };
}

export function planHost(
  host: HostConfig,
  topology: Topology,
  path: string,
): { plan: HostPlan | null; problems: Problem[] } {
  const problems: Problem[] = [];
  const counts = { "1G": [] as number[], "2M": [] as number[] };
  for (const size of SIZE_NAMES) {
    counts[size] = hugepagesPerNode(host, topology.nodes.length, size);
    if (counts[size].length !== topology.nodes.length)
      problems.push({
        path: `${path}.${SIZE_KEYS[size].count}`,
        message: `got ${counts[size].length} counts for ${topology.nodes.length} NUMA nodes; give one count per node (node order ${topology.nodes.map((n) => n.id).join(",")}) or a single number for all`,
      });
  }
  if (problems.length > 0) return { plan: null, problems };
  const pages = counts["1G"];
  const pages2m = counts["2M"];
  const hugeMbOf = (i: number) => pages[i] * 1024 + pages2m[i] * 2;
  const explicit = explicitHousekeeping(host, topology, path);
  problems.push(...explicit.problems);
  const housekeepingOf = (i: number) =>
    explicit.perNode ? explicit.perNode[i] : pickHousekeeping(topology.nodes[i].cores, host.housekeepingCpusPerNode);
  const nodes = topology.nodes.map((node, i): NodePlan => {
    const housekeeping = housekeepingOf(i);
    const isolated = difference(node.cpus, housekeeping);
    const roomMb = node.memoryMb - MIN_SMALL_PAGE_MB_PER_NODE;
    if (hugeMbOf(i) > roomMb) {
      problems.push(
        pages2m[i] === 0
          ? {
              path: `${path}.hugepages1gPerNode`,
              message: `got ${pages[i]} pages of 1 GiB on NUMA node ${node.id}, which has ${node.memoryMb} MiB; at most ${Math.max(0, Math.floor(roomMb / 1024))} fit while ${MIN_SMALL_PAGE_MB_PER_NODE} MiB stay in small pages for the host`,
            }
          : {
              path: `${path}.hugepages2mPerNode`,
              message: `got ${pages2m[i]} pages of 2 MiB beside ${pages[i]} of 1 GiB on NUMA node ${node.id} (${hugeMbOf(i)} MiB), which has ${node.memoryMb} MiB; at most ${Math.max(0, Math.floor((roomMb - pages[i] * 1024) / 2))} pages of 2 MiB fit beside them while ${MIN_SMALL_PAGE_MB_PER_NODE} MiB stay in small pages for the host`,
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
      hugepages2m: pages2m[i],
      reservedHugepages2m: host.reservedHugepages2mPerNode,
    };
  });
  const housekeeping = union(...topology.nodes.map((_, i) => housekeepingOf(i)));
  const isolated = difference(union(...topology.nodes.map((n) => n.cpus)), housekeeping);
  if (isolated.length === 0 && explicit.problems.length === 0) {
    problems.push({
      path: `${path}.housekeepingCpusPerNode`,
      message: `got ${host.housekeepingCpusPerNode}, which leaves no CPU of the host (${formatCpuList(housekeeping)}) for RT guests; lower it so each node keeps CPUs to isolate`,
    });
  }
  // Pinned guests take their memory from the NUMA nodes of their dedicated CPUs: huge pages on
  // a node without any would be taken from the host and never used. A problem rather than a
  // silent zero, so that the plan never differs from what the config says.
  if (isolated.length > 0) {
    nodes.forEach((n, i) => {
      if (n.isolated !== "") return;
      for (const size of SIZE_NAMES) {
        const c = counts[size];
        if (c[i] === 0) continue;
        const fixed = topology.nodes.map((_, j) => (j === i ? 0 : c[j]));
        problems.push({
          path: `${path}.${SIZE_KEYS[size].count}`,
          message:
            `got ${c[i]} pages of ${SIZE_KEYS[size].label} on NUMA node ${n.id}, whose CPUs (${n.cpus}) are all housekeeping: no pinned guest runs there to use them; ` +
            `give that node 0 pages (${SIZE_KEYS[size].count}: [${fixed.join(", ")}]) or lower housekeepingCpusPerNode`,
        });
      }
    });
  }
  const totalMb = topology.nodes.reduce((s, n) => s + n.memoryMb, 0);
  const hugeMb = topology.nodes.reduce((s, _, i) => s + hugeMbOf(i), 0);
  if (host.reservedHostMemoryMb >= totalMb - hugeMb) {
    problems.push({
      path: `${path}.reservedHostMemoryMb`,
      message: `got ${host.reservedHostMemoryMb}, but only ${totalMb - hugeMb} MiB are left in small pages after ${hugeMb} MiB of huge pages; lower it or the hugepage counts`,
    });
  }
  problems.push(...extraKernelArgProblems(host, path));
  if (host.nova?.configMode === "verify" && host.nova.restartCommand !== undefined) {
    problems.push({
      path: `${path}.nova.restartCommand`,
      message: `got "${host.nova.restartCommand}", but nova.configMode is verify: nothing is written, so nothing is restarted; remove restartCommand, or set configMode: edit`,
    });
  }
  if (problems.length > 0) return { plan: null, problems };

  const iso = formatCpuList(isolated);
  const hk = formatCpuList(housekeeping);
  const hugepages = hugepagePlan(host, topology, counts);
  const args = [...hugepageKernelArgs(hugepages), ...host.extraKernelArgs];
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
            : [`isolcpus=${iso}`, "nohz=on", `nohz_full=${iso}`, `rcu_nocbs=${iso}`, `irqaffinity=${hk}`],
      },
      hugepages,
      nova: {
        cpuDedicatedSet: iso,
        cpuSharedSet: host.cpuSharedSet === "housekeeping" ? hk : null,
        reservedHostMemoryMb: host.reservedHostMemoryMb,
        // Nova reads the size with oslo's string_to_bytes: "1GB" and "2MB" are 1 GiB and 2 MiB.
        reservedHugePages: SIZE_NAMES.flatMap((size) => {
          const reserved = host[SIZE_KEYS[size].reserved];
          return reserved > 0 ? topology.nodes.map((n) => `node:${n.id},size:${size}B,count:${reserved}`) : [];
        }),
        ...(host.nova === undefined ? {} : { owner: novaOwner(host.nova) }),
      },
    },
  };
}

function hugepagePlan(host: HostConfig, topology: Topology, counts: Record<HugepageSizeName, number[]>): HugepagePlan {
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
function hugepageKernelArgs(plan: HugepagePlan): string[] {
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
