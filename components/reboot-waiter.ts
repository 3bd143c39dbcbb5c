/**
 * RebootWaiter: finishes a host's reboot step. reboot.sh schedules the reboot detached and
 * prints the boot id it leaves behind; this dynamic resource then polls the host over SSH until
 * /proc/sys/kernel/random/boot_id differs, within deployment.rebootTimeoutSeconds, and fails
 * with the host's name and the timeout when it does not come back.
 *
 * The provider object is serialized into the stack's state, so it holds nothing: the private
 * key arrives as a secret input on each call and is never part of the outputs, and the agent
 * socket is read from the provider process's environment (SSH_AUTH_SOCK). `check` and `diff`
 * also run during previews and do no I/O; the host is asked only by `create` and `update`,
 * which run when an input changes (the reboot step ran again) and not on an unchanged `up`.
 */
import * as pulumi from "@pulumi/pulumi";
import type { SshTarget } from "../lib/ssh";
import { describeTarget, runSsh } from "../lib/ssh";
import { parseBootId, waitForNewBootId } from "../lib/reboot-wait";

/** The provider's inputs, as the engine passes them (plain values; secrets unwrapped). */
export interface RebootWaiterInputs {
  hostName: string;
  target: SshTarget;
  privateKey?: string;
  previousBootId: string;
  rebootScheduled: boolean;
  timeoutSeconds: number;
}

/** The state kept: the inputs without the private key, and the boot id the host came back with. */
export interface RebootWaiterState {
  hostName: string;
  target: SshTarget;
  previousBootId: string;
  rebootScheduled: boolean;
  timeoutSeconds: number;
  bootId: string;
}

/** How often the host is asked while it reboots. */
const POLL_INTERVAL_MS = 5_000;
/** During a preview, values that come from other resources are not known yet; they are checked when they are. */
const UNKNOWN = pulumi.runtime.unknownValue;

const BOOT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function targetProblems(t: unknown, path: string): pulumi.dynamic.CheckFailure[] {
  if (t === UNKNOWN) return [];
  if (typeof t !== "object" || t === null) return [{ property: path, reason: "must be {host, port, user, hostKey?, proxy?}" }];
  const o = t as Record<string, unknown>;
  const failures: pulumi.dynamic.CheckFailure[] = [];
  for (const k of ["host", "user"]) if (typeof o[k] !== "string" || o[k] === "") failures.push({ property: `${path}.${k}`, reason: "must be a non-empty string" });
  if (!Number.isInteger(o.port)) failures.push({ property: `${path}.port`, reason: "must be a port number" });
  if (o.hostKey !== undefined && typeof o.hostKey !== "string") failures.push({ property: `${path}.hostKey`, reason: "must be a public key line" });
  if (o.proxy !== undefined) failures.push(...targetProblems(o.proxy, `${path}.proxy`));
  return failures;
}

/** Asks the host for its boot id: an Error while it cannot answer, a throw when waiting cannot help. */
async function readBootId(target: SshTarget, privateKey: string | undefined): Promise<string | Error> {
  try {
    const r = await runSsh(target, { privateKey, agentSocket: process.env.SSH_AUTH_SOCK }, "cat /proc/sys/kernel/random/boot_id", {
      connectTimeoutMs: 10_000,
      commandTimeoutMs: 20_000,
      retries: 0, // the wait loop retries
    });
    if (r.code !== 0) return new Error(`reading the boot id exited with ${r.code ?? r.signal}: ${r.stderr.trim().slice(0, 200)}`);
    return parseBootId(r.stdout) ?? new Error(`the boot id file held ${JSON.stringify(r.stdout.slice(0, 80))}`);
  } catch (e) {
    // A host going down or coming up refuses, drops or stalls connections; a wrong host key or
    // refused credentials stay wrong however long one waits.
    const kind = (e as { kind?: unknown }).kind;
    if (e instanceof Error && (kind === "unreachable" || kind === "timeout" || kind === "protocol")) return e;
    throw e;
  }
}

