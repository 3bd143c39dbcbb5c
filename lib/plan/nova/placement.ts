/** The placement query: the host's VCPU, PCPU and MEMORY_MB inventory against a request. */
import type { HostUsage } from "./host-cells";
import { hostHasSmt, pcpuAvailable, vcpuAvailable } from "./host-cells";
import type { GuestRequest, NovaHost } from "./types";

const inventoryCache = new WeakMap<NovaHost, { vcpu: number; pcpu: number; memoryMb: number; smt: boolean }>();

function inventoryOf(host: NovaHost) {
  let inv = inventoryCache.get(host);
  if (!inv) {
    inv = {
      vcpu: vcpuAvailable(host).length,
      pcpu: pcpuAvailable(host).length,
      memoryMb: host.cells.reduce((s, c) => s + c.memoryMb, 0),
      smt: hostHasSmt(host),
    };
    inventoryCache.set(host, inv);
  }
  return inv;
}

/** Whether the query finds too little of one resource class: `n` wanted, with this much used. */
function isShort(n: number, total: number, reserved: number, ratio: number, used: number): boolean {
  return n > 0 && (n > total || n > (total - reserved) * ratio - used);
}

/** What the query and Nova's fallback query (pinned guests only) each find short. */
function shortages(
  req: GuestRequest,
  host: NovaHost,
  usage: Pick<HostUsage, "vcpuUsed" | "pcpuUsed" | "memoryMbUsed">,
) {
  const pinned = req.cpuPolicy === "dedicated" || req.cpuPolicy === "mixed";
  const { vcpu, pcpu, memoryMb, smt } = inventoryOf(host);
  let dedicatedCount = 0;
  if (req.cells) for (const c of req.cells) dedicatedCount += c.pcpuset.length;
  const wantVcpus = req.vcpus - (pinned ? dedicatedCount : 0);
  const wantPcpus = pinned ? dedicatedCount + (req.emulatorPolicy === "isolate" ? 1 : 0) : 0;
  // Nova's fallback query for hosts still on vcpu_pin_set: everything as VCPU, no traits.
  const wantFallbackVcpus = req.vcpus + (req.emulatorPolicy === "isolate" ? 1 : 0);
  // One flat object: capacity counting asks many times per host.
  return {
    pinned,
    vcpu,
    pcpu,
    memoryMb,
    wantVcpus,
    wantPcpus,
    wantFallbackVcpus,
    vcpuShort: isShort(wantVcpus, vcpu, 0, host.cpuAllocationRatio, usage.vcpuUsed),
    pcpuShort: isShort(wantPcpus, pcpu, 0, 1, usage.pcpuUsed),
    memoryShort: isShort(req.ramMb, memoryMb, host.reservedHostMemoryMb, host.ramAllocationRatio, usage.memoryMbUsed),
    traitMissing: req.threadPolicy === "require" && !smt,
    traitForbidden: req.threadPolicy === "isolate" && smt,
    fallbackVcpuShort: pinned && isShort(wantFallbackVcpus, vcpu, 0, host.cpuAllocationRatio, usage.vcpuUsed),
  };
}

/** Whether the query, or for a pinned guest the fallback query, returns the host: placementProblems is null. */
export function placementAccepts(
  req: GuestRequest,
  host: NovaHost,
  usage: Pick<HostUsage, "vcpuUsed" | "pcpuUsed" | "memoryMbUsed">,
): boolean {
  return accepted(shortages(req, host, usage));
}

function accepted(s: ReturnType<typeof shortages>): boolean {
  const firstShort = s.vcpuShort || s.pcpuShort || s.memoryShort || s.traitMissing || s.traitForbidden;
  return !firstShort || (s.pinned && !s.fallbackVcpuShort && !s.memoryShort);
}

/** What the query finds short on the host with this much already used, or null when it returns the host. */
export function placementProblems(
  req: GuestRequest,
  host: NovaHost,
  usage: Pick<HostUsage, "vcpuUsed" | "pcpuUsed" | "memoryMbUsed">,
): string[] | null {
  const s = shortages(req, host, usage);
  if (accepted(s)) return null;
  const first = [
    s.vcpuShort ? `VCPU=${s.wantVcpus} (inventory ${s.vcpu})` : null,
    s.pcpuShort ? `PCPU=${s.wantPcpus} (inventory ${s.pcpu})` : null,
    s.memoryShort ? `MEMORY_MB=${req.ramMb} (inventory ${s.memoryMb})` : null,
    s.traitMissing ? "required trait HW_CPU_HYPERTHREADING missing" : null,
    s.traitForbidden ? "forbidden trait HW_CPU_HYPERTHREADING present" : null,
  ].filter((line) => line !== null);
  if (!s.pinned) return [first.join(", ")];
  const fallback = [
    s.fallbackVcpuShort ? `VCPU=${s.wantFallbackVcpus} (inventory ${s.vcpu})` : null,
    s.memoryShort ? `MEMORY_MB=${req.ramMb} (inventory ${s.memoryMb})` : null,
  ].filter((line) => line !== null);
  return [first.join(", "), fallback.join(", ")];
}
