/**
 * NUMATopologyFilter's cell fitting (numa_fit_instance_to_host): page sizes, CPU pinning onto
 * cores by thread policy, and the emulator threads' pCPUs the libvirt driver writes.
 */
import type { CpuSet } from "../../cpu/cpuset";
import { cpuSet, intersection, union } from "../../cpu/cpuset";
import type { CellState, HostUsage } from "./host-cells";
import { hostCells, onlineCpus } from "./host-cells";
import type { GuestCell, GuestRequest, NovaHost, PageRequest, PlacedCell, ThreadPolicy } from "./types";
import { ALL_PAGE_SIZES, PAGE_1G, PAGE_2M, PAGE_4K } from "./types";

function freePages(cell: CellState, size: number, usage: HostUsage): number {
  const p = cell.pages.get(size);
  if (!p) return -1;
  // An empty host (every flavor verdict) has used none: no key to build.
  return p.total - p.reserved - (usage.pagesUsed.size === 0 ? 0 : (usage.pagesUsed.get(`${cell.id}:${size}`) ?? 0));
}

const SMALL_PAGES: readonly number[] = [PAGE_4K];
const LARGE_PAGES: readonly number[] = [PAGE_1G, PAGE_2M];

/** The page sizes a request may be served with, in the order Nova tries them. */
export function pageSizeCandidates(req: PageRequest): readonly number[] {
  return req === "small" ? SMALL_PAGES : req === "large" ? LARGE_PAGES : req === "any" ? ALL_PAGE_SIZES : [req];
}

/**
 * _numa_cell_supports_pagesize_request: the page size a cell serves `memoryMb` of a guest cell
 * with, given its free pages of a size (negative: the cell has no such size).
 */
export function pickPageSize(
  memoryMb: number,
  req: PageRequest,
  freeOfSize: (sizeKb: number) => number,
): number | null | "unsupported" {
  const memKb = memoryMb * 1024;
  for (const size of pageSizeCandidates(req)) {
    const free = freeOfSize(size);
    if (free < 0) return "unsupported";
    if (memKb <= free * size && memKb % size === 0) return size;
  }
  return null;
}

/** The pCPU of each pinned vCPU of a guest cell, in the order of its pcpuset: no pair per vCPU to allocate. */
type Pinning = number[];

/**
 * _pack_instance_onto_cores: pins the guest cell's dedicated vCPUs, or null when the thread
 * policy forbids it. Each attempt walks the cell's free cores in order and stops as soon as it
 * has the CPUs it needs: on a large cell most cores are never looked at.
 */
export function packOntoCores(
  cell: CellState,
  guest: GuestCell,
  policy: ThreadPolicy | null,
  reserve: number,
  dedicatedHost: boolean,
  usage: HostUsage,
): { pinning: Pinning; reserved: number[] } | null {
  // Nova treats an empty pinning as a failure: a mixed guest cell with no dedicated vCPU never fits.
  if (guest.pcpuset.length === 0) return null;
  // The free dedicated CPUs of each core that has any, cores in order.
  const freeCores =
    usage.pinned.size === 0
      ? cell.dedicatedCores
      : cell.dedicatedCores.map((core) => core.filter((c) => !usage.pinned.has(c))).filter((core) => core.length > 0);
  let mostFree = 0;
  for (const core of freeCores) mostFree = Math.max(mostFree, core.length);
  const vcpus = guest.pcpuset;
  const tpc = cell.threadsPerCore;
  if (policy === "isolate") {
    if (mostFree < tpc) return null;
    if (tpc !== 1 && dedicatedHost) return null; // SMT host with a dedicated set: never (bug #1889633)
    return withReserve(pinOnto(freeCores, vcpus, tpc, 1), freeCores, reserve, true); // one vCPU on each wholly free core
  }
  if (policy === "require" && tpc <= 1) return null;
  for (let threads = mostFree; threads >= 1; threads--) {
    if (policy === "require" && threads <= 1) continue;
    const fit = withReserve(pinOnto(freeCores, vcpus, threads, threads), freeCores, reserve, false);
    if (fit) return fit;
  }
  if (policy === "require") return null;
  return withReserve(pinOnto(freeCores, vcpus, 1, Infinity), freeCores, reserve, false); // any free CPUs, core by core
}

