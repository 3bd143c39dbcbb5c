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
export function packOntoCores(
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
export function numaFit(req: GuestRequest, host: NovaHost, usage: HostUsage, log: string[]): PlacedCell[] | null {
  const guests = req.cells!;
  let cells = hostCells(host);
  if (cells.length < guests.length) {
    log.push(`the host has ${cells.length} NUMA nodes, the guest asks for ${guests.length}`);
    return null;
  }
  if (cells.length > guests.length) {
    const spread = !host.packCells;
    // Each cell's sort keys computed once: a comparison must not rescan the cell's CPUs.
    const avail = new Map(cells.map((c) => [c, c.memoryMb - (usage.memoryUsedMb.get(c.id) ?? 0)]));
    const byAvail = (a: CellState, b: CellState) => avail.get(a)! - avail.get(b)!;
    cells = stableSort(cells, (a, b) => (spread ? byAvail(b, a) : byAvail(a, b)));
    if (req.cpuPolicy === "dedicated" || req.cpuPolicy === "mixed") {
      const freeP = new Map(cells.map((c) => [c, c.pcpuset.filter((x) => !usage.pinned.has(x)).length]));
      const byFree = (a: CellState, b: CellState) => freeP.get(a)! - freeP.get(b)!;
      cells = stableSort(cells, (a, b) => (spread ? byFree(b, a) : byFree(a, b)));
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

export function emulatorPcpus(req: GuestRequest, cells: PlacedCell[], host: NovaHost): CpuSet {
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
