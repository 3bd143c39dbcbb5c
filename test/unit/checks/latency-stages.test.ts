/*
 * The staged latency proof on real rt-tests output. oslat.json and cyclictest-cpu1.json are real
 * runs on this 2-CPU, non-RT VM (rt-tests 2.40) with the commands guest-latency.sh runs, RT CPU 1
 * and housekeeping CPU 0: `oslat -q -D 5 -f 1 -c 1 -C 0 --json=oslat.json` and `cyclictest -m -q
 * -p95 --policy=fifo -D 5 -h60 -i 200 -t 1 -a 1 --mainaffinity 0 --json=cyclictest-cpu1.json`.
 * The hwlatdetect fixtures are described in checks-latency.test.ts.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { checkOslat, parseOslat } from "../../../lib/checks/latency";
import type { LatencyStage, LatencyStageSettings, StageRun } from "../../../lib/checks/latency-stages";
import { describeLatencyStages, enabledStages, judgeStage, runLatencyStages } from "../../../lib/checks/latency-stages";
import { fail, formatReport } from "../../../lib/checks/result";
import { parseStackConfig } from "../../../lib/config/schema";
import { renderPlan } from "../../../lib/render/plan-text";
import { devRaw, devStack } from "../../support/dev-config";

const fixture = (name: string) => readFileSync(join(__dirname, "..", "..", "fixtures", "latency", name), "utf8");
const oslatText = fixture("oslat.json");
const cyclictestText = fixture("cyclictest-cpu1.json");
const noTracer = fixture("hwlatdetect-no-hwlat-tracer.txt");
const hwlatExceeding = fixture("hwlatdetect-crafted-exceeding.txt");
const hwlatBelow = fixture("hwlatdetect-crafted-below-threshold.txt");

/** The real oslat run's worst case on CPU 1. */
const oslatMax = (() => {
  const p = parseOslat(oslatText);
  if (!p.ok) throw new Error(p.error);
  return p.run.threads[0].maxUs;
})();

/** Budgets that the real runs meet: a second everywhere. */
const loose: LatencyStageSettings = {
  hwlatdetect: { enabled: true, durationSeconds: 60, thresholdUs: 20 },
  cyclictest: { enabled: true, durationSeconds: 300, maxUs: 1_000_000, meanUs: 1_000_000 },
  oslat: { enabled: true, durationSeconds: 43_200, maxUs: 1_000_000 },
};

describe("oslat", () => {
  it("parses the real run: one thread on CPU 1, its min, mean and worst case, on a non-RT kernel", () => {
    const p = parseOslat(oslatText);
    if (!p.ok) assert.fail(p.error);
    assert.deepEqual(
      p.run.threads.map((t) => [t.cpu, t.minUs, Math.round(t.avgUs)]),
      [[1, 1, 1]],
    );
    assert.ok(oslatMax > 1);
    assert.equal(p.run.realtimeKernel, false);
  });

  it("passes a budget at its worst case and fails one a microsecond under, naming the CPU and the figure", () => {
    const at = checkOslat(parseOslat(oslatText), oslatMax, "1");
    assert.deepEqual(
      at.map((r) => [r.check, r.ok]),
      [
        ["oslat CPUs", true],
        ["oslat max CPU 1", true],
      ],
    );
    const under = checkOslat(parseOslat(oslatText), oslatMax - 1, "1");
    const r = under.find((x) => x.check === "oslat max CPU 1");
    assert.equal(r?.ok, false);
    assert.match(r.observed, new RegExp(`^${oslatMax} µs \\(min 1, avg 1(\\.\\d+)?\\)$`));
    assert.match(r.hint, /kept from running for \d+ µs, over the \d+ µs budget/);
    assert.match(r.hint, /not PREEMPT_RT/);
  });

  it("fails a run that did not cover the RT CPUs, and one cut short", () => {
    assert.equal(checkOslat(parseOslat(oslatText), 1_000_000, "1-2")[0].ok, false);
    const cut = checkOslat(parseOslat(oslatText.slice(0, 200)), 20, "1");
    assert.deepEqual(
      cut.map((r) => [r.check, r.ok]),
      [["oslat output", false]],
    );
    assert.match(cut[0].observed, /oslat was killed before writing it/);
  });
});

