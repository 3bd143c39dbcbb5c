/**
 * The rules hostprep/common.sh and the step scripts apply to their arguments, for the config
 * schema and the steps to check the same things before a script runs. Each has its bash twin,
 * named beside it; test/unit/hostprep/hostprep-agreement.test.ts reads the scripts and fails when the two differ.
 */
import { MAX_CPU } from "../cpu/cpuset";

/** The OS families host prep supports (common.sh OS_FAMILIES). */
export const OS_FAMILIES = ["debian-12", "ubuntu-22.04", "ubuntu-24.04", "rhel-8", "rhel-9"] as const;
export type OsFamily = (typeof OS_FAMILIES)[number];

/** The highest CPU id a CPU list may name: the kernel's NR_CPUS ceiling (common.sh MAX_CPU_ID). */
export const MAX_CPU_ID = MAX_CPU;

/** One kernel argument, key or key=value (common.sh KERNEL_ARG_RE). */
export const KERNEL_ARG = /^[A-Za-z][A-Za-z0-9_.-]*(=[A-Za-z0-9_.,:/+@=-]+)?$/;
/** How long one kernel argument may be (common.sh MAX_KERNEL_ARG_CHARS). */
export const MAX_KERNEL_ARG_CHARS = 256;
/** How many kernel arguments one step takes (common.sh MAX_KERNEL_ARGS). */
export const MAX_KERNEL_ARGS = 64;

/**
 * A restart command as words, run without a shell: no quotes, pipes, `;` or `$`
 * (common.sh RESTART_WORDS_RE, taken by nova-compute.sh and scheduler.sh).
 */
export const RESTART_COMMAND_WORDS = /^[A-Za-z0-9@%+=:,./_-]+( [A-Za-z0-9@%+=:,./_-]+){0,15}$/;

/** Nova's default [filter_scheduler] enabled_filters (Zed and later), as scheduler.sh starts from. */
export const NOVA_DEFAULT_FILTERS = [
  "ComputeFilter",
  "ComputeCapabilitiesFilter",
  "ImagePropertiesFilter",
  "ServerGroupAntiAffinityFilter",
  "ServerGroupAffinityFilter",
] as const;
/** The filters RT flavors need; scheduler.sh (REQUIRED_FILTERS) adds them to whatever list is there. */
export const RT_SCHEDULER_FILTERS = ["NUMATopologyFilter", "AggregateInstanceExtraSpecsFilter"] as const;
