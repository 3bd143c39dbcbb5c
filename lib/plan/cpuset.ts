/**
 * CPU set algebra in the two notations this project meets:
 * - the kernel's cpulist (`0-3,8,10-11`, also `0-15:2/4` strides), used by sysfs, TuneD and
 *   the kernel command line;
 * - Nova's CPU spec (`4-11,^6`, `^0-1`), parsed exactly like nova.virt.hardware.parse_cpu_spec.
 * A CPU set is a sorted array of distinct non-negative integers.
 */

export type CpuSet = readonly number[];

import { codedError, hasCode } from "../errors";

/** A CPU list or spec that does not parse; the message quotes it and says why. */
export function cpuSpecError(message: string): Error {
  return codedError("CPU_SPEC", message);
}

export function isCpuSpecError(e: unknown): e is Error {
  return hasCode(e, "CPU_SPEC");
}

const MAX_CPU = 8191; // the kernel's NR_CPUS ceiling; bigger ids are typos, not hosts

function toCpu(text: string, whole: string): number {
  const t = text.trim();
  if (!/^\d+$/.test(t)) throw cpuSpecError(`"${whole}": "${text}" is not a CPU number`);
  const n = Number(t);
  if (n > MAX_CPU) throw cpuSpecError(`"${whole}": CPU ${n} is above ${MAX_CPU}`);
  return n;
}

export function cpuSet(cpus: Iterable<number>): CpuSet {
  const list = [...cpus];
  // Most lists arrive sorted already (sysfs, lscpu, ranges): skip the Set and the sort then.
  if (list.every((c, i) => i === 0 || c > list[i - 1])) return list;
  return [...new Set(list)].sort((a, b) => a - b);
}

function range(start: number, end: number): number[] {
  const out: number[] = [];
  for (let i = start; i <= end; i++) out.push(i);
  return out;
}

/** Parses a kernel cpulist. The empty string is the empty set. */
export function parseCpuList(text: string): CpuSet {
  const whole = text;
  const trimmed = text.trim();
  if (trimmed === "") return [];
  const cpus: number[] = [];
  for (const part of trimmed.split(",")) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*(?::\s*(\d+)\s*\/\s*(\d+)\s*)?)?$/.exec(part);
    if (!m) throw cpuSpecError(`"${whole}": "${part}" is not a CPU, a range a-b or a stride a-b:used/group`);
    const start = toCpu(m[1], whole);
    const end = m[2] === undefined ? start : toCpu(m[2], whole);
    if (start > end) throw cpuSpecError(`"${whole}": range ${start}-${end} runs backwards`);
    if (m[3] === undefined) {
      cpus.push(...range(start, end));
      continue;
    }
    const used = Number(m[3]);
    const group = Number(m[4]);
    if (used < 1 || group < 1 || used > group) {
      throw cpuSpecError(`"${whole}": stride ${used}/${group} needs 1 <= used <= group`);
    }
    for (let base = start; base <= end; base += group) {
      for (let i = base; i < base + used && i <= end; i++) cpus.push(i);
    }
  }
  return cpuSet(cpus);
}

/** Formats a set as the kernel prints cpulists (sysfs `isolated`, `thread_siblings_list`): `0-3,8,10-11`. */
export function formatCpuList(set: CpuSet): string {
  const parts: string[] = [];
  let i = 0;
  while (i < set.length) {
    let j = i;
    while (j + 1 < set.length && set[j + 1] === set[j] + 1) j++;
    parts.push(j === i ? `${set[i]}` : `${set[i]}-${set[j]}`);
    i = j + 1;
  }
  return parts.join(",");
}

/**
 * Nova's parse_cpu_spec: comma-separated CPUs and ranges, `^` excludes a CPU or a range; the
 * result is the inclusions minus the exclusions (a spec of exclusions only is the empty set).
 */
export function parseNovaCpuSpec(spec: string): CpuSet {
  const include = new Set<number>();
  const exclude = new Set<number>();
  for (const raw of spec.split(",")) {
    const rule = raw.trim();
    if (rule === "") continue;
    const reject = rule.startsWith("^");
    const body = reject ? rule.slice(1) : rule;
    const target = reject ? exclude : include;
    const dash = body.indexOf("-");
    if (dash >= 0) {
      const [a, b] = [body.slice(0, dash), body.slice(dash + 1)];
      if (!/^\s*\d+\s*$/.test(a) || !/^\s*\d+\s*$/.test(b)) {
        throw cpuSpecError(`"${spec}": invalid range expression "${rule}"`);
      }
      const start = toCpu(a, spec);
      const end = toCpu(b, spec);
      if (start > end) throw cpuSpecError(`"${spec}": invalid range expression "${rule}"`);
      for (const c of range(start, end)) target.add(c);
    } else {
      if (!/^\s*\d+\s*$/.test(body)) {
        throw cpuSpecError(`"${spec}": invalid ${reject ? "exclusion" : "inclusion"} expression "${rule}"`);
      }
      target.add(toCpu(body, spec));
    }
  }
  return cpuSet([...include].filter((c) => !exclude.has(c)));
}

export function union(...sets: CpuSet[]): CpuSet {
  return cpuSet(sets.flat());
}

export function difference(a: CpuSet, b: CpuSet): CpuSet {
  const drop = new Set(b);
  return a.filter((c) => !drop.has(c));
}

export function intersection(a: CpuSet, b: CpuSet): CpuSet {
  const keep = new Set(b);
  return a.filter((c) => keep.has(c));
}

export function isSubset(a: CpuSet, b: CpuSet): boolean {
  const big = new Set(b);
  return a.every((c) => big.has(c));
}

export function sameSet(a: CpuSet, b: CpuSet): boolean {
  return a.length === b.length && a.every((c, i) => c === b[i]);
}