describe("judging one stage", () => {
  it("hwlatdetect that cannot run is a skip that says why, not a silent pass", () => {
    const [r] = judgeStage("hwlatdetect", noTracer, loose, "1", "guest");
    assert.equal(r.ok, true);
    assert.match(r.observed, /^skipped, nothing measured: hwlatdetect could not run: the kernel has no hwlat tracer/);
    assert.match(r.observed, /latency\.guest\.hwlatdetect\.enabled: false/);
    assert.match(
      judgeStage("hwlatdetect", noTracer, loose, "1", "host")[0].observed,
      /set latency\.host\.hwlatdetect\.enabled: false/,
    );
  });

  it("hwlatdetect cut short or over its threshold fails; under it passes", () => {
    assert.equal(judgeStage("hwlatdetect", hwlatExceeding.split("Max Latency")[0], loose, "1", "guest")[0].ok, false);
    assert.equal(judgeStage("hwlatdetect", hwlatExceeding, loose, "1", "guest")[0].ok, false);
    assert.equal(judgeStage("hwlatdetect", hwlatBelow, loose, "1", "guest")[0].ok, true);
  });

  it("cyclictest and oslat hold their own budgets", () => {
    const tight = { ...loose, oslat: { ...loose.oslat, maxUs: oslatMax - 1 } };
    assert.ok(judgeStage("cyclictest", cyclictestText, tight, "1", "guest").every((r) => r.ok));
    assert.ok(judgeStage("oslat", oslatText, loose, "1", "guest").every((r) => r.ok));
    assert.equal(judgeStage("oslat", oslatText, tight, "1", "guest")[1].ok, false);
  });
});

/** Runs the stages on recorded output, noting which were run. */
async function staged(settings: LatencyStageSettings, outputs: Partial<Record<LatencyStage, StageRun>>) {
  const ran: LatencyStage[] = [];
  const results = await runLatencyStages(settings, "1", "guest", (stage) => {
    ran.push(stage);
    const got = outputs[stage];
    if (got === undefined) throw new Error(`no output for ${stage}`);
    return Promise.resolve(got);
  });
  return { ran, results };
}

describe("running the stages", () => {
  const outputs = {
    hwlatdetect: { output: noTracer },
    cyclictest: { output: cyclictestText },
    oslat: { output: oslatText },
  };

  it("runs hwlatdetect, then cyclictest, then oslat, and stops at the first stage that fails", async () => {
    const strict = { ...loose, cyclictest: { ...loose.cyclictest, maxUs: 20 } };
    const { ran, results } = await staged(strict, outputs);
    assert.deepEqual(ran, ["hwlatdetect", "cyclictest"], formatReport(results));
    assert.equal(results[0].check, "hwlatdetect");
    assert.equal(results.find((r) => r.check === "max latency CPU 1")?.ok, false);
    assert.deepEqual(results.at(-1), {
      check: "oslat stage",
      expected: "run after the earlier stages pass",
      observed: "not run: the cyclictest stage failed",
      ok: false,
      hint: "fix what the cyclictest stage found; the oslat stage runs on the next update of the check",
    });
  });

  it("reports every stage's figures when all pass", async () => {
    const { ran, results } = await staged(loose, { ...outputs, hwlatdetect: { output: hwlatBelow } });
    assert.deepEqual(ran, ["hwlatdetect", "cyclictest", "oslat"]);
    assert.deepEqual(
      results.map((r) => [r.check, r.ok]),
      [
        ["hwlatdetect", true],
        ["cyclictest CPUs", true],
        ["max latency CPU 1", true],
        ["mean latency CPU 1", true],
        ["histogram tail CPU 1", true],
        ["oslat CPUs", true],
        ["oslat max CPU 1", true],
      ],
      formatReport(results),
    );
    assert.match(results.at(-1)?.observed ?? "", new RegExp(`^${oslatMax} µs`));
  });

  it("runs only the enabled stages, and a stage that could not run stops the later ones", async () => {
    const onlyOslat = {
      ...loose,
      hwlatdetect: { ...loose.hwlatdetect, enabled: false },
      cyclictest: { ...loose.cyclictest, enabled: false },
    };
    assert.deepEqual(enabledStages(onlyOslat), ["oslat"]);
    assert.deepEqual((await staged(onlyOslat, outputs)).ran, ["oslat"]);
    const refused = fail("hwlatdetect stage", "the script to exit 0", "exit 1: sudo: a password is required", "x");
    const { ran, results } = await staged(loose, { ...outputs, hwlatdetect: { failure: refused } });
    assert.deepEqual(ran, ["hwlatdetect"]);
    assert.deepEqual(
      results.map((r) => [r.check, r.ok]),
      [
        ["hwlatdetect stage", false],
        ["cyclictest stage", false],
        ["oslat stage", false],
      ],
    );
  });
});

