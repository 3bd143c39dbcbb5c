/**
 * Runs the checks against real machines: collects facts with the scripts in hostprep/verify over
 * a `RunScript` (SSH in production), then hands them to the pure checks in lib/checks. Used by
 * the dynamic providers and by `npm run verify`.
 */
import { readFileSync } from "node:fs";
import type { DomainExpectation } from "../checks/domain";
import { checkDomain } from "../checks/domain";
import { checkHostFacts, checkKernel } from "../checks/host";
import type { LatencyStageSettings, LatencyWhere } from "../checks/latency-stages";
import { runLatencyStages } from "../checks/latency-stages";
import type { CheckResult } from "../checks/result";
import { excerpt, fail, verdict } from "../checks/result";
import type { GuestBudget, HostVerifyOptions, Verification, VerifyScript } from "../checks/verification";
import {
  HOST_FACTS_TIMEOUT_SECONDS,
  hostFactsArgs,
  parseSections,
  stageTimeoutMs,
  VERIFY_SCRIPTS,
} from "../checks/verification";
import { parseCpuList, sameSet } from "../cpu/cpuset";
import { hostprepPath } from "../hostprep/scripts";
import { launchCommand } from "../desired/step-connection";
import type { GuestPlan } from "../plan/stack";
import type { HostPlan } from "../plan/host";
import { bashStdinCommand } from "../transport/shell";
import type { CommandResult, SshAuth, SshOptions, SshTarget } from "../transport/ssh";
import { messageOf } from "../errors";
import { isSshError, runSsh } from "../transport/ssh";

/** Runs one of the hostprep/verify scripts somewhere and returns what it printed. */
export type RunScript = (script: VerifyScript, args: string[], timeoutMs?: number) => Promise<CommandResult>;

export function scriptText(script: VerifyScript): string {
  return readFileSync(hostprepPath("verify", script), "utf8");
}

export type ScriptTexts = Partial<Record<VerifyScript, string>>;

/** Every verify script's text, for callers that run them from this checkout (the CLI, tests). */
export function allScriptTexts(): ScriptTexts {
  return Object.fromEntries(VERIFY_SCRIPTS.map((s) => [s, scriptText(s)]));
}

/**
 * Sends the script on stdin (`bash -s -- args`): nothing is copied to or left on the host.
 * The texts are passed in, so a dynamic provider's serialized code reads no files.
 */
export function sshRunner(target: SshTarget, auth: SshAuth, texts: ScriptTexts, opts: SshOptions = {}): RunScript {
  return (script, args, timeoutMs) => {
    const stdin = texts[script];
    if (stdin === undefined) return Promise.reject(new Error(`no text for the verify script ${script}`));
    return runSsh(target, auth, bashStdinCommand(args), {
      ...opts,
      stdin,
      ...(timeoutMs ? { commandTimeoutMs: timeoutMs } : {}),
    });
  };
}

/** Each verify script's files as stepFiles gives them (`verify/<script>=<sha256>`, the script first). */
export type ScriptFiles = Partial<Record<VerifyScript, readonly string[]>>;

/**
 * Runs the script from the host's copy of hostprep/ (made by the resource `copy`) through the
 * steps' launcher, which first checks that the copy holds exactly `files`. The inputs carry
 * digests, not the scripts.
 */
export function copyRunner(
  target: SshTarget,
  auth: SshAuth,
  copy: string,
  files: ScriptFiles,
  opts: SshOptions = {},
): RunScript {
  return (script, args, timeoutMs) => {
    const scriptFiles = files[script];
    if (scriptFiles === undefined) return Promise.reject(new Error(`no files for the verify script ${script}`));
    return runSsh(target, auth, launchCommand(scriptFiles, args, copy), {
      ...opts,
      ...(timeoutMs ? { commandTimeoutMs: timeoutMs } : {}),
    });
  };
}

