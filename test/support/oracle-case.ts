/**
 * Reads a committed Nova-oracle fixture (test/fixtures/nova/cases) into this project's Nova model
 * types, and into the domain expectation the domain checks hold a guest to.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { DomainExpectation } from "../../lib/checks/domain-expectation";
import { expectationFromRequest, pmuOffIn } from "../../lib/checks/domain-expectation";
import { formatCpuList, parseNovaCpuSpec } from "../../lib/cpu/cpuset";
import type { NovaFlavor, NovaHost, Verdict } from "../../lib/plan/nova/model";
import { guestRequest, NOVA_DEFAULTS, PAGE_1G, PAGE_2M, PAGE_4K } from "../../lib/plan/nova/model";

export interface OracleInput {
  flavor: { vcpus: number; ram_mb: number; disk_gb?: number; extra_specs: Record<string, string> };
  image_props?: Record<string, string>;
  host: {
    cpu_dedicated_set?: string | null;
    cpu_shared_set?: string | null;
    allocation_ratios?: { cpu?: number; ram?: number };
    cells: {
      id: number;
      cpus: number[];
      siblings?: number[][];
      memory_mb: number;
      hugepages_1g?: number;
      hugepages_2m?: number;
    }[];
  };
  nova_conf?: {
    DEFAULT?: {
      reserved_host_memory_mb?: number;
      reserved_huge_pages?: { node: string; size: string; count: string }[];
    };
    compute?: { packing_host_numa_cells_allocation_strategy?: boolean };
  };
}

export interface OracleOutput {
  extra_specs_valid: boolean;
  constraints_ok: boolean;
  constraint_error: string | null;
  fits: boolean;
  error: string | null;
  realtime_vcpus: number[] | null;
  fit_log: string[];
  placement: null | {
    cells: {
      guest_cell: number;
      host_cell: number;
      vcpus: number[];
      cpu_pinning: Record<string, number | number[]>;
      cpuset_reserved: number[];
      pagesize_kb: number | null;
    }[];
    emulator_pcpus: number[];
    emulator_threads_policy: string | null;
    spawn_error: string | null;
  };
}

export interface OracleCase {
  name: string;
  description: string;
  input: OracleInput;
  nova: OracleOutput;
}

export const CASES_DIR = join(__dirname, "..", "fixtures", "nova", "cases");

export function loadCases(dir = CASES_DIR): OracleCase[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(dir, f), "utf8")) as OracleCase);
}

function pageSizeKb(size: string): number {
  const s = size.toUpperCase();
  if (s === "1GB" || s === "1G" || s === "1048576") return PAGE_1G;
  if (s === "2MB" || s === "2M" || s === "2048") return PAGE_2M;
  if (s === "4KB" || s === "4K" || s === "4") return PAGE_4K;
  throw new Error(`fixture page size ${size} not understood`);
}

export function toNovaHost(input: OracleInput): NovaHost {
  const h = input.host;
  const spec = (s: string | null | undefined) => (s ? parseNovaCpuSpec(s) : null);
  return {
    cpuDedicatedSet: spec(h.cpu_dedicated_set),
    cpuSharedSet: spec(h.cpu_shared_set),
    cells: h.cells.map((c) => ({
      id: c.id,
      cpus: [...c.cpus].sort((a, b) => a - b),
      siblings: (c.siblings ?? []).filter((s) => s.length > 1).map((s) => [...s].sort((a, b) => a - b)),
      memoryMb: c.memory_mb,
      hugepages1g: c.hugepages_1g ?? 0,
      hugepages2m: c.hugepages_2m ?? 0,
    })),
    reservedHostMemoryMb: input.nova_conf?.DEFAULT?.reserved_host_memory_mb ?? NOVA_DEFAULTS.reservedHostMemoryMb,
    reservedHugePages: (input.nova_conf?.DEFAULT?.reserved_huge_pages ?? []).map((r) => ({
      node: Number(r.node),
      sizeKb: pageSizeKb(r.size),
      count: Number(r.count),
    })),
    cpuAllocationRatio: h.allocation_ratios?.cpu ?? NOVA_DEFAULTS.cpuAllocationRatio,
    ramAllocationRatio: h.allocation_ratios?.ram ?? NOVA_DEFAULTS.ramAllocationRatio,
    packCells: input.nova_conf?.compute?.packing_host_numa_cells_allocation_strategy ?? NOVA_DEFAULTS.packCells,
  };
}

export function toNovaFlavor(input: OracleInput): NovaFlavor {
  return { vcpus: input.flavor.vcpus, ramMb: input.flavor.ram_mb, extraSpecs: input.flavor.extra_specs };
}

/** Nova's outcome in this model's vocabulary. */
export function oracleOutcome(nova: OracleOutput): Verdict["outcome"] {
  if (!nova.extra_specs_valid || !nova.constraints_ok) return "rejected";
  if (!nova.fits) return "no-fit";
  return nova.placement?.spawn_error ? "spawn-error" : "fits";
}

/**
 * What the domain XML of an oracle case should show, from the case's input (flavor, image and
 * host). Only a `large`/`any` page size is taken from Nova's verdict: the host decides it.
 */
export function expectationFromCase(c: OracleCase): DomainExpectation {
  const input = c.input;
  const request = guestRequest(toNovaFlavor(input), input.image_props ?? {});
  const allCpus = input.host.cells.flatMap((cell) => cell.cpus);
  const placed = c.nova.placement?.cells ?? [];
  const expectation = expectationFromRequest(
    request,
    {
      // Without cpu_dedicated_set (legacy mode) Nova may pin to any online CPU.
      dedicatedSet: input.host.cpu_dedicated_set ?? formatCpuList([...allCpus].sort((a, b) => a - b)),
      sharedSet: input.host.cpu_shared_set ?? null,
      nodeCpus: Object.fromEntries(
        input.host.cells.map((cell) => [cell.id, formatCpuList([...cell.cpus].sort((a, b) => a - b))]),
      ),
    },
    placed[0]?.pagesize_kb ?? null,
    pmuOffIn(input.flavor.extra_specs),
  );
  return { ...expectation, hostCellsPlanned: placed.map((p) => p.host_cell) };
}
