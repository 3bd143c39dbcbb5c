/**
 * Latency verdicts from rt-tests runs: cyclictest per CPU against a worst-case and mean budget
 * (Nova's RT spec measured 14 µs worst / under 10 µs mean in a KVM guest; RHEL's host guidance
 * is <= 40 µs), oslat per CPU against a worst case (cnf-tests use 20 µs), and hwlatdetect
 * against a firmware-stall threshold (OpenShift uses 20 µs).
 */
import { isCpuSpecError, formatCpuList, parseCpuList, sameSet } from "../cpu/cpuset";
import type { CyclictestParse, CyclictestRun, CyclictestThread, HwlatParse } from "./latency-parse";
import type { CheckResult } from "./result";
import { fail, pass, verdict } from "./result";

export type { CyclictestParse, CyclictestRun, CyclictestThread, HwlatParse, HwlatRun } from "./latency-parse";
export { parseCyclictest, parseHwlatdetect, parseOslat } from "./latency-parse";

export interface LatencyBudget {
  maxUs: number;
  meanUs: number;
}

/** How many of the highest non-zero buckets the tail shows. */
const TAIL_BUCKETS = 3;

function label(t: CyclictestThread): string {
  return t.cpu === null ? `thread ${t.thread}` : `CPU ${t.cpu}`;
}

/** Gives histogram-format threads the CPUs they were pinned to: cyclictest -a assigns them in list order. */
function withCpus(run: CyclictestRun, rtCpus: readonly number[] | null): CyclictestThread[] {
  if (run.format !== "histogram" || rtCpus === null || rtCpus.length !== run.threads.length) return run.threads;
  return run.threads.map((t, i) => ({ ...t, cpu: rtCpus[i] }));
}

function checkCoverage(
  tool: "cyclictest" | "oslat",
  run: CyclictestRun,
  threads: CyclictestThread[],
  rtCpus: readonly number[],
  rtText: string,
): CheckResult {
  const expected = `one thread on each RT CPU ${rtText}`;
  const hint =
    tool === "cyclictest"
      ? `measure every RT CPU and nothing else: cyclictest -t ${rtCpus.length} -a ${rtText} (and --mainaffinity <housekeeping CPUs>)`
      : `measure every RT CPU and nothing else: oslat -c ${rtText} -C <a housekeeping CPU>`;
  if (run.format === "histogram" && threads.some((t) => t.cpu === null)) {
    return fail(`${tool} CPUs`, expected, `${run.threads.length} threads for ${rtCpus.length} RT CPUs`, hint);
  }
  if (threads.some((t) => t.cpu === null))
    return fail(`${tool} CPUs`, expected, "threads not pinned to CPUs (no -a)", hint);
  const measured = threads.map((t) => t.cpu as number).sort((a, b) => a - b);
  const distinct = new Set(measured).size === measured.length;
  return verdict(`${tool} CPUs`, distinct && sameSet(measured, rtCpus), expected, `CPUs ${measured.join(",")}`, hint);
}