async function settle(inputs: RebootWaiterInputs): Promise<RebootWaiterState> {
  const state = {
    hostName: inputs.hostName,
    target: inputs.target,
    previousBootId: inputs.previousBootId,
    rebootScheduled: inputs.rebootScheduled,
    timeoutSeconds: inputs.timeoutSeconds,
  };
  // reboot.sh found the host as planned and scheduled nothing: there is nothing to wait for.
  if (!inputs.rebootScheduled) return { ...state, bootId: inputs.previousBootId };
  const { bootId } = await waitForNewBootId({
    host: `${inputs.hostName} (${describeTarget(inputs.target)})`,
    previousBootId: inputs.previousBootId,
    probe: () => readBootId(inputs.target, inputs.privateKey),
    timeoutMs: inputs.timeoutSeconds * 1000,
    intervalMs: POLL_INTERVAL_MS,
    now: () => Date.now(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  });
  return { ...state, bootId };
}

/** The inputs a re-run depends on: everything but the private key (rotating it reboots nothing). */
const COMPARED = ["hostName", "target", "previousBootId", "rebootScheduled", "timeoutSeconds"] as const;

export class RebootWaiterProvider implements pulumi.dynamic.ResourceProvider<RebootWaiterInputs, RebootWaiterState> {
  check(_olds: RebootWaiterInputs, news: RebootWaiterInputs): Promise<pulumi.dynamic.CheckResult<RebootWaiterInputs>> {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    const known = (v: unknown) => v !== UNKNOWN;
    if (known(news.hostName) && (typeof news.hostName !== "string" || news.hostName === "")) failures.push({ property: "hostName", reason: "must be the host's name" });
    failures.push(...targetProblems(news.target, "target"));
    if (known(news.previousBootId) && !BOOT_ID.test(String(news.previousBootId))) failures.push({ property: "previousBootId", reason: "must be a boot id (a lowercase UUID)" });
    if (known(news.rebootScheduled) && typeof news.rebootScheduled !== "boolean") failures.push({ property: "rebootScheduled", reason: "must be true or false" });
    if (known(news.timeoutSeconds) && !(Number.isInteger(news.timeoutSeconds) && news.timeoutSeconds > 0)) failures.push({ property: "timeoutSeconds", reason: "must be a positive whole number of seconds" });
    if (news.privateKey !== undefined && known(news.privateKey) && typeof news.privateKey !== "string") failures.push({ property: "privateKey", reason: "must be a private key" });
    return Promise.resolve(failures.length > 0 ? { failures } : { inputs: news });
  }

  diff(_id: pulumi.ID, olds: RebootWaiterState, news: RebootWaiterInputs): Promise<pulumi.dynamic.DiffResult> {
    const changed = COMPARED.filter((k) => JSON.stringify(olds[k]) !== JSON.stringify(news[k]));
    return Promise.resolve({ changes: changed.length > 0 });
  }

  async create(inputs: RebootWaiterInputs): Promise<pulumi.dynamic.CreateResult<RebootWaiterState>> {
    return { id: inputs.hostName, outs: await settle(inputs) };
  }

  async update(_id: pulumi.ID, _olds: RebootWaiterState, news: RebootWaiterInputs): Promise<pulumi.dynamic.UpdateResult<RebootWaiterState>> {
    return { outs: await settle(news) };
  }
}

export interface RebootWaiterArgs {
  hostName: pulumi.Input<string>;
  target: pulumi.Input<SshTarget>;
  /** Kept secret whatever the caller passes; without it the agent (SSH_AUTH_SOCK) is used. */
  privateKey?: pulumi.Input<string>;
  previousBootId: pulumi.Input<string>;
  rebootScheduled: pulumi.Input<boolean>;
  timeoutSeconds: pulumi.Input<number>;
}

/** One provider instance for every waiter: its serialized text is the same each run, so it causes no diff. */
const provider = new RebootWaiterProvider();

export class RebootWaiter extends pulumi.dynamic.Resource {
  /** The boot id the host came back with (the previous one when no reboot was scheduled). */
  declare public readonly bootId: pulumi.Output<string>;

  constructor(name: string, args: RebootWaiterArgs, opts?: pulumi.CustomResourceOptions) {
    const { privateKey, ...rest } = args;
    super(provider, name, { ...rest, ...(privateKey === undefined ? {} : { privateKey: pulumi.secret(privateKey) }), bootId: undefined }, opts, undefined, "RebootWaiter");
  }
}
