/**
 * capacity() without placing every instance in turn, for the common request: one guest cell of
 * dedicated vCPUs. Such a guest goes whole into one host cell, and whether it fits there depends
 * on that cell's own usage only, so the count is the sum of what each cell takes alone, bounded
 * by the placement query (host totals). In a cell, pages, memory and CPUs are separate budgets,
 * each used up monotonically: the cell takes the least of the three counts. The CPU count (the
 * costly one: packing onto cores by thread policy) depends on the order of the cell's cores and
 * siblings only, never on the CPU numbers, so it is computed once per cell shape and request.
 * Anything else (several guest cells, floating vCPUs) is counted by placing instances in turn.
 */
import type { CellState, HostUsage } from "./host-cells";
import { cpusTaken, emptyUsage, hostCells, hostHasSmt } from "./host-cells";
import { cellOrder, firstFit, packOntoCores, pageSizeCandidates, pickPageSize } from "./numa-fit";
import { placementAccepts } from "./placement";
import type { GuestCell, GuestRequest, NovaHost, ThreadPolicy } from "./types";
import { PAGE_4K } from "./types";

const cpuCounts = new Map<string, number>();

/** The count, or null when the request is not one guest cell of dedicated vCPUs. */
export function singleCellCapacity(request: GuestRequest, host: NovaHost, limit: number): number | null {
  const guest = request.cells?.length === 1 ? request.cells[0] : null;
  if (guest === null || request.cpuPolicy !== "dedicated") return null;
  if (request.threadPolicy === "require" && !hostHasSmt(host)) return 0;
  const reserve = request.emulatorPolicy === "isolate" ? 1 : 0;
  const dedicatedHost = host.cpuDedicatedSet !== null && host.cpuDedicatedSet.length > 0;
  let cells = 0;
  for (const cell of hostCells(host)) {
    cells += cellCapacity(cell, guest, request, reserve, dedicatedHost, limit);
    if (cells >= limit) break;
  }
  return Math.min(cells, placementLimit(request, host, Math.min(cells, limit)));
}

