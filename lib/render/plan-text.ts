/** Human-readable rendering of a stack plan, as `npm run plan` prints it. */
import type { StackPlan } from "../plan/stack";
import { SIZE_LABEL } from "../plan/hugepages";
import { describeLatencyMode } from "../plan/latency-mode";
import { describeStalld, withoutStalldLine } from "../plan/stalld";
import type { LatencyStageSettings } from "../checks/latency-stages";
import { describeLatencyStages } from "../checks/latency-stages";
import { OTHER_FLAVORS_LAND_THERE, smallPageMemoryMb } from "../plan/rt-warnings";

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) =>
    r
      .map((cell, c) => cell.padEnd(widths[c]))
      .join("  ")
      .trimEnd(),
  );
}

/** `hostLatency`: the host check's latency stages (latency.host), shown with each host. */
export function renderPlan(stack: string, plan: StackPlan, hostLatency?: LatencyStageSettings): string {
  const out: string[] = [`Plan of stack "${stack}"`, ""];
  for (const host of plan.hosts) {
    out.push(`Host ${host.name} (${host.os}, SMT ${host.smt ? "on" : "off"})`);
    // 2 MiB columns only for a host that has such pages: the others read as before.
    const with2m = host.hugepages.sizes.some((s) => s.name === "2M");
    out.push(
      ...table([
        [
          "  node",
          "cpus",
          "housekeeping",
          "isolated",
          "dedicated (guests)",
          "shared (emulator)",
          "1G pages",
          "reserved",
          ...(with2m ? ["2M pages", "reserved"] : []),
          "memory MiB",
        ],
        ...host.nodes.map((n) => [
          `  ${n.id}`,
          n.cpus,
          n.housekeeping,
          n.isolated || "-",
          n.dedicated || "-",
          n.shared || "-",
          String(n.hugepages1g),
          String(n.reservedHugepages1g),
          ...(with2m ? [String(n.hugepages2m), String(n.reservedHugepages2m)] : []),
          String(n.memoryMb),
        ]),
      ]),
    );
    out.push(`  TuneD ${host.tuned.profile}: isolated_cores=${host.tuned.isolatedCores}`);
    out.push(`  kernel arguments: ${host.kernel.args.join(" ") || "(none)"}`);
    out.push(`  TuneD adds: ${host.kernel.tunedArgs.join(" ")}`);
    out.push(`  latency mode: ${describeLatencyMode(host.power)}`);
    out.push(`  ${describeStalld(host.stalld)}`);
    if (hostLatency) out.push(`  latency proof on the isolated CPUs: ${describeLatencyStages(hostLatency)}`);
    out.push(
      `  hugepages: ${host.hugepages.sizes.map((s) => `${s.perNode.map((p) => `node${p.node}=${p.count}`).join(" ")} x ${SIZE_LABEL[s.name]}`).join(", ")}, ` +
        (host.hugepages.method === "cmdline"
          ? "per-node counts on the kernel command line"
          : "reserved at boot by a systemd unit (kernel < 5.16)") +
        host.hugepages.extraMounts.map((m) => `; hugetlbfs /dev/hugepages${m} for libvirt`).join(""),
    );
    out.push(
      `  small-page memory for guests: ${smallPageMemoryMb(host)} MiB (outside the huge page pools, less reserved_host_memory_mb)`,
    );
    out.push(
      `  nova-compute: [compute] cpu_dedicated_set=${host.nova.cpuDedicatedSet}` +
        (host.nova.cpuSharedSet ? ` cpu_shared_set=${host.nova.cpuSharedSet}` : "") +
        `; [DEFAULT] reserved_host_memory_mb=${host.nova.reservedHostMemoryMb}` +
        (host.nova.reservedHugePages.length ? ` reserved_huge_pages=${host.nova.reservedHugePages.join(" ")}` : "") +
        (host.power.novaCpuPowerManagement === "off" ? "; [libvirt] cpu_power_management=false" : ""),
      "",
    );
  }
  out.push(`RT hosts: ${OTHER_FLAVORS_LAND_THERE}`, "");
  const bare = withoutStalldLine(plan.hosts);
  if (bare !== null) out.push(`RT hosts without stalld: ${bare}`, "");
  for (const f of plan.flavors) {
    out.push(`Flavor ${f.name}: ${f.vcpus} vCPU, ${f.ramMb} MiB, ${f.diskGb} GB${f.isPublic ? "" : ", private"}`);
    for (const [k, v] of Object.entries(f.extraSpecs)) out.push(`  ${k}=${v}`);
    out.push(
      `  guest: RT vCPUs ${f.guest.realtimeVcpus || "none"}, housekeeping vCPUs ${f.guest.housekeepingVcpus || "none"}` +
        (f.guest.realtimeVcpus ? `, TuneD realtime-virtual-guest isolated_cores=${f.guest.tunedIsolatedCores}` : ""),
    );
    // Each count is for a host that runs this flavor alone: flavors share a host's CPUs and pages, so counts of different flavors do not add up.
    out.push("  fits at most, on a host running only this flavor (flavors share a host: do not add these up):");
    const smallPages = f.extraSpecs["hw:mem_page_size"] === undefined;
    for (const h of f.hosts) {
      // Without a page size Nova counts the pools' memory too: what the small pages hold is the real bound.
      const host = plan.hosts.find((p) => p.name === h.host);
      const holds = smallPages && host ? Math.floor(smallPageMemoryMb(host) / f.ramMb) : Infinity;
      const note =
        holds < h.capacity ? `; Nova would place ${h.capacity}, counting the huge page pools' memory too` : "";
      const n = Math.min(h.capacity, holds);
      out.push(
        `    ${h.host}: ${n} instance${n === 1 ? "" : "s"}${h.reason ? ` (${h.reason})` : ""}${note ? ` (small pages${note})` : ""}`,
      );
    }
    out.push("");
  }
  for (const s of plan.servers) {
    const where = s.pinnedHost
      ? `pinned to ${s.pinnedHost}`
      : `can go to ${s.candidates.join(", ") || "no planned host yet"}`;
    out.push(`Server ${s.name}: flavor ${s.flavor}, ${where}`);
  }
  return out.join("\n").trimEnd() + "\n";
}