describe("latency.guest settings", () => {
  const withGuest = (guest: Record<string, unknown>) => {
    const raw = devRaw();
    raw.latency = { guest };
    return parseStackConfig(raw);
  };

  it("defaults to the three stages with the anchors' budgets, a minute each", () => {
    const r = withGuest({});
    assert.ok(r.ok);
    const g = r.config.latency.guest;
    assert.deepEqual(
      [g.hwlatdetect, g.cyclictest, g.oslat],
      [
        { enabled: true, durationSeconds: 60, thresholdUs: 20 },
        { enabled: true, durationSeconds: 60, maxUs: 20, meanUs: 10 },
        { enabled: true, durationSeconds: 60, maxUs: 20 },
      ],
    );
  });

  it("takes a 12-hour soak as one value, and refuses a duration beyond what guest-latency.sh takes", () => {
    const soak = withGuest({ cyclictest: { durationSeconds: 43_200 } });
    assert.ok(soak.ok);
    assert.equal(soak.config.latency.guest.cyclictest.durationSeconds, 43_200);
    const long = withGuest({ oslat: { durationSeconds: 1_000_000 } });
    assert.ok(!long.ok);
    assert.match(
      long.problems.map((p) => `${p.path}: ${p.message}`).join("\n"),
      /latency\.guest\.oslat\.durationSeconds: got 1000000; must be at most 999999 s .*a 12-hour soak is 43200/,
    );
  });

  it("refuses the keys from before the stages, saying where they went", () => {
    const r = withGuest({ durationSeconds: 60, maxUs: 20 });
    assert.ok(!r.ok);
    assert.deepEqual(
      r.problems.map((p) => [p.path, p.message]),
      [
        [
          "openstack-rt:latency.guest.durationSeconds",
          "got 60; moved: set latency.guest.cyclictest.durationSeconds (each latency stage has its own settings)",
        ],
        [
          "openstack-rt:latency.guest.maxUs",
          "got 20; moved: set latency.guest.cyclictest.maxUs (each latency stage has its own settings)",
        ],
      ],
    );
  });
});

describe("latency.host settings", () => {
  const withLatency = (latency: Record<string, unknown>) => {
    const raw = devRaw();
    raw.latency = latency;
    return parseStackConfig(raw);
  };

  it("defaults to hwlatdetect alone: cyclictest and oslat load the isolated CPUs guests may be pinned to", () => {
    const r = withLatency({});
    assert.ok(r.ok);
    const h = r.config.latency.host;
    assert.deepEqual(
      [h.hwlatdetect, h.cyclictest, h.oslat],
      [
        { enabled: true, durationSeconds: 60, thresholdUs: 20 },
        { enabled: false, durationSeconds: 60, maxUs: 20, meanUs: 10 },
        { enabled: false, durationSeconds: 60, maxUs: 20 },
      ],
    );
    const on = withLatency({ host: { oslat: { enabled: true, durationSeconds: 10, maxUs: 1000 } } });
    assert.ok(on.ok);
    assert.deepEqual(enabledStages(on.config.latency.host), ["hwlatdetect", "oslat"]);
  });

  it("shows in the plan text with each host: the stages that run, their durations and budgets", () => {
    const { config, plan } = devStack();
    const text = renderPlan("dev", plan, config.latency.host);
    const line =
      "  latency proof on the isolated CPUs: hwlatdetect 60 s (stalls <= 20 µs), then cyclictest off, then oslat off; stopping at the first stage that fails";
    assert.equal(text.split("\n").filter((l) => l === line).length, plan.hosts.length, text);
    const on = { ...config.latency.host, oslat: { enabled: true, durationSeconds: 10, maxUs: 1000 } };
    assert.match(describeLatencyStages(on), /then oslat 10 s \(max <= 1000 µs\);/);
    const off = { ...config.latency.host, hwlatdetect: { ...config.latency.host.hwlatdetect, enabled: false } };
    assert.equal(describeLatencyStages(off), "off");
  });

  it("refuses latency.hwlatdetect, saying it moved to latency.host.hwlatdetect", () => {
    const r = withLatency({ hwlatdetect: { enabled: false } });
    assert.ok(!r.ok);
    assert.deepEqual(
      r.problems.map((p) => [p.path, p.message]),
      [
        [
          "openstack-rt:latency.hwlatdetect",
          "got {\"enabled\":false}; moved: set latency.host.hwlatdetect (enabled, durationSeconds, thresholdUs); the host's latency proof runs in stages like the guest's: latency.host.{hwlatdetect,cyclictest,oslat}",
        ],
      ],
    );
  });

  it("refuses a host stage beyond what guest-latency.sh takes, and a budget that is no whole number", () => {
    const r = withLatency({ host: { cyclictest: { durationSeconds: 1_000_000, maxUs: 2.5 } } });
    assert.ok(!r.ok);
    const text = r.problems.map((p) => `${p.path}: ${p.message}`).join("\n");
    assert.match(text, /latency\.host\.cyclictest\.durationSeconds: got 1000000; must be at most 999999 s/);
    assert.match(text, /latency\.host\.cyclictest\.maxUs: got 2\.5/);
  });
});