/** The launcher's refusal of a copy that is not as planned (exit 3): its one line names the file and the fix. */
const COPY_MISMATCH = /^openstack-rt: \S+ is not the file this step runs/;

/** A failure of the collection itself, as a check result an operator can act on. */
function collectionFailure(what: string, r: CommandResult): CheckResult {
  const stderr = r.stderr.trim();
  if (r.code === 3 && COPY_MISMATCH.test(stderr))
    return fail(
      what,
      "the copy of hostprep/ as planned",
      excerpt(stderr.split("\n")[0], 600),
      "run pulumi up again: it copies hostprep/ first",
    );
  return fail(
    what,
    "the script to exit 0",
    `exit ${r.code ?? r.signal ?? "?"}: ${excerpt(r.stderr.trim() || r.stdout.trim(), 160)}`,
    "read the error above; the script ran read-only and changed nothing",
  );
}

/** SSH itself failed: the message says which host and why, worded for the operator. */
function transportFailure(what: string, e: unknown): CheckResult {
  const hint = isSshError(e)
    ? `${e.kind}: fix SSH access to the host, then re-run`
    : "re-run; if it persists, run the script by hand";
  return fail(what, "facts collected over SSH", messageOf(e), hint);
}

async function collect(run: RunScript, script: VerifyScript, args: string[], what: string, timeoutMs?: number) {
  let r: CommandResult;
  try {
    r = await run(script, args, timeoutMs);
  } catch (e) {
    return { failure: transportFailure(what, e) };
  }
  if (r.code !== 0) return { failure: collectionFailure(what, r) };
  const { sections, complete } = parseSections(r.stdout);
  if (!complete)
    return {
      failure: fail(
        what,
        "complete output",
        "the output ends before its end marker",
        "re-run; the connection or the script was cut off",
      ),
    };
  return { sections };
}

/**
 * The latency proof in stages (lib/checks/latency-stages.ts), host or guest: one guest-latency.sh
 * --stage run per enabled stage on the RT CPUs, each bounded by stageTimeoutMs, none after a
 * failed stage. `cpuArgs` name the RT and housekeeping CPUs (and, on a host, --no-load).
 */
function latencyStages(
  run: RunScript,
  settings: LatencyStageSettings,
  rtCpus: string,
  cpuArgs: string[],
  where: LatencyWhere,
): Promise<CheckResult[]> {
  return runLatencyStages(settings, rtCpus, where, async (stage) => {
    const s = settings[stage];
    const args = [...cpuArgs, "--stage", stage, "--seconds", String(s.durationSeconds)];
    if (stage === "hwlatdetect") args.push("--threshold-us", String(settings.hwlatdetect.thresholdUs));
    // guest-latency.sh prints the tool's result in a section named after the stage.
    const ran = await collect(run, "guest-latency.sh", args, `${stage} stage`, stageTimeoutMs(s.durationSeconds));
    return ran.sections ? { output: ran.sections.get(stage) ?? "" } : { failure: ran.failure };
  });
}

/**
 * host-facts.sh's facts judged by the host checks, then (not on a refresh) the host's latency
 * stages on its isolated CPUs, the main threads on its housekeeping CPUs. Nothing loads the
 * housekeeping CPUs (--no-load): on a host they run the cloud's own services.
 */
export async function verifyHost(run: RunScript, plan: HostPlan, opts: HostVerifyOptions): Promise<Verification> {
  const timeoutMs = (opts.timeoutSeconds ?? HOST_FACTS_TIMEOUT_SECONDS) * 1000;
  const got = await collect(run, "host-facts.sh", hostFactsArgs(plan), "host facts", timeoutMs);
  if (!got.sections) return { observed: [got.failure], measured: [] };
  const sections = Object.fromEntries(got.sections);
  const observed = checkHostFacts(sections, plan, "observed");
  if (opts.observeOnly) return { observed, measured: [] };
  const cpuArgs = ["--rt-cpus", plan.isolated, "--housekeeping-cpus", plan.housekeeping, "--no-load"];
  return {
    observed,
    measured: [
      ...checkHostFacts(sections, plan, "measured"),
      ...(await latencyStages(run, opts.latency, plan.isolated, cpuArgs, "host")),
    ],
  };
}

