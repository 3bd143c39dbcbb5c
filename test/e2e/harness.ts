/**
 * The e2e harness: a Debian 12 VM, the plan of test/e2e/Pulumi.e2e.yaml for it, and the
 * project's own host-prep steps run against it over SSH. Nothing here decides what a step
 * does: the step list is the desired state's (the list the ComputeHost component turns into
 * remote.Commands); hostprep/ is copied where the host's CopyToRemote puts it
 * (test/support/ship-hostprep.ts) and each step runs `remoteCommand(step, ...)`, its `create` text. The reboot wait and the host checks run on the engine's
 * path: the program is loaded by Pulumi's own runner with this stack, and the `__provider` text
 * and inputs it registers for the host's RebootWaiter and HostVerification are driven through
 * @pulumi/pulumi's dynamic-provider host over gRPC, configured with the VM's key.
 */
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { CheckResult } from "../../lib/checks/result";
import type { HostConfig, StackConfig } from "../../lib/config/schema";
import type { HostStep } from "../../lib/desired/host-steps";
import { hostprepCopyName, remoteCommand } from "../../lib/desired/step-connection";
import { decideStack } from "../../lib/desired/decide";
import type { DesiredHost } from "../../lib/desired/state";
import type { DeclaredTopology } from "../../lib/discover/discover";
import { discoverHost } from "../../lib/discover/discover";
import type { HostPlan } from "../../lib/plan/host";
import { formatProblems } from "../../lib/config/problems";
import { parseRebootReport } from "../../lib/transport/boot-id";
import type { SshAuth, SshTarget } from "../../lib/transport/ssh";
import { runSsh } from "../../lib/transport/ssh";
import { readStackConfig } from "../../lib/config/stack-files";
import type { RegisteredResource } from "../support/pulumi-program";
import { isDynamic, loadProgram } from "../support/pulumi-program";
import type { Props, ProviderHost } from "../support/provider-host";
import { startProviderHost } from "../support/provider-host";
import { shipHostprep } from "../support/ship-hostprep";
import type { Image } from "./image";
import { CACHE_DIR, PROJECT_DIR, ensureImage } from "./image";
import type { MirrorProxy } from "./mirror-proxy";
import { startMirrorProxy } from "./mirror-proxy";
import { mirrorSources } from "./sources";
import type { Accel, Vm } from "./vm";
import { kernelBoots, shutdownVm, startVm, waitForSsh } from "./vm";

export const STACK_FILE = join(__dirname, "Pulumi.e2e.yaml");

