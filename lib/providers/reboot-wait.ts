/**
 * The provider of RebootWaiter: after reboot.sh scheduled a reboot, polls the host's boot id
 * over SSH until it changes, within the timeout. While the host is down, refused, dropped and
 * stalled connections are waited out; a host key that does not match or refused credentials end
 * the wait at once. `check` and `diff` run in previews too and do no I/O.
 */
import type * as pulumi from "@pulumi/pulumi";
import { messageOf } from "../errors";
import { terminalText } from "../terminal-text";
import { parseBootId, waitForNewBootId } from "../transport/boot-id";
import type { SshAuth, SshTarget } from "../transport/ssh";
import { describeTarget, isSshError, runSsh } from "../transport/ssh";
import { known, nonEmptyString, positiveInteger, targetProblems } from "./inputs";
import { sshCredentials } from "./ssh-credentials";

export interface RebootWaiterInputs {
  hostName: string;
  target: SshTarget;
  previousBootId: string;
  rebootScheduled: boolean;
  timeoutSeconds: number;
}

/** The state kept: the inputs and the boot id the host came back with. */
export interface RebootWaiterState extends RebootWaiterInputs {
  bootId: string;
}

const INPUTS = ["hostName", "target", "previousBootId", "rebootScheduled", "timeoutSeconds"] as const;
/** How often the host is asked while it reboots. */
const POLL_INTERVAL_MS = 5_000;
const BOOT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The host's boot id; an Error while it cannot answer; a throw when waiting cannot help. */
async function readBootId(target: SshTarget, auth: SshAuth): Promise<string | Error> {
  try {
    const r = await runSsh(target, auth, "cat /proc/sys/kernel/random/boot_id", {
      connectTimeoutMs: 10_000,
      commandTimeoutMs: 20_000,
      retries: 0,
    });
    if (r.code !== 0)
      return new Error(
        `reading the boot id exited with ${r.code ?? r.signal}: ${terminalText(r.stderr.trim().slice(0, 200))}`,
      );
    return parseBootId(r.stdout) ?? new Error(`the boot id file held "${terminalText(r.stdout.slice(0, 80))}"`);
  } catch (e) {
    if (isSshError(e) && (e.kind === "unreachable" || e.kind === "timeout" || e.kind === "protocol")) return e;
    throw new Error(messageOf(e));
  }
}

function makeRebootWaiterProvider(): pulumi.dynamic.ResourceProvider<RebootWaiterInputs, RebootWaiterState> {
  const credentials = sshCredentials();
  const settle = async (i: RebootWaiterInputs): Promise<RebootWaiterState> => {
    const state = {
      hostName: i.hostName,
      target: i.target,
      previousBootId: i.previousBootId,
      rebootScheduled: i.rebootScheduled,
      timeoutSeconds: i.timeoutSeconds,
    };
    // reboot.sh found the host as planned and scheduled nothing: there is nothing to wait for.
    if (!i.rebootScheduled) return { ...state, bootId: i.previousBootId };
    const auth = credentials.auth();
    const { bootId } = await waitForNewBootId({
      host: `${i.hostName} (${describeTarget(i.target)})`,
      previousBootId: i.previousBootId,
      probe: () => readBootId(i.target, auth),
      // runSsh's own limits (10 s to connect, 20 s for the command) and a margin.
      probeTimeoutMs: 45_000,
      timeoutMs: i.timeoutSeconds * 1000,
      intervalMs: POLL_INTERVAL_MS,
      now: () => Date.now(),
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    });
    return { ...state, bootId };
  };
  return {
    configure: credentials.configure,
    check: (_olds, news) => {
      const failures = [
        ...nonEmptyString(news.hostName, "hostName", "must be the host's name"),
        ...targetProblems(news.target, "target"),
        ...(known(news.previousBootId) && !BOOT_ID.test(String(news.previousBootId))
          ? [{ property: "previousBootId", reason: "must be a boot id (a lowercase UUID)" }]
          : []),
        ...(known(news.rebootScheduled) && typeof news.rebootScheduled !== "boolean"
          ? [{ property: "rebootScheduled", reason: "must be true or false" }]
          : []),
        ...positiveInteger(news.timeoutSeconds, "timeoutSeconds", "must be a positive whole number of seconds"),
      ];
      return Promise.resolve(failures.length > 0 ? { inputs: news, failures } : { inputs: news });
    },
    diff: (_id, olds, news) =>
      Promise.resolve({ changes: INPUTS.some((k) => JSON.stringify(olds[k]) !== JSON.stringify(news[k])) }),
    create: async (inputs) => ({ id: inputs.hostName, outs: await settle(inputs) }),
    update: async (_id, _olds, news) => ({ outs: await settle(news) }),
  };
}

export const rebootWaiterProvider = makeRebootWaiterProvider();