/**
 * Finds the instance on the candidate hosts (`virsh` exits 3 where it is not) and checks its
 * domain XML against the expectation for that host.
 */
export async function verifyDomain(
  serverId: string,
  candidates: { name: string; run: RunScript; expectation: DomainExpectation }[],
): Promise<{ host: string | null; results: CheckResult[] }> {
  const misses: string[] = [];
  for (const c of candidates) {
    let r: CommandResult;
    try {
      r = await c.run("domain-xml.sh", [serverId]);
    } catch (e) {
      misses.push(`${c.name}: ${messageOf(e)}`);
      continue;
    }
    if (r.code === 3) {
      misses.push(`${c.name}: not there`);
      continue;
    }
    if (r.code !== 0) return { host: c.name, results: [collectionFailure(`domain XML on ${c.name}`, r)] };
    return { host: c.name, results: checkDomain(r.stdout, c.expectation) };
  }
  return {
    host: null,
    results: [
      fail(
        "instance found",
        `libvirt domain ${serverId} on one of the RT hosts`,
        misses.join("; ") || "no candidate host",
        "check that the server is ACTIVE and which host runs it: openstack server show <id> -c OS-EXT-SRV-ATTR:host",
      ),
    ],
  };
}

function guestArgs(guest: GuestPlan): string[] {
  return ["--rt-cpus", guest.realtimeVcpus, "--housekeeping-cpus", guest.housekeepingVcpus];
}

/** The guest's RT setup, from guest-latency.sh's report: RT kernel, TuneD profile, isolated_cores = the RT vCPUs. */
function guestSetupChecks(s: Map<string, string>, guest: GuestPlan): CheckResult[] {
  const variables = /^\s*isolated_cores\s*=\s*(\S+)\s*$/m.exec(s.get("tuned-variables") ?? "")?.[1] ?? "";
  let isolatedOk = false;
  try {
    isolatedOk = variables !== "" && sameSet(parseCpuList(variables), parseCpuList(guest.tunedIsolatedCores));
  } catch {
    isolatedOk = false;
  }
  return [
    checkKernel(s.get("uname-v") ?? ""),
    verdict(
      "guest TuneD profile",
      /realtime-virtual-guest/.test(s.get("tuned-active") ?? ""),
      "realtime-virtual-guest",
      excerpt(s.get("tuned-active") ?? "", 80),
      "activate it in the guest: tuned-adm profile realtime-virtual-guest (cloud-init does this on first boot)",
    ),
    verdict(
      "guest isolated_cores",
      isolatedOk,
      guest.tunedIsolatedCores,
      variables || "(not set)",
      `set isolated_cores=${guest.tunedIsolatedCores} in /etc/tuned/realtime-virtual-guest-variables.conf: the RT vCPUs of the flavor's mask`,
    ),
  ];
}

const NOT_REALTIME = fail(
  "guest RT vCPUs",
  "a realtime flavor",
  "the flavor has no RT vCPU",
  "guest checks apply to realtime flavors only",
);

/** The guest's RT setup only, without measuring: what `pulumi refresh` re-reads. */
export async function observeGuest(run: RunScript, guest: GuestPlan): Promise<Verification> {
  if (guest.realtimeVcpus === "") return { observed: [NOT_REALTIME], measured: [] };
  const got = await collect(run, "guest-latency.sh", [...guestArgs(guest), "--observe-only"], "guest facts");
  return { observed: got.sections ? guestSetupChecks(got.sections, guest) : [got.failure], measured: [] };
}

/**
 * The guest's RT setup, then its latency proof in stages, while stress-ng loads the housekeeping
 * vCPUs. A setup that is wrong is measured all the same: the figures say how far off it is.
 */
