/** The host as Nova sees it: its cells' CPUs, cores and pages, and what guests already use. */
import type { CpuSet } from "../../cpu/cpuset";
import { cpuSet, intersection, isCpuSet, union } from "../../cpu/cpuset";
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

// A CPU's marks in deriveCells' bitmap: guests' floating vCPUs may use it, pinned ones may, it
// is in the cell at hand, it is in one of that cell's thread groups.
const SHARED = 1;
const DEDICATED = 2;
const IN_CELL = 4;
const GROUPED = 8;

/** The CPUs of a set that `keep` takes: the (read-only) set itself when it takes all, as it mostly does. */
function kept(set: CpuSet, keep: (cpu: number) => boolean): CpuSet {
  return set.every(keep) ? set : set.filter(keep);
}

function deriveCells(host: NovaHost): CellState[] {
  // A bitmap over the online CPUs, not Sets: every host is derived once, and large hosts have thousands of CPUs.
  const online = onlineCpus(host);
  const marks = new Uint8Array(online.length > 0 ? online[online.length - 1] + 1 : 0);
  for (const c of vcpuAvailable(host)) marks[c] |= SHARED;
  const dedicated = pcpuAvailable(host);
  // Legacy hosts (no cpu_dedicated_set, no cpu_shared_set) offer every CPU to both.
  const legacy = dedicated.length === 0 && !host.cpuSharedSet;
  for (const c of legacy ? vcpuAvailable(host) : dedicated) marks[c] |= DEDICATED;
  const isShared = (x: number) => (marks[x] & SHARED) !== 0;
  const isDedicated = (x: number) => (marks[x] & DEDICATED) !== 0;
  const isUsable = (x: number) => (marks[x] & IN_CELL) !== 0 && (marks[x] & (SHARED | DEDICATED)) !== 0;
  return host.cells.map((c) => {
    for (const x of c.cpus) marks[x] |= IN_CELL;
    for (const s of c.siblings) for (const x of s) marks[x] |= GROUPED;
    const cores: CpuSet[] = [];
    for (const s of c.siblings) {
      const core = isCpuSet(s) ? kept(s, isUsable) : cpuSet(s).filter(isUsable);
      if (core.length > 0) cores.push(core);
    }
    for (const x of c.cpus) if ((marks[x] & GROUPED) === 0 && isUsable(x)) cores.push([x]);
    cores.sort((a, b) => a[0] - b[0]);
    for (const x of c.cpus) marks[x] &= ~IN_CELL;
    for (const s of c.siblings) for (const x of s) marks[x] &= ~GROUPED;
    let threadsPerCore = 1;
    for (const core of cores) threadsPerCore = Math.max(threadsPerCore, core.length);
    const huge = c.hugepages1g * PAGE_1G + c.hugepages2m * PAGE_2M;
    const reserved = (size: number) => {
      let count = 0;
      for (const r of host.reservedHugePages) if (r.node === c.id && r.sizeKb === size) count += r.count;
      return count;
    };
    return {
      id: c.id,
      cpuset: c.cpus.filter(isShared),
      pcpuset: c.cpus.filter(isDedicated),
      siblings: cores,
      dedicatedCores: cores.map((core) => kept(core, isDedicated)).filter((core) => core.length > 0),
      threadsPerCore,
      memoryMb: c.memoryMb,
      pages: new Map()
        .set(PAGE_4K, { total: Math.floor((c.memoryMb * 1024 - huge) / PAGE_4K), reserved: reserved(PAGE_4K) })
        .set(PAGE_2M, { total: c.hugepages2m, reserved: reserved(PAGE_2M) })
        .set(PAGE_1G, { total: c.hugepages1g, reserved: reserved(PAGE_1G) }),
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