/** The pinning and `reserve` free CPUs it left, in core order; with wholeCores, only from cores it did not touch. */
function withReserve(
  pinning: Pinning | null,
  freeCores: readonly CpuSet[],
  reserve: number,
  wholeCores: boolean,
): { pinning: Pinning; reserved: number[] } | null {
  if (!pinning) return null;
  if (reserve === 0) return { pinning, reserved: [] };
  const reserved: number[] = [];
  const used = new Set(pinning);
  for (const core of freeCores) {
    if (reserved.length === reserve) break;
    if (wholeCores && core.some((c) => used.has(c))) continue;
    for (const c of core) if (!used.has(c) && reserved.length < reserve) reserved.push(c);
  }
  return reserved.length === reserve ? { pinning, reserved } : null;
}

/**
 * The pCPUs for the vCPUs: the first `perCore` free CPUs of each core with at least `minFree`
 * free, cores in order, or null when those are too few.
 */
function pinOnto(freeCores: readonly CpuSet[], vcpus: CpuSet, minFree: number, perCore: number): Pinning | null {
  const pinning: Pinning = [];
  for (const core of freeCores) {
    if (core.length < minFree) continue;
    for (let t = 0; t < core.length && t < perCore && pinning.length < vcpus.length; t++) pinning.push(core[t]);
    if (pinning.length === vcpus.length) return pinning;
  }
  return null;
}

/** The pair a misfit is logged for; built only when one is logged, as most cells fit. */
function cellPair(guest: GuestCell, cell: CellState): string {
  return `guest cell ${guest.id} -> host cell ${cell.id}`;
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
  let pageSizeKb = PAGE_4K;
  if (req.pageSize !== null) {
    const size = pickPageSize(guest.memoryMb, req.pageSize, (sizeKb) => freePages(cell, sizeKb, usage));
    if (size === "unsupported") return { stop: true as const };
    if (size === null) {
      log.push(`${cellPair(guest, cell)}: no free pages of the requested size for ${guest.memoryMb} MiB`);
      return null;
    }
    pageSizeKb = size;
  } else {
    const small = cell.pages.get(PAGE_4K)!;
    if (guest.memoryMb * 1024 > small.total * PAGE_4K) {
      log.push(`${cellPair(guest, cell)}: ${guest.memoryMb} MiB exceed the cell's small-page memory`);
      return null;
    }
  }
  const pinnedPolicy = req.cpuPolicy === "dedicated" || req.cpuPolicy === "mixed";
  if (pinnedPolicy && guest.pcpuset.length + reserve > cell.pcpuset.length) {
    log.push(
      `${cellPair(guest, cell)}: Not enough host cell CPUs to fit instance cell; required: ${guest.pcpuset.length} + ${reserve} as overhead, actual: ${cell.pcpuset.length}`,
    );
    return null;
  }
  if (req.cpuPolicy !== "dedicated" && guest.cpuset.length > cell.cpuset.length) {
    log.push(
      `${cellPair(guest, cell)}: Not enough host cell CPUs to fit instance cell; required: ${guest.cpuset.length}, actual: ${cell.cpuset.length}`,
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
      log.push(
        `${cellPair(guest, cell)}: Host cell has limitations on usable CPUs; usage: ${cpuUsage}, limit: ${cpuLimit}`,
      );
      return null;
    }
    const ramUsage = (usage.memoryUsedMb.get(cell.id) ?? 0) + guest.memoryMb;
    const ramLimit = cell.memoryMb * host.ramAllocationRatio;
    if (ramUsage > ramLimit) {
      log.push(
        `${cellPair(guest, cell)}: Host cell has limitations on usable memory; usage: ${ramUsage}, limit: ${ramLimit}`,
      );
      return null;
    }
  }
  if (!pinnedPolicy) return { pinning: [] as Pinning, reserved: [] as number[], pageSizeKb };
  if (guest.pcpuset.length + reserve > freePcpus(cell, usage)) {
    log.push(`${cellPair(guest, cell)}: not enough free pinned CPUs`);
    return null;
  }
  if (guest.memoryMb > cell.memoryMb - (usage.memoryUsedMb.get(cell.id) ?? 0)) {
    log.push(`${cellPair(guest, cell)}: not enough free memory`);
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
    log.push(
      `${cellPair(guest, cell)}: the thread policy "${req.threadPolicy ?? "prefer"}" cannot be met on this cell's cores`,
    );
    return null;
  }
  return { pinning: packed.pinning, reserved: packed.reserved, pageSizeKb };
}

