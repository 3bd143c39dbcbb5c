/**
 * SSH transport for the checks and the reboot waiter: one command per connection, host keys
 * pinned when known, an agent or a private key, connect and command timeouts, connect retries,
 * and an optional bastion. Errors carry a kind an operator can act on and never key material.
 */
import type { ClientChannel, ConnectConfig } from "ssh2";
import { Client } from "ssh2";
import type { CodedError } from "../errors";
import { codedError, hasCode } from "../errors";
import { terminalText } from "../terminal-text";

export interface SshTarget {
  host: string;
  port: number;
  user: string;
  /** The server's public key line ("ssh-ed25519 AAAA..."); when given, any other key is refused. */
  hostKey?: string;
  proxy?: Omit<SshTarget, "proxy">;
}

export interface SshAuth {
  privateKey?: string;
  /** Path of the agent's socket (SSH_AUTH_SOCK). */
  agentSocket?: string;
}

export interface SshOptions {
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
  /** Extra connection attempts after an unreachable host or a connect timeout. */
  retries?: number;
  retryDelayMs?: number;
  stdin?: string;
  /** The most stdout plus stderr a command may send; more ends it with an "output" error. */
  maxOutputBytes?: number;
  /**
   * Told the key blob the target (not its proxy) presents, before the pinned hostKey is checked:
   * how `npm run discover` learns a host's key. Its type is the blob's first field.
   */
  onHostKey?: (key: Buffer) => void;
}

export interface CommandResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** "output": the command sent more than maxOutputBytes and was stopped. */
export type SshErrorKind = "host-key" | "unreachable" | "timeout" | "auth" | "protocol" | "output";

/** An SSH failure, worded for the operator, with a kind the caller can act on. */
export type SshError = CodedError<"SSH"> & { kind: SshErrorKind; target: string };

export function sshError(kind: SshErrorKind, target: string, detail: string): SshError {
  // The detail may quote what the server sent (a disconnect reason): escaped for the terminal.
  return codedError("SSH", `ssh ${target}: ${terminalText(detail)}`, { kind, target });
}

export function isSshError(e: unknown): e is SshError {
  return hasCode(e, "SSH");
}

/**
 * 16 MiB of output: the biggest any check reads (a guest's cyclictest histogram, a domain's
 * XML) is well under 1 MiB. Output is held in memory until the command ends, so a host or guest
 * sending without end would otherwise exhaust it.
 */
export const MAX_OUTPUT_BYTES = 16 << 20;

const DEFAULTS = {
  connectTimeoutMs: 15_000,
  commandTimeoutMs: 120_000,
  retries: 2,
  retryDelayMs: 2_000,
  maxOutputBytes: MAX_OUTPUT_BYTES,
};

export function describeTarget(t: Pick<SshTarget, "host" | "port" | "user">): string {
  return `${t.user}@${t.host}:${t.port}`;
}

/** The base64 key blob of a public key line, for comparing with what the server presents. */
function keyBlob(line: string, target: string): Buffer | SshError {
  const parts = line.trim().split(/\s+/);
  if (parts.length < 2) return sshError("host-key", target, `hostKey "${parts[0] ?? ""}" is not "<type> <base64>"`);
  return Buffer.from(parts[1], "base64");
}

/**
 * The host-key algorithms to offer when a key is pinned: only the pinned key's own, or a server
 * that also has an ed25519 key would present that one and fail the pin.
 */
function hostKeyAlgorithms(line: string): string[] {
  const type = line.trim().split(/\s+/)[0];
  return type === "ssh-rsa" ? ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] : [type];
}

function classify(
  err: Error & { code?: string; level?: string },
  target: string,
  hostKeyRefused: boolean,
  timeoutMs: number,
): SshError {
  if (isSshError(err)) return err;
  if (hostKeyRefused) {
    return sshError(
      "host-key",
      target,
      "the server's host key does not match the pinned hostKey; if the host was reinstalled, update hostKey from `ssh-keyscan` after checking it out of band",
    );
  }
  if (err.level === "client-authentication") {
    return sshError(
      "auth",
      target,
      "authentication failed: the agent or key offered is not in the user's authorized_keys",
    );
  }
  if (err.level === "client-timeout" || /timed out/i.test(err.message)) {
    return sshError(
      "timeout",
      target,
      `no SSH handshake within ${timeoutMs} ms: check that the host is up and the port is reachable`,
    );
  }
  if (
    err.code &&
    ["ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN", "ECONNRESET"].includes(err.code)
  ) {
    return sshError(
      "unreachable",
      target,
      `cannot connect (${err.code}): check the address, the port and that sshd runs`,
    );
  }
  return sshError("protocol", target, err.message);
}

