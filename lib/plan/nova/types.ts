/** The Nova model's vocabulary: flavors, hosts and their cells, guest requests, verdicts, placements. */
import type { CpuSet } from "../../cpu/cpuset";

export const PAGE_4K = 4;
export const PAGE_2M = 2048;
export const PAGE_1G = 1048576;
export const ALL_PAGE_SIZES = [PAGE_1G, PAGE_2M, PAGE_4K]; // largest first, as Nova sorts them

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
export type CpuPolicy = "dedicated" | "mixed" | "shared";
export type ThreadPolicy = "prefer" | "isolate" | "require";

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