/** The cell's dedicated CPUs no guest is pinned to; on an empty host (every flavor verdict) all of them. */
function freePcpus(cell: CellState, usage: HostUsage): number {
  return usage.pinned.size === 0 ? cell.pcpuset.length : cell.pcpuset.filter((c) => !usage.pinned.has(c)).length;
}

/** numa_fit_instance_to_host: the first permutation of host cells that takes every guest cell. */
export function numaFit(req: GuestRequest, host: NovaHost, usage: HostUsage, log: string[]): PlacedCell[] | null {
  const guests = req.cells!;
  const cells = hostCells(host);
  if (cells.length < guests.length) {
    log.push(`the host has ${cells.length} NUMA nodes, the guest asks for ${guests.length}`);
    return null;
  }
  const ordered = cellOrder(
    cells,
    guests.length,
    req,
    host,
    (c) => c.memoryMb - (usage.memoryUsedMb.get(c.id) ?? 0),
    (c) => freePcpus(c, usage),
  );
  return firstFit(ordered, guests.length, (cell, i) => {
    const reserve = req.emulatorPolicy === "isolate" && i === 0 ? 1 : 0;
    const got = fitCell(cell, guests[i], req, reserve, host, usage, log);
    if (!got || "stop" in got) return null;
    return {
      guestCell: guests[i].id,
      hostCell: cell.id,
      vcpus: union(guests[i].cpuset, guests[i].pcpuset),
      pinning: pinningRecord(guests[i].pcpuset, got.pinning),
      reserved: cpuSet(got.reserved),
      pageSizeKb: got.pageSizeKb,
    };
  });
}

/** vCPU -> pCPU as a record, written in a loop: Object.fromEntries is slow on integer keys. */
function pinningRecord(vcpus: CpuSet, pinning: Pinning): Record<number, number> {
  const record: Record<number, number> = {};
  for (let k = 0; k < pinning.length; k++) record[vcpus[k]] = pinning[k];
  return record;
}

/**
 * The order numa_fit_instance_to_host tries host cells in when it has more than the guest asks
 * for: by free memory, then (pinned guests) by free dedicated CPUs; most first to spread, least
 * first with packing_host_numa_cells_allocation_strategy. Ties keep the host's order.
 */
export function cellOrder(
  cells: CellState[],
  guestCells: number,
  req: GuestRequest,
  host: NovaHost,
  freeMemoryMb: (cell: CellState) => number,
  freeDedicatedCpus: (cell: CellState) => number,
): CellState[] {
  if (cells.length === guestCells) return cells;
  const pinned = req.cpuPolicy === "dedicated" || req.cpuPolicy === "mixed";
  const key: CellKey = { direction: host.packCells ? 1 : -1, pinned, freeMemoryMb, freeDedicatedCpus };
  // Capacity counting asks once per instance placed, often with the cells in order already.
  let sorted = true;
  for (let i = 1; i < cells.length && sorted; i++) sorted = cellRank(cells, i - 1, i, key) < 0;
  if (sorted) return cells;
  // Insertion sort of the indices: a few cells, and no work array for Array.prototype.sort to allocate.
  const order = cells.map((_, i) => i);
  for (let i = 1; i < order.length; i++) {
    const at = order[i];
    let j = i - 1;
    for (; j >= 0 && cellRank(cells, order[j], at, key) > 0; j--) order[j + 1] = order[j];
    order[j + 1] = at;
  }
  return order.map((i) => cells[i]);
}

