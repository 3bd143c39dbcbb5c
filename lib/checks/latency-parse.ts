/**
 * Parsers for rt-tests output as the tools print it: cyclictest's and oslat's `--json=<file>`
 * (rt-tests 2.x, one format), cyclictest's `-q -h<N>` histogram on stdout, and hwlatdetect's report. A run that was cut short
 * (no summary lines) or a tool that could not run is an error, never a run with made-up numbers.
 */
import { codedError, hasCode } from "../errors";

export interface CyclictestThread {
  thread: number;
  /** The CPU the thread was pinned to (`-a`), when the output says so. */
  cpu: number | null;
  minUs: number;
  avgUs: number;
  maxUs: number;
  /** Latency in µs -> samples, non-zero buckets only; empty without `-h`. */
  histogram: [number, number][];
  /** Samples at or beyond the histogram's last bucket; null without `-h`. */
  overflows: number | null;
}

export interface CyclictestRun {
  format: "json" | "histogram";
  threads: CyclictestThread[];
  /** Histogram size (`-h<N>`): buckets 0..N-1 µs; null when unknown. */
  buckets: number | null;
  /** From the JSON's sysinfo.realtime: whether the kernel is PREEMPT_RT; null when not reported. */
  realtimeKernel: boolean | null;
}

export type CyclictestParse = { ok: true; run: CyclictestRun } | { ok: false; error: string };

export interface HwlatRun {
  /** Largest latency seen in µs; null when hwlatdetect says "Below threshold". */
  maxUs: number | null;
  /** The threshold the run itself used. */
  thresholdUs: number | null;
  samplesExceeding: number | null;
}

/** `unavailable`: the tool could not run on this kernel or without root, as opposed to a run cut short. */
export type HwlatParse = { ok: true; run: HwlatRun } | { ok: false; error: string; unavailable: boolean };

const parseError = (message: string) => codedError("LATENCY_PARSE", message);

function num(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isFinite(value)) throw parseError(`${what} is not a number`);
  return value;
}

function parseJson(text: string, tool: "cyclictest" | "oslat"): CyclictestRun {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw parseError(
      `not valid JSON (${(e as Error).message}): the file was cut short or ${tool} was killed before writing it`,
    );
  }
  const root = doc as { thread?: unknown; sysinfo?: { realtime?: unknown }; "cmdline:"?: unknown; cmdline?: unknown };
  if (typeof root !== "object" || root === null || typeof root.thread !== "object" || root.thread === null) {
    throw parseError(`JSON without a "thread" object: not ${tool} --json output`);
  }
  const entries = Object.entries(root.thread as Record<string, Record<string, unknown>>);
  if (entries.length === 0) throw parseError("no thread measured anything");
  const threads = entries.map(([key, t]): CyclictestThread => {
    const hist = Object.entries((t.histogram ?? {}) as Record<string, unknown>).map(
      ([us, n]) => [Number(us), num(n, `thread ${key} histogram bucket ${us}`)] as [number, number],
    );
    const inHist = hist.reduce((s, [, n]) => s + n, 0);
    const cycles = typeof t.cycles === "number" ? t.cycles : null;
    return {
      thread: Number(key),
      cpu: typeof t.cpu === "number" && t.cpu >= 0 ? t.cpu : null,
      minUs: num(t.min, `thread ${key} min`),
      avgUs: num(t.avg, `thread ${key} avg`),
      maxUs: num(t.max, `thread ${key} max`),
      histogram: hist.filter(([, n]) => n > 0).sort((a, b) => a[0] - b[0]),
      // The JSON lists buckets only; what the histogram misses of all cycles overflowed it.
      overflows: t.histogram !== undefined && cycles !== null ? cycles - inHist : null,
    };
  });
  // rt-tests 2.x spells the key "cmdline:" (with the colon); accept the fixed spelling too.
  const cmd = root["cmdline:"] ?? root.cmdline;
  const cmdline = typeof cmd === "string" ? cmd : "";
  const h = /(?:^|\s)(?:-h\s*|--histogram[= ])(\d+)/.exec(cmdline);
  const rt = root.sysinfo?.realtime;
  return {
    format: "json",
    threads,
    buckets: h ? Number(h[1]) : null,
    realtimeKernel: typeof rt === "number" ? rt === 1 : null,
  };
}

function summaryValues(lines: string[], label: string, missing: string): number[] {
  const line = lines.find((l) => l.startsWith(`# ${label}:`));
  if (line === undefined) throw parseError(missing);
  const values = line
    .slice(label.length + 3)
    .trim()
    .split(/\s+/)
    .filter((v) => v !== "");
  if (values.length === 0 || values.some((v) => !/^\d+$/.test(v)))
    throw parseError(`"# ${label}:" line is not a list of numbers: ${line}`);
  return values.map(Number);
}

