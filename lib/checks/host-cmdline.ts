/**
 * /proc/cmdline against the plan: the arguments this project adds (huge pages, extraKernelArgs) and the ones
 * TuneD's realtime-virtual-host profile adds (isolcpus, nohz_full, rcu_nocbs, irqaffinity).
 * CPU lists are compared as sets: TuneD writes irqaffinity=0,1,2,3 where the plan says 0-3.
 */
import type { CpuSet } from "../cpu/cpuset";
import { isCpuSpecError, formatCpuList, parseCpuList, sameSet } from "../cpu/cpuset";
import type { HostPlan } from "../plan/host";
import { HUGEPAGE_PAIR_KEYS } from "../plan/hugepages";
import type { CheckResult } from "./result";
import { excerpt, fail, verdict } from "./result";

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

/** A kernel size (memparse: 2M, 2048K, 1G, 1024M) in KiB; null when it is not one. */
function sizeKb(value: string): number | null {
  const m = /^(\d+)([KMG]?)$/i.exec(value);
  if (!m) return null;
  const shift = { "": 0, K: 0, M: 10, G: 20 }[m[2].toUpperCase() as "" | "K" | "M" | "G"];
  return m[2] === "" ? Number(m[1]) / 1024 : Number(m[1]) * 2 ** shift;
}

/**
 * The huge page pools the command line asks for, as the kernel reads it: each `hugepages=` counts
 * pages of the `hugepagesz=` before it (the default size when none is), so these keys repeat and
 * their order is their meaning. Size in KiB -> the hugepages value ("" when the size is named
 * without a count).
 */
function hugepagePools(cmdline: string): Map<number | "default", string> {
  const pools = new Map<number | "default", string>();
  let current: number | "default" = "default";
  for (const token of cmdline.match(/(?:[^\s"]+|"[^"]*")+/g) ?? []) {
    if (token === "--") break;
    const [key, value = ""] = token.split(/=(.*)/s);
    if (key === "hugepagesz") {
      current = sizeKb(value) ?? -1;
      if (!pools.has(current)) pools.set(current, "");
    } else if (key === "hugepages") pools.set(current, value);
  }
  return pools;
}

/** The plan's hugepagesz/hugepages pairs, one check each, named by size: the keys repeat. */
function checkHugepageArgs(cmdline: string, args: readonly string[], hint: string): CheckResult[] {
  const pools = hugepagePools(cmdline);
  const results: CheckResult[] = [];
  let size = "";
  for (const arg of args) {
    const [key, value = ""] = arg.split(/=(.*)/s);
    if (key === "hugepagesz") {
      size = value;
      const named = pools.has(sizeKb(size) ?? -1);
      results.push(verdict(`cmdline hugepagesz ${size}`, named, arg, named ? arg : "absent", hint));
    } else if (key === "hugepages") {
      const got = pools.get(sizeKb(size) ?? -1);
      results.push(
        verdict(
          `cmdline hugepages ${size}`,
          got === value,
          `hugepages=${value} after hugepagesz=${size}`,
          got ? `hugepages=${got}` : "absent",
          hint,
        ),
      );
    }
  }
  return results;
}

export function checkCmdline(cmdline: string, plan: HostPlan): CheckResult[] {
  if (cmdline.trim() === "") {
    return [fail("cmdline", "the kernel command line", "empty output", "collect `cat /proc/cmdline` from the host")];
  }
  const params = kernelParams(cmdline);
  const ours =
    "this project adds it to the bootloader's command line (GRUB_CMDLINE_LINUX): rerun the host step, regenerate the GRUB config (update-grub / grub2-mkconfig) and reboot";
  const tuned = `TuneD's ${plan.tuned.profile} profile adds it: check isolated_cores=${plan.tuned.isolatedCores} in /etc/tuned/${plan.tuned.profile}-variables.conf, that the profile is active, that GRUB uses TuneD's parameters ($tuned_params), then reboot`;
  const paired = (a: string) => HUGEPAGE_PAIR_KEYS.includes(a.split("=")[0]);
  return [
    ...plan.kernel.args.filter((a) => !paired(a)).map((a) => checkArg(params, a, ours)),
    ...checkHugepageArgs(cmdline, plan.kernel.args.filter(paired), ours),
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