/** What cellOrder orders cells by. */
interface CellKey {
  direction: number;
  pinned: boolean;
  freeMemoryMb: (cell: CellState) => number;
  freeDedicatedCpus: (cell: CellState) => number;
}

/** cellOrder's comparison of cells `a` and `b` (by index): free CPUs, then free memory, then the host's order. */
function cellRank(cells: CellState[], a: number, b: number, key: CellKey): number {
  const cpus = key.pinned ? key.freeDedicatedCpus(cells[a]) - key.freeDedicatedCpus(cells[b]) : 0;
  return key.direction * cpus || key.direction * (key.freeMemoryMb(cells[a]) - key.freeMemoryMb(cells[b])) || a - b;
}

/**
 * The first assignment of guest cells 0..slots-1 to distinct host cells, in the order the
 * permutations of `cells` come (itertools.permutations), whose every cell fits; `fit` is asked
 * once per host cell and guest cell (whether a guest cell fits a host cell does not depend on
 * where the others go), in the order the permutations first reach the pair.
 */
export function firstFit<C, T>(cells: C[], slots: number, fit: (cell: C, slot: number) => T | null): T[] | null {
  const search: FitSearch<C, T> = { cells, slots, fit, known: new Map(), taken: cells.map(() => false), chosen: [] };
  return assign(search, 0) ? search.chosen : null;
}

/** firstFit's state: the pairs asked (by slot * cells + cell), the cells taken and the fits chosen so far. */
interface FitSearch<C, T> {
  cells: C[];
  slots: number;
  fit: (cell: C, slot: number) => T | null;
  known: Map<number, T | null>;
  taken: boolean[];
  chosen: T[];
}

/** Fills slots `slot`.. of the search: false when no cell left takes one of them. */
function assign<C, T>(search: FitSearch<C, T>, slot: number): boolean {
  const { cells, known, taken, chosen } = search;
  if (slot === search.slots) return true;
  for (let c = 0; c < cells.length; c++) {
    if (taken[c]) continue;
    const key = slot * cells.length + c;
    if (!known.has(key)) known.set(key, search.fit(cells[c], slot));
    const got = known.get(key)!;
    if (got === null) continue;
    taken[c] = true;
    chosen[slot] = got;
    const rest = assign(search, slot + 1);
    taken[c] = false;
    if (rest) return true;
  }
  return false;
}

export function emulatorPcpus(req: GuestRequest, cells: PlacedCell[], host: NovaHost): CpuSet {
  if (req.emulatorPolicy === "isolate") return union(...cells.map((c) => c.reserved));
  if (req.emulatorPolicy === "share" && host.cpuSharedSet && host.cpuSharedSet.length > 0) {
    return intersection(host.cpuSharedSet, onlineCpus(host));
  }
  // Otherwise they float over the pCPUs of the non-RT vCPUs: pinned ones, and for the floating
  // vCPUs of a mixed guest, the shared CPUs of their host cell.
  const rt = new Set(req.realtimeVcpus);
  const sets = cells.flatMap((c) => {
    const pinned = Object.entries(c.pinning)
      .filter(([v]) => !rt.has(Number(v)))
      .map(([, p]) => p);
    const floats = c.vcpus.some((v) => !(v in c.pinning) && !rt.has(v));
    return [pinned, floats ? (hostCells(host).find((h) => h.id === c.hostCell)?.cpuset ?? []) : []];
  });
  return union(...sets);
}