function parseHistogram(text: string): CyclictestRun {
  const lines = text.split("\n").map((l) => l.trim());
  const unfinished =
    "cyclictest did not finish (killed, or cut off before its summary): give -D a duration and wait for it to exit";
  const max = summaryValues(lines, "Max Latencies", `no "# Max Latencies:" line: ${unfinished}`);
  const min = summaryValues(lines, "Min Latencies", `no "# Min Latencies:" line: ${unfinished}`);
  const avg = summaryValues(lines, "Avg Latencies", `no "# Avg Latencies:" line: ${unfinished}`);
  const n = max.length;
  if (min.length !== n || avg.length !== n)
    throw parseError(`the summary lines disagree on the thread count (${min.length}, ${avg.length}, ${n})`);
  const overflowLine = lines.some((l) => l.startsWith("# Histogram Overflows:"));
  const overflows = overflowLine ? summaryValues(lines, "Histogram Overflows", "") : null;
  const rows = lines.filter((l) => /^\d+(\s+\d+)+$/.test(l)).map((l) => l.split(/\s+/).map(Number));
  if (rows.length === 0) throw parseError("no histogram rows: run cyclictest with -h<N>");
  const bad = rows.find((r) => r.length !== n + 1);
  if (bad) throw parseError(`histogram row for ${bad[0]} µs has ${bad.length - 1} counts for ${n} threads`);
  const threads = max.map((m, i): CyclictestThread => ({
    thread: i,
    cpu: null, // the histogram does not say where threads ran; checkCyclictest maps them with rtCpus
    minUs: min[i],
    avgUs: avg[i],
    maxUs: m,
    histogram: rows.filter((r) => r[i + 1] > 0).map((r) => [r[0], r[i + 1]] as [number, number]),
    overflows: overflows?.[i] ?? null,
  }));
  return { format: "histogram", threads, buckets: rows.length, realtimeKernel: null };
}

/** Parses cyclictest output: the `--json` file or the `-h` histogram printed on stdout. */
export function parseCyclictest(text: string): CyclictestParse {
  try {
    if (text.trim() === "") throw parseError("the output is empty");
    const run = text.trimStart().startsWith("{") ? parseJson(text, "cyclictest") : parseHistogram(text);
    return { ok: true, run };
  } catch (e) {
    if (hasCode(e, "LATENCY_PARSE")) return { ok: false, error: e.message };
    throw e;
  }
}

/**
 * Parses oslat's `--json` file: cyclictest's format, one thread per CPU. oslat's last bucket
 * holds every longer sample too ("including overflows"), so the max is the figure to judge.
 */
export function parseOslat(text: string): CyclictestParse {
  try {
    if (text.trim() === "") throw parseError("the output is empty");
    return { ok: true, run: { ...parseJson(text, "oslat"), buckets: null } };
  } catch (e) {
    if (hasCode(e, "LATENCY_PARSE")) return { ok: false, error: e.message };
    throw e;
  }
}

/** Parses hwlatdetect's report ("Max Latency: 33us" or "Max Latency: Below threshold"). */
export function parseHwlatdetect(text: string): HwlatParse {
  if (text.trim() === "") return { ok: false, error: "the output is empty", unavailable: false };
  if (/hwlat tracer not available/.test(text)) {
    return {
      ok: false,
      error:
        "hwlatdetect could not run: the kernel has no hwlat tracer (CONFIG_HWLAT_TRACER; 'hwlat' missing from /sys/kernel/tracing/available_tracers)",
      unavailable: true,
    };
  }
  if (/Failed to mount debugfs/.test(text))
    return {
      ok: false,
      error: "hwlatdetect could not mount debugfs: run it as root, or mount debugfs at /sys/kernel/debug first",
      unavailable: true,
    };
  const max = /^Max Latency:\s*(?:(\d+)\s*us|(Below threshold))\s*$/m.exec(text);
  if (!max) {
    const last = text.trim().split("\n").pop() ?? "";
    return {
      ok: false,
      error: `no "Max Latency:" line, so hwlatdetect did not finish (last line: ${JSON.stringify(last.slice(0, 100))})`,
      unavailable: false,
    };
  }
  const threshold = /Latency threshold:\s*(\d+)\s*us/.exec(text);
  const exceeding = /^Samples exceeding threshold:\s*(\d+)/m.exec(text);
  return {
    ok: true,
    run: {
      maxUs: max[1] === undefined ? null : Number(max[1]),
      thresholdUs: threshold ? Number(threshold[1]) : null,
      samplesExceeding: exceeding ? Number(exceeding[1]) : null,
    },
  };
}
