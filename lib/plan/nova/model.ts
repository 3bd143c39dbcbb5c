/**
 * What Nova (Zed and later, libvirt driver) does with a flavor on an empty compute host,
 * modelled on nova.virt.hardware and checked against Nova's own code (test/fixtures/nova):
 * extra-spec validation, the API's flavor/image constraints, the placement query, and
 * NUMATopologyFilter's cell fitting, including the emulator-thread pinning the driver writes.
 */
import type { CpuSet } from "../cpuset";
import { cpuSet, difference, intersection, parseNovaCpuSpec, union } from "../cpuset";
import { validateExtraSpecs } from "./extra-specs";

export const PAGE_4K = 4;
export const PAGE_2M = 2048;
export const PAGE_1G = 1048576;
const ALL_PAGE_SIZES = [PAGE_1G, PAGE_2M, PAGE_4K]; // largest first, as Nova sorts them

export interface NovaFlavor {
  vcpus: number;
  ramMb: number;
  extraSpecs: Record<string, string>;
}

export interface NovaHostCell {
  id: number;
  cpus: CpuSet;
  /** Thread groups of SMT cores (size > 1); CPUs in none are cores of their own. */
  siblings: CpuSet[];
  memoryMb: number;
  hugepages1g: number;
  hugepages2m: number;
}

export interface NovaHost {
  cpuDedicatedSet: CpuSet | null;
  cpuSharedSet: CpuSet | null;
  cells: NovaHostCell[];
  reservedHostMemoryMb: number;
  /** `reserved_huge_pages`: pages per node and size (KiB) that guests may not use. */
  reservedHugePages: { node: number; sizeKb: number; count: number }[];
  cpuAllocationRatio: number;
  ramAllocationRatio: number;
  /** `[compute] packing_host_numa_cells_allocation_strategy` */
  packCells: boolean;
}

export const NOVA_DEFAULTS = {
  reservedHostMemoryMb: 512,
  cpuAllocationRatio: 16,
  ramAllocationRatio: 1.5,
  packCells: false,
};

export type PageRequest = number | "small" | "large" | "any";
type CpuPolicy = "dedicated" | "mixed" | "shared";
type ThreadPolicy = "prefer" | "isolate" | "require";

export interface GuestCell {
  id: number;
  /** vCPUs that float (shared policy, or the shared part of mixed). */
  cpuset: CpuSet;
  /** vCPUs pinned to dedicated host CPUs. */
  pcpuset: CpuSet;
  memoryMb: number;
}

export interface GuestRequest {
  vcpus: number;
  ramMb: number;
  cpuPolicy: CpuPolicy | null;
  threadPolicy: ThreadPolicy | null;
  emulatorPolicy: "share" | "isolate" | null;
  realtimeVcpus: CpuSet;
  pageSize: PageRequest | null;
  /** Null when Nova requests no NUMA topology (a plain, unpinned flavor). */
  cells: GuestCell[] | null;
}

export type Verdict =
  | { outcome: "rejected"; stage: "extra-specs" | "api"; errors: string[] }
  | { outcome: "no-fit"; stage: "placement" | "numa"; reasons: string[]; request: GuestRequest }
  | { outcome: "spawn-error"; error: string; placement: Placement; request: GuestRequest }
  | { outcome: "fits"; placement: Placement | null; request: GuestRequest };

export interface PlacedCell {
  guestCell: number;
  hostCell: number;
  vcpus: CpuSet;
  /** vCPU -> pCPU, in this model's packing order (Nova's own order comes from set hashing). */
  pinning: Record<number, number>;
  /** The extra pCPU taken for `hw:emulator_threads_policy=isolate`. */
  reserved: CpuSet;
  pageSizeKb: number;
}

export interface Placement {
  cells: PlacedCell[];
  emulatorPolicy: "share" | "isolate" | null;
  emulatorPcpus: CpuSet;
  realtimeVcpus: CpuSet;
}

// --- the API's constraints (numa_get_constraints and friends) --------------------------------

class Rejected extends Error {}

function truthy(v: string | undefined): boolean {
  return v !== undefined && /^(1|t|y|true|yes|on)$/i.test(v.trim());
}

