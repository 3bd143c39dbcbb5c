/**
 * /proc/cmdline against the plan: the arguments this project adds (hugepages) and the ones
 * TuneD's realtime-virtual-host profile adds (isolcpus, nohz_full, rcu_nocbs, irqaffinity).
 * CPU lists are compared as sets: TuneD writes irqaffinity=0,1,2,3 where the plan says 0-3.
 */
import type { CpuSet } from "../plan/cpuset";
import { isCpuSpecError, formatCpuList, parseCpuList, sameSet } from "../plan/cpuset";
import type { HostPlan } from "../plan/host";
import type { CheckResult } from "./result";
import { excerpt, fail, verdict } from "./result";

// An array, not a Set: Pulumi serializes a module-level Set into a dynamic provider as a plain
// object whose `has` throws ("called on incompatible receiver").
const CPU_LIST_PARAMS: readonly string[] = ["isolcpus", "nohz_full", "rcu_nocbs", "irqaffinity"];

/**
 * Kernel parameters as the kernel reads them: `key=value` or a bare `key` (value null), quoted
 * values kept whole, the last occurrence winning, and nothing after `--` (those go to init).
 */
export function kernelParams(cmdline: string): Map<string, string | null> {
  const params = new Map<string, string | null>();
  for (const token of cmdline.match(/(?:[^\s"]+|"[^"]*")+/g) ?? []) {
    if (token === "--") break;
    const eq = token.indexOf("=");
    if (eq < 0) params.set(token, null);
    else params.set(token.slice(0, eq), token.slice(eq + 1).replace(/^"(.*)"$/, "$1"));
  }
  return params;
}

/** The CPUs of a cpulist parameter; isolcpus may lead with flags (`managed_irq,domain,4-11`). */
export function paramCpus(key: string, value: string): CpuSet {
  const parts = value.split(",");
  const firstCpu = key === "isolcpus" ? parts.findIndex((p) => /^\d/.test(p.trim())) : 0;
  return parseCpuList(firstCpu < 0 ? "" : parts.slice(firstCpu).join(","));
}

function checkArg(params: Map<string, string | null>, arg: string, hint: string): CheckResult {
  const eq = arg.indexOf("=");
  const key = eq < 0 ? arg : arg.slice(0, eq);
  const want = eq < 0 ? null : arg.slice(eq + 1);
  const check = `cmdline ${key}`;
  const expected = want === null ? key : `${key}=${want}`;
  if (!params.has(key)) return fail(check, expected, "absent", hint);
  const got = params.get(key) ?? null;
  const observed = got === null ? key : `${key}=${got}`;
  if (want === null || got === null || !CPU_LIST_PARAMS.includes(key))
    return verdict(check, got === want, expected, observed, hint);
  try {
    const gotCpus = paramCpus(key, got);
    const ok = sameSet(gotCpus, paramCpus(key, want));
    return verdict(check, ok, expected, ok ? observed : `${observed} (CPUs ${formatCpuList(gotCpus) || "none"})`, hint);
  } catch (e) {
    if (!isCpuSpecError(e)) throw e;
    return fail(check, expected, `${observed} (not a CPU list: ${e.message})`, hint);
  }
}

export function checkCmdline(cmdline: string, plan: HostPlan): CheckResult[] {
  if (cmdline.trim() === "") {
    return [fail("cmdline", "the kernel command line", "empty output", "collect `cat /proc/cmdline` from the host")];
  }
  const params = kernelParams(cmdline);
  const ours =
    "this project adds it to the bootloader's command line (GRUB_CMDLINE_LINUX): rerun the host step, regenerate the GRUB config (update-grub / grub2-mkconfig) and reboot";
  const tuned = `TuneD's ${plan.tuned.profile} profile adds it: check isolated_cores=${plan.tuned.isolatedCores} in /etc/tuned/${plan.tuned.profile}-variables.conf, that the profile is active, that GRUB uses TuneD's parameters ($tuned_params), then reboot`;
  return [
    ...plan.kernel.args.map((a) => checkArg(params, a, ours)),
    ...plan.kernel.tunedArgs.map((a) => checkArg(params, a, tuned)),
  ];
}

/**
 * A sysfs cpulist (`/sys/devices/system/cpu/isolated`, `nohz_full`) against the plan. `text` is
 * null when the file does not exist; the kernel prints "(null)" for an unset nohz_full.
 */
export function checkSysfsCpus(name: string, text: string | null, planned: string, hint: string): CheckResult {
  const check = `sysfs ${name}`;
  if (text === null) {
    return fail(
      check,
      planned,
      "file missing",
      `/sys/devices/system/cpu/${name} does not exist: the running kernel was built without ${name === "nohz_full" ? "CONFIG_NO_HZ_FULL" : "CPU isolation"}; boot an RT kernel`,
    );
  }
  const raw = text.trim() === "(null)" ? "" : text.trim();
  try {
    const got = parseCpuList(raw);
    return verdict(check, sameSet(got, parseCpuList(planned)), planned, raw === "" ? "none" : formatCpuList(got), hint);
  } catch (e) {
    if (!isCpuSpecError(e)) throw e;
    return fail(
      check,
      planned,
      `not a CPU list: ${excerpt(text)}`,
      `collect \`cat /sys/devices/system/cpu/${name}\` again`,
    );
  }
}
