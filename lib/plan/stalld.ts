/**
 * stalld and RT throttling (`kernel.sched_rt_runtime_us`), decided together per host.
 *
 * A SCHED_FIFO vCPU that never sleeps starves every kernel thread queued on its CPU. The kernel's
 * guard is RT throttling: sched_rt_runtime_us=950000 of each 1 s period leaves 5% to other
 * tasks, at the price of a 50 ms stall of the RT task every second. TuneD's realtime profile,
 * which realtime-virtual-host includes, sets `kernel.sched_rt_runtime_us = -1` (no throttling);
 * OpenShift's node tuning does the same for its realTime hint and runs stalld as the safety net:
 * stalld watches the CPUs it is given and boosts a thread starved for THRESH seconds with a short
 * SCHED_DEADLINE slice. So: -1 only with stalld running on the isolated CPUs, 950000 otherwise.
 *
 * stalld ships in RHEL 8 and 9 (AppStream; the package's unit runs `throttlectl off`, i.e. -1,
 * before starting and restores throttling when stopped). Debian 12 has no stalld package
 * (`apt-cache policy stalld`: none) and neither have Ubuntu 22.04 and 24.04: there the plan keeps
 * RT throttling, overriding the profile's -1 (hostprep/tuned.sh).
 */
import type { Problem } from "../config/problems";
import type { HostConfig } from "../config/schema";
import type { OsFamily } from "../hostprep/rules";

/** The OS families whose own repositories ship stalld (packages.sh --stalld agrees). */
export const STALLD_OS_FAMILIES: readonly OsFamily[] = ["rhel-8", "rhel-9"];

/** The kernel's default RT runtime per 1 s period: throttling on. */
export const THROTTLED_RT_RUNTIME_US = 950000;

export interface StalldPlan {
  /** stalld installed, enabled and running, watching `cpus`. */
  enabled: boolean;
  /** The CPUs stalld watches (its CLIST): the isolated CPUs; null without stalld. */
  cpus: string | null;
  /** `kernel.sched_rt_runtime_us`: -1 with stalld as the safety net, else throttling kept. */
  schedRtRuntimeUs: number;
  /** Why, in a few words, for the plan text. */
  reason: string;
}

type StalldHost = Pick<HostConfig, "os" | "tunedProfile" | "stalld">;

export function stalldPackaged(os: OsFamily): boolean {
  return STALLD_OS_FAMILIES.includes(os);
}

/** `stalld: true` on a family that does not package it. */
export function stalldProblems(host: StalldHost, path: string): Problem[] {
  if (host.stalld !== true || stalldPackaged(host.os)) return [];
  return [
    {
      path: `${path}.stalld`,
      message: `got true, but ${host.os} does not package stalld (only ${STALLD_OS_FAMILIES.join(" and ")} do); remove the setting: RT throttling then stays on (kernel.sched_rt_runtime_us=${THROTTLED_RT_RUNTIME_US}) as the guard against starved kernel threads`,
    },
  ];
}

/**
 * Default: stalld on an RT host (realtime-virtual-host) of a family that packages it, since that
 * profile turns throttling off; off on cpu-partitioning hosts, whose profile keeps throttling.
 */
export function stalldPlan(host: StalldHost, isolated: string): StalldPlan {
  const packaged = stalldPackaged(host.os);
  const rt = host.tunedProfile === "realtime-virtual-host";
  const enabled = host.stalld ?? (packaged && rt);
  const reason = enabled
    ? host.stalld === true
      ? "stalld: true"
      : `${host.os} packages stalld`
    : host.stalld === false
      ? "stalld: false"
      : !packaged
        ? `${host.os} does not package stalld`
        : "cpu-partitioning keeps throttling";
  return {
    enabled,
    cpus: enabled ? isolated : null,
    schedRtRuntimeUs: enabled ? -1 : THROTTLED_RT_RUNTIME_US,
    reason,
  };
}

/** The plan text's line. */
export function describeStalld(plan: StalldPlan): string {
  return plan.enabled
    ? `stalld on CPUs ${plan.cpus} (${plan.reason}); RT throttling off: kernel.sched_rt_runtime_us=-1`
    : `no stalld (${plan.reason}); RT throttling on: kernel.sched_rt_runtime_us=${plan.schedRtRuntimeUs}`;
}