export async function verifyGuest(run: RunScript, guest: GuestPlan, budget: GuestBudget): Promise<Verification> {
  if (guest.realtimeVcpus === "") return { observed: [NOT_REALTIME], measured: [] };
  const got = await collect(run, "guest-latency.sh", [...guestArgs(guest), "--observe-only"], "guest facts");
  // The same script with the same CPU lists would fail the same way in every stage.
  if (!got.sections) return { observed: [got.failure], measured: [] };
  const measured = await latencyStages(run, budget, guest.realtimeVcpus, guestArgs(guest), "guest");
  return { observed: guestSetupChecks(got.sections, guest), measured };
}

/** Where a booting guest is on its way to ready: SSH answers, cloud-init is done, the RT kernel runs. */
export type GuestReadiness = { ready: true } | { ready: false; final: boolean; state: string };

export async function guestReadiness(run: RunScript, guest: GuestPlan): Promise<GuestReadiness> {
  let r: CommandResult;
  try {
    r = await run("guest-latency.sh", [...guestArgs(guest), "--observe-only"], 60_000);
  } catch (e) {
    // A wrong host key or refused credentials stay wrong however long one waits.
    const final = isSshError(e) && (e.kind === "host-key" || e.kind === "auth");
    return { ready: false, final, state: messageOf(e) };
  }
  if (r.code !== 0)
    return {
      ready: false,
      final: false,
      state: `guest-latency.sh exited ${r.code ?? r.signal}: ${excerpt(r.stderr, 120)}`,
    };
  const s = parseSections(r.stdout).sections;
  const cloudInit = /^status:\s*(.+)$/m.exec(s.get("cloud-init") ?? "")?.[1].trim() ?? "unknown";
  const kernel = (s.get("uname-v") ?? "").trim();
  if (/error/.test(cloudInit)) {
    return {
      ready: false,
      final: true,
      state: `cloud-init failed (status: ${cloudInit}); the guest runs ${excerpt(kernel, 80)}. Read /var/log/cloud-init-output.log in the guest, or the console log (openstack console log show <server>)`,
    };
  }
  if (cloudInit !== "done" && cloudInit !== "absent")
    return { ready: false, final: false, state: `cloud-init ${cloudInit}` };
  if (!checkKernel(kernel).ok)
    return {
      ready: false,
      final: false,
      state: `${cloudInit === "absent" ? "no cloud-init" : "cloud-init done"}, the guest still runs a non-RT kernel (${excerpt(kernel, 80)}): waiting for its reboot into the RT kernel`,
    };
  return { ready: true };
}

export interface WaitForGuestOptions {
  /** Names the guest in messages, e.g. "rt-server (debian@203.0.113.7:22)". */
  name: string;
  timeoutMs: number;
  intervalMs: number;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  /** Told each new state while waiting, so a long wait shows where the guest is. */
  progress: (message: string) => void;
}

/** Polls until the guest is ready; fails at once on what waiting cannot fix, or when the time is up. */
export async function waitForGuest(run: RunScript, guest: GuestPlan, o: WaitForGuestOptions): Promise<void> {
  const start = o.now();
  let last = "";
  for (;;) {
    const r = await guestReadiness(run, guest);
    if (r.ready) return;
    if (r.final) throw new Error(`${o.name} is not ready: ${r.state}`);
    const waited = o.now() - start;
    if (r.state !== last) o.progress(`${o.name}: ${r.state} (${Math.round(waited / 1000)} s)`);
    last = r.state;
    if (waited >= o.timeoutMs) {
      throw new Error(
        `${o.name} was not ready within ${Math.round(o.timeoutMs / 1000)} s (latency.guest.readyTimeoutSeconds): ${r.state}`,
      );
    }
    await o.sleep(Math.min(o.intervalMs, o.timeoutMs - waited));
  }
}
