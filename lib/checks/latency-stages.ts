/**
 * The staged latency proof, in the order OpenShift's cnf-tests run it: hwlatdetect (stalls of
 * the firmware or, in a guest, the hypervisor), then cyclictest (timer wake-ups), then oslat
 * (interruptions of a busy loop). Each stage has its own duration and budget, and the proof
 * stops at the first stage that fails: a later stage's figures say nothing while an earlier one
 * fails, and a soak stage can take hours. The host check and the guest check both run it, with
 * latency.host and latency.guest. Pure: the caller runs each stage's tool.
 */
import {
  checkCyclictest,
  checkHwlatdetect,
  checkOslat,
  parseCyclictest,
  parseHwlatdetect,
  parseOslat,
} from "./latency";
import type { CheckResult } from "./result";
import { fail, pass } from "./result";

export const LATENCY_STAGES = ["hwlatdetect", "cyclictest", "oslat"] as const;
export type LatencyStage = (typeof LATENCY_STAGES)[number];

export interface LatencyStageSettings {
  hwlatdetect: { enabled: boolean; durationSeconds: number; thresholdUs: number };
  cyclictest: { enabled: boolean; durationSeconds: number; maxUs: number; meanUs: number };
  oslat: { enabled: boolean; durationSeconds: number; maxUs: number };
}

/** Whose proof it is: its settings are latency.<where>. */
export type LatencyWhere = "host" | "guest";

/** What running one stage gave: the tool's output, or a result saying why it did not run. */
export type StageRun = { output: string } | { failure: CheckResult };

/** The proof in one line, for the plan text: each stage with its duration and budget, or off. */
export function describeLatencyStages(settings: LatencyStageSettings): string {
  const { hwlatdetect: h, cyclictest: c, oslat: o } = settings;
  const stages = [
    h.enabled ? `hwlatdetect ${h.durationSeconds} s (stalls <= ${h.thresholdUs} µs)` : "hwlatdetect off",
    c.enabled ? `cyclictest ${c.durationSeconds} s (max <= ${c.maxUs} µs, mean <= ${c.meanUs} µs)` : "cyclictest off",
    o.enabled ? `oslat ${o.durationSeconds} s (max <= ${o.maxUs} µs)` : "oslat off",
  ];
  return enabledStages(settings).length === 0
    ? "off"
    : `${stages.join(", then ")}; stopping at the first stage that fails`;
}

/** The stages that run, in order: the enabled ones. */
export function enabledStages(settings: LatencyStageSettings): LatencyStage[] {
  return LATENCY_STAGES.filter((stage) => settings[stage].enabled);
}

/**
 * One stage's verdicts from its tool's output. hwlatdetect that cannot run (no hwlat tracer, no
 * debugfs) is a skip that says why, not a pass: it proves nothing, and the next stages still run.
 */
export function judgeStage(
  stage: LatencyStage,
  output: string,
  settings: LatencyStageSettings,
  rtCpus: string,
  where: LatencyWhere,
): CheckResult[] {
  switch (stage) {
    case "hwlatdetect": {
      const parsed = parseHwlatdetect(output);
      if (!parsed.ok && parsed.unavailable) {
        return [
          pass(
            "hwlatdetect",
            `<= ${settings.hwlatdetect.thresholdUs} µs`,
            `skipped, nothing measured: ${parsed.error}; set latency.${where}.hwlatdetect.enabled: false where that is expected`,
          ),
        ];
      }
      return [checkHwlatdetect(parsed, settings.hwlatdetect.thresholdUs)];
    }
    case "cyclictest":
      return checkCyclictest(parseCyclictest(output), settings.cyclictest, rtCpus);
    case "oslat":
      return checkOslat(parseOslat(output), settings.oslat.maxUs, rtCpus);
  }
}

/**
 * Runs the enabled stages in order through `run` and judges each; after the first stage with a
 * failed result, each later stage is one failed "not run" result, so the report shows what was
 * left unproven.
 */
export async function runLatencyStages(
  settings: LatencyStageSettings,
  rtCpus: string,
  where: LatencyWhere,
  run: (stage: LatencyStage) => Promise<StageRun>,
): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  let failed: LatencyStage | null = null;
  for (const stage of enabledStages(settings)) {
    if (failed !== null) {
      results.push(
        fail(
          `${stage} stage`,
          "run after the earlier stages pass",
          `not run: the ${failed} stage failed`,
          `fix what the ${failed} stage found; the ${stage} stage runs on the next update of the check`,
        ),
      );
      continue;
    }
    const got = await run(stage);
    const stageResults = "failure" in got ? [got.failure] : judgeStage(stage, got.output, settings, rtCpus, where);
    results.push(...stageResults);
    if (stageResults.some((r) => !r.ok)) failed = stage;
  }
  return results;
}
