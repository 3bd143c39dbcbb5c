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
import { emptyUsage, hostCells } from "./host-cells";
import { packOntoCores } from "./numa-fit";
import { placementProblems } from "./placement";
import type { GuestCell, GuestRequest, NovaHost } from "./types";
import { ALL_PAGE_SIZES, PAGE_1G, PAGE_2M, PAGE_4K } from "./types";

const cpuCounts = new Map<string, number>();

/** The count, or null when the request is not one guest cell of dedicated vCPUs. */
export function singleCellCapacity(request: GuestRequest, host: NovaHost, limit: number): number | null {
  const guest = request.cells?.length === 1 ? request.cells[0] : null;
  if (guest === null || request.cpuPolicy !== "dedicated") return null;
  if (request.threadPolicy === "require" && !host.cells.some((c) => c.siblings.some((s) => s.length > 1))) return 0;
  const reserve = request.emulatorPolicy === "isolate" ? 1 : 0;
  const dedicatedHost = host.cpuDedicatedSet !== null && host.cpuDedicatedSet.length > 0;
  let cells = 0;
  for (const cell of hostCells(host)) {
    cells += cellCapacity(cell, guest, request, reserve, dedicatedHost, limit);
    if (cells >= limit) break;
  }
  return Math.min(cells, placementLimit(request, host, guest, reserve, Math.min(cells, limit)));
}

/** How many instances the placement query accepts, at most `upTo`: its usage grows by the same amount each time. */
function placementLimit(request: GuestRequest, host: NovaHost, guest: GuestCell, reserve: number, upTo: number) {
  const after = (n: number): HostUsage => ({
    ...emptyUsage(),
    pcpuUsed: n * (guest.pcpuset.length + reserve),
    vcpuUsed: n * (request.vcpus - guest.pcpuset.length),
    memoryMbUsed: n * request.ramMb,
  });
  // The first n at which the query fails; it keeps failing as usage grows.
  let [lo, hi] = [0, upTo];
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (placementProblems(request, host, after(mid)) === null) lo = mid + 1;
    else hi = mid;
  }
  return lo;
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

/** Instances whose pages the cell serves, at most `upTo`, taking sizes as pickPageSize does. */
function pageCount(cell: CellState, guest: GuestCell, request: GuestRequest, upTo: number): number {
  const req = request.pageSize!;
  const sizes =
    req === "small" ? [PAGE_4K] : req === "large" ? [PAGE_1G, PAGE_2M] : req === "any" ? ALL_PAGE_SIZES : [req];
  const memKb = guest.memoryMb * 1024;
  const free = new Map(
    sizes.map((s) => [s, cell.pages.has(s) ? cell.pages.get(s)!.total - cell.pages.get(s)!.reserved : -1]),
  );
  let n = 0;
  while (n < upTo) {
    let used = false;
    for (const size of sizes) {
      const f = free.get(size)!;
      if (f < 0) return n; // a size the cell does not have: Nova stops at it
      if (memKb <= f * size && memKb % size === 0) {
        free.set(size, f - memKb / size);
        used = true;
        break;
      }
    }
    if (!used) return n;
    n++;
  }
  return n;
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
    for (const p of [...packed.pinning.map(([, cpu]) => cpu), ...packed.reserved])
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
