/** The host as Nova sees it: its cells' CPUs, cores and pages, and what guests already use. */
import type { CpuSet } from "../../cpu/cpuset";
import { cpuSet, intersection, union } from "../../cpu/cpuset";
import type { NovaHost, ThreadPolicy } from "./types";
import { PAGE_1G, PAGE_2M, PAGE_4K } from "./types";

export interface CellState {
  id: number;
  cpuset: CpuSet; // CPUs for floating vCPUs
  pcpuset: CpuSet; // CPUs for pinned vCPUs
  siblings: CpuSet[]; // every usable CPU in exactly one core
  /** The cores' CPUs for pinned vCPUs, cores without any left out: what packing picks from. */
  dedicatedCores: CpuSet[];
  threadsPerCore: number;
  memoryMb: number;
  /** Pages per size (KiB): total and reserved. */
  pages: Map<number, { total: number; reserved: number }>;
}

/** Usage of an empty or partly filled host, for capacity counting. */
export interface HostUsage {
  pinned: Set<number>;
  pagesUsed: Map<string, number>; // `${cell}:${sizeKb}`
  memoryUsedMb: Map<number, number>;
  /** Per host cell: floating (shared) vCPUs of the guests there, Nova's `cpu_usage`. */
  sharedCpusUsed: Map<number, number>;
  vcpuUsed: number;
  pcpuUsed: number;
  memoryMbUsed: number;
}

export function emptyUsage(): HostUsage {
  return {
    pinned: new Set(),
    pagesUsed: new Map(),
    memoryUsedMb: new Map(),
    sharedCpusUsed: new Map(),
    vcpuUsed: 0,
    pcpuUsed: 0,
    memoryMbUsed: 0,
  };
}

// Derived once per host object: the placement query, the cells and the emulator's CPUs all ask.
const onlineCache = new WeakMap<NovaHost, CpuSet>();

export function onlineCpus(host: NovaHost): CpuSet {
  let online = onlineCache.get(host);
  if (!online) {
    online = union(...host.cells.map((c) => c.cpus));
    onlineCache.set(host, online);
  }
  return online;
}

/** Whether any core has more than one thread (the HW_CPU_HYPERTHREADING trait). */
export function hostHasSmt(host: NovaHost): boolean {
  return host.cells.some((c) => c.siblings.some((s) => s.length > 1));
}

export function vcpuAvailable(host: NovaHost): CpuSet {
  if (host.cpuSharedSet) return intersection(host.cpuSharedSet, onlineCpus(host));
  return host.cpuDedicatedSet ? [] : onlineCpus(host);
}

export function pcpuAvailable(host: NovaHost): CpuSet {
  return host.cpuDedicatedSet ? intersection(host.cpuDedicatedSet, onlineCpus(host)) : [];
}

// Derived once per host object: capacity counting asks for the same host's cells many times.
const cellCache = new WeakMap<NovaHost, CellState[]>();

export function hostCells(host: NovaHost): CellState[] {
  const cached = cellCache.get(host);
  if (cached) return cached;
  const cells = deriveCells(host);
  cellCache.set(host, cells);
  return cells;
}

function deriveCells(host: NovaHost): CellState[] {
  const shared = new Set(vcpuAvailable(host));
  let dedicated = new Set(pcpuAvailable(host));
  // Legacy hosts (no cpu_dedicated_set, no cpu_shared_set) offer every CPU to both.
  if (dedicated.size === 0 && !host.cpuSharedSet) dedicated = shared;
  return host.cells.map((c) => {
    const cpuset = c.cpus.filter((x) => shared.has(x));
    const pcpuset = c.cpus.filter((x) => dedicated.has(x));
    const usable = new Set([...cpuset, ...pcpuset]);
    const grouped = new Set(c.siblings.flat());
    const cores = [...c.siblings, ...c.cpus.filter((x) => !grouped.has(x)).map((x) => [x])]
      .map((s) => cpuSet(s).filter((x) => usable.has(x)))
      .filter((s) => s.length > 0)
      .sort((a, b) => a[0] - b[0]);
    const huge = c.hugepages1g * PAGE_1G + c.hugepages2m * PAGE_2M;
    const reserved = (size: number) =>
      host.reservedHugePages.filter((r) => r.node === c.id && r.sizeKb === size).reduce((s, r) => s + r.count, 0);
    return {
      id: c.id,
      cpuset,
      pcpuset,
      siblings: cores,
      dedicatedCores: cores.map((core) => core.filter((x) => dedicated.has(x))).filter((core) => core.length > 0),
      threadsPerCore: Math.max(1, ...cores.map((s) => s.length)),
      memoryMb: c.memoryMb,
      pages: new Map([
        [PAGE_4K, { total: Math.floor((c.memoryMb * 1024 - huge) / PAGE_4K), reserved: reserved(PAGE_4K) }],
        [PAGE_2M, { total: c.hugepages2m, reserved: reserved(PAGE_2M) }],
        [PAGE_1G, { total: c.hugepages1g, reserved: reserved(PAGE_1G) }],
      ]),
    };
  });
}

/**
 * What pinning a guest's CPU takes from the host, as the resource tracker books it
 * (numa_usage_from_instance_numa): with thread policy `isolate`, the CPU's whole core
 * (`pin_cpus_with_siblings`), else the CPU alone.
 */
export function cpusTaken(host: NovaHost, threadPolicy: ThreadPolicy | null): (cpu: number) => readonly number[] {
  if (threadPolicy !== "isolate") return (cpu) => [cpu];
  const coreOf = new Map<number, readonly number[]>();
  for (const c of host.cells) for (const group of c.siblings) for (const cpu of group) coreOf.set(cpu, group);
  return (cpu) => coreOf.get(cpu) ?? [cpu];
}
