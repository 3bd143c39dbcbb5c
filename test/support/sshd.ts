/**
 * A throwaway OpenSSH server on 127.0.0.1 for tests: its own host key, user key and config in a
 * temp dir, started with Debian's /usr/sbin/sshd and stopped (and cleaned up) by `stop()`.
 */
import type { ChildProcess } from "node:child_process";
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";

export interface TestSshd {
  port: number;
  user: string;
  hostKeyPub: string;
  /** The server's RSA and ECDSA public key lines, beside its ed25519 one (hostKeyPub). */
  otherHostKeys: { rsa: string; ecdsa: string };
  userKey: string;
  userKeyPub: string;
  dir: string;
  /** The sessions' $HOME with `ownHome` (a directory under `dir`), where hostprep/ is copied. */
  home?: string;
  /** Stops the server as a rebooting host would, keeping its keys and port for `up`. */
  down: () => Promise<void>;
  up: () => Promise<void>;
  stop: () => Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

function keygen(path: string, comment: string, type = "ed25519"): void {
  execFileSync("ssh-keygen", ["-q", "-t", type, "-N", "", "-C", comment, "-f", path]);
}

async function waitForPort(port: number, child: ChildProcess, deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`sshd exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = createConnection({ host: "127.0.0.1", port }, () => (s.end(), resolve(true)));
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`sshd did not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `hostKey`: an OpenSSH private key to serve as the ed25519 host key instead of a fresh one. */
/**
 * A throwaway sshd on 127.0.0.1. `forceCommand` makes it run that command for every session,
 * whatever the client asked (sshd_config's ForceCommand): a host that answers in its own way.
 * `ownHome` gives the sessions a $HOME of their own (sshd_config's SetEnv), so what a test copies
 * there, as the hostprep/ copy, never touches this user's home and goes with `stop()`.
 */
export async function startSshd(
  opts: { hostKey?: string; forceCommand?: string; ownHome?: boolean } = {},
): Promise<TestSshd> {
  const dir = mkdtempSync(join(tmpdir(), "openstack-rt-sshd-"));
  const home = opts.ownHome ? join(dir, "home") : undefined;
  if (home !== undefined) mkdirSync(home);
  if (opts.hostKey === undefined) keygen(join(dir, "host"), "test-host");
  else {
    writeFileSync(join(dir, "host"), opts.hostKey, { mode: 0o600 });
    writeFileSync(join(dir, "host.pub"), execFileSync("ssh-keygen", ["-y", "-f", join(dir, "host")]));
  }
  // A normal sshd offers several host keys; pinning one must not depend on which it prefers.
  keygen(join(dir, "host-rsa"), "test-host", "rsa");
  keygen(join(dir, "host-ecdsa"), "test-host", "ecdsa");
  keygen(join(dir, "user"), "test-user");
  writeFileSync(join(dir, "authorized_keys"), readFileSync(join(dir, "user.pub")));
  const port = await freePort();
  writeFileSync(
    join(dir, "sshd_config"),
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${join(dir, "host")}`,
      `HostKey ${join(dir, "host-rsa")}`,
      `HostKey ${join(dir, "host-ecdsa")}`,
      `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      "PermitRootLogin prohibit-password",
      "StrictModes no",
      "AllowTcpForwarding yes",
      `PidFile ${join(dir, "sshd.pid")}`,
      "LogLevel ERROR",
      ...(opts.forceCommand === undefined ? [] : [`ForceCommand ${opts.forceCommand}`]),
      ...(home === undefined ? [] : [`SetEnv HOME=${home}`]),
      "",
    ].join("\n"),
  );
  mkdirSync("/run/sshd", { recursive: true }); // sshd's privilege-separation directory
  const spawnSshd = async () => {
    // setpriv's parent-death signal ends sshd with the test process, even one killed by a signal.
    const c = spawn("setpriv", ["--pdeathsig", "TERM", "/usr/sbin/sshd", "-D", "-e", "-f", join(dir, "sshd_config")], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    await waitForPort(port, c, 10_000);
    return c;
  };
  const kill = (c: ChildProcess) =>
    new Promise<void>((resolve) => {
      if (c.exitCode !== null || c.signalCode !== null) return resolve();
      c.once("exit", () => resolve());
      c.kill("SIGTERM");
    });
  let child = await spawnSshd();
  return {
    port,
    user: userInfo().username,
    hostKeyPub: readFileSync(join(dir, "host.pub"), "utf8").trim(),
    otherHostKeys: {
      rsa: readFileSync(join(dir, "host-rsa.pub"), "utf8").trim(),
      ecdsa: readFileSync(join(dir, "host-ecdsa.pub"), "utf8").trim(),
    },
    userKey: readFileSync(join(dir, "user"), "utf8"),
    userKeyPub: readFileSync(join(dir, "user.pub"), "utf8").trim(),
    dir,
    ...(home === undefined ? {} : { home }),
    down: () => kill(child),
    up: async () => {
      child = await spawnSshd();
    },
    stop: async () => {
      await kill(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
