/**
 * Runs the checks against real machines: collects facts with the scripts in hostprep/verify over
 * a `RunScript` (SSH in production), then hands them to the pure checks in lib/checks. Used by
 * the dynamic providers and by `npm run verify`.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { DomainExpectation } from "./checks/domain";
import { checkDomain } from "./checks/domain";
import type { HostFacts } from "./checks/host";
import { checkHost, checkKernel } from "./checks/host";
import { checkCyclictest, parseCyclictest } from "./checks/latency";
import type { CheckResult } from "./checks/result";
import { excerpt, fail, verdict } from "./checks/result";
import { parseCpuList, sameSet } from "./cpuset";
import type { GuestPlan } from "./plan";
import type { HostPlan } from "./plan-host";
import { bashStdinCommand } from "./shell";
import type { CommandResult, SshAuth, SshOptions, SshTarget } from "./ssh";
import { SshError, runSsh } from "./ssh";

export type VerifyScript = "host-facts.sh" | "domain-xml.sh" | "guest-latency.sh";

/** Runs one of the hostprep/verify scripts somewhere and returns what it printed. */
export type RunScript = (script: VerifyScript, args: string[], timeoutMs?: number) => Promise<CommandResult>;

export function scriptText(script: VerifyScript): string {
  return readFileSync(join(__dirname, "..", "hostprep", "verify", script), "utf8");
}

export type ScriptTexts = Partial<Record<VerifyScript, string>>;

/**
 * Sends the script on stdin (`bash -s -- args`): nothing is copied to or left on the host.
 * Dynamic providers pass the texts in as inputs, so their serialized code reads no files.
 */
export function sshRunner(target: SshTarget, auth: SshAuth, opts: SshOptions = {}, texts: ScriptTexts = {}): RunScript {
  return (script, args, timeoutMs) =>
    runSsh(target, auth, bashStdinCommand(args), {
      ...opts,
      stdin: texts[script] ?? scriptText(script),
      ...(timeoutMs ? { commandTimeoutMs: timeoutMs } : {}),
    });
}

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

/** A failure of the collection itself, as a check result an operator can act on. */
function collectionFailure(what: string, r: CommandResult | Error): CheckResult {
  if (r instanceof Error) {
    const hint = r instanceof SshError ? `${r.kind}: fix SSH access to the host, then re-run` : "re-run; if it persists, run the script by hand";
    return fail(what, "facts collected over SSH", r.message, hint);
  }
  return fail(what, "the script to exit 0", `exit ${r.code ?? r.signal ?? "?"}: ${excerpt(r.stderr.trim() || r.stdout.trim(), 160)}`, "read the error above; the script ran read-only and changed nothing");
}

async function collect(run: RunScript, script: VerifyScript, args: string[], what: string, timeoutMs?: number) {
  let r: CommandResult;
  try {
    r = await run(script, args, timeoutMs);
  } catch (e) {
    return { failure: collectionFailure(what, e as Error) };
  }
  if (r.code !== 0) return { failure: collectionFailure(what, r) };
  const { sections, complete } = parseSections(r.stdout);
  if (!complete) return { failure: fail(what, "complete output", "the output ends before its end marker", "re-run; the connection or the script was cut off") };
  return { sections };
}

export interface HostVerifyOptions {
  hwlatdetect: { enabled: boolean; thresholdUs: number; durationSeconds: number };
}

export function hostFactsArgs(opts: HostVerifyOptions): string[] {
  const h = opts.hwlatdetect;
  return h.enabled ? ["--hwlatdetect-seconds", String(h.durationSeconds), "--hwlatdetect-threshold-us", String(h.thresholdUs)] : [];
}

export async function verifyHost(run: RunScript, plan: HostPlan, opts: HostVerifyOptions): Promise<CheckResult[]> {
  const timeoutMs = (opts.hwlatdetect.enabled ? opts.hwlatdetect.durationSeconds * 1000 : 0) + 120_000;
  const got = await collect(run, "host-facts.sh", hostFactsArgs(opts), "host facts", timeoutMs);
  if (!got.sections) return [got.failure];
  const s = got.sections;
  const verifyText = s.get("tuned-verify") ?? "";
  const exit = /^exit=(\d+)/.exec(verifyText);
  const nohz = s.get("nohz-full") ?? "";
  const facts: HostFacts = {
    unameV: s.get("uname-v") ?? "",
    tunedActive: s.get("tuned-active") ?? "",
    tunedVerify: { exitCode: exit ? Number(exit[1]) : -1, output: verifyText.replace(/^exit=\d+\n?/, "") },
    cmdline: s.get("cmdline") ?? "",
    isolated: s.get("isolated") ?? "",
    nohzFull: nohz === "<absent>" ? null : nohz,
    hugepages1g: s.get("hugepages-1g") ?? "",
    novaConf: s.get("nova-conf") ?? "",
    interrupts: s.get("interrupts") ?? "",
    ...(s.has("hwlatdetect") ? { hwlatdetect: s.get("hwlatdetect") } : {}),
  };
  return checkHost(facts, plan, { hwlatThresholdUs: opts.hwlatdetect.thresholdUs });
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
      misses.push(`${c.name}: ${(e as Error).message}`);
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
    results: [fail("instance found", `libvirt domain ${serverId} on one of the RT hosts`, misses.join("; ") || "no candidate host", "check that the server is ACTIVE and which host runs it: openstack server show <id> -c OS-EXT-SRV-ATTR:host")],
  };
}

export interface GuestBudget {
  durationSeconds: number;
  maxUs: number;
  meanUs: number;
}

export async function verifyGuest(run: RunScript, guest: GuestPlan, budget: GuestBudget): Promise<CheckResult[]> {
  if (guest.realtimeVcpus === "") return [fail("guest RT vCPUs", "a realtime flavor", "the flavor has no RT vCPU", "guest checks apply to realtime flavors only")];
  const args = ["--rt-cpus", guest.realtimeVcpus, "--housekeeping-cpus", guest.housekeepingVcpus, "--seconds", String(budget.durationSeconds)];
  const got = await collect(run, "guest-latency.sh", args, "guest latency run", budget.durationSeconds * 1000 + 120_000);
  if (!got.sections) return [got.failure];
  const s = got.sections;
  const variables = /^\s*isolated_cores\s*=\s*(\S+)\s*$/m.exec(s.get("tuned-variables") ?? "")?.[1] ?? "";
  let isolatedOk = false;
  try {
    isolatedOk = variables !== "" && sameSet(parseCpuList(variables), parseCpuList(guest.tunedIsolatedCores));
  } catch {
    isolatedOk = false;
  }
  return [
    checkKernel(s.get("uname-v") ?? ""),
    verdict("guest TuneD profile", /realtime-virtual-guest/.test(s.get("tuned-active") ?? ""), "realtime-virtual-guest", excerpt(s.get("tuned-active") ?? "", 80),
      "activate it in the guest: tuned-adm profile realtime-virtual-guest (cloud-init does this on first boot)"),
    verdict("guest isolated_cores", isolatedOk, guest.tunedIsolatedCores, variables || "(not set)",
      `set isolated_cores=${guest.tunedIsolatedCores} in /etc/tuned/realtime-virtual-guest-variables.conf: the RT vCPUs of the flavor's mask`),
    ...checkCyclictest(parseCyclictest(s.get("cyclictest-json") ?? ""), { maxUs: budget.maxUs, meanUs: budget.meanUs }, guest.realtimeVcpus),
  ];
}
