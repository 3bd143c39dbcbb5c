/**
 * The API's flavor and image constraints (nova.virt.hardware numa_get_constraints and friends):
 * a flavor and image properties turned into the guest Nova would ask for, or a rejection.
 */
import type { CpuSet } from "../../cpu/cpuset";
import { cpuSet, difference, intersection, parseNovaCpuSpec } from "../../cpu/cpuset";
import type { CpuPolicy, GuestCell, GuestRequest, NovaFlavor, PageRequest, ThreadPolicy } from "./types";

/** The API refuses the flavor or image (a 400 from nova-api). */
export class Rejected extends Error {}

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
