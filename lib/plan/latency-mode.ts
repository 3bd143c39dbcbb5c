/**
 * How awake a host keeps its CPUs (`latencyMode`), and Nova's power management of the dedicated
 * CPUs (`nova.cpuPowerManagement`, `[libvirt] cpu_power_management`, Nova 27.0.0 Antelope and
 * later): the kernel arguments they add, what the host check expects of cpuidle and cpufreq, and
 * the combinations refused with the reason.
 *
 * The modes follow OpenShift's Performance Profile Creator (`--power-consumption-mode`) and its
 * node tuning templates, on a host whose TuneD profile is already a realtime one:
 * - default: the TuneD profile's own settings. Its latency-performance base keeps idle CPUs at
 *   C1 or shallower through a PM QoS request (force_latency) while TuneD runs, and sets the
 *   `performance` cpufreq governor. No kernel argument.
 * - low-latency: the C-state limit from boot, whether or not TuneD runs
 *   (`processor.max_cstate=1 intel_idle.max_cstate=0`, edpm's `edpm_tuned_max_power_cstate`,
 *   OpenShift's highPowerConsumption hint).
 * - ultra-low-latency: also `idle=poll` (OpenShift's highPowerConsumption with realTime): idle
 *   CPUs spin instead of halting; no wake-up latency, full power draw on every idle CPU.
 */
import type { Problem } from "../config/problems";
import type { CpuPowerManagement, LatencyMode, StackConfig } from "../config/schema";
import { settingPath } from "../config/schema";
import type { Warning } from "../config/warnings";
import type { StackPlan } from "./stack";
import { kernelParamName } from "./kernel-param";

const CSTATE_LIMIT_ARGS = ["processor.max_cstate=1", "intel_idle.max_cstate=0"] as const;

export function latencyModeKernelArgs(mode: LatencyMode): string[] {
  switch (mode) {
    case "default":
      return [];
    case "low-latency":
      return [...CSTATE_LIMIT_ARGS];
    case "ultra-low-latency":
      return [...CSTATE_LIMIT_ARGS, "idle=poll"];
  }
}

/** The parameters latencyMode owns (as kernelParamName spells them): extraKernelArgs may not set them. */
const LATENCY_MODE_PARAMS = new Set(latencyModeKernelArgs("ultra-low-latency").map((a) => kernelParamName(a)));

/** TuneD's realtime profile (which realtime-virtual-host includes) boots with this: the host check expects it. */
export const REALTIME_PROFILE_PSTATE_ARG = "intel_pstate=disable";

export interface PowerPlan {
  latencyMode: LatencyMode;
  /**
   * The deepest cpuidle state index an isolated CPU may enter once booted: 1 (POLL and C1) for
   * low-latency, 0 for ultra-low-latency (idle=poll: the kernel registers no cpuidle driver),
   * null when only TuneD's PM QoS request limits it at run time.
   */
  deepestIdleState: 0 | 1 | null;
  /** `[libvirt] cpu_power_management` host prep writes (always false: see powerProblems); null: not written. */
  novaCpuPowerManagement: "off" | null;
}

export function powerPlan(mode: LatencyMode, nova: CpuPowerManagement | undefined): PowerPlan {
  return {
    latencyMode: mode,
    deepestIdleState: mode === "ultra-low-latency" ? 0 : mode === "low-latency" ? 1 : null,
    novaCpuPowerManagement: nova === "off" ? "off" : null,
  };
}

/**
 * Settings the host's TuneD profile contradicts. Both of the project's profiles (realtime-virtual-
 * host and cpu-partitioning) include latency-performance: `governor=performance` on every CPU
 * and an `isolated_cores` that must be online.
 */
export function powerProblems(
  host: {
    tunedProfile: "realtime-virtual-host" | "cpu-partitioning";
    extraKernelArgs: readonly string[];
    nova?: { cpuPowerManagement?: CpuPowerManagement };
  },
  path: string,
): Problem[] {
  const problems: Problem[] = [];
  host.extraKernelArgs.forEach((arg, i) => {
    const key = kernelParamName(arg);
    const where = `${path}.extraKernelArgs[${i}]`;
    if (LATENCY_MODE_PARAMS.has(key))
      problems.push({
        path: where,
        message: `got "${arg}", but ${key} follows from latencyMode (low-latency adds ${CSTATE_LIMIT_ARGS.join(" ")}, ultra-low-latency also idle=poll); remove it here and set latencyMode instead`,
      });
    else if (key === "intel_pstate" && host.tunedProfile === "realtime-virtual-host")
      problems.push({
        path: where,
        message: `got "${arg}", but TuneD's realtime profile already boots with ${REALTIME_PROFILE_PSTATE_ARG} (acpi-cpufreq and the performance governor drive the frequency); the kernel would take whichever comes last: remove it here`,
      });
  });
  const nova = host.nova?.cpuPowerManagement;
  const where = `${path}.nova.cpuPowerManagement`;
  if (nova === "cpu_state")
    problems.push({
      path: where,
      message:
        host.tunedProfile === "realtime-virtual-host"
          ? 'got "cpu_state", which offlines a dedicated CPU when its guest stops and onlines it when one starts: CPU hotplug (offlining runs stop_machine across every CPU, onlining interrupts the others) is a latency event for the RT guests already running beside it, and TuneD\'s profile requires its isolated_cores online; use off'
          : `got "cpu_state", which offlines idle dedicated CPUs: TuneD's ${host.tunedProfile} profile requires its isolated_cores online and host prep's nova-compute step refuses offline dedicated CPUs; use off`,
    });
  else if (nova === "governor")
    problems.push({
      path: where,
      message: `got "governor", which gives idle dedicated CPUs the powersave governor: TuneD's ${host.tunedProfile} profile sets performance on every CPU, so its verify fails on them and a TuneD restart undoes Nova's choice; use off`,
    });
  return problems;
}

/** How the plan text and --diff show a host's latency mode: the mode and what it does to idle CPUs. */
export function describeLatencyMode(power: PowerPlan): string {
  const idle =
    power.deepestIdleState === null
      ? "C-states limited by TuneD's PM QoS request while TuneD runs"
      : power.deepestIdleState === 0
        ? "idle=poll: idle CPUs spin, no cpuidle driver"
        : "C1 at most from boot";
  return `${power.latencyMode} (${idle})`;
}

/**
 * ultra-low-latency on a host with SMT on: an idle thread that polls keeps its core's execution
 * units busy, so the RT vCPU on the sibling thread runs slower and less predictably than beside
 * a halted thread; and every idle CPU of the host draws full power.
 */
export function latencyModeWarnings(config: StackConfig, plan: StackPlan): Warning[] {
  return plan.hosts
    .filter((h) => h.power.latencyMode === "ultra-low-latency" && h.smt)
    .map((h) => ({
      path: `${settingPath(["hosts", config.hosts.findIndex((c) => c.name === h.name)])}.latencyMode`,
      message:
        `host ${h.name} has SMT on, and ultra-low-latency's idle=poll keeps each idle thread spinning on its core: ` +
        "the RT vCPU on the sibling thread shares the core's execution units with that loop. Turn SMT off (firmware, " +
        "or nosmt in extraKernelArgs), or use low-latency, which halts idle threads in C1",
    }));
}
