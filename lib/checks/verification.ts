/**
 * What running a check script gives and takes, without running it: the scripts' names, how their
 * `=== name ===` sections are split, the options of a host verification, and a verification's
 * result split into `observed` (cheap facts that stay the same from run to run, what
 * `pulumi refresh` re-reads) and `measured` (what a latency tool or a snapshot of counters found,
 * run only when the checks are created or updated). Pure; lib/providers/collect.ts runs them.
 */
import type { HostPlan } from "../plan/host";
import type { LatencyStageSettings } from "./latency-stages";
import type { CheckResult } from "./result";

export type VerifyScript = "host-facts.sh" | "domain-xml.sh" | "guest-latency.sh";

export const VERIFY_SCRIPTS: readonly VerifyScript[] = ["host-facts.sh", "domain-xml.sh", "guest-latency.sh"];

/** Splits `=== name ===` sections; a missing `end` marker means the output was cut short. */
export function parseSections(text: string): { sections: Map<string, string>; complete: boolean } {
  const sections = new Map<string, string>();
  let name: string | null = null;
  let body: string[] = [];
  for (const line of text.split("\n")) {
    const m = /^=== ([a-z0-9-]+) ===$/.exec(line);
    if (!m) {
      if (name !== null) body.push(line);
      continue;
    }
    if (name !== null) sections.set(name, body.join("\n").replace(/\n$/, ""));
    name = m[1];
    body = [];
  }
  return { sections, complete: name === "end" };
}

export interface HostVerifyOptions {
  /** The host's latency proof (latency.host): each stage's duration and budget. */
  latency: LatencyStageSettings;
  /** Only what `pulumi refresh` may re-read: no latency stage, no interrupt counters. */
  observeOnly?: boolean;
  /** How long host-facts.sh may take; HOST_FACTS_TIMEOUT_SECONDS by default. */
  timeoutSeconds?: number;
}

/** host-facts.sh may first wait up to 5 minutes for a fresh boot to finish, then reads for 2. */
export const HOST_FACTS_TIMEOUT_SECONDS = 300 + 120;

/** A latency stage's run may take its duration and 2 minutes more (starting, SSH, the report). */
export function stageTimeoutMs(durationSeconds: number): number {
  return durationSeconds * 1000 + 120_000;
}

export interface Verification {
  /** Facts that do not change from run to run while the machine does not. */
  observed: CheckResult[];
  /** What a latency tool or a counter snapshot found; empty when only observed. */
  measured: CheckResult[];
}

export function allResults(v: Verification): CheckResult[] {
  return [...v.observed, ...v.measured];
}

export function hostFactsArgs(plan: HostPlan): string[] {
  const conf = plan.nova.owner?.configPath;
  return [
    // The file nova-compute reads, where a deployment tool owns it (nova.configPath).
    ...(conf !== undefined ? ["--nova-conf", conf] : []),
    "--tuned-profile",
    plan.tuned.profile,
  ];
}

/** A guest's latency proof: each stage's duration and budget. */
export type GuestBudget = LatencyStageSettings;