function tail(t: CyclictestThread, buckets: number | null, budget: LatencyBudget): CheckResult {
  const top = t.histogram.slice(-TAIL_BUCKETS).map(([us, n]) => `${us} µs x${n}`);
  const aboveInBuckets = t.histogram.filter(([us]) => us > budget.maxUs).reduce((s, [, n]) => s + n, 0);
  const overflow = t.overflows ?? 0;
  const parts = [top.length ? `top buckets ${top.join(", ")}` : "empty histogram"];
  let above = `${aboveInBuckets}`;
  if (overflow > 0 && buckets !== null && buckets > budget.maxUs) {
    above = `${aboveInBuckets + overflow}`;
    parts.push(`${overflow} samples >= ${buckets} µs (overflow)`);
  } else if (overflow > 0 && t.maxUs <= budget.maxUs) {
    parts.push(`${overflow} samples beyond the ${buckets ?? "?"} µs histogram, none above the max ${t.maxUs} µs`);
  } else if (overflow > 0) {
    // The histogram is shorter than the budget: overflowed samples are only known to be >= its size.
    above = aboveInBuckets > 0 ? `${aboveInBuckets}+` : "some";
    parts.push(
      `${overflow} samples beyond the ${buckets ?? "?"} µs histogram (use -h above ${budget.maxUs} to count them)`,
    );
  }
  const ok = above === "0" && t.maxUs <= budget.maxUs;
  const observed = `${ok ? "" : `${above} samples above ${budget.maxUs} µs; `}${parts.join("; ")}`;
  return verdict(
    `histogram tail ${label(t)}`,
    ok,
    `no sample above ${budget.maxUs} µs`,
    observed,
    "a handful of samples in the tail points at sporadic stalls (SMIs, an IRQ, a timer): run hwlatdetect and check /proc/interrupts; a heavy tail means the CPU is not isolated from host work or the kernel is not PREEMPT_RT",
  );
}

function perThread(t: CyclictestThread, run: CyclictestRun, budget: LatencyBudget): CheckResult[] {
  const kernel = run.realtimeKernel === false ? " The kernel that ran it is not PREEMPT_RT (sysinfo.realtime=0)." : "";
  const results = [
    verdict(
      `max latency ${label(t)}`,
      t.maxUs <= budget.maxUs,
      `<= ${budget.maxUs} µs`,
      `${t.maxUs} µs (min ${t.minUs}, avg ${t.avgUs})`,
      `${label(t)} measured a worst case of ${t.maxUs} µs, over the ${budget.maxUs} µs budget: check the CPU is in isolcpus/nohz_full/rcu_nocbs on /proc/cmdline, that no IRQ lands on it (/proc/interrupts), that the host runs a PREEMPT_RT kernel, and run hwlatdetect to rule out firmware stalls.${kernel}`,
    ),
    verdict(
      `mean latency ${label(t)}`,
      t.avgUs <= budget.meanUs,
      `<= ${budget.meanUs} µs`,
      `${t.avgUs} µs`,
      `${label(t)} averages ${t.avgUs} µs, over the ${budget.meanUs} µs budget: a high mean is steady interference, not a rare stall; check CPU frequency/C-state settings (TuneD profile active?) and that housekeeping load is kept off this CPU.${kernel}`,
    ),
  ];
  if (t.histogram.length > 0 || t.overflows !== null) results.push(tail(t, run.buckets, budget));
  return results;
}

/**
 * Per-CPU verdicts for a cyclictest run. `rtCpus` (cpulist) is the `-a` list: it maps histogram
 * columns to CPUs and is checked against the CPUs the run covered.
 */
export function checkCyclictest(parsed: CyclictestParse, budget: LatencyBudget, rtCpus?: string): CheckResult[] {
  if (!parsed.ok) {
    return [
      fail(
        "cyclictest output",
        "a finished cyclictest run (--json file or -q -h<N> output)",
        parsed.error,
        "rerun cyclictest to completion, e.g. cyclictest -m -q -p95 --policy=fifo -D 60 -h60 -t <n> -a <RT CPUs> -i 200 --json=<file>, and collect the whole output",
      ),
    ];
  }
  const cpus = rtCpus === undefined ? null : cpusOf("cyclictest", rtCpus);
  if (cpus !== null && !Array.isArray(cpus)) return [cpus];
  const run = parsed.run;
  const threads = withCpus(run, cpus);
  const coverage = cpus === null ? [] : [checkCoverage("cyclictest", run, threads, cpus, formatCpuList(cpus))];
  return [...coverage, ...threads.flatMap((t) => perThread(t, run, budget))];
}

