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

export const MAX_CPU = 8191; // the kernel's NR_CPUS ceiling; bigger ids are typos, not hosts

/**
 * The longest CPU list or spec taken: every CPU of 0..MAX_CPU written once without ranges
 * ("0,2,4,...,8190" is 19,924 characters) fits. Checked before anything is parsed, and
 * overlapping or unordered ranges are marked in a bitmap of at most MAX_CPU + 1 entries, so
 * neither time nor memory grows with repeated or overlapping ranges.
 */
export const MAX_CPU_LIST_CHARS = 20480;

/** A long list quoted for a message: its start, JSON-escaped (no control character reaches a terminal). */
function quoted(text: string): string {
  const json = JSON.stringify(text);
  return json.length > 60 ? `${json.slice(0, 57)}..."` : json;
}

function checkLength(text: string): void {
  if (text.length > MAX_CPU_LIST_CHARS)
    throw cpuSpecError(
      `${quoted(text)} is ${text.length} characters, more than the ${MAX_CPU_LIST_CHARS} any list of CPUs 0-${MAX_CPU} needs; write ranges such as "0-63"`,
    );
}

function toCpu(text: string, whole: string): number {
  const t = text.trim();
  if (!/^\d+$/.test(t)) throw cpuSpecError(`${quoted(whole)}: ${quoted(text)} is not a CPU number`);
  if (t.length > 5 || Number(t) > MAX_CPU) throw cpuSpecError(`${quoted(whole)}: CPU ${quoted(t)} is above ${MAX_CPU}`);
  return Number(t);
}

export function cpuSet(cpus: Iterable<number>): CpuSet {
  const list = [...cpus];
  // Most lists arrive sorted already (sysfs, lscpu, ranges): skip the Set and the sort then.
  if (list.every((c, i) => i === 0 || c > list[i - 1])) return list;
  return [...new Set(list)].sort((a, b) => a - b);
}

/** The CPUs marked in a bitmap, in order; only `lo..hi` can be marked. */
function marked(bits: Uint8Array, lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let c = lo; c <= hi; c++) if (bits[c]) out.push(c);
  return out;
}

/** One part of a cpulist: CPUs start..end, of each group of `group` CPUs the first `used` (all when equal). */
interface CpuListPart {
  start: number;
  end: number;
  used: number;
  group: number;
}

const DIGIT_0 = 48;
const DIGIT_9 = 57;
const COMMA = 44;
const DASH = 45;

/**
 * The cpulists configs and plans are full of ("0-3,8,10-11", thread groups "4,52"): CPUs and
 * ranges in ascending order, no blanks or strides, each CPU number at most 5 digits and at most
 * MAX_CPU. Read character by character, as a config's thousands of them are: the number of CPUs
 * it names, each pushed to `out` when given; -1 for any other text, which parseCpuList then
 * reads (or refuses) in full.
 */
function scanPlainList(text: string, out: number[] | null): number {
  let count = 0;
  let last = -1;
  let i = 0;
  while (i < text.length) {
    let start = 0;
    const from = i;
    for (; i < text.length && text.charCodeAt(i) >= DIGIT_0 && text.charCodeAt(i) <= DIGIT_9; i++)
      start = start * 10 + text.charCodeAt(i) - DIGIT_0;
    if (i === from || i - from > 5 || start > MAX_CPU || start <= last) return -1;
    let end = start;
    if (text.charCodeAt(i) === DASH) {
      const to = ++i;
      end = 0;
      for (; i < text.length && text.charCodeAt(i) >= DIGIT_0 && text.charCodeAt(i) <= DIGIT_9; i++)
        end = end * 10 + text.charCodeAt(i) - DIGIT_0;
      if (i === to || i - to > 5 || end > MAX_CPU || end < start) return -1;
    }
    if (out) for (let c = start; c <= end; c++) out.push(c);
    count += end - start + 1;
    last = end;
    if (i === text.length) return count;
    if (text.charCodeAt(i) !== COMMA) return -1;
    i++;
  }
  return -1; // empty, or a trailing comma
}

/** How many CPUs a kernel cpulist names, without building the set when it is plain; throws as parseCpuList does. */
export function cpuListSize(text: string): number {
  checkLength(text);
  const count = scanPlainList(text, null);
  return count >= 0 ? count : parseCpuList(text).length;
}