/** How many instances the placement query accepts, at most `upTo`: its usage grows by the same amount each time. */
function placementLimit(request: GuestRequest, host: NovaHost, upTo: number) {
  // Mostly the cells fill up first: then one query says so.
  if (upTo === 0 || placementAccepts(request, host, usageAfter(request, upTo - 1))) return upTo;
  // Else the first n at which the query fails; it keeps failing as usage grows.
  let [lo, hi] = [0, upTo - 1];
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (placementAccepts(request, host, usageAfter(request, mid))) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** What the placement query counts as used once `n` instances of the request are placed. */
function usageAfter(request: GuestRequest, n: number): Pick<HostUsage, "vcpuUsed" | "pcpuUsed" | "memoryMbUsed"> {
  const dedicated = request.cells!.reduce((s, c) => s + c.pcpuset.length, 0);
  return {
    pcpuUsed: n * (dedicated + (request.emulatorPolicy === "isolate" ? 1 : 0)),
    vcpuUsed: n * (request.vcpus - dedicated),
    memoryMbUsed: n * request.ramMb,
  };
}

function cellCapacity(
  cell: CellState,
  guest: GuestCell,
  request: GuestRequest,
  reserve: number,
  dedicatedHost: boolean,
  limit: number,
): number {
  if (guest.pcpuset.length + reserve > cell.pcpuset.length) return 0;
  const small = cell.pages.get(PAGE_4K)!;
  if (request.pageSize === null && guest.memoryMb * 1024 > small.total * PAGE_4K) return 0;
  const cpus = cpuCount(cell, guest, request, reserve, dedicatedHost, limit);
  const memory = Math.floor(cell.memoryMb / guest.memoryMb);
  return request.pageSize === null ? Math.min(cpus, memory) : pageCount(cell, guest, request, Math.min(cpus, memory));
}

/**
 * Instances whose pages the cell serves, at most `upTo`: pickPageSize takes the first size with
 * room until none is left, then the next, so the counts of the sizes add up.
 */
function pageCount(cell: CellState, guest: GuestCell, request: GuestRequest, upTo: number): number {
  const memKb = guest.memoryMb * 1024;
  let n = 0;
  for (const size of pageSizeCandidates(request.pageSize!)) {
    const p = cell.pages.get(size);
    const free = p ? p.total - p.reserved : -1;
    if (free < 0) break; // a size the cell lacks: Nova stops there
    if (memKb % size === 0) n += Math.floor(free / (memKb / size));
    if (n >= upTo) return upTo;
  }
  return n;
}

/** The pages of each size guests may use on an empty cell. */
function freePageCounts(cell: CellState): Map<number, number> {
  const free = new Map<number, number>();
  for (const [size, p] of cell.pages) free.set(size, p.total - p.reserved);
  return free;
}

/**
 * Thread policy prefer (or none) takes any free dedicated CPUs once no core has enough free
 * siblings (_pack_instance_onto_cores' last resort), so a cell takes a guest cell exactly when
 * it has as many free dedicated CPUs as the guest cell pins plus the emulator's reserve, and
 * each guest cell there takes exactly that many: its CPUs can be counted, not placed.
 */
function pinsByCount(policy: ThreadPolicy | null): boolean {
  return policy === null || policy === "prefer";
}

/** Instances the cell's dedicated CPUs take, by placing them in turn as numaFit and consume do. */
function cpuCount(
  cell: CellState,
  guest: GuestCell,
  request: GuestRequest,
  reserve: number,
  dedicatedHost: boolean,
  limit: number,
): number {
  if (pinsByCount(request.threadPolicy))
    return Math.min(limit, Math.floor(cell.pcpuset.length / (guest.pcpuset.length + reserve)));
  const key = cellShape(cell, guest, request, reserve, dedicatedHost, limit);
  const known = cpuCounts.get(key);
  if (known !== undefined) return known;
  const usage = emptyUsage();
  const coreOf = new Map<number, readonly number[]>();
  for (const core of cell.siblings) for (const cpu of core) coreOf.set(cpu, core);
  let n = 0;
  while (n < limit) {
    const free = cell.pcpuset.filter((c) => !usage.pinned.has(c)).length;
    if (guest.pcpuset.length + reserve > free) break;
    const packed = packOntoCores(cell, guest, request.threadPolicy, reserve, dedicatedHost, usage);
    if (!packed) break;
    // As consume books it: with thread policy isolate, the whole core of each CPU used.
    for (const p of [...packed.pinning, ...packed.reserved])
      for (const q of request.threadPolicy === "isolate" ? (coreOf.get(p) ?? [p]) : [p]) usage.pinned.add(q);
    n++;
  }
  cpuCounts.set(key, n);
  return n;
}

const shapes = new WeakMap<CellState, string>();

/** The cell's cores and dedicated CPUs with each CPU replaced by its rank, and what the count depends on. */
function cellShape(
  cell: CellState,
  guest: GuestCell,
  request: GuestRequest,
  reserve: number,
  dedicatedHost: boolean,
  limit: number,
): string {
  let shape = shapes.get(cell);
  if (shape === undefined) {
    const all = [...new Set([...cell.siblings.flat(), ...cell.pcpuset])].sort((a, b) => a - b);
    const rank = new Map(all.map((c, i) => [c, i]));
    const relabel = (cpus: readonly number[]) => cpus.map((c) => rank.get(c)!).join(",");
    shape = `${cell.siblings.map(relabel).join(";")}|${relabel(cell.pcpuset)}|${cell.threadsPerCore}`;
    shapes.set(cell, shape);
  }
  return `${shape}|${guest.pcpuset.length}|${request.threadPolicy}|${reserve}|${dedicatedHost}|${limit}`;
}

/**
 * The count for a guest of several cells of dedicated vCPUs: the instances are placed in turn
 * as numaFit and consume do, on counts (each cell's free memory, pages and dedicated CPUs)
 * instead of the host's CPU sets; only thread policies isolate and require, which pin onto
 * particular cores, still pin CPUs. Null when the request is not of that kind.
 */
export function multiCellCapacity(request: GuestRequest, host: NovaHost, limit: number): number | null {
  const guests = request.cells;
  if (!guests || guests.length < 2 || request.cpuPolicy !== "dedicated") return null;
  if (request.threadPolicy === "require" && !hostHasSmt(host)) return 0;
  const cells = hostCells(host);
  if (cells.length < guests.length) return 0;
  const dedicatedHost = host.cpuDedicatedSet !== null && host.cpuDedicatedSet.length > 0;
  // The CPUs pinned, when they are placed rather than counted.
  const pinned = pinsByCount(request.threadPolicy) ? null : emptyUsage();
  const taken = cpusTaken(host, request.threadPolicy);
  const state = new Map(
    cells.map((cell) => [cell, { memoryUsedMb: 0, freePcpus: cell.pcpuset.length, freePages: freePageCounts(cell) }]),
  );
  const fit = (cell: CellState, i: number) => {
    const guest = guests[i];
    const at = state.get(cell)!;
    const reserve = request.emulatorPolicy === "isolate" && i === 0 ? 1 : 0;
    let pageSizeKb = PAGE_4K;
    if (request.pageSize !== null) {
      const size = pickPageSize(guest.memoryMb, request.pageSize, (s) => at.freePages.get(s) ?? -1);
      if (size === null || size === "unsupported") return null;
      pageSizeKb = size;
    } else if (guest.memoryMb * 1024 > cell.pages.get(PAGE_4K)!.total * PAGE_4K) return null;
    const cpus = guest.pcpuset.length + reserve;
    if (cpus > at.freePcpus || guest.memoryMb > cell.memoryMb - at.memoryUsedMb) return null;
    const packed = pinned && packOntoCores(cell, guest, request.threadPolicy, reserve, dedicatedHost, pinned);
    if (pinned && !packed) return null;
    return { cell, guest, cpus, pageSizeKb, packed };
  };
  const freeMemoryMb = (c: CellState) => c.memoryMb - state.get(c)!.memoryUsedMb;
  const freePcpus = (c: CellState) => state.get(c)!.freePcpus;
  const upTo = placementLimit(request, host, limit);
  let n = 0;
  for (; n < upTo; n++) {
    const order = cellOrder(cells, guests.length, request, host, freeMemoryMb, freePcpus);
    const placed = firstFit(order, guests.length, fit);
    if (!placed) break;
    for (const { cell, guest, cpus, pageSizeKb, packed } of placed) {
      const at = state.get(cell)!;
      at.memoryUsedMb += guest.memoryMb;
      at.freePages.set(pageSizeKb, at.freePages.get(pageSizeKb)! - (guest.memoryMb * 1024) / pageSizeKb);
      if (!packed || !pinned) {
        at.freePcpus -= cpus;
        continue;
      }
      for (const p of [...packed.pinning, ...packed.reserved]) for (const q of taken(p)) pinned.pinned.add(q);
      at.freePcpus = cell.pcpuset.filter((c) => !pinned.pinned.has(c)).length;
    }
  }
  return n;
}