export function say(line: string): void {
  process.stdout.write(`# [e2e ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

/** Wall time per phase, for the summary. */
export class Phases {
  readonly rows: { name: string; ms: number; note: string }[] = [];
  async time<T>(name: string, f: () => Promise<T>, note: (r: T) => string = () => ""): Promise<T> {
    const t0 = Date.now();
    say(`${name}: started`);
    try {
      const r = await f();
      this.rows.push({ name, ms: Date.now() - t0, note: note(r) });
      say(`${name}: done in ${seconds(Date.now() - t0)}`);
      return r;
    } catch (e) {
      this.rows.push({ name, ms: Date.now() - t0, note: `FAILED: ${(e as Error).message.split("\n")[0]}` });
      throw e;
    }
  }
}

export function seconds(ms: number): string {
  // Whole seconds first, so that 14 min 59.6 s reads 15 min 0 s, not 14 min 60 s.
  const whole = Math.round(ms / 1000);
  return whole >= 60 ? `${Math.floor(whole / 60)} min ${whole % 60} s` : `${(ms / 1000).toFixed(1)} s`;
}

/**
 * The e2e stack's config values for a VM: its one host reached at the VM's forwarded port, with
 * the topology `npm run discover` read from the VM when given (the file's is the VM's nominal
 * one: its MemTotal per node is less than the memory qemu gives the node).
 */
function valuesForVm(target: SshTarget, topology?: DeclaredTopology): Record<string, unknown> {
  const raw = readStackConfig(PROJECT_DIR, STACK_FILE);
  if (raw.problems.length) throw new Error(formatProblems(raw.problems));
  const values = structuredClone(raw.values) as { hosts: { ssh: Record<string, unknown>; topology: unknown }[] };
  values.hosts[0].ssh = {
    ...values.hosts[0].ssh,
    host: target.host,
    port: target.port,
    user: target.user,
    hostKey: target.hostKey,
  };
  if (topology !== undefined) values.hosts[0].topology = topology;
  return values;
}

/** The e2e stack decided for a VM (lib/desired/decide.ts): its one host as the desired state has it. */
export function planForVm(
  target: SshTarget,
  topology?: DeclaredTopology,
): { desired: DesiredHost; config: StackConfig } {
  const result = decideStack(valuesForVm(target, topology), PROJECT_DIR);
  if (!result.ok) throw new Error(`${STACK_FILE}:\n${formatProblems(result.problems)}`);
  return { desired: result.desired.hosts[0], config: result.config };
}

/** The engine's side of the host's dynamic resources: Pulumi's provider host and what the program registered. */
export interface EnginePath {
  host: ProviderHost;
  waiter: RegisteredResource;
  check: RegisteredResource;
}

async function enginePath(
  target: SshTarget,
  hostName: string,
  privateKey: string,
  topology: DeclaredTopology,
): Promise<EnginePath> {
  const loaded = await loadProgram({
    stack: "e2e",
    config: { ...valuesForVm(target, topology), sshPrivateKey: privateKey },
    secretKeys: ["sshPrivateKey"],
  });
  if (!loaded.ok) throw new Error(`the program did not load with ${STACK_FILE}: ${loaded.error}`);
  const named = (name: string) => {
    const r = loaded.resources.find((x) => isDynamic(x) && x.name === name);
    if (!r) throw new Error(`the program registered no ${name}`);
    return r;
  };
  const host = await startProviderHost({ env: { SSH_AUTH_SOCK: "" } });
  await host.configure({ "openstack-rt:sshPrivateKey": privateKey });
  return { host, waiter: named(`${hostName}-reboot-wait`), check: named(`${hostName}-verification`) };
}

export interface Env {
  accel: Accel;
  image: Image;
  proxy: MirrorProxy;
  vm: Vm;
  target: SshTarget;
  auth: SshAuth;
  plan: HostPlan;
  host: HostConfig;
  config: StackConfig;
  steps: HostStep[];
  /** Every boot id seen, in order (a reboot adds one). */
  bootIds: string[];
  engine: EnginePath;
  runDir: string;
}

/** Mirror proxy, image (cached or built), accelerator, a booted VM from a throwaway copy of the image, and its plan. */
export async function startEnv(phases: Phases): Promise<Env> {
  const sources = mirrorSources();
  const proxy = await startMirrorProxy(sources.origins, join(CACHE_DIR, "debs"));
  say(
    `mirror (from this machine's apt sources): ${sources.origins.join(", ")}; VM's apt proxy on 127.0.0.1:${proxy.port}`,
  );
  try {
    const { image, accel } = await phases.time(
      "image",
      () => ensureImage(sources, proxy, say),
      (r) => (r.image.cached ? "cached" : "built"),
    );
    say(accel.kind === "kvm" ? "accelerator: KVM" : `accelerator: TCG. ${accel.note}`);
    const runDir = join(CACHE_DIR, "runs", new Date().toISOString().replace(/[:.]/g, "-"));
    mkdirSync(runDir, { recursive: true });
    const { vm, target, auth, bootId } = await phases.time("boot", async () => {
      const vm = await startVm({ disk: image.disk, snapshot: true, serialLog: join(runDir, "serial.log"), accel });
      say(`VM: qemu pid ${vm.process.pid}, SSH on 127.0.0.1:${vm.port}, serial console ${vm.serialLog}`);
      const target: SshTarget = { host: "127.0.0.1", port: vm.port, user: "root", hostKey: image.hostKey };
      const auth: SshAuth = { privateKey: image.privateKey };
      const bootId = await waitForSsh(vm, target, auth, accel.kind === "kvm" ? 300_000 : 1_200_000);
      // The VM's apt reaches the mirror through the harness's proxy only (as a site's apt proxy).
      const conf = `Acquire::http::Proxy "http://10.0.2.2:${proxy.port}";\nAcquire::https::Proxy "http://10.0.2.2:${proxy.port}";\n`;
      const r = await runSsh(target, auth, "cat > /etc/apt/apt.conf.d/80e2e-proxy", { stdin: conf });
      if (r.code !== 0) throw new Error(`cannot configure the VM's apt proxy: ${r.stderr}`);
      // nova-compute starts at boot on a compute host (its package enables the unit): the
      // stand-in too, so the host check after the reboot finds it running.
      const enabled = await runSsh(target, auth, "systemctl enable nova-compute.service");
      if (enabled.code !== 0) throw new Error(`cannot enable the VM's nova-compute stand-in: ${enabled.stderr}`);
      return { vm, target, auth, bootId };
    });
    // The topology as `npm run discover` reads it (facts.sh over SSH); the host checks compare the VM with it after the reboot.
    const discovered = await discoverHost(target, auth, { sudo: false });
    say(
      `discovered: ${discovered.declared.nodes.map((n) => `node ${n.id}: CPUs ${n.cpus}, ${n.memoryMb} MiB`).join("; ")}; host key ${discovered.fingerprint}`,
    );
    const { desired, config } = planForVm(target, discovered.declared);
    const { plan, config: host, steps } = desired;
    say(
      `plan: ${plan.name}: isolated ${plan.isolated}, kernel args ${plan.kernel.args.join(" ")}; steps ${steps.map((s) => s.id).join(", ")}`,
    );
    const engine = await phases.time("program loaded by Pulumi's runner", () =>
      enginePath(target, plan.name, image.privateKey, discovered.declared),
    );
    return { accel, image, proxy, vm, target, auth, plan, host, config, steps, bootIds: [bootId], runDir, engine };
  } catch (e) {
    await proxy.close();
    throw e;
  }
}

