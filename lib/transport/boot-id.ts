/**
 * Waiting for a host to come back from the reboot reboot.sh scheduled: poll its boot id
 * (/proc/sys/kernel/random/boot_id, new on every boot) until it differs from the one reboot.sh
 * printed. Pure: the probe, the clock and the sleep are passed in, so the components use SSH
 * and real time and the tests use fakes.
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The boot id in a command's output (the file's one line), or null when there is none. */
export function parseBootId(stdout: string): string | null {
  const line = stdout.trim();
  return UUID.test(line) ? line : null;
}

export interface RebootReport {
  /** The boot id while reboot.sh ran: the one the host must leave behind. */
  bootId: string;
  /** reboot.sh scheduled a reboot ("changed"); "unchanged" means the host already runs as planned. */
  scheduled: boolean;
}

/** Reads reboot.sh's report: its `boot_id=` line and its last line, "changed" or "unchanged". */
export function parseRebootReport(stdout: string): RebootReport {
  const lines = stdout.split("\n").filter((l) => l !== "");
  const ids = lines.filter((l) => l.startsWith("boot_id=")).map((l) => l.slice("boot_id=".length));
  const last = lines.at(-1);
  if (ids.length !== 1 || !UUID.test(ids[0]) || (last !== "changed" && last !== "unchanged")) {
    throw new Error(
      `reboot.sh's output is not its report (one boot_id=<uuid> line, then "changed" or "unchanged"): ${JSON.stringify(stdout.slice(-300))}`,
    );
  }
  return { bootId: ids[0], scheduled: last === "changed" };
}

export interface WaitForBootOptions {
  /** Names the host in the error, e.g. "compute-rt-01 (root@192.0.2.11:22)". */
  host: string;
  previousBootId: string;
  /**
   * Reads the host's boot id. Resolves to an Error when the host cannot answer now, as while it
   * reboots (unreachable, refused, timed out); rejects for what waiting cannot fix (a host key
   * that does not match, refused credentials), which ends the wait at once.
   */
  probe: () => Promise<string | Error>;
  /**
   * The longest one probe may take: a probe that has not settled by then (a connection that died
   * without a word while the host went down) counts as a failed attempt, so the wait still ends
   * within its bound.
   */
  probeTimeoutMs: number;
  timeoutMs: number;
  intervalMs: number;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
}

export interface WaitForBootResult {
  bootId: string;
  attempts: number;
  waitedMs: number;
}

/** Polls until the host answers with a boot id other than `previousBootId`, or the timeout passes. */
export async function waitForNewBootId(o: WaitForBootOptions): Promise<WaitForBootResult> {
  const start = o.now();
  let attempts = 0;
  for (;;) {
    attempts++;
    const answer = await settledWithin(o.probe(), o.probeTimeoutMs);
    const waitedMs = o.now() - start;
    if (typeof answer === "string" && answer !== o.previousBootId) return { bootId: answer, attempts, waitedMs };
    if (waitedMs >= o.timeoutMs) throw new Error(timeoutMessage(o, answer, attempts));
    await o.sleep(Math.min(o.intervalMs, o.timeoutMs - waitedMs));
  }
}

function settledWithin(probe: Promise<string | Error>, ms: number): Promise<string | Error> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<Error>((resolve) => {
    timer = setTimeout(() => resolve(new Error(`no answer within ${Math.round(ms / 1000)} s`)), ms);
  });
  return Promise.race([probe, late]).finally(() => clearTimeout(timer));
}

function timeoutMessage(o: WaitForBootOptions, last: string | Error, attempts: number): string {
  const seconds = Math.round(o.timeoutMs / 1000);
  if (typeof last === "string") {
    // It answers, with the old boot id: the reboot never happened.
    return (
      `${o.host} did not reboot: ${seconds} s after reboot.sh scheduled it, the host still runs boot ${o.previousBootId} ` +
      `(asked ${attempts} times). Check why the reboot timer did not fire (systemctl list-timers, journalctl -b), then run pulumi up again.`
    );
  }
  return (
    `${o.host} did not come back within ${seconds} s of the reboot reboot.sh scheduled (deployment.rebootTimeoutSeconds); ` +
    `the last of ${attempts} attempts to read its boot id failed: ${last.message}. Check the host's console (BMC/IPMI); ` +
    `once it is up, run pulumi up again, which waits for it anew.`
  );
}