function connect(
  target: Omit<SshTarget, "proxy">,
  auth: SshAuth,
  timeoutMs: number,
  sock?: ConnectConfig["sock"],
  onHostKey?: SshOptions["onHostKey"],
): Promise<Client> {
  const name = describeTarget(target);
  if (!auth.privateKey && !auth.agentSocket) {
    return Promise.reject(
      sshError("auth", name, "no credentials: start an SSH agent (SSH_AUTH_SOCK) or set the secret sshPrivateKey"),
    );
  }
  const expected = target.hostKey ? keyBlob(target.hostKey, name) : undefined;
  if (isSshError(expected)) return Promise.reject(expected);
  return new Promise((resolve, reject) => {
    const client = new Client();
    let refused = false;
    client.once("ready", () => resolve(client));
    // ssh2 can emit more than one error for one failure ("timed out", then "connection lost"):
    // the first decides, the rest must still be listened to.
    client.on("error", (err: Error) => {
      client.end();
      reject(classify(err, name, refused, timeoutMs));
    });
    client.connect({
      host: target.host,
      port: target.port,
      username: target.user,
      privateKey: auth.privateKey,
      agent: auth.privateKey ? undefined : auth.agentSocket,
      readyTimeout: timeoutMs,
      // A host that vanishes (a reboot, a cut link) leaves a silent connection: notice in ~15 s.
      keepaliveInterval: 5_000,
      keepaliveCountMax: 3,
      sock,
      ...(target.hostKey
        ? { algorithms: { serverHostKey: hostKeyAlgorithms(target.hostKey) } as ConnectConfig["algorithms"] }
        : {}),
      hostVerifier: (key: Buffer) => {
        onHostKey?.(key);
        if (!expected) return true; // no key pinned: like ssh with StrictHostKeyChecking=accept-new on a fresh host
        refused = !expected.equals(key);
        return !refused;
      },
    });
  });
}

async function connectVia(
  target: SshTarget,
  auth: SshAuth,
  timeoutMs: number,
  onHostKey?: SshOptions["onHostKey"],
): Promise<{ client: Client; close: () => void }> {
  if (!target.proxy) {
    const client = await connect(target, auth, timeoutMs, undefined, onHostKey);
    return { client, close: () => client.end() };
  }
  const bastion = await connect(target.proxy, auth, timeoutMs);
  try {
    const stream = await new Promise<ClientChannel>((resolve, reject) =>
      bastion.forwardOut("127.0.0.1", 0, target.host, target.port, (err, ch) =>
        err ? reject(classify(err, describeTarget(target), false, timeoutMs)) : resolve(ch),
      ),
    );
    const client = await connect(target, auth, timeoutMs, stream, onHostKey);
    return { client, close: () => (client.end(), bastion.end()) };
  } catch (e) {
    bastion.end();
    throw e;
  }
}

/**
 * Runs one command. Its time limit starts before the channel is asked for, and a connection that
 * drops before the command ends fails it: a host going down for a reboot may accept the SSH
 * handshake and then never open the channel or never close it.
 */
function exec(
  client: Client,
  name: string,
  command: string,
  stdin: string | undefined,
  timeoutMs: number,
  maxOutputBytes: number,
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const state: {
      stream?: ClientChannel;
      timer?: ReturnType<typeof setTimeout>;
      onClose?: () => void;
      settled: boolean;
    } = { settled: false };
    const settle = (f: () => void) => {
      if (state.settled) return;
      state.settled = true;
      clearTimeout(state.timer);
      if (state.onClose) client.removeListener("close", state.onClose);
      f();
    };
    state.timer = setTimeout(
      () =>
        settle(
          () => (
            state.stream?.close(),
            reject(sshError("timeout", name, `the command did not finish within ${timeoutMs} ms`))
          ),
        ),
      timeoutMs,
    );
    state.onClose = () =>
      settle(() =>
        reject(
          sshError("unreachable", name, "the connection closed before the command finished (the host went down?)"),
        ),
      );
    client.once("close", state.onClose);
    client.exec(command, (err, s) => {
      if (err) return settle(() => reject(sshError("protocol", name, `cannot start the command: ${err.message}`)));
      state.stream = s;
      const out: Buffer[] = [];
      const errOut: Buffer[] = [];
      const received = { bytes: 0 };
      const keep = (into: Buffer[]) => (d: Buffer) => {
        if (state.settled) return;
        received.bytes += d.length;
        if (received.bytes <= maxOutputBytes) return void into.push(d);
        out.length = 0;
        errOut.length = 0;
        settle(
          () => (
            s.close(),
            reject(
              sshError(
                "output",
                name,
                `the command sent more than ${maxOutputBytes} bytes of output (the limit), so it was stopped: the host or guest is not answering as the step expects`,
              ),
            )
          ),
        );
      };
      s.on("data", keep(out));
      s.stderr.on("data", keep(errOut));
      s.on("close", (code: number | null, signal: string | undefined) =>
        settle(() =>
          resolve({
            code: code ?? null,
            signal: signal ?? null,
            stdout: Buffer.concat(out).toString("utf8"),
            stderr: Buffer.concat(errOut).toString("utf8"),
          }),
        ),
      );
      s.end(stdin ?? "");
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs one command on the target and returns its exit code and output; throws SshError when SSH itself fails. */
export async function runSsh(
  target: SshTarget,
  auth: SshAuth,
  command: string,
  opts: SshOptions = {},
): Promise<CommandResult> {
  const o = { ...DEFAULTS, ...opts };
  const name = describeTarget(target);
  for (let attempt = 0; ; attempt++) {
    let conn: { client: Client; close: () => void };
    try {
      conn = await connectVia(target, auth, o.connectTimeoutMs, opts.onHostKey);
    } catch (e) {
      const retriable = isSshError(e) && (e.kind === "unreachable" || e.kind === "timeout");
      if (!retriable || attempt >= o.retries) throw e;
      await sleep(o.retryDelayMs);
      continue;
    }
    try {
      return await exec(conn.client, name, command, opts.stdin, o.commandTimeoutMs, o.maxOutputBytes);
    } finally {
      conn.close();
    }
  }
}
