/*
 * The host check's latency proof (latency.host): after host-facts.sh, each enabled stage runs
 * guest-latency.sh --stage on the host's isolated CPUs, main threads on its housekeeping CPUs and
 * nothing loading them (--no-load), stopping at the first stage that fails; a refresh runs none.
 * The stages' output is the real rt-tests output of test/fixtures/latency (described in
 * latency-stages.test.ts), and, where rt-tests is installed here, the real script's run.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import type { LatencyStageSettings } from "../../../lib/checks/latency-stages";
import { formatReport } from "../../../lib/checks/result";
import type { VerifyScript } from "../../../lib/checks/verification";
import type { RunScript } from "../../../lib/providers/collect";
import { scriptText, verifyHost } from "../../../lib/providers/collect";
import type { HostPlan } from "../../../lib/plan/host";
import { devHost } from "../../support/dev-config";
import { recordedHostScript, rtHostSections } from "../../support/rt-host-facts";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const fixture = (name: string) => readFileSync(join(__dirname, "..", "..", "fixtures", "latency", name), "utf8");

/** The fixtures measured RT CPU 1 with housekeeping CPU 0: a host plan with that split. */
const host: HostPlan = { ...devHost(), isolated: "1", housekeeping: "0" };

/** Every stage on, with budgets the recorded runs meet. */
const allOn: LatencyStageSettings = {
  hwlatdetect: { enabled: true, durationSeconds: 30, thresholdUs: 20 },
  cyclictest: { enabled: true, durationSeconds: 10, maxUs: 1_000_000, meanUs: 1_000_000 },
  oslat: { enabled: true, durationSeconds: 10, maxUs: 1_000_000 },
};

/** A RunScript that prints the recorded RT host for host-facts.sh and `outputs` for each stage, noting each call. */
function recorded(outputs: Record<string, string>) {
  const calls: { script: VerifyScript; args: string[]; timeoutMs?: number }[] = [];
  const facts = recordedHostScript(rtHostSections());
  const run: RunScript = (script, args, timeoutMs) => {
    calls.push({ script, args, timeoutMs });
    if (script === "host-facts.sh") {
      const r = spawnSync("bash", ["-s"], { input: facts, encoding: "utf8" });
      return Promise.resolve({ code: r.status, signal: null, stdout: r.stdout, stderr: r.stderr });
    }
    const stage = args[args.indexOf("--stage") + 1];
    return Promise.resolve({
      code: 0,
      signal: null,
      stdout: `=== ${stage} ===\n${outputs[stage]}\n=== end ===\n`,
      stderr: "",
    });
  };
  return { run, calls };
}

/** What a call ran: host-facts.sh, or the stage guest-latency.sh ran. */
const stageOrScript = (c: { script: VerifyScript; args: string[] }) =>
  c.args.includes("--stage") ? c.args[c.args.indexOf("--stage") + 1] : c.script;

const outputs = {
  hwlatdetect: fixture("hwlatdetect-crafted-below-threshold.txt"),
  cyclictest: fixture("cyclictest-cpu1.json"),
  oslat: fixture("oslat.json"),
};