export async function stopEnv(env: Env): Promise<"clean" | "killed"> {
  const how = await shutdownVm(env.vm, env.target, env.auth, env.accel.kind === "kvm" ? 60_000 : 300_000);
  await env.proxy.close();
  return how;
}

export interface StepOutcome {
  id: HostStep["id"];
  code: number | null;
  /** The script's verdict, its last line; "failed" when it exited non-zero. */
  status: "changed" | "unchanged" | "failed";
  stdout: string;
  stderr: string;
  ms: number;
}

/** The `create` text of the host's step, as its remote.Command has it (`<host>-hostprep` the copy). */
function stepCreate(env: Env, step: HostStep): string {
  return remoteCommand(step, hostprepCopyName(env.host.name));
}

/** Runs one step the way the component's remote.Command does: its command line over SSH, the script from the copy. */
export async function runStep(env: Env, step: HostStep): Promise<StepOutcome> {
  const t0 = Date.now();
  const r = await runSsh(env.target, env.auth, stepCreate(env, step), {
    commandTimeoutMs: env.accel.kind === "kvm" ? 20 * 60_000 : 60 * 60_000,
    retries: 3,
  });
  const last = r.stdout.trim().split("\n").pop() ?? "";
  const status = r.code !== 0 ? "failed" : last === "changed" || last === "unchanged" ? last : "failed";
  const outcome: StepOutcome = {
    id: step.id,
    code: r.code,
    status,
    stdout: r.stdout,
    stderr: r.stderr,
    ms: Date.now() - t0,
  };
  writeFileSync(
    join(env.runDir, "steps.log"),
    `=== ${step.id}: ${step.script} ${step.args.join(" ")} -> exit ${r.code} ${status} in ${seconds(outcome.ms)}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}\n`,
    { flag: "a" },
  );
  say(`step ${step.id}: ${status} (exit ${r.code}) in ${seconds(outcome.ms)}`);
  return outcome;
}

