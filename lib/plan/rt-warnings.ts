/**
 * What a valid plan does that an RT operator expects to be told (Nova's real-time guide, Red
 * Hat's NFV guide): SMT left on under RT guests, and guests without a page size counted by Nova
 * against memory the huge page pools hold; and what the plan says about the flavors of the rest
 * of the cloud, which Nova may place on the RT hosts. Pure: from the config and its plan.
 */
import type { StackConfig } from "../config/schema";
import { settingPath } from "../config/schema";
import type { StackWarnings, Warning } from "../config/warnings";
import type { HostPlan } from "./host";
import { latencyModeWarnings } from "./latency-mode";
import type { FlavorPlan, StackPlan } from "./stack";

/** What a flavor's hw:cpu_thread_policy does on a host with SMT on (Nova's CPU thread policies). */
function threadPolicyOnSmt(f: FlavorPlan): string {
  const policy = f.extraSpecs["hw:cpu_thread_policy"];
  if (policy === "require")
    return `"${f.name}" (threadPolicy require) takes whole cores, its vCPUs on sibling threads: no other guest shares its cores, but its RT vCPUs share cores with its own vCPUs`;
  if (policy === "isolate")
    return `"${f.name}" (threadPolicy isolate) fits no host with SMT on that uses cpu_dedicated_set`;
  return `"${f.name}" (threadPolicy ${policy ?? "prefer, Nova's default"}) may put an RT vCPU on a core whose other thread runs another vCPU, of this guest or another`;
}

function smtWarnings(config: StackConfig, plan: StackPlan, stack: string): Warning[] {
  const rtFlavors = plan.flavors.filter((f) => f.guest.realtimeVcpus !== "");
  return plan.hosts
    .filter((h) => h.smt && h.tuned.profile === "realtime-virtual-host")
    .map((h) => {
      const i = config.hosts.findIndex((c) => c.name === h.name);
      const flavors = rtFlavors.length ? `${rtFlavors.map(threadPolicyOnSmt).join("; ")}. ` : "";
      return {
        path: `${settingPath(["hosts", i])}.topology`,
        message:
          `host ${h.name} has SMT on, and Nova's real-time guide advises turning it off on RT hosts: a sibling thread's work ` +
          `adds latency to the RT vCPU beside it. ${flavors}Turn SMT off in the firmware (or add nosmt to extraKernelArgs), ` +
          `then read the topology again (npm run discover -- --stack ${stack} --host ${h.name})`,
      };
    });
}

/** MiB of small-page memory a host has for guests: its memory outside the huge page pools, less reserved_host_memory_mb. */
export function smallPageMemoryMb(host: HostPlan): number {
  const outsidePools = host.nodes.reduce((s, n) => s + n.memoryMb - n.hugepages1g * 1024 - n.hugepages2m * 2, 0);
  return Math.max(0, outsidePools - host.nova.reservedHostMemoryMb);
}

/**
 * A flavor without a page size: Nova checks each guest against the cell's small pages alone but
 * counts the host's whole memory, pools included, when it places more (placement's MEMORY_MB), so
 * it places guests for memory the pools hold, and the host runs out of memory instead.
 */
function smallPageWarnings(config: StackConfig, plan: StackPlan): Warning[] {
  const out: Warning[] = [];
  plan.flavors.forEach((f, i) => {
    if (f.extraSpecs["hw:mem_page_size"] !== undefined) return;
    const over = f.hosts
      .map((h) => ({ at: h, host: plan.hosts.find((p) => p.name === h.host) }))
      .filter((x): x is { at: FlavorPlan["hosts"][number]; host: HostPlan } => x.host !== undefined)
      .map(({ at, host }) => ({
        name: host.name,
        nova: at.capacity,
        fits: Math.floor(smallPageMemoryMb(host) / f.ramMb),
        small: smallPageMemoryMb(host),
      }))
      .filter((x) => x.nova > x.fits);
    if (over.length === 0) return;
    const shown = over
      .slice(0, 3)
      .map((x) => `${x.name}: Nova places ${x.nova} (${x.nova * f.ramMb} MiB), ${x.small} MiB hold ${x.fits}`)
      .join("; ");
    out.push({
      path: `${settingPath(["flavors", config.flavors.findIndex((c) => c.name === f.name) ?? i])}.pageSize`,
      message:
        `flavor "${f.name}" sets no pageSize, so its guests use small pages, and Nova counts the host's whole memory for them, ` +
        `huge page pools included: it places more of them than the memory outside the pools and reserved_host_memory_mb holds ` +
        `(${shown}${over.length > 3 ? `; and ${over.length - 3} more hosts` : ""}); the guests past that run the host out of memory. ` +
        `Set pageSize: small (hw:mem_page_size=small: Nova then counts small pages only), or give the flavor huge pages (pageSize: 1GB)`,
    });
  });
  return out;
}

/**
 * AggregateInstanceExtraSpecsFilter keeps the RT flavors on the RT hosts, not the other flavors
 * off them: a flavor without the aggregate's key passes every host. The plan says so plainly
 * (lib/render/plan-text.ts, plan-markdown.ts), with Nova's way to keep them off.
 */
export const OTHER_FLAVORS_LAND_THERE =
  "flavors of the rest of the cloud can land on these hosts and take their CPUs and memory: the aggregate's metadata " +
  "keeps the RT flavors on the RT hosts, not other flavors off them. Nova's isolated aggregates keep those off: a trait " +
  "CUSTOM_<NAME> on each RT host's resource provider, trait:CUSTOM_<NAME>=required in the aggregate's metadata and in " +
  "every flavor meant for it, and [scheduler] enable_isolated_aggregate_filtering = true; this stack sets none of these yet";

export function planWarnings(config: StackConfig, plan: StackPlan, stack = "<stack>"): StackWarnings {
  return {
    warnings: [
      ...smtWarnings(config, plan, stack),
      ...latencyModeWarnings(config, plan),
      ...smallPageWarnings(config, plan),
    ],
    notes: [],
  };
}
