/** Per-flavor plan: the complete Nova extra specs derived from the readable flavor config. */
import type { FlavorConfig, StackConfig } from "./config";
import type { Problem } from "./problems";
import { show } from "./problems";

export type ExtraSpecs = Record<string, string>;

/** Nova's mask for "the first `n` vCPUs are housekeeping": `^0` or `^0-(n-1)`. */
export function housekeepingMask(n: number): string {
  return n === 1 ? "^0" : `^0-${n - 1}`;
}

/** The scoped keys that tie a flavor to the aggregate (AggregateInstanceExtraSpecsFilter). */
export function aggregateSpecs(aggregate: StackConfig["aggregate"]): ExtraSpecs {
  return Object.fromEntries(
    Object.entries(aggregate.metadata).map(([k, v]) => [`aggregate_instance_extra_specs:${k}`, v]),
  );
}

export function flavorExtraSpecs(
  flavor: FlavorConfig,
  aggregate: StackConfig["aggregate"],
  path: string,
): { specs: ExtraSpecs; problems: Problem[] } {
  const problems: Problem[] = [];
  const specs: ExtraSpecs = { "hw:cpu_policy": flavor.cpuPolicy };
  if (flavor.realtime !== false) {
    specs["hw:cpu_realtime"] = "yes";
    const { housekeepingVcpus, mask } = flavor.realtime;
    if (housekeepingVcpus !== undefined && mask !== undefined) {
      problems.push({
        path: `${path}.realtime`,
        message: `got both housekeepingVcpus (${housekeepingVcpus}) and mask (${show(mask)}); give one of them`,
      });
    } else if (mask !== undefined) {
      specs["hw:cpu_realtime_mask"] = mask;
    } else if (housekeepingVcpus !== undefined && housekeepingVcpus > 0) {
      specs["hw:cpu_realtime_mask"] = housekeepingMask(housekeepingVcpus);
    }
  }
  if (flavor.threadPolicy) specs["hw:cpu_thread_policy"] = flavor.threadPolicy;
  if (flavor.emulatorThreadsPolicy) specs["hw:emulator_threads_policy"] = flavor.emulatorThreadsPolicy;
  const pageSize = flavor.pageSize ?? (flavor.realtime === false ? undefined : "1GB");
  if (pageSize) specs["hw:mem_page_size"] = pageSize;
  specs["hw:numa_nodes"] = String(flavor.numaNodes);
  specs["hw:pmu"] = String(flavor.pmu);
  Object.assign(specs, aggregateSpecs(aggregate));
  for (const [key, value] of Object.entries(flavor.extraSpecs)) {
    if (key in specs) {
      problems.push({
        path: `${path}.extraSpecs`,
        message: `"${key}" is set by the planner from the flavor's own settings (to ${show(specs[key])}); change that setting instead of overriding it with ${show(value)}`,
      });
      continue;
    }
    specs[key] = value;
  }
  return { specs: sortKeys(specs), problems };
}

function sortKeys(specs: ExtraSpecs): ExtraSpecs {
  return Object.fromEntries(Object.entries(specs).sort(([a], [b]) => a.localeCompare(b)));
}
