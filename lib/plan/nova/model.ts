/**
 * What Nova (Zed and later, libvirt driver) does with a flavor on an empty compute host,
 * modelled on nova.virt.hardware and checked against Nova's own code (test/fixtures/nova):
 * extra-spec validation, the API's flavor/image constraints, the placement query, and
 * NUMATopologyFilter's cell fitting, including the emulator-thread pinning the driver writes.
 * This file is the model's entry point (Nova's verdict, the booking of a placed guest, capacity);
 * the stages live beside it: request.ts (the API), placement.ts, numa-fit.ts, host-cells.ts.
 */

import type { HostUsage } from "./host-cells";
import { cpusTaken, emptyUsage, hostHasSmt } from "./host-cells";
import { multiCellCapacity, singleCellCapacity } from "./cell-capacity";
import { emulatorPcpus, numaFit } from "./numa-fit";
import { placementProblems } from "./placement";
import { Rejected, guestRequest } from "./request";
import { validateExtraSpecs } from "./extra-specs";
import type { GuestRequest, NovaFlavor, NovaHost, Placement, Verdict } from "./types";

export * from "./types";
export type { HostUsage } from "./host-cells";
export { emptyUsage } from "./host-cells";
export { guestRequest } from "./request";

/**
 * Nova's whole answer for one flavor (and image) on one host, given what is already used there.
 * Without withEmulatorPin the placement's emulatorPcpus is left empty: for callers that want the
 * outcome only (the planner's verdict per host and flavor).
 */
export function novaVerdict(
  flavor: NovaFlavor,
  host: NovaHost,
  imageProps: Record<string, string> = {},
  usage: HostUsage = NO_USAGE,
  withEmulatorPin = true,
): Verdict {
  const request = requestOrRejection(flavor, imageProps);
  return "outcome" in request ? request : placeRequest(request, host, usage, withEmulatorPin);
}

// An empty host's usage, shared: placing only reads it (consume books into the caller's own).
const NO_USAGE = emptyUsage();

// The request depends on the flavor and image only: the planner asks for it on every host.
const requests = new WeakMap<NovaFlavor, WeakMap<Record<string, string>, GuestRequest | Verdict>>();

function requestOrRejection(flavor: NovaFlavor, imageProps: Record<string, string>): GuestRequest | Verdict {
  const byImage = requests.get(flavor) ?? new WeakMap<Record<string, string>, GuestRequest | Verdict>();
  requests.set(flavor, byImage);
  const known = byImage.get(imageProps);
  if (known !== undefined) return known;
  const made = newRequestOrRejection(flavor, imageProps);
  byImage.set(imageProps, made);
  return made;
}

function newRequestOrRejection(flavor: NovaFlavor, imageProps: Record<string, string>): GuestRequest | Verdict {
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
  if (request.threadPolicy === "require" && !hostHasSmt(host)) {
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
  const taken = host ? cpusTaken(host, req.threadPolicy) : (cpu: number) => [cpu];
  for (const cell of placement?.cells ?? []) {
    for (const p of [...Object.values(cell.pinning), ...cell.reserved]) for (const q of taken(p)) usage.pinned.add(q);
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
  return (
    singleCellCapacity(request, host, limit) ??
    multiCellCapacity(request, host, limit) ??
    placedCapacity(request, host, limit)
  );
}

/** capacity() by placing instances in turn: what cell-capacity.ts counts faster for the requests it knows. */
export function placedCapacity(request: GuestRequest, host: NovaHost, limit = 4096): number {
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