describe("the host's latency stages", () => {
  it("run after host-facts.sh, on the isolated CPUs without load, each bounded by its duration", async () => {
    const { run, calls } = recorded(outputs);
    const v = await verifyHost(run, host, { latency: allOn });
    assert.deepEqual(
      calls.map((c) => [c.script, c.args.join(" "), c.timeoutMs]),
      [
        ["host-facts.sh", "--tuned-profile realtime-virtual-host", 420_000],
        [
          "guest-latency.sh",
          "--rt-cpus 1 --housekeeping-cpus 0 --no-load --stage hwlatdetect --seconds 30 --threshold-us 20",
          150_000,
        ],
        ["guest-latency.sh", "--rt-cpus 1 --housekeeping-cpus 0 --no-load --stage cyclictest --seconds 10", 130_000],
        ["guest-latency.sh", "--rt-cpus 1 --housekeeping-cpus 0 --no-load --stage oslat --seconds 10", 130_000],
      ],
    );
    // The figures are in `measured`, after the interrupt snapshot; none in `observed`.
    assert.deepEqual(
      v.measured.map((r) => [r.check, r.ok]),
      [
        ["device IRQs on isolated CPUs", v.measured[0].ok],
        ["hwlatdetect", true],
        ["cyclictest CPUs", true],
        ["max latency CPU 1", true],
        ["mean latency CPU 1", true],
        ["histogram tail CPU 1", true],
        ["oslat CPUs", true],
        ["oslat max CPU 1", true],
      ],
      formatReport(v.measured),
    );
    assert.ok(!v.observed.some((r) => /hwlatdetect|cyclictest|oslat|latency/.test(r.check)));
  });

  it("stop at the first stage that fails: the later ones are reported not run", async () => {
    const { run, calls } = recorded({ ...outputs, hwlatdetect: fixture("hwlatdetect-crafted-exceeding.txt") });
    const v = await verifyHost(run, host, { latency: allOn });
    assert.deepEqual(calls.map(stageOrScript), ["host-facts.sh", "hwlatdetect"]);
    assert.deepEqual(
      v.measured.slice(1).map((r) => [r.check, r.ok, r.observed]),
      [
        ["hwlatdetect", false, "47 µs, 3 samples over the run's 20 µs threshold"],
        ["cyclictest stage", false, "not run: the hwlatdetect stage failed"],
        ["oslat stage", false, "not run: the hwlatdetect stage failed"],
      ],
    );
  });

  it("run only the enabled ones: by default hwlatdetect alone", async () => {
    const { run, calls } = recorded(outputs);
    const byDefault = {
      ...allOn,
      cyclictest: { ...allOn.cyclictest, enabled: false },
      oslat: { ...allOn.oslat, enabled: false },
    };
    const v = await verifyHost(run, host, { latency: byDefault });
    assert.deepEqual(calls.map(stageOrScript), ["host-facts.sh", "hwlatdetect"]);
    assert.deepEqual(
      v.measured.slice(1).map((r) => r.check),
      ["hwlatdetect"],
    );
  });

  it("never run on a refresh", async () => {
    const { run, calls } = recorded(outputs);
    const v = await verifyHost(run, host, { latency: allOn, observeOnly: true });
    assert.deepEqual(
      calls.map((c) => c.script),
      ["host-facts.sh"],
    );
    assert.deepEqual(v.measured, []);
  });
});

/** Whether this machine can run the real stages: rt-tests installed, root or passwordless sudo, two CPUs. */
const canMeasure = (() => {
  const r = spawnSync(
    "bash",
    ["-c", "command -v cyclictest && command -v oslat && { ((EUID == 0)) || sudo -n true; } && (($(nproc) >= 2))"],
    {
      encoding: "utf8",
      env: { ...process.env, PATH: `${process.env.PATH}:/usr/local/sbin:/usr/sbin:/sbin` },
    },
  );
  return r.status === 0;
})();

describe("guest-latency.sh's stages on this machine, as the host check runs them", () => {
  /** Runs the real scripts here: the recorded host's facts, then guest-latency.sh --stage, for a second each. */
  const local: RunScript = (script, args) => {
    const text = script === "host-facts.sh" ? recordedHostScript(rtHostSections()) : scriptText(script);
    const r = spawnSync("bash", ["-s", "--", ...args], { input: text, encoding: "utf8", timeout: 60_000 });
    return Promise.resolve({ code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr });
  };

  it(
    "cyclictest and oslat measure CPU 1 without stress-ng, and the figures are judged",
    { skip: canMeasure ? false : "needs rt-tests, root (or sudo -n) and two CPUs" },
    async () => {
      const latency: LatencyStageSettings = {
        hwlatdetect: { enabled: false, durationSeconds: 1, thresholdUs: 20 },
        cyclictest: { enabled: true, durationSeconds: 1, maxUs: 1_000_000, meanUs: 1_000_000 },
        oslat: { enabled: true, durationSeconds: 1, maxUs: 1_000_000 },
      };
      const v = await verifyHost(local, host, { latency });
      const stages = v.measured.slice(1);
      assert.deepEqual(
        stages.map((r) => [r.check, r.ok]),
        [
          ["cyclictest CPUs", true],
          ["max latency CPU 1", true],
          ["mean latency CPU 1", true],
          ["histogram tail CPU 1", true],
          ["oslat CPUs", true],
          ["oslat max CPU 1", true],
        ],
        formatReport(stages),
      );
      assert.match(stages[1].observed, /^\d+ µs \(min \d+, avg \d+(\.\d+)?\)$/);
    },
  );
});
