/**
 * Device interrupts on isolated CPUs, from one /proc/interrupts snapshot. The snapshot cannot
 * tell old counts from new ones, so every numbered (device) IRQ with a count on an isolated CPU
 * is reported by name. Named rows (LOC, RES, CAL, TLB, NMI, ...) are per-CPU by nature and some
 * ticks remain even with nohz_full, so they are not judged here.
 */
import { isCpuSpecError, difference, formatCpuList, parseCpuList } from "../cpu/cpuset";
import type { CheckResult } from "./result";
import { excerpt, fail, verdict } from "./result";

export interface IrqRow {
  irq: string;
  /** CPU id -> count, for the CPUs the header lists (offline CPUs have no column). */
  counts: Map<number, number>;
  /** The device name(s): the last column group of the row. */
  name: string;
}

export type InterruptsParse = { ok: true; cpus: number[]; rows: IrqRow[] } | { ok: false; error: string };

/** Numbered IRQs that are per-CPU timers or counters on some architectures, not device interrupts. */
const PER_CPU_DEVICE_NAMES = /^(arch_timer|kvm guest [pv]timer|arm-pmu|hv_stimer\d*)$/;

export function parseInterrupts(text: string): InterruptsParse {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  const header = lines[0]?.trim().split(/\s+/) ?? [];
  if (header.length === 0 || !header.every((h) => /^CPU\d+$/.test(h))) {
    return { ok: false, error: `no "CPU0 CPU1 ..." header line: not /proc/interrupts (starts ${excerpt(text, 40)})` };
  }
  const cpus = header.map((h) => Number(h.slice(3)));
  const rows: IrqRow[] = [];
  for (const line of lines.slice(1)) {
    const m = /^\s*([^:\s]+):(.*)$/.exec(line);
    if (!m)
      return { ok: false, error: `unreadable line ${excerpt(line, 50)}: the output is cut or not /proc/interrupts` };
    const fields = m[2].trim().split(/\s+/);
    const counts = new Map<number, number>();
    let i = 0;
    while (i < cpus.length && i < fields.length && /^\d+$/.test(fields[i])) counts.set(cpus[i], Number(fields[i++]));
    let rest = m[2];
    for (let k = 0; k < i; k++) rest = rest.replace(/^\s*\d+/, "");
    // After the counts come chip, hwirq/type and name columns, separated by runs of spaces.
    rows.push({
      irq: m[1],
      counts,
      name:
        rest
          .trim()
          .split(/\s{2,}/)
          .pop() ?? "",
    });
  }
  return { ok: true, cpus, rows };
}

export function checkInterrupts(text: string, isolated: string, housekeeping: string): CheckResult {
  const check = "device IRQs on isolated CPUs";
  const expected = `none on CPUs ${isolated}`;
  const parsed = parseInterrupts(text);
  if (!parsed.ok) return fail(check, expected, parsed.error, "collect `cat /proc/interrupts` from the host again");
  let iso: number[];
  try {
    iso = [...parseCpuList(isolated)];
  } catch (e) {
    if (!isCpuSpecError(e)) throw e;
    return fail(check, expected, e.message, "the plan's isolated CPU list is malformed: a bug in the caller");
  }
  const missing = difference(iso, parsed.cpus);
  if (missing.length > 0) {
    return fail(
      check,
      expected,
      `no column for CPUs ${formatCpuList(missing)} (this host has CPUs ${formatCpuList(parsed.cpus)})`,
      "the snapshot comes from another host than planned, or those CPUs are offline: check `lscpu` against the plan's topology",
    );
  }
  const hits = parsed.rows
    .filter((r) => /^\d+$/.test(r.irq) && !PER_CPU_DEVICE_NAMES.test(r.name))
    .flatMap((r) => {
      const on = iso.filter((c) => (r.counts.get(c) ?? 0) > 0);
      return on.length
        ? [`IRQ ${r.irq} ${r.name || "(unnamed)"}: ${on.map((c) => `${r.counts.get(c)} on CPU${c}`).join(", ")}`]
        : [];
    });
  return verdict(
    check,
    hits.length === 0,
    expected,
    hits.length ? hits.join("; ") : `no device IRQ counted on CPUs ${isolated}`,
    `each device interrupt on an isolated CPU preempts the RT vCPU running there. One snapshot cannot tell old counts from new: compare two snapshots a minute apart; move an IRQ with \`echo ${housekeeping} > /proc/irq/<n>/smp_affinity_list\`, keep irqbalance off the isolated CPUs (IRQBALANCE_BANNED_CPULIST=${isolated}) and irqaffinity=${housekeeping} on the command line`,
  );
}