export class StepFailed extends Error {
  /** The steps of this run up to and including the failed one. */
  constructor(
    readonly outcome: StepOutcome,
    readonly outcomes: StepOutcome[],
  ) {
    const err = outcome.stderr.trim().split("\n").slice(-6).join("\n  ");
    super(
      `step ${outcome.id} failed (exit ${outcome.code}):\n  ${err || outcome.stdout.trim().split("\n").slice(-3).join("\n  ")}`,
    );
    this.name = "StepFailed";
  }
}

export interface PrepResult {
  outcomes: StepOutcome[];
  reboot: { scheduled: boolean; previousBootId: string; bootId: string; waitedMs: number };
}

/**
 * One `pulumi up` of the host's steps: each in plan order, stopping at the first that fails;
 * after the reboot step, the RebootWaiter's provider waits for the new boot id when the step
 * scheduled a reboot (as the component's waiter resource does).
 */
export async function prepareHost(
  env: Env,
  rebootTimeoutSeconds = env.config.deployment.rebootTimeoutSeconds,
): Promise<PrepResult> {
  const outcomes: StepOutcome[] = [];
  // The copy comes first, as the steps depend on it (it copies again when a file changed).
  await shipHostprep(env.target, env.auth, { retries: 3 });
  for (const step of env.steps) {
    const o = await runStep(env, step);
    outcomes.push(o);
    if (o.status === "failed") throw new StepFailed(o, outcomes);
    if (step.id !== "reboot") continue;
    const report = parseRebootReport(o.stdout);
    const t0 = Date.now();
    const bootId = await waitForReboot(env, report.bootId, report.scheduled, rebootTimeoutSeconds);
    if (bootId !== env.bootIds.at(-1)) {
      env.bootIds.push(bootId);
      // The boot's start jobs done: the stand-in is a oneshot, "activating" while it reads
      // nova.conf (a minute under emulation), where nova-compute itself is active once started.
      await runSsh(env.target, env.auth, "systemctl is-system-running --wait", { commandTimeoutMs: 600_000 });
    }
    return {
      outcomes,
      reboot: { scheduled: report.scheduled, previousBootId: report.bootId, bootId, waitedMs: Date.now() - t0 },
    };
  }
  throw new Error(`the plan's steps (${env.steps.map((s) => s.id).join(", ")}) end without a reboot step`);
}

/** The RebootWaiter the program registers, created through Pulumi's provider host as the engine creates it. */
export async function waitForReboot(
  env: Env,
  previousBootId: string,
  scheduled: boolean,
  timeoutSeconds: number,
): Promise<string> {
  const { host, waiter } = env.engine;
  const registered = await host.checked(waiter.urn, waiter.inputs);
  const overrides = { target: env.target, previousBootId, rebootScheduled: scheduled, timeoutSeconds };
  const inputs = await host.checked(waiter.urn, { ...registered, ...overrides });
  const { properties } = await host.create(waiter.urn, inputs);
  return String(properties.bootId);
}

export async function currentBootId(env: Env): Promise<string> {
  const r = await runSsh(env.target, env.auth, "cat /proc/sys/kernel/random/boot_id", {
    connectTimeoutMs: 30_000,
    commandTimeoutMs: 60_000,
  });
  if (r.code !== 0) throw new Error(`reading the boot id failed: ${r.stderr}`);
  return r.stdout.trim();
}

/**
 * The HostVerification the program registers (latency.host of Pulumi.e2e.yaml: hwlatdetect off,
 * cyclictest and oslat 10 s each with TCG-sized budgets),
 * created through Pulumi's provider host for the boot the host runs now. A failed check rejects
 * with the report, as `pulumi up` shows it.
 */
export async function checkHost(env: Env): Promise<{ results: CheckResult[]; inputs: Props; state: Props }> {
  const { host, check } = env.engine;
  const registered = await host.checked(check.urn, check.inputs);
  const inputs = { ...registered, target: env.target, bootId: await currentBootId(env) };
  const { properties } = await host.create(check.urn, inputs);
  return {
    results: [...(properties.observed as CheckResult[]), ...(properties.measured as CheckResult[])],
    inputs,
    state: properties,
  };
}