/** Parses a kernel cpulist. The empty string is the empty set. */
export function parseCpuList(text: string): CpuSet {
  checkLength(text);
  const plain: number[] = [];
  if (scanPlainList(text, plain) >= 0) return plain;
  const whole = text;
  const trimmed = text.trim();
  if (trimmed === "") return [];
  const parts: CpuListPart[] = trimmed.split(",").map((part) => {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*(?::\s*(\d+)\s*\/\s*(\d+)\s*)?)?$/.exec(part);
    if (!m)
      throw cpuSpecError(`${quoted(whole)}: ${quoted(part)} is not a CPU, a range a-b or a stride a-b:used/group`);
    const start = toCpu(m[1], whole);
    const end = m[2] === undefined ? start : toCpu(m[2], whole);
    if (start > end) throw cpuSpecError(`${quoted(whole)}: range ${start}-${end} runs backwards`);
    if (m[3] === undefined) return { start, end, used: 1, group: 1 };
    const used = m[3].length > 5 ? Infinity : Number(m[3]);
    const group = m[4].length > 5 ? Infinity : Number(m[4]);
    if (used < 1 || group < 1 || used > group || group > MAX_CPU + 1) {
      throw cpuSpecError(`${quoted(whole)}: stride ${m[3]}/${m[4]} needs 1 <= used <= group <= ${MAX_CPU + 1}`);
    }
    return { start, end, used, group };
  });
  // Lists as sysfs and lscpu print them (whole ranges in ascending order) are written out as
  // they come; anything else is marked in a bitmap as large as the highest CPU.
  if (parts.every((p, i) => p.used === p.group && (i === 0 || p.start > parts[i - 1].end))) {
    const out: number[] = [];
    for (const { start, end } of parts) for (let c = start; c <= end; c++) out.push(c);
    return out;
  }
  const [lo, hi] = [Math.min(...parts.map((p) => p.start)), Math.max(...parts.map((p) => p.end))];
  const bits = new Uint8Array(hi + 1);
  for (const { start, end, used, group } of parts) {
    if (used === group)
      bits.fill(1, start, end + 1); // every CPU of every group: the whole range
    // Plain stores: a fill() call per group costs more than the few CPUs it marks.
    else
      for (let base = start; base <= end; base += group)
        for (let c = base; c < base + used && c <= end; c++) bits[c] = 1;
  }
  return marked(bits, lo, hi);
}

/** Formats a set as the kernel prints cpulists (sysfs `isolated`, `thread_siblings_list`): `0-3,8,10-11`. */
export function formatCpuList(set: CpuSet): string {
  let text = ""; // built as it goes: plans format every thread group of every host
  let i = 0;
  while (i < set.length) {
    let j = i;
    while (j + 1 < set.length && set[j + 1] === set[j] + 1) j++;
    text += `${i === 0 ? "" : ","}${j === i ? `${set[i]}` : `${set[i]}-${set[j]}`}`;
    i = j + 1;
  }
  return text;
}

/**
 * Nova's parse_cpu_spec: comma-separated CPUs and ranges, `^` excludes a CPU or a range; the
 * result is the inclusions minus the exclusions (a spec of exclusions only is the empty set).
 */
export function parseNovaCpuSpec(spec: string): CpuSet {
  checkLength(spec);
  const include = new Uint8Array(MAX_CPU + 1);
  const exclude = new Uint8Array(MAX_CPU + 1);
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
        throw cpuSpecError(`${quoted(spec)}: invalid range expression ${quoted(rule)}`);
      }
      const start = toCpu(a, spec);
      const end = toCpu(b, spec);
      if (start > end) throw cpuSpecError(`${quoted(spec)}: invalid range expression ${quoted(rule)}`);
      target.fill(1, start, end + 1);
    } else {
      if (!/^\s*\d+\s*$/.test(body)) {
        throw cpuSpecError(`${quoted(spec)}: invalid ${reject ? "exclusion" : "inclusion"} expression ${quoted(rule)}`);
      }
      target[toCpu(body, spec)] = 1;
    }
  }
  for (let c = 0; c <= MAX_CPU; c++) if (exclude[c]) include[c] = 0;
  return marked(include, 0, MAX_CPU);
}

export function union(...sets: CpuSet[]): CpuSet {
  // One set with CPUs, already a set (guests' pinned vCPUs beside no floating ones): itself, copied.
  const nonEmpty = sets.filter((set) => set.length > 0);
  if (nonEmpty.length === 1 && isCpuSet(nonEmpty[0])) return nonEmpty[0].slice();
  let hi = -1;
  for (const set of sets) for (const c of set) hi = Math.max(hi, c);
  if (hi > MAX_CPU) return [...new Set(sets.flat())].sort((a, b) => a - b); // not CPU numbers: no bitmap that large
  // A bitmap up to the highest CPU: no sort, however the sets interleave.
  const bits = new Uint8Array(hi + 1);
  for (const set of sets) for (const c of set) bits[c] = 1;
  return marked(bits, 0, hi);
}

/** Sorted distinct CPU numbers: what the bitmap would give back unchanged. */
export function isCpuSet(list: readonly number[]): boolean {
  for (let i = 0; i < list.length; i++)
    if (!Number.isInteger(list[i]) || list[i] < 0 || list[i] > MAX_CPU || (i > 0 && list[i] <= list[i - 1]))
      return false;
  return true;
}

export function difference(a: CpuSet, b: CpuSet): CpuSet {
  if (isCpuSet(a) && isCpuSet(b)) return mergeWalk(a, b, false);
  const drop = new Set(b);
  return a.filter((c) => !drop.has(c));
}

export function intersection(a: CpuSet, b: CpuSet): CpuSet {
  if (isCpuSet(a) && isCpuSet(b)) return mergeWalk(a, b, true);
  const keep = new Set(b);
  return a.filter((c) => keep.has(c));
}

/** The CPUs of sorted `a` that are (or are not) in sorted `b`: one walk through both, no Set to build. */
function mergeWalk(a: CpuSet, b: CpuSet, inB: boolean): number[] {
  const out: number[] = [];
  let j = 0;
  for (const c of a) {
    while (j < b.length && b[j] < c) j++;
    if ((j < b.length && b[j] === c) === inB) out.push(c);
  }
  return out;
}

export function isSubset(a: CpuSet, b: CpuSet): boolean {
  const big = new Set(b);
  return a.every((c) => big.has(c));
}

export function sameSet(a: CpuSet, b: CpuSet): boolean {
  return a.length === b.length && a.every((c, i) => c === b[i]);
}
