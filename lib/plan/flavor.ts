/** Per-flavor plan: the complete Nova extra specs derived from the readable flavor config. */
import type { FlavorConfig, StackConfig } from "../config/schema";
import { extraSpecError } from "./nova/extra-specs";
import type { Problem } from "../config/problems";
import { show } from "../config/problems";

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
  problems.push(...refusedByNova(flavor, specs, path));
  return { specs: sortKeys(specs), problems };
}

/**
 * The extra specs Nova's API would refuse (lib/plan/nova/extra-specs.ts), each at the setting it
 * came from: the flavor's extraSpecs, or its realtime mask. The other planned keys come from
 * the schema's enums and numbers, which Nova takes.
 */
function refusedByNova(flavor: FlavorConfig, specs: ExtraSpecs, path: string): Problem[] {
  const problems: Problem[] = [];
  for (const [key, value] of Object.entries(specs)) {
    const error = extraSpecError(key, value);
    if (error === null) continue;
    if (key in flavor.extraSpecs) {
      problems.push({
        path: `${path}.extraSpecs`,
        message: `got ${show(key)}: ${show(value)}, which Nova's API refuses: ${error}`,
      });
    } else if (key === "hw:cpu_realtime_mask" && flavor.realtime !== false && flavor.realtime.mask !== undefined) {
      problems.push({
        path: `${path}.realtime.mask`,
        message: `got ${show(value)}, which Nova's API refuses as hw:cpu_realtime_mask: ${error}; write it without blanks, such as "^0-1" or "^0,2"`,
      });
    } else {
      problems.push({
        path,
        message: `the planner's extra spec ${show(key)}: ${show(value)} is refused by Nova's API: ${error}; please report this`,
      });
    }
  }
  return problems;
}

function sortKeys(specs: ExtraSpecs): ExtraSpecs {
  return Object.fromEntries(Object.entries(specs).sort(([a], [b]) => a.localeCompare(b)));
}