/** The RT CPUs a run is checked against, or the failure a malformed list is. */
function cpusOf(tool: "cyclictest" | "oslat", rtCpus: string): number[] | CheckResult {
  try {
    return [...parseCpuList(rtCpus)];
  } catch (e) {
    if (!isCpuSpecError(e)) throw e;
    return fail(
      `${tool} CPUs`,
      "a cpulist of RT CPUs",
      e.message,
      `the RT CPU list handed to the ${tool} check is malformed: a bug in the caller`,
    );
  }
}

/**
 * Per-CPU verdicts for an oslat run: the longest time the busy loop on each RT CPU was kept from
 * running, against `maxUs`. oslat's mean is the loop's own period (about 1 µs), so no budget.
 */
export function checkOslat(parsed: CyclictestParse, maxUs: number, rtCpus: string): CheckResult[] {
  if (!parsed.ok) {
    return [
      fail(
        "oslat output",
        "a finished oslat run (--json file)",
        parsed.error,
        "rerun oslat to completion, e.g. oslat -D 60 -f 1 -c <RT CPUs> -C <a housekeeping CPU> --json=<file>, and collect the whole file",
      ),
    ];
  }
  const cpus = cpusOf("oslat", rtCpus);
  if (!Array.isArray(cpus)) return [cpus];
  const run = parsed.run;
  const kernel = run.realtimeKernel === false ? " The kernel that ran it is not PREEMPT_RT (sysinfo.realtime=0)." : "";
  return [
    checkCoverage("oslat", run, run.threads, cpus, formatCpuList(cpus)),
    ...run.threads.map((t) =>
      verdict(
        `oslat max ${label(t)}`,
        t.maxUs <= maxUs,
        `<= ${maxUs} µs`,
        `${t.maxUs} µs (min ${t.minUs}, avg ${Math.round(t.avgUs * 1000) / 1000})`,
        `the busy loop on ${label(t)} was kept from running for ${t.maxUs} µs, over the ${maxUs} µs budget: something else ran there (a kernel thread, a timer tick, an IRQ: check nohz_full and rcu_nocbs on /proc/cmdline and /proc/interrupts) or, in a guest, the host preempted the vCPU (emulator threads or host work on its pCPU).${kernel}`,
      ),
    ),
  ];
}

/** hwlatdetect's worst hardware/firmware stall against a threshold. */
export function checkHwlatdetect(parsed: HwlatParse, thresholdUs: number): CheckResult {
  const expected = `<= ${thresholdUs} µs`;
  if (!parsed.ok) {
    return fail(
      "hwlatdetect",
      expected,
      parsed.error,
      "hwlatdetect needs root, debugfs and a kernel with the hwlat tracer (RT kernels have it): run it on the host itself, not in a container or a VM without it",
    );
  }
  const run = parsed.run;
  if (run.maxUs === null) {
    // "Below threshold" only speaks about the run's own threshold.
    const ok = run.thresholdUs !== null && run.thresholdUs <= thresholdUs;
    return ok
      ? pass("hwlatdetect", expected, `below the run's ${run.thresholdUs} µs threshold`)
      : fail(
          "hwlatdetect",
          expected,
          `below threshold ${run.thresholdUs ?? "(unknown)"} µs`,
          `rerun with --threshold ${thresholdUs}: a "Below threshold" from a higher or unknown threshold says nothing about ${thresholdUs} µs`,
        );
  }
  const exceeding =
    run.samplesExceeding === null
      ? ""
      : `, ${run.samplesExceeding} samples over the run's ${run.thresholdUs ?? "?"} µs threshold`;
  return verdict(
    "hwlatdetect",
    run.maxUs <= thresholdUs,
    expected,
    `${run.maxUs} µs${exceeding}`,
    `the hardware or firmware stalled the CPU for ${run.maxUs} µs (SMIs, power management), which no kernel setting fixes: disable C-states, turbo and power saving in the BIOS, check the SMI count, and update the firmware. Measured in a guest, the host preempting the vCPU counts too: run hwlatdetect on the host first, then check the vCPU pinning and where the emulator threads run`,
  );
}
