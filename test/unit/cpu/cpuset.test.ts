import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  isCpuSpecError,
  cpuSet,
  difference,
  formatCpuList,
  intersection,
  parseCpuList,
  parseNovaCpuSpec,
  MAX_CPU_LIST_CHARS,
  union,
} from "../../../lib/cpu/cpuset";

const cpuSets = fc.uniqueArray(fc.integer({ min: 0, max: 300 }), { maxLength: 60 }).map((a) => cpuSet(a));

describe("kernel cpulist", () => {
  it("parses ranges, singles and strides", () => {
    assert.deepEqual(parseCpuList("0-3,8,10-11"), [0, 1, 2, 3, 8, 10, 11]);
    assert.deepEqual(parseCpuList("0-15:2/4"), [0, 1, 4, 5, 8, 9, 12, 13]);
    assert.deepEqual(parseCpuList(" 4-11\n"), [4, 5, 6, 7, 8, 9, 10, 11]);
    assert.deepEqual(parseCpuList(""), []);
  });

  it("formats like the kernel", () => {
    assert.equal(formatCpuList([0, 1, 2, 3, 8, 10, 11]), "0-3,8,10-11");
    assert.equal(formatCpuList([2, 3]), "2-3");
    assert.equal(formatCpuList([4, 6, 8, 10]), "4,6,8,10");
    assert.equal(formatCpuList([]), "");
  });

  it("rejects what the kernel rejects, naming the bad part", () => {
    for (const bad of ["4-", "a", "3-1", "1,,2", "0-3;reboot", "$(id)", "1 2", "0-9999"]) {
      assert.throws(
        () => parseCpuList(bad),
        (e) => isCpuSpecError(e),
        bad,
      );
    }
    assert.throws(() => parseCpuList("3-1"), /range 3-1 runs backwards/);
  });

  it("round-trips any set (property)", () => {
    fc.assert(fc.property(cpuSets, (s) => assert.deepEqual(parseCpuList(formatCpuList(s)), s)));
  });

  it("set algebra obeys the set laws (property)", () => {
    fc.assert(
      fc.property(cpuSets, cpuSets, (a, b) => {
        assert.deepEqual(union(difference(a, b), intersection(a, b)), a);
        assert.deepEqual(intersection(difference(a, b), b), []);
        assert.deepEqual(union(a, b), union(b, a));
      }),
    );
  });
});

describe("Nova CPU spec (parse_cpu_spec)", () => {
  it("applies exclusions to inclusions", () => {
    assert.deepEqual(parseNovaCpuSpec("4-11,^6"), [4, 5, 7, 8, 9, 10, 11]);
    assert.deepEqual(parseNovaCpuSpec("0-3,^0-1"), [2, 3]);
    assert.deepEqual(parseNovaCpuSpec("1,3"), [1, 3]);
  });

  it("gives the empty set for exclusions alone, as Nova does", () => {
    assert.deepEqual(parseNovaCpuSpec("^0-1"), []);
  });

  it("ignores empty rules and blanks like Nova", () => {
    assert.deepEqual(parseNovaCpuSpec(" 1 , ,3"), [1, 3]);
  });

  it("rejects malformed rules with Nova's wording", () => {
    assert.throws(() => parseNovaCpuSpec("3-1"), /invalid range expression "3-1"/);
    assert.throws(() => parseNovaCpuSpec("^x"), /invalid exclusion expression/);
    assert.throws(() => parseNovaCpuSpec("a"), /invalid inclusion expression/);
    assert.throws(() => parseNovaCpuSpec("-1"), /invalid range expression/);
  });

  it("a plain list means the same in both notations (property)", () => {
    fc.assert(fc.property(cpuSets, (s) => assert.deepEqual(parseNovaCpuSpec(formatCpuList(s)), s)));
  });

  it("'all of 0..n-1 but X' is the complement of X (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), cpuSets, (n, x) => {
        const inRange = x.filter((c) => c < n);
        const all = Array.from({ length: n }, (_, i) => i);
        const spec = inRange.length ? `0-${n - 1},${inRange.map((c) => `^${c}`).join(",")}` : `0-${n - 1}`;
        assert.deepEqual(parseNovaCpuSpec(spec), difference(all, inRange));
      }),
    );
  });
});

describe("bounded work: a list is never expanded before it is checked", () => {
  const repeated = (chars: number) =>
    Array(Math.ceil(chars / 7))
      .fill("0-8191")
      .join(",");

  it("a 107 KB list of repeated 0-8191 ranges is refused by its length at once, quoted short", () => {
    // The message names the length: the list was refused before any range was expanded.
    for (const parse of [parseCpuList, parseNovaCpuSpec]) {
      assert.throws(
        () => parse(repeated(107_000)),
        (e: Error) =>
          isCpuSpecError(e) &&
          /is 10\d{4} characters, more than the 20480 any list of CPUs 0-8191 needs/.test(e.message) &&
          e.message.length < 300,
      );
    }
  });

  it("a list just under the limit of overlapping full ranges costs the bitmap, not the ranges' sum", () => {
    const list = repeated(MAX_CPU_LIST_CHARS - 7);
    assert.ok(list.length <= MAX_CPU_LIST_CHARS);
    const started = Date.now();
    assert.equal(parseCpuList(list).length, 8192);
    assert.equal(parseNovaCpuSpec(list).length, 8192);
    assert.equal(parseCpuList(Array(1800).fill("0-8191:1/1").join(",")).length, 8192);
    assert.ok(Date.now() - started < 3000, `${Date.now() - started} ms`);
  });

  it("the longest list of distinct CPUs (every even one, no ranges) fits the limit", () => {
    const evens = Array.from({ length: 4096 }, (_, i) => 2 * i);
    const text = evens.join(",");
    assert.ok(text.length <= MAX_CPU_LIST_CHARS, `${text.length}`);
    assert.deepEqual(parseCpuList(text), evens);
  });

  it("a CPU number of thousands of digits, and a stride group beyond the CPUs, are refused by their size", () => {
    assert.throws(() => parseCpuList("9".repeat(5000)), /CPU "9999999999999999999.*" is above 8191/);
    assert.throws(() => parseNovaCpuSpec(`0-${"9".repeat(400)}`), /is above 8191/);
    assert.throws(() => parseCpuList(`0-15:1/${"9".repeat(400)}`), /needs 1 <= used <= group <= 8192/);
  });
});

describe("lists in any order, and unions, against sorting the CPUs", () => {
  const sorted = (cpus: number[]) => [...new Set(cpus)].sort((a, b) => a - b);
  const ranges = fc.array(
    fc.tuple(fc.integer({ min: 0, max: 400 }), fc.integer({ min: 0, max: 20 })).map(([a, n]) => [a, a + n] as const),
    { minLength: 1, maxLength: 12 },
  );

  it("a list of ranges in any order, overlapping or not, is the sorted set of their CPUs (property)", () => {
    fc.assert(
      fc.property(ranges, (parts) => {
        const text = parts.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(",");
        const cpus = parts.flatMap(([a, b]) => Array.from({ length: b - a + 1 }, (_, i) => a + i));
        assert.deepEqual(parseCpuList(text), sorted(cpus));
      }),
    );
  });

  it("a union of interleaved sets, as a host's nodes number their CPUs, is their sorted set (property)", () => {
    fc.assert(
      fc.property(fc.array(cpuSets, { maxLength: 8 }), (sets) => assert.deepEqual(union(...sets), sorted(sets.flat()))),
    );
    assert.deepEqual(union([0, 2, 4], [1, 3, 5], [5, 9000]), [0, 1, 2, 3, 4, 5, 9000]);
  });
});