function parsePageSize(request: string): PageRequest {
  if (request === "any" || request === "large" || request === "small") return request;
  if (/^\d+$/.test(request)) return Number(request);
  // oslo's string_to_bytes (IEC): the unit suffix B/b/bit is required, prefixes are uppercase.
  const m = /^(\d+)\s*([KMGT])?(i)?(b|bit|B)$/.exec(request);
  if (!m) throw new Rejected(`MemoryPageSizeInvalid: Invalid memory page size '${request}'`);
  const bytes = (Number(m[1]) * 1024 ** " KMGT".indexOf(m[2] ?? " ")) / (m[4] === "B" ? 1 : 8);
  return bytes / 1024;
}

function realtimeMask(flavor: NovaFlavor, imageProps: Record<string, string>): CpuSet {
  const mask = imageProps.hw_cpu_realtime_mask || flavor.extraSpecs["hw:cpu_realtime_mask"];
  const all = cpuSet(Array.from({ length: flavor.vcpus }, (_, i) => i));
  let rt: CpuSet;
  try {
    rt = !mask
      ? all
      : mask.trim().startsWith("^")
        ? parseNovaCpuSpec(`0-${flavor.vcpus - 1},${mask}`)
        : parseNovaCpuSpec(mask);
  } catch (e) {
    throw new Rejected(`Invalid: ${(e as Error).message}`);
  }
  if (rt.length === 0) throw new Rejected("RealtimeMaskNotFoundOrInvalid: the realtime mask selects no vCPU");
  if (
    rt.length === all.length &&
    difference(all, rt).length === 0 &&
    !flavor.extraSpecs["hw:emulator_threads_policy"]
  ) {
    throw new Rejected(
      "RealtimeMaskNotFoundOrInvalid: Use of realtime CPUs requires either one or more non-realtime CPU(s) or offloaded emulator threads.",
    );
  }
  if (difference(rt, all).length > 0) {
    throw new Rejected(
      "RealtimeMaskNotFoundOrInvalid: Realtime policy vCPU(s) mask is configured with RT vCPUs that are not a subset of the vCPUs in the flavor",
    );
  }
  return rt;
}

function dedicatedMask(flavor: NovaFlavor): CpuSet | null {
  const mask = flavor.extraSpecs["hw:cpu_dedicated_mask"];
  if (!mask) return null;
  const pcpus = mask.trim().startsWith("^")
    ? parseNovaCpuSpec(`0-${flavor.vcpus - 1},${mask}`)
    : parseNovaCpuSpec(mask);
  const all = Array.from({ length: flavor.vcpus }, (_, i) => i);
  if (pcpus.length === 0 || difference(all, pcpus).length === 0 || difference(pcpus, all).length > 0) {
    throw new Rejected(
      "InvalidMixedInstanceDedicatedMask: the dedicated mask must name some, but not all, of the flavor's vCPUs",
    );
  }
  return pcpus;
}

