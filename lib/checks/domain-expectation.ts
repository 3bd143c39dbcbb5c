/**
 * What a running RT guest's domain XML should show, derived from the plan: the host's Nova CPU
 * sets and NUMA nodes, and the flavor's realtime vCPUs, emulator policy, page size and PMU.
 */
import type { CpuSet } from "../cpu/cpuset";
import { isCpuSpecError, formatCpuList, parseCpuList, parseNovaCpuSpec } from "../cpu/cpuset";
import type { GuestRequest } from "../plan/nova/model";
import { guestRequest } from "../plan/nova/model";
import type { FlavorPlan } from "../plan/stack";
import type { HostPlan } from "../plan/host";

export interface DomainExpectation {
  /** The host's `[compute] cpu_dedicated_set` (Nova notation; a cpulist is one). */
  dedicatedSet: string;
  sharedSet: string | null;
  /** Host NUMA node id -> its CPUs (cpulist). */
  nodeCpus: Record<number, string>;
  vcpus: number;
  /** RT vCPUs (cpulist); empty for a guest that is pinned but not real-time. */
  realtimeVcpus: string;
  emulatorPolicy: "share" | "isolate" | null;
  /** Guest page size in KiB; null when the guest should use small pages (no `<hugepages>`). */
  pageSizeKb: number | null;
  pmuOff: boolean;
  /** Host nodes the guest's memory should be bound to, when the plan knows them. */
  hostCellsPlanned?: number[];
  /** vCPUs of a `hw:cpu_policy=mixed` guest that float over cpu_shared_set instead of being pinned. */
  sharedVcpus?: string;
}

/** The expectation's sets, parsed once for all checks. */
export interface PlannedSets {
  dedicated: CpuSet;
  shared: CpuSet | null;
  realtime: CpuSet;
  floating: CpuSet;
  /** pCPU -> host node. */
  nodeOf: Map<number, number>;
}

export type PlannedSetsRead = { ok: true; sets: PlannedSets } | { ok: false; error: string };

export function plannedSets(e: DomainExpectation): PlannedSetsRead {
  try {
    const nodeOf = new Map<number, number>();
    for (const [node, cpus] of Object.entries(e.nodeCpus))
      for (const c of parseCpuList(cpus)) nodeOf.set(c, Number(node));
    return {
      ok: true,
      sets: {
        dedicated: parseNovaCpuSpec(e.dedicatedSet),
        shared: e.sharedSet === null ? null : parseNovaCpuSpec(e.sharedSet),
        realtime: parseCpuList(e.realtimeVcpus),
        floating: parseCpuList(e.sharedVcpus ?? ""),
        nodeOf,
      },
    };
  } catch (err) {
    if (isCpuSpecError(err)) return { ok: false, error: err.message };
    throw err;
  }
}

/**
 * The expectation for a guest whose Nova request is known. `pageSizeKb` resolves the requests
 * whose size the host decides (`large`, `any`): the caller knows which pages the host offers.
 */
export function expectationFromRequest(
  request: GuestRequest,
  host: { dedicatedSet: string; sharedSet: string | null; nodeCpus: Record<number, string> },
  hostPageSizeKb: number | null,
  pmuOff: boolean,
): DomainExpectation {
  const page = request.pageSize;
  const floating = (request.cells ?? []).flatMap((c) => c.cpuset);
  return {
    ...host,
    vcpus: request.vcpus,
    realtimeVcpus: formatCpuList(request.realtimeVcpus),
    emulatorPolicy: request.emulatorPolicy,
    pageSizeKb: page === null || page === "small" ? null : typeof page === "number" ? page : hostPageSizeKb,
    pmuOff,
    ...(request.cpuPolicy === "mixed" ? { sharedVcpus: formatCpuList(floating) } : {}),
  };
}

/** `hw:pmu` as Nova reads it: only an explicit false switches the PMU off. */
export function pmuOffIn(extraSpecs: Record<string, string>): boolean {
  const v = extraSpecs["hw:pmu"];
  return v !== undefined && /^(0|f|n|false|no|off)$/i.test(v.trim());
}

/**
 * The expectation for an instance of a planned flavor on a planned host. The flavor must be one
 * the plan accepted: Nova's model throws for flavors the API would reject.
 */
export function expectationFromPlan(
  host: HostPlan,
  flavor: FlavorPlan,
  imageProps: Record<string, string> = {},
): DomainExpectation {
  const request = guestRequest({ vcpus: flavor.vcpus, ramMb: flavor.ramMb, extraSpecs: flavor.extraSpecs }, imageProps);
  // `large` and `any` get the largest host page size a guest cell fits in whole pages, as Nova
  // tries them (on an empty host: enough pages on one node); `any` falls back to small pages.
  const cellKb = (request.cells?.[0]?.memoryMb ?? flavor.ramMb) * 1024;
  const sizes = host.hugepages.sizes.filter((s) => s.perNode.some((n) => n.count > 0));
  const fitting = sizes.find((s) => cellKb % s.sizeKb === 0 && s.perNode.some((n) => n.count >= cellKb / s.sizeKb));
  const hostPageSizeKb = fitting?.sizeKb ?? (request.pageSize === "any" ? null : (sizes[0]?.sizeKb ?? null));
  return expectationFromRequest(
    request,
    {
      dedicatedSet: host.nova.cpuDedicatedSet,
      sharedSet: host.nova.cpuSharedSet,
      nodeCpus: Object.fromEntries(host.nodes.map((n) => [n.id, n.cpus])),
    },
    hostPageSizeKb,
    pmuOffIn(flavor.extraSpecs),
  );
}
