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

/** What the query finds short on the host with this much already used, or null when it returns the host. */
export function placementProblems(
  req: GuestRequest,
  host: NovaHost,
  usage: Pick<HostUsage, "vcpuUsed" | "pcpuUsed" | "memoryMbUsed">,
): string[] | null {
  const pinned = req.cpuPolicy === "dedicated" || req.cpuPolicy === "mixed";
  const { vcpu, pcpu: pcpuTotal, memoryMb, smt } = inventoryOf(host);
  const inventory: Record<string, { total: number; reserved: number; ratio: number; used: number }> = {
    VCPU: { total: vcpu, reserved: 0, ratio: host.cpuAllocationRatio, used: usage.vcpuUsed },
    PCPU: { total: pcpuTotal, reserved: 0, ratio: 1, used: usage.pcpuUsed },
    MEMORY_MB: {
      total: memoryMb,
      reserved: host.reservedHostMemoryMb,
      ratio: host.ramAllocationRatio,
      used: usage.memoryMbUsed,
    },
  };
  const attempt = (want: Record<string, number>, required: string[], forbidden: string[]): string[] => {
    const short: string[] = [];
    for (const [rc, n] of Object.entries(want)) {
      const inv = inventory[rc];
      if (n > 0 && (n > inv.total || n > (inv.total - inv.reserved) * inv.ratio - inv.used))
        short.push(`${rc}=${n} (inventory ${inv.total})`);
    }
    for (const t of required) if (!smt) short.push(`required trait ${t} missing`);
    for (const t of forbidden) if (smt) short.push(`forbidden trait ${t} present`);
    return short;
  };
  const dedicatedCount = req.cells ? req.cells.reduce((s, c) => s + c.pcpuset.length, 0) : 0;
  const pcpu = pinned ? dedicatedCount + (req.emulatorPolicy === "isolate" ? 1 : 0) : 0;
  const first = attempt(
    { VCPU: req.vcpus - (pinned ? dedicatedCount : 0), PCPU: pcpu, MEMORY_MB: req.ramMb },
    req.threadPolicy === "require" ? ["HW_CPU_HYPERTHREADING"] : [],
    req.threadPolicy === "isolate" ? ["HW_CPU_HYPERTHREADING"] : [],
  );
  if (first.length === 0) return null;
  if (!pinned) return [first.join(", ")];
  // Nova's fallback query for hosts still on vcpu_pin_set: everything as VCPU, no traits.
  const fallback = attempt(
    { VCPU: req.vcpus + (req.emulatorPolicy === "isolate" ? 1 : 0), MEMORY_MB: req.ramMb },
    [],
    [],
  );
  return fallback.length === 0 ? null : [first.join(", "), fallback.join(", ")];
}