/** What POST /servers makes of the flavor and image, or why it answers 400. */
export function guestRequest(flavor: NovaFlavor, imageProps: Record<string, string> = {}): GuestRequest {
  const specs = flavor.extraSpecs;
  const cpuPolicy = (specs["hw:cpu_policy"] ?? null) as CpuPolicy | null;
  const threadPolicy = (specs["hw:cpu_thread_policy"] ?? null) as ThreadPolicy | null;
  const emulatorPolicy = (specs["hw:emulator_threads_policy"] ?? null) as GuestRequest["emulatorPolicy"];
  const realtime = truthy(specs["hw:cpu_realtime"]);
  if (realtime && cpuPolicy !== "dedicated" && cpuPolicy !== "mixed") {
    throw new Rejected(
      "RealtimeConfigurationInvalid: Cannot set realtime policy in a non dedicated cpu pinning policy",
    );
  }
  const realtimeVcpus = realtime ? realtimeMask(flavor, imageProps) : [];
  let dedicated = dedicatedMask(flavor);
  if (cpuPolicy === null || cpuPolicy === "shared") {
    if (threadPolicy)
      throw new Rejected(
        "CPUThreadPolicyConfigurationInvalid: a CPU thread policy needs hw:cpu_policy dedicated or mixed",
      );
    if (emulatorPolicy === "isolate")
      throw new Rejected(
        "BadRequirementEmulatorThreadsPolicy: emulator threads policy isolate needs hw:cpu_policy dedicated or mixed",
      );
    if (dedicated) throw new Rejected("RequiredMixedInstancePolicy: hw:cpu_dedicated_mask needs hw:cpu_policy=mixed");
  } else if (cpuPolicy === "dedicated") {
    if (dedicated) throw new Rejected("RequiredMixedInstancePolicy: hw:cpu_dedicated_mask needs hw:cpu_policy=mixed");
  } else {
    if (realtimeVcpus.length > 0 === (dedicated !== null)) {
      throw new Rejected(
        "RequiredMixedOrRealtimeCPUMask: a mixed policy needs exactly one of hw:cpu_realtime_mask and hw:cpu_dedicated_mask",
      );
    }
    dedicated = dedicated ?? realtimeVcpus;
  }
  const nodesSpec = specs["hw:numa_nodes"];
  if (nodesSpec !== undefined && (!/^\d+$/.test(nodesSpec) || Number(nodesSpec) < 1)) {
    throw new Rejected(`InvalidNUMANodesNumber: The property 'numa_nodes' cannot be '${nodesSpec}'`);
  }
  const flavorPage = specs["hw:mem_page_size"];
  const imagePage = imageProps.hw_mem_page_size;
  if (!flavorPage && imagePage)
    throw new Rejected(`MemoryPageSizeForbidden: page size ${imagePage} forbidden against '<empty>'`);
  let pageSize = flavorPage ? parsePageSize(flavorPage) : null;
  if (imagePage) {
    if (pageSize === "any" || pageSize === "large") pageSize = parsePageSize(imagePage);
    else throw new Rejected(`MemoryPageSizeForbidden: page size ${imagePage} forbidden against '${flavorPage}'`);
  }
  if (truthy(specs["hw:locked_memory"]) && pageSize === null) {
    throw new Rejected("LockMemoryForbidden: hw:locked_memory needs hw:mem_page_size");
  }
  const all = cpuSet(Array.from({ length: flavor.vcpus }, (_, i) => i));
  const pcpus = cpuPolicy === "dedicated" ? all : (dedicated ?? []);
  let cells: GuestCell[] | null = null;
  if (nodesSpec !== undefined || pageSize !== null || cpuPolicy === "dedicated" || cpuPolicy === "mixed") {
    const nodes = nodesSpec === undefined ? 1 : Number(nodesSpec);
    if (flavor.vcpus % nodes > 0 || flavor.ramMb % nodes > 0) {
      throw new Rejected(
        "ImageNUMATopologyAsymmetric: Instance CPUs and/or memory cannot be evenly distributed across instance NUMA nodes. Explicit assignment of CPUs and memory to nodes is required",
      );
    }
    const per = flavor.vcpus / nodes;
    cells = Array.from({ length: nodes }, (_, id) => {
      const cpus = all.slice(id * per, (id + 1) * per);
      return {
        id,
        cpuset: difference(cpus, pcpus),
        pcpuset: intersection(cpus, pcpus),
        memoryMb: flavor.ramMb / nodes,
      };
    });
  }
  return {
    vcpus: flavor.vcpus,
    ramMb: flavor.ramMb,
    cpuPolicy,
    threadPolicy,
    emulatorPolicy,
    realtimeVcpus,
    pageSize,
    cells,
  };
}

// --- the host as Nova sees it ---------------------------------------------------------------