/** `pulumi refresh` of the HostVerification: the engine's Read, through the provider host. */
export async function refreshHostCheck(env: Env, inputs: Props, state: Props): Promise<Props> {
  const { host, check } = env.engine;
  return (await host.read(`host-verification-${env.plan.name}`, check.urn, state, inputs)).properties;
}

export function kernelStarts(env: Env): number {
  return kernelBoots(env.vm);
}

/** nova-compute's unit on the VM (the stand-in) and host prep's pending restart, as one reading. */
export interface NovaComputeState {
  /** systemd's id of the unit's current activation: a restart gives a new one. */
  invocation: string;
  activeSince: string;
  state: string;
  /** What /var/lib/openstack-rt/pending/nova-compute names (words space separated), "" when absent. */
  pending: string;
  /** The [compute] cpu_dedicated_set line of /etc/nova/nova.conf, "" when absent. */
  dedicatedLine: string;
}

export async function novaComputeState(env: Env): Promise<NovaComputeState> {
  const marker = "/var/lib/openstack-rt/pending/nova-compute";
  const r = await runSsh(
    env.target,
    env.auth,
    `systemctl show -p InvocationID -p ActiveEnterTimestamp -p ActiveState nova-compute.service && ` +
      `printf 'pending=%s\\n' "$(if [ -e ${marker} ]; then tr '\\t\\n' '  ' <${marker}; fi)" && ` +
      `printf 'dedicated=%s\\n' "$(grep -m1 '^cpu_dedicated_set' /etc/nova/nova.conf || true)"`,
    { connectTimeoutMs: 30_000, commandTimeoutMs: 60_000 },
  );
  if (r.code !== 0) throw new Error(`reading nova-compute's state failed (exit ${r.code}): ${r.stderr}`);
  const v = new Map(r.stdout.split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
  return {
    invocation: v.get("InvocationID") ?? "",
    activeSince: v.get("ActiveEnterTimestamp") ?? "",
    state: v.get("ActiveState") ?? "",
    pending: (v.get("pending") ?? "").trim(),
    dedicatedLine: v.get("dedicated") ?? "",
  };
}

/**
 * The directory of the cut's mv shim on the VM, first on PATH for the cut step only. Not under
 * /run: Debian's initramfs mounts it noexec, and bash's PATH search passes over the shim there.
 */
const CUT_DIR = "/var/lib/openstack-rt-e2e-cut";
const REPLACED = /^e2e-cut: replaced \/etc\/nova\/nova\.conf; script pid (\d+), shim pid (\d+)$/m;

export interface CutStep {
  /** From the step's start to nova.conf replaced (the moment the connection is cut). */
  replacedMs: number;
  /** From the cut to the remote run's end (killed, or finished on its own). */
  endedMs: number;
  /** What the client had received when it was cut. */
  output: string;
}

/**
 * Runs the nova-compute step (its `create` text, the script from the copy of hostprep/) over a
 * connection of its own, the OpenSSH client's, with an `mv` first on PATH that holds the script
 * right after it replaced /etc/nova/nova.conf, before the restart; there the connection is cut:
 * the client is killed, and sshd closes the session's pipes. With `killRun` the remote run is
 * killed as well (SIGKILL: no EXIT trap runs, as when the host ends the session's processes);
 * without it the run is let go on, its output going to a closed connection. Returns once the
 * remote run has ended.
 */
export async function cutNovaComputeStep(env: Env, killRun: boolean): Promise<CutStep> {
  const step = env.steps.find((s) => s.id === "nova-compute");
  if (!step) throw new Error(`the plan has no nova-compute step (${env.steps.map((s) => s.id).join(", ")})`);
  if (step.sudo) throw new Error("the e2e stack logs in as root: the cut puts its mv first on PATH without sudo");
  const shim = `#!/bin/sh
/bin/mv "$@" || exit $?
for last; do :; done
case $last in
*/etc/nova/nova.conf)
  printf 'e2e-cut: replaced /etc/nova/nova.conf; script pid %s, shim pid %s\\n' "$PPID" "$$" >&2
  while [ ! -e ${CUT_DIR}/go ]; do sleep 0.1; done
  ;;
esac
`;
  const put = await runSsh(
    env.target,
    env.auth,
    `rm -rf ${CUT_DIR} && mkdir -p ${CUT_DIR} && cat >${CUT_DIR}/mv && chmod 755 ${CUT_DIR}/mv && ` +
      `found=$(PATH=${CUT_DIR}:/usr/bin:/bin bash -c 'type -P mv') && [ "$found" = ${CUT_DIR}/mv ] || ` +
      `{ echo "PATH finds $found, not the shim" >&2; exit 1; }`,
    { stdin: shim },
  );
  if (put.code !== 0) throw new Error(`cannot put the mv shim on the VM: ${put.stderr}`);
  const key = join(env.runDir, "id_ed25519");
  writeFileSync(key, env.auth.privateKey ?? "", { mode: 0o600 });
  const knownHosts = join(env.runDir, "known_hosts");
  writeFileSync(knownHosts, `[${env.target.host}]:${env.target.port} ${env.target.hostKey}\n`);
  await shipHostprep(env.target, env.auth);
  const remote = `env PATH=${CUT_DIR}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin ${stepCreate(env, step)}`;
  const t0 = Date.now();
  const client = spawn(
    "ssh",
    [
      ...["-i", key, "-p", String(env.target.port), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"],
      ...["-o", `UserKnownHostsFile=${knownHosts}`, "-o", "LogLevel=ERROR", `${env.target.user}@${env.target.host}`],
      remote,
    ],
    { stdio: ["pipe", "pipe", "pipe"] },
  );
  client.stdin.end();
  let output = "";
  client.stdout.on("data", (d: Buffer) => (output += d.toString()));
  client.stderr.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => client.once("exit", (code) => resolve(code)));
  const pids = await new Promise<[string, string]>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the nova-compute step did not replace nova.conf in 10 min:\n${output}`)),
      600_000,
    );
    const look = () => {
      const m = REPLACED.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve([m[1], m[2]]);
      }
    };
    client.stderr.on("data", look);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the nova-compute step ended (exit ${code}) before it replaced nova.conf:\n${output}`));
    });
  });
  const replacedMs = Date.now() - t0;
  say(
    `nova-compute step: nova.conf replaced after ${seconds(replacedMs)}; cutting the connection${killRun ? " and killing the run" : ""}`,
  );
  const cutAt = Date.now();
  client.kill("SIGKILL");
  await exited;
  const [script, shimPid] = pids;
  const then = killRun ? `kill -KILL ${script} ${shimPid}` : `: >${CUT_DIR}/go`;
  const act = await runSsh(env.target, env.auth, then);
  if (act.code !== 0) throw new Error(`'${then}' on the VM failed: ${act.stderr}`);
  // The remote run's end: its process gone (killed, or done with the restart and its output).
  for (;;) {
    const r = await runSsh(env.target, env.auth, `kill -0 ${script} 2>/dev/null`);
    if (r.code !== 0) break;
    if (Date.now() - cutAt > 600_000)
      throw new Error(`the cut nova-compute step (pid ${script}) still runs 10 min later`);
    await new Promise((r) => setTimeout(r, 1000));
  }
  const endedMs = Date.now() - cutAt;
  const clean = await runSsh(env.target, env.auth, `rm -rf ${CUT_DIR}`);
  if (clean.code !== 0) throw new Error(`cannot remove ${CUT_DIR} from the VM: ${clean.stderr}`);
  writeFileSync(
    join(env.runDir, "steps.log"),
    `=== nova-compute cut after nova.conf was replaced (${killRun ? "connection and run" : "connection"}): received before the cut\n${output}\n`,
    { flag: "a" },
  );
  return { replacedMs, endedMs, output };
}