describe("guest-latency.sh's hwlatdetect stage", () => {
  const script = join(__dirname, "..", "..", "..", "hostprep", "verify", "guest-latency.sh");
  /**
   * Runs the stage with a stand-in hwlatdetect first on PATH that says which tracer it found,
   * turns the hwlat tracer on as the real one does, and, with `cut`, kills the script mid-run.
   */
  function runStage(leftover: string, cut: boolean) {
    const dir = mkdtempSync(join(tmpdir(), "hwlat-stage-"));
    try {
      const tracing = join(dir, "tracing");
      mkdirSync(tracing);
      writeFileSync(join(tracing, "current_tracer"), `${leftover}\n`);
      mkdirSync(join(dir, "bin"));
      const fake = join(dir, "bin", "hwlatdetect");
      writeFileSync(
        fake,
        [
          "#!/bin/bash",
          `echo "tracer at start: $(cat ${tracing}/current_tracer)"`,
          `echo hwlat > ${tracing}/current_tracer`,
          ...(cut ? ["kill -TERM $PPID", "sleep 1"] : []),
          'echo "Latency threshold: 20us"',
          'echo "Max Latency: Below threshold"',
        ].join("\n"),
      );
      chmodSync(fake, 0o755);
      const r = spawnSync(
        "bash",
        [script, "--rt-cpus", "1", "--housekeeping-cpus", "0", "--stage", "hwlatdetect", "--seconds", "1"],
        {
          encoding: "utf8",
          env: { ...process.env, PATH: `${dir}/bin:${process.env.PATH}`, OPENSTACK_RT_TRACING_DIRS: tracing },
        },
      );
      return { ...r, tracerAfter: readFileSync(join(tracing, "current_tracer"), "utf8").trim() };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it("turns off a hwlat tracer a killed run left on before it measures, and prints the report", () => {
    const r = runStage("hwlat", false);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /=== hwlatdetect ===\ntracer at start: nop\n/);
    assert.match(r.stdout, /Max Latency: Below threshold\n=== end ===\n$/);
    assert.equal(r.tracerAfter, "nop");
  });

  it("turns the tracer off when it is killed mid-run", () => {
    const r = runStage("nop", true);
    assert.ok(r.signal === "SIGTERM" || r.status === 143, `killed, not ${r.signal ?? r.status}`);
    assert.doesNotMatch(r.stdout, /=== end ===/);
    assert.equal(r.tracerAfter, "nop");
  });

  it("refuses a stage it does not know and a threshold that is not a number, naming the value", () => {
    const run = (...args: string[]) =>
      spawnSync("bash", [script, "--rt-cpus", "1", "--housekeeping-cpus", "0", ...args], { encoding: "utf8" });
    const stage = run("--stage", "stress");
    assert.equal(stage.status, 2);
    assert.match(stage.stderr, /--stage must be hwlatdetect, cyclictest or oslat, not stress/);
    const threshold = run("--stage", "hwlatdetect", "--threshold-us", "20;reboot");
    assert.equal(threshold.status, 2);
    assert.match(threshold.stderr, /--threshold-us must be a positive number/);
    assert.equal(run().status, 2);
  });
});
