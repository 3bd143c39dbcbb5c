/*
 * Fixtures: cyclictest.json and cyclictest-histogram.txt are one real run on this 2-CPU, non-RT
 * VM (rt-tests 2.40): `cyclictest -m -q -p95 --policy=fifo -D 5 -h60 -t 2 -a 0-1 -i 200
 * --json=cyclictest.json > cyclictest-histogram.txt`. hwlatdetect-no-hwlat-tracer.txt is what
 * `hwlatdetect --duration=5 --threshold=20` printed here (the kernel has no hwlat tracer); the
 * hwlatdetect-crafted-*.txt files follow the print statements of rt-tests 2.4's hwlatdetect.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { CyclictestRun } from "../../../lib/checks/latency";
import { checkCyclictest, checkHwlatdetect, parseCyclictest, parseHwlatdetect } from "../../../lib/checks/latency";
import { formatReport } from "../../../lib/checks/result";

const fixture = (name: string) => readFileSync(join(__dirname, "..", "..", "fixtures", "latency", name), "utf8");
const jsonText = fixture("cyclictest.json");
const histogramText = fixture("cyclictest-histogram.txt");

function parsed(text: string): CyclictestRun {
  const p = parseCyclictest(text);
  if (!p.ok) assert.fail(p.error);
  return p.run;
}

/** The fixture's own worst case and worst mean, so budgets follow whatever this machine measured. */
function measured(run: CyclictestRun) {
  return { max: Math.max(...run.threads.map((t) => t.maxUs)), mean: Math.max(...run.threads.map((t) => t.avgUs)) };
}

describe("cyclictest parsers on a real run", () => {
  const json = parsed(jsonText);
  const hist = parsed(histogramText);

  it("reads both threads, pinned to CPUs 0 and 1, from the JSON", () => {
    assert.equal(json.format, "json");
    assert.deepEqual(
      json.threads.map((t) => t.cpu),
      [0, 1],
    );
    assert.equal(json.buckets, 60);
    assert.equal(json.realtimeKernel, false);
  });

  it("agrees with the histogram printed by the same run: min, max, mean and overflows per thread", () => {
    assert.equal(hist.format, "histogram");
    assert.equal(hist.buckets, 60);
    assert.equal(hist.threads.length, json.threads.length);
    json.threads.forEach((j, i) => {
      const h = hist.threads[i];
      assert.equal(h.minUs, j.minUs);
      assert.equal(h.maxUs, j.maxUs);
      assert.ok(Math.abs(h.avgUs - j.avgUs) < 1, `avg ${h.avgUs} vs ${j.avgUs}`);
      assert.equal(h.overflows, j.overflows, "JSON overflows are cycles minus the histogram's samples");
      assert.deepEqual(h.histogram, j.histogram);
    });
  });
});