interface CellState {
  id: number;
  cpuset: CpuSet; // CPUs for floating vCPUs
  pcpuset: CpuSet; // CPUs for pinned vCPUs
  pcpuMembers: Set<number>;
  siblings: CpuSet[]; // every usable CPU in exactly one core
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

function onlineCpus(host: NovaHost): CpuSet {
  return union(...host.cells.map((c) => c.cpus));
}

function vcpuAvailable(host: NovaHost): CpuSet {
  if (host.cpuSharedSet) return intersection(host.cpuSharedSet, onlineCpus(host));
  return host.cpuDedicatedSet ? [] : onlineCpus(host);
}

function pcpuAvailable(host: NovaHost): CpuSet {
  return host.cpuDedicatedSet ? intersection(host.cpuDedicatedSet, onlineCpus(host)) : [];
}

// Derived once per host object: capacity counting asks for the same host's cells many times.
const cellCache = new WeakMap<NovaHost, CellState[]>();

function hostCells(host: NovaHost): CellState[] {
  const cached = cellCache.get(host);
  if (cached) return cached;
  const cells = deriveCells(host);
  cellCache.set(host, cells);
  return cells;
}

function deriveCells(host: NovaHost): CellState[] {
  const shared = vcpuAvailable(host);
  let dedicated = pcpuAvailable(host);
  // Legacy hosts (no cpu_dedicated_set, no cpu_shared_set) offer every CPU to both.
  if (dedicated.length === 0 && !host.cpuSharedSet) dedicated = shared;
  return host.cells.map((c) => {
    const usable = union(intersection(c.cpus, shared), intersection(c.cpus, dedicated));
    const grouped = new Set(c.siblings.flat());
    const cores = [...c.siblings, ...c.cpus.filter((x) => !grouped.has(x)).map((x) => [x])]
      .map((s) => intersection(cpuSet(s), usable))
      .filter((s) => s.length > 0)
      .sort((a, b) => a[0] - b[0]);
    const huge = c.hugepages1g * PAGE_1G + c.hugepages2m * PAGE_2M;
    const reserved = (size: number) =>
      host.reservedHugePages.filter((r) => r.node === c.id && r.sizeKb === size).reduce((s, r) => s + r.count, 0);
    return {
      id: c.id,
      cpuset: intersection(c.cpus, shared),
      pcpuset: intersection(c.cpus, dedicated),
      pcpuMembers: new Set(intersection(c.cpus, dedicated)),
      siblings: cores,
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

// --- placement ------------------------------------------------------------------------------

const inventoryCache = new WeakMap<NovaHost, { vcpu: number; pcpu: number; smt: boolean }>();

function inventoryOf(host: NovaHost) {
  let inv = inventoryCache.get(host);
  if (!inv) {
    inv = {
      vcpu: vcpuAvailable(host).length,
      pcpu: pcpuAvailable(host).length,
      smt: host.cells.some((c) => c.siblings.some((s) => s.length > 1)),
    };
    inventoryCache.set(host, inv);
  }
  return inv;
}

function placementProblems(req: GuestRequest, host: NovaHost, usage: HostUsage): string[] | null {
  const pinned = req.cpuPolicy === "dedicated" || req.cpuPolicy === "mixed";
  const { vcpu, pcpu: pcpuTotal, smt } = inventoryOf(host);
  const inventory: Record<string, { total: number; reserved: number; ratio: number; used: number }> = {
    VCPU: { total: vcpu, reserved: 0, ratio: host.cpuAllocationRatio, used: usage.vcpuUsed },
    PCPU: { total: pcpuTotal, reserved: 0, ratio: 1, used: usage.pcpuUsed },
    MEMORY_MB: {
      total: host.cells.reduce((s, c) => s + c.memoryMb, 0),
      reserved: host.reservedHostMemoryMb,
      ratio: host.ramAllocationRatio,
      used: usage.memoryMbUsed,
    },
  };
  const attempt = (want: Record<string, number>, required: string[], forbidden: string[]): string[] => {
    const short: string[] = [];
    for (const [rc, n] of Object.entries(want)) {
      const inv = inventory[rc];
      if (n > 0 && (n > inv.total || n > (inv.total - inv.reserved) * inv.ratio - inv.used))
        short.push(`${rc}=${n} (inventory ${inv.total})`);
    }
    for (const t of required) if (!smt) short.push(`required trait ${t} missing`);
    for (const t of forbidden) if (smt) short.push(`forbidden trait ${t} present`);
    return short;
  };
  const dedicatedCount = req.cells ? req.cells.reduce((s, c) => s + c.pcpuset.length, 0) : 0;
  const pcpu = pinned ? dedicatedCount + (req.emulatorPolicy === "isolate" ? 1 : 0) : 0;
  const first = attempt(
    { VCPU: req.vcpus - (pinned ? dedicatedCount : 0), PCPU: pcpu, MEMORY_MB: req.ramMb },
    req.threadPolicy === "require" ? ["HW_CPU_HYPERTHREADING"] : [],
    req.threadPolicy === "isolate" ? ["HW_CPU_HYPERTHREADING"] : [],
  );
  if (first.length === 0) return null;
  if (!pinned) return [first.join(", ")];
  // Nova's fallback query for hosts still on vcpu_pin_set: everything as VCPU, no traits.
  const fallback = attempt(
    { VCPU: req.vcpus + (req.emulatorPolicy === "isolate" ? 1 : 0), MEMORY_MB: req.ramMb },
    [],
    [],
  );
  return fallback.length === 0 ? null : [first.join(", "), fallback.join(", ")];
}

// --- NUMA fitting ---------------------------------------------------------------------------

function freePages(cell: CellState, size: number, usage: HostUsage): number {
  const p = cell.pages.get(size);
  if (!p) return -1;
  return p.total - p.reserved - (usage.pagesUsed.get(`${cell.id}:${size}`) ?? 0);
}

/** _numa_cell_supports_pagesize_request: the page size this cell serves the guest cell with. */
function pickPageSize(
  cell: CellState,
  guest: GuestCell,
  req: PageRequest,
  usage: HostUsage,
): number | null | "unsupported" {
  const memKb = guest.memoryMb * 1024;
  const candidates =
    req === "small" ? [PAGE_4K] : req === "large" ? [PAGE_1G, PAGE_2M] : req === "any" ? ALL_PAGE_SIZES : [req];
  for (const size of candidates) {
    const free = freePages(cell, size, usage);
    if (free < 0) return "unsupported";
    if (memKb <= free * size && memKb % size === 0) return size;
  }
  return null;
}

/** _pack_instance_onto_cores: pins the guest cell's dedicated vCPUs, or null when the thread policy forbids it. */
function packOntoCores(
  cell: CellState,
  guest: GuestCell,
  policy: ThreadPolicy | null,
  reserve: number,
  dedicatedHost: boolean,
  usage: HostUsage,
) {
  // Nova treats an empty pinning as a failure: a mixed guest cell with no dedicated vCPU never fits.
  if (guest.pcpuset.length === 0) return null;
  const freeSiblings = cell.siblings
    .map((s) => s.filter((c) => cell.pcpuMembers.has(c) && !usage.pinned.has(c)))
    .filter((s) => s.length > 0);
  const setsOf = (threads: number) => freeSiblings.filter((s) => s.length >= threads);
  const pin = (threads: number, cores: CpuSet[]) => {
    if (threads * cores.length < guest.pcpuset.length) return null;
    const usable = cores.flatMap((s) => s.slice(0, threads));
    return guest.pcpuset.map((v, i) => [v, usable[i]] as const);
  };
  const reserveFrom = (cores: CpuSet[], pinning: (readonly [number, number])[] | null, wholeCores: boolean) => {
    if (!pinning) return null;
    if (reserve === 0) return [];
    const used = new Set(pinning.map(([, p]) => p));
    const left = cores
      .filter((s) => !(wholeCores && s.some((c) => used.has(c))))
      .flatMap((s) => s.filter((c) => !used.has(c)));
    return left.length >= reserve ? left.slice(0, reserve) : null;
  };
  const tpc = cell.threadsPerCore;
  if (policy === "isolate") {
    if (!freeSiblings.some((s) => s.length >= tpc)) return null;
    if (tpc !== 1 && dedicatedHost) return null; // SMT host with a dedicated set: never (bug #1889633)
    const pinning = pin(1, setsOf(tpc));
    const reserved = reserveFrom(setsOf(1), pinning, true);
    return pinning && reserved ? { pinning, reserved } : null;
  }
  if (policy === "require" && tpc <= 1) return null;
  for (let threads = Math.max(0, ...freeSiblings.map((s) => s.length)); threads >= 1; threads--) {
    if (policy === "require" && threads <= 1) continue;
    const pinning = pin(threads, setsOf(threads));
    const reserved = reserveFrom(setsOf(1), pinning, false);
    if (pinning && reserved) return { pinning, reserved };
  }
  if (policy === "require") return null;
  const singles = setsOf(1)
    .flat()
    .map((c) => [c]);
  const pinning = pin(1, singles);
  const reserved = reserveFrom(singles, pinning, false);
  return pinning && reserved ? { pinning, reserved } : null;
}

function fitCell(
  cell: CellState,
  guest: GuestCell,
  req: GuestRequest,
  reserve: number,
  host: NovaHost,
  usage: HostUsage,
  log: string[],
) {
  const where = `guest cell ${guest.id} -> host cell ${cell.id}`;
  let pageSizeKb = PAGE_4K;
  if (req.pageSize !== null) {
    const size = pickPageSize(cell, guest, req.pageSize, usage);
    if (size === "unsupported") return { stop: true as const };
    if (size === null) {
      log.push(`${where}: no free pages of the requested size for ${guest.memoryMb} MiB`);
      return null;
    }
    pageSizeKb = size;
  } else {
    const small = cell.pages.get(PAGE_4K)!;
    if (guest.memoryMb * 1024 > small.total * PAGE_4K) {
      log.push(`${where}: ${guest.memoryMb} MiB exceed the cell's small-page memory`);
      return null;
    }
  }
  const pinnedPolicy = req.cpuPolicy === "dedicated" || req.cpuPolicy === "mixed";
  if (pinnedPolicy && guest.pcpuset.length + reserve > cell.pcpuset.length) {
    log.push(
      `${where}: Not enough host cell CPUs to fit instance cell; required: ${guest.pcpuset.length} + ${reserve} as overhead, actual: ${cell.pcpuset.length}`,
    );
    return null;
  }
  if (req.cpuPolicy !== "dedicated" && guest.cpuset.length > cell.cpuset.length) {
    log.push(
      `${where}: Not enough host cell CPUs to fit instance cell; required: ${guest.cpuset.length}, actual: ${cell.cpuset.length}`,
    );
    return null;
  }
  // Guests with floating vCPUs (shared, mixed, no policy) meet the cell's limits, as
  // NUMATopologyFilter passes them: the cell's shared CPUs times cpu_allocation_ratio, and its
  // memory times ram_allocation_ratio, against what the guests already there use.
  if (req.cpuPolicy !== "dedicated") {
    const cpuUsage = (usage.sharedCpusUsed.get(cell.id) ?? 0) + guest.cpuset.length;
    const cpuLimit = cell.cpuset.length * host.cpuAllocationRatio;
    if (cpuUsage > cpuLimit) {
      log.push(`${where}: Host cell has limitations on usable CPUs; usage: ${cpuUsage}, limit: ${cpuLimit}`);
      return null;
    }
    const ramUsage = (usage.memoryUsedMb.get(cell.id) ?? 0) + guest.memoryMb;
    const ramLimit = cell.memoryMb * host.ramAllocationRatio;
    if (ramUsage > ramLimit) {
      log.push(`${where}: Host cell has limitations on usable memory; usage: ${ramUsage}, limit: ${ramLimit}`);
      return null;
    }
  }
  if (!pinnedPolicy) return { pinning: [] as (readonly [number, number])[], reserved: [] as number[], pageSizeKb };
  const free = cell.pcpuset.filter((c) => !usage.pinned.has(c)).length;
  if (guest.pcpuset.length + reserve > free) {
    log.push(`${where}: not enough free pinned CPUs`);
    return null;
  }
  if (guest.memoryMb > cell.memoryMb - (usage.memoryUsedMb.get(cell.id) ?? 0)) {
    log.push(`${where}: not enough free memory`);
    return null;
  }
  const packed = packOntoCores(
    cell,
    guest,
    req.threadPolicy,
    reserve,
    host.cpuDedicatedSet !== null && host.cpuDedicatedSet.length > 0,
    usage,
  );
  if (!packed) {
    log.push(`${where}: the thread policy "${req.threadPolicy ?? "prefer"}" cannot be met on this cell's cores`);
    return null;
  }
  return { ...packed, pageSizeKb };
}

function* permutations<T>(items: T[], k: number): Generator<T[]> {
  if (k === 0) {
    yield [];
    return;
  }
  for (let i = 0; i < items.length; i++) {
    const rest = [...items.slice(0, i), ...items.slice(i + 1)];
    for (const p of permutations(rest, k - 1)) yield [items[i], ...p];
  }
}

/** numa_fit_instance_to_host: the first permutation of host cells that takes every guest cell. */
function numaFit(req: GuestRequest, host: NovaHost, usage: HostUsage, log: string[]): PlacedCell[] | null {
  const guests = req.cells!;
  let cells = hostCells(host);
  if (cells.length < guests.length) {
    log.push(`the host has ${cells.length} NUMA nodes, the guest asks for ${guests.length}`);
    return null;
  }
  if (cells.length > guests.length) {
    const spread = !host.packCells;
    const avail = (c: CellState) => c.memoryMb - (usage.memoryUsedMb.get(c.id) ?? 0);
    cells = stableSort(cells, (a, b) => (spread ? avail(b) - avail(a) : avail(a) - avail(b)));
    if (req.cpuPolicy === "dedicated" || req.cpuPolicy === "mixed") {
      const freeP = (c: CellState) => c.pcpuset.filter((x) => !usage.pinned.has(x)).length;
      cells = stableSort(cells, (a, b) => (spread ? freeP(b) - freeP(a) : freeP(a) - freeP(b)));
    }
  }
  const failed = new Set<string>();
  for (const perm of permutations(cells, guests.length)) {
    const placed: PlacedCell[] = [];
    for (let i = 0; i < guests.length; i++) {
      const key = `${perm[i].id}:${guests[i].id}`;
      if (failed.has(key)) break;
      const reserve = req.emulatorPolicy === "isolate" && i === 0 ? 1 : 0;
      const got = fitCell(perm[i], guests[i], req, reserve, host, usage, log);
      if (!got || "stop" in got) {
        failed.add(key);
        break;
      }
      placed.push({
        guestCell: guests[i].id,
        hostCell: perm[i].id,
        vcpus: union(guests[i].cpuset, guests[i].pcpuset),
        pinning: Object.fromEntries(got.pinning),
        reserved: cpuSet(got.reserved),
        pageSizeKb: got.pageSizeKb,
      });
    }
    if (placed.length === guests.length) return placed;
  }
  return null;
}

function stableSort<T>(items: T[], cmp: (a: T, b: T) => number): T[] {
  return items
    .map((item, i) => ({ item, i }))
    .sort((a, b) => cmp(a.item, b.item) || a.i - b.i)
    .map((x) => x.item);
}

function emulatorPcpus(req: GuestRequest, cells: PlacedCell[], host: NovaHost): CpuSet {
  if (req.emulatorPolicy === "isolate") return union(...cells.map((c) => c.reserved));
  if (req.emulatorPolicy === "share" && host.cpuSharedSet && host.cpuSharedSet.length > 0) {
    return intersection(host.cpuSharedSet, onlineCpus(host));
  }
  // Otherwise they float over the pCPUs of the non-RT vCPUs: pinned ones, and for the floating
  // vCPUs of a mixed guest, the shared CPUs of their host cell.
  const rt = new Set(req.realtimeVcpus);
  const shared = new Map(hostCells(host).map((c) => [c.id, c.cpuset]));
  return cpuSet(
    cells.flatMap((c) => {
      const pinned = Object.entries(c.pinning)
        .filter(([v]) => !rt.has(Number(v)))
        .map(([, p]) => p);
      const floating = c.vcpus.some((v) => !(v in c.pinning) && !rt.has(v)) ? [...(shared.get(c.hostCell) ?? [])] : [];
      return [...pinned, ...floating];
    }),
  );
}

/** Nova's whole answer for one flavor (and image) on one host, given what is already used there. */
export function novaVerdict(
  flavor: NovaFlavor,
  host: NovaHost,
  imageProps: Record<string, string> = {},
  usage: HostUsage = emptyUsage(),
): Verdict {
  const request = requestOrRejection(flavor, imageProps);
  return "outcome" in request ? request : placeRequest(request, host, usage);
}

function requestOrRejection(flavor: NovaFlavor, imageProps: Record<string, string>): GuestRequest | Verdict {
  // The flavor extra-spec API's checks (lib/plan/nova/extra-specs.ts), then the server API's.
  const specErrors = validateExtraSpecs(flavor.extraSpecs);
  if (specErrors.length > 0) return { outcome: "rejected", stage: "extra-specs", errors: specErrors };
  try {
    return guestRequest(flavor, imageProps);
  } catch (e) {
    if (e instanceof Rejected) return { outcome: "rejected", stage: "api", errors: [e.message] };
    throw e;
  }
}

/** The scheduler's and the driver's part: placement, NUMA fitting, emulator threads. */
function placeRequest(request: GuestRequest, host: NovaHost, usage: HostUsage, withEmulatorPin = true): Verdict {
  const placementShort = placementProblems(request, host, usage);
  if (placementShort)
    return {
      outcome: "no-fit",
      stage: "placement",
      reasons: [`no allocation candidates: ${placementShort.join(" / fallback VCPU query: ")}`],
      request,
    };
  if (!request.cells) return { outcome: "fits", placement: null, request };
  const log: string[] = [];
  if (request.threadPolicy === "require" && !host.cells.some((c) => c.siblings.some((s) => s.length > 1))) {
    return {
      outcome: "no-fit",
      stage: "numa",
      reasons: ['host has no SMT siblings but thread policy "require" was requested'],
      request,
    };
  }
  const cells = numaFit(request, host, usage, log);
  if (!cells) {
    return {
      outcome: "no-fit",
      stage: "numa",
      reasons: log.length ? log : ["no host cell offers the requested page size"],
      request,
    };
  }
  const placement: Placement = {
    cells,
    emulatorPolicy: request.emulatorPolicy,
    emulatorPcpus: withEmulatorPin ? emulatorPcpus(request, cells, host) : [],
    realtimeVcpus: request.realtimeVcpus,
  };
  if (
    request.realtimeVcpus.length > 0 &&
    request.emulatorPolicy === "share" &&
    !(host.cpuSharedSet && host.cpuSharedSet.length > 0)
  ) {
    return {
      outcome: "spawn-error",
      error:
        "realtime with hw:emulator_threads_policy=share needs [compute] cpu_shared_set on the host; the libvirt driver fails the spawn",
      placement,
      request,
    };
  }
  return { outcome: "fits", placement, request };
}

/**
 * Books a placed guest into the usage, as the resource tracker would
 * (numa_usage_from_instance_numa): with thread policy `isolate`, the whole core of each pinned
 * CPU and of the emulator's reserved CPU is marked used (`pin_cpus_with_siblings`). Without the
 * host, siblings are not known and only the CPUs themselves are marked.
 */
export function consume(usage: HostUsage, req: GuestRequest, placement: Placement | null, host?: NovaHost): void {
  const pinnedPolicy = req.cpuPolicy === "dedicated" || req.cpuPolicy === "mixed";
  const dedicatedCount = req.cells ? req.cells.reduce((s, c) => s + c.pcpuset.length, 0) : 0;
  usage.pcpuUsed += pinnedPolicy ? dedicatedCount + (req.emulatorPolicy === "isolate" ? 1 : 0) : 0;
  usage.vcpuUsed += req.vcpus - (pinnedPolicy ? dedicatedCount : 0);
  usage.memoryMbUsed += req.ramMb;
  const coreOf = new Map<number, readonly number[]>();
  if (host && req.threadPolicy === "isolate")
    for (const c of host.cells) for (const group of c.siblings) for (const cpu of group) coreOf.set(cpu, group);
  for (const cell of placement?.cells ?? []) {
    for (const p of [...Object.values(cell.pinning), ...cell.reserved])
      for (const q of coreOf.get(p) ?? [p]) usage.pinned.add(q);
    const guest = req.cells![cell.guestCell];
    usage.sharedCpusUsed.set(cell.hostCell, (usage.sharedCpusUsed.get(cell.hostCell) ?? 0) + guest.cpuset.length);
    const key = `${cell.hostCell}:${cell.pageSizeKb}`;
    usage.pagesUsed.set(key, (usage.pagesUsed.get(key) ?? 0) + (guest.memoryMb * 1024) / cell.pageSizeKb);
    usage.memoryUsedMb.set(cell.hostCell, (usage.memoryUsedMb.get(cell.hostCell) ?? 0) + guest.memoryMb);
  }
}

/** How many instances of the flavor an empty host takes (Nova's verdict, applied until it says no). */
export function capacity(
  flavor: NovaFlavor,
  host: NovaHost,
  imageProps: Record<string, string> = {},
  limit = 4096,
): number {
  const request = requestOrRejection(flavor, imageProps);
  if ("outcome" in request) return 0;
  const usage = emptyUsage();
  let n = 0;
  while (n < limit) {
    const v = placeRequest(request, host, usage, false); // counting needs no emulatorpin
    if (v.outcome !== "fits") break;
    consume(usage, request, v.placement, host);
    n++;
  }
  return n;
}
