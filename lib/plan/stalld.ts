/**
 * stalld and RT throttling (`kernel.sched_rt_runtime_us`), decided together per host.
 *
 * TuneD's realtime profile, which realtime-virtual-host includes, sets
 * `kernel.sched_rt_runtime_us = -1` (RT throttling off), and host prep keeps it with or without
 * stalld: throttling would stop a busy-polling SCHED_FIFO vCPU (a DPDK guest, the guest's own
 * oslat stage) for 50 ms of every second, past every latency budget of an RT guest; the seeds and
 * Red Hat's realtime-virtual-host run with -1 too. The profile's [scheduler] rules put ksoftirqd
 * and ktimers at SCHED_FIFO 2 and rcuc/rcub at 4, above Nova's vCPU threads (`<vcpusched
 * scheduler='fifo' priority='1'>`, [libvirt] realtime_scheduler_priority's default), so what a
 * busy vCPU can starve is the SCHED_OTHER per-CPU work (kworkers) queued on its CPU; but TuneD's
 * scheduler plugin needs the perf Python module, which Debian and Ubuntu do not package, and there
 * those threads keep the kernel's priorities (ksoftirqd SCHED_OTHER, ktimers and rcuc FIFO 1) and
 * can starve too. stalld watches the CPUs it is given and lends a starved thread a short
 * SCHED_DEADLINE slice (OpenShift's node tuning runs it beside its realtime hint for that reason).
 *
 * stalld ships in RHEL 8 and 9 (AppStream). Debian 12 has no stalld package (`apt-cache policy
 * stalld`: none) and neither have Ubuntu 22.04 and 24.04: their RT hosts run without that boost,
 * which the plan says in a line of its own. cpu-partitioning leaves the kernel's default (950000).
 */
import type { Problem } from "../config/problems";
import type { HostConfig } from "../config/schema";
import type { OsFamily } from "../hostprep/rules";
import type { HostPlan } from "./host";

/** The OS families whose own repositories ship stalld (packages.sh --stalld agrees). */
export const STALLD_OS_FAMILIES: readonly OsFamily[] = ["rhel-8", "rhel-9"];

/** `kernel.sched_rt_runtime_us` as each host profile leaves it: the realtime one's -1, else the kernel's default. */
export const PROFILE_RT_RUNTIME_US: Readonly<Record<HostConfig["tunedProfile"], number>> = {
  "realtime-virtual-host": -1,
  "cpu-partitioning": 950000,
};

export interface StalldPlan {
  /** stalld installed, enabled and running, watching `cpus`. */
  enabled: boolean;
  /** The CPUs stalld watches (its CLIST): the isolated CPUs; null without stalld. */
  cpus: string | null;
  /** `kernel.sched_rt_runtime_us`: -1 with stalld (its unit sets it), else the profile's own value. */
  schedRtRuntimeUs: number;
  /** Why, in a few words, for the plan text. */
  reason: string;
}

type StalldHost = Pick<HostConfig, "os" | "tunedProfile" | "stalld">;

export function stalldPackaged(os: OsFamily): boolean {
  return STALLD_OS_FAMILIES.includes(os);
}

/** What a host without stalld risks, by its throttling value. */
function withoutStalld(schedRtRuntimeUs: number): string {
  return schedRtRuntimeUs === -1
    ? "kworkers, ksoftirqd and rcuc on an isolated CPU can then starve behind a busy RT vCPU, with nothing to boost them (this family's TuneD sets no thread priorities: its scheduler plugin needs the perf Python module, not packaged here)"
    : "a kworker (SCHED_OTHER) on an isolated CPU then waits for RT throttling's 50 ms per second, with nothing to boost it sooner";
}

/** `stalld: true` on a family that does not package it. */
export function stalldProblems(host: StalldHost, path: string): Problem[] {
  if (host.stalld !== true || stalldPackaged(host.os)) return [];
  return [
    {
      path: `${path}.stalld`,
      message: `got true, but ${host.os} does not package stalld (only ${STALLD_OS_FAMILIES.join(" and ")} do); remove the setting: ${withoutStalld(PROFILE_RT_RUNTIME_US[host.tunedProfile])}`,
    },
  ];
}

/**
 * Default: stalld on an RT host (realtime-virtual-host) of a family that packages it, since that
 * profile turns throttling off; off on cpu-partitioning hosts, which run no RT vCPUs.
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
        : "cpu-partitioning runs no RT vCPUs";
  return {
    enabled,
    cpus: enabled ? isolated : null,
    schedRtRuntimeUs: enabled ? -1 : PROFILE_RT_RUNTIME_US[host.tunedProfile],
    reason,
  };
}

/** The plan text's line. */
export function describeStalld(plan: StalldPlan): string {
  if (plan.enabled)
    return `stalld on CPUs ${plan.cpus} (${plan.reason}); RT throttling off: kernel.sched_rt_runtime_us=-1`;
  return plan.schedRtRuntimeUs === -1
    ? `no stalld (${plan.reason}); RT throttling off: kernel.sched_rt_runtime_us=-1 (TuneD's realtime profile)`
    : `no stalld (${plan.reason}); RT throttling on: kernel.sched_rt_runtime_us=${plan.schedRtRuntimeUs} (the kernel's default)`;
}

/**
 * The plan's one line for the RT hosts without stalld, or null when there are none. A line of the
 * plan, like the other flavors' reach to the RT hosts, not a warning: on Debian and Ubuntu no
 * setting removes it, and a warning that every such stack repeats on every plan and preview
 * would teach operators to skip warnings.
 */
export function withoutStalldLine(hosts: readonly Pick<HostPlan, "name" | "tuned" | "stalld">[]): string | null {
  const bare = hosts.filter((h) => h.tuned.profile === "realtime-virtual-host" && !h.stalld.enabled);
  if (bare.length === 0) return null;
  const shown = bare
    .slice(0, 5)
    .map((h) => `${h.name} (${h.stalld.reason})`)
    .join(", ");
  return (
    `${shown}${bare.length > 5 ? ` and ${bare.length - 5} more` : ""}: no stalld, and RT throttling off ` +
    "(kernel.sched_rt_runtime_us=-1, TuneD's realtime profile), so a busy RT vCPU (SCHED_FIFO 1) can starve the kernel " +
    "threads on its CPU that do not outrank it, and nothing boosts them: kworkers (SCHED_OTHER); and ksoftirqd, ktimers " +
    "and rcuc too wherever TuneD's scheduler plugin does not load to raise them to FIFO 2 and 4 as the profile's rules " +
    "say (it needs the perf Python module, which Debian and Ubuntu do not package; the host check's kthread results " +
    `show it). Remedies: an OS family that packages stalld (${STALLD_OS_FAMILIES.join(", ")}), or RT guests whose RT ` +
    "vCPUs go idle now and then instead of busy-polling (sched_yield does not let those threads run)"
  );
}