describe("checkCyclictest", () => {
  for (const [format, text] of [
    ["JSON", jsonText],
    ["histogram", histogramText],
  ] as const) {
    const run = parsed(text);
    const { max, mean } = measured(run);

    it(`fails the ${format} run against a 20 µs budget, naming each CPU and its measured max`, () => {
      const results = checkCyclictest(parseCyclictest(text), { maxUs: 20, meanUs: 10 }, "0-1");
      assert.equal(results.find((r) => r.check === "cyclictest CPUs")?.ok, true);
      for (const t of run.threads) {
        const cpu = t.cpu ?? t.thread; // histogram threads are mapped to CPUs 0,1 by the -a list
        const r = results.find((x) => x.check === `max latency CPU ${cpu}`);
        assert.ok(r, formatReport(results));
        assert.equal(r.ok, false);
        assert.match(r.hint, new RegExp(`^CPU ${cpu} measured a worst case of ${t.maxUs} µs, over the 20 µs budget`));
        const tail = results.find((x) => x.check === `histogram tail CPU ${cpu}`);
        assert.equal(tail?.ok, false);
        assert.match(tail.observed, /^\d+ samples above 20 µs; top buckets 57 µs x\d+, 58 µs x\d+, 59 µs x\d+/);
      }
    });

    it(`passes the ${format} run against a budget just above its own max (${max} µs) and mean`, () => {
      const results = checkCyclictest(parseCyclictest(text), { maxUs: max + 1, meanUs: Math.ceil(mean) + 1 }, "0-1");
      assert.deepEqual(
        results.filter((r) => !r.ok),
        [],
        formatReport(results),
      );
      assert.equal(results.filter((r) => r.check.startsWith("max latency CPU")).length, 2);
    });

    it(`fails the ${format} run against its own max minus one microsecond`, () => {
      const results = checkCyclictest(parseCyclictest(text), { maxUs: max - 1, meanUs: Math.ceil(mean) + 1 }, "0-1");
      const worst = run.threads.findIndex((t) => t.maxUs === max);
      assert.deepEqual(
        results.filter((r) => !r.ok && r.check.startsWith("max latency")).map((r) => r.check),
        [`max latency CPU ${worst}`],
      );
    });
  }

  it("says how many tail samples exceed a budget longer than the histogram only when it can tell", () => {
    const results = checkCyclictest(parseCyclictest(histogramText), { maxUs: 100, meanUs: 100 }, "0-1");
    const tail = results.find((r) => r.check === "histogram tail CPU 0");
    assert.equal(tail?.ok, false, "the max is far above 100 µs, so some overflowed samples exceed it");
    assert.match(
      tail.observed,
      /^some samples above 100 µs; .* samples beyond the 60 µs histogram \(use -h above 100 to count them\)$/,
    );
  });

  it("fails when the run did not cover the RT CPUs", () => {
    const json = checkCyclictest(parseCyclictest(jsonText), { maxUs: 1e6, meanUs: 1e6 }, "2-3");
    assert.equal(json[0].check, "cyclictest CPUs");
    assert.equal(json[0].ok, false);
    assert.equal(json[0].observed, "CPUs 0,1");
    const hist = checkCyclictest(parseCyclictest(histogramText), { maxUs: 1e6, meanUs: 1e6 }, "0-3");
    assert.equal(hist[0].observed, "2 threads for 4 RT CPUs");
    assert.match(hist[0].hint, /-t 4 -a 0-3/);
  });

  const broken: [string, string, RegExp][] = [
    ["an empty file", "", /empty/],
    ["a JSON file cut in half", jsonText.slice(0, jsonText.length / 2), /not valid JSON/],
    [
      "a histogram cut before its summary",
      histogramText.split("\n").slice(0, 40).join("\n"),
      /no "# Max Latencies:" line/,
    ],
    ["garbage", "Segmentation fault (core dumped)\n", /no "# Max Latencies:" line/],
    ["JSON of something else", '{"hello": "world"}', /without a "thread" object/],
  ];
  for (const [what, text, why] of broken) {
    it(`gives one failed result for ${what}`, () => {
      const results = checkCyclictest(parseCyclictest(text), { maxUs: 20, meanUs: 10 });
      assert.equal(results.length, 1);
      assert.equal(results[0].ok, false);
      assert.match(results[0].observed, why);
    });
  }
});

describe("checkHwlatdetect", () => {
  it("fails with a clear reason on a kernel without the hwlat tracer (this machine)", () => {
    const r = checkHwlatdetect(parseHwlatdetect(fixture("hwlatdetect-no-hwlat-tracer.txt")), 20);
    assert.equal(r.ok, false);
    assert.match(r.observed, /kernel has no hwlat tracer/);
  });

  it('passes "Below threshold" when the run\'s threshold is within ours, and not otherwise', () => {
    const below = parseHwlatdetect(fixture("hwlatdetect-crafted-below-threshold.txt"));
    assert.equal(checkHwlatdetect(below, 20).ok, true);
    const stricter = checkHwlatdetect(below, 10);
    assert.equal(stricter.ok, false);
    assert.match(stricter.hint, /rerun with --threshold 10/);
  });

  it("fails a run whose max exceeds the threshold, naming the max, and passes it under a looser one", () => {
    const exceeding = parseHwlatdetect(fixture("hwlatdetect-crafted-exceeding.txt"));
    const r = checkHwlatdetect(exceeding, 20);
    assert.equal(r.ok, false);
    assert.equal(r.observed, "47 µs, 3 samples over the run's 20 µs threshold");
    assert.match(r.hint, /stalled the CPU for 47 µs/);
    assert.equal(checkHwlatdetect(exceeding, 50).ok, true);
  });

  it("fails a run cut off before its result, and garbage", () => {
    const cut = fixture("hwlatdetect-crafted-exceeding.txt").split("Max Latency")[0];
    assert.match(
      checkHwlatdetect(parseHwlatdetect(cut), 20).observed,
      /^no "Max Latency:" line, so hwlatdetect did not finish \(last line: "test finished"\)$/,
    );
    assert.equal(checkHwlatdetect(parseHwlatdetect(""), 20).ok, false);
    assert.equal(checkHwlatdetect(parseHwlatdetect("\u0000\u0001garbage"), 20).ok, false);
  });
});
