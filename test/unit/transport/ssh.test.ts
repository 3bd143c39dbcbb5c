/** The SSH transport against a real OpenSSH server on 127.0.0.1. */
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { SshTarget } from "../../../lib/transport/ssh";
import { Server, utils } from "ssh2";
import { isSshError, MAX_OUTPUT_BYTES, runSsh } from "../../../lib/transport/ssh";
import type { TestSshd } from "../../support/sshd";
import { freePort, startSshd } from "../../support/sshd";

let sshd: TestSshd;
let target: SshTarget;
before(async () => {
  sshd = await startSshd();
  target = { host: "127.0.0.1", port: sshd.port, user: sshd.user, hostKey: sshd.hostKeyPub };
});
after(() => sshd.stop());

const kindOf = (kind: string) => (e: unknown) => isSshError(e) && e.kind === kind;

describe("runSsh", () => {
  it("runs a command with stdin and returns exit code, stdout and stderr", async () => {
    const r = await runSsh(target, { privateKey: sshd.userKey }, "cat; echo oops >&2; exit 3", { stdin: "hello\n" });
    assert.deepEqual(r, { code: 3, signal: null, stdout: "hello\n", stderr: "oops\n" });
  });

  it("pins an RSA or ECDSA host key of a server that also offers ed25519", async () => {
    for (const hostKey of [sshd.otherHostKeys.rsa, sshd.otherHostKeys.ecdsa]) {
      const r = await runSsh({ ...target, hostKey }, { privateKey: sshd.userKey }, "echo pinned");
      assert.equal(r.stdout, "pinned\n", hostKey.split(" ")[0]);
    }
  });

  it("stops a command that sends hundreds of MB, naming the host and the limit, with memory bounded", async () => {
    const before = process.memoryUsage().rss;
    for (const command of ["head -c 300000000 /dev/zero", "head -c 300000000 /dev/zero >&2"]) {
      await assert.rejects(runSsh(target, { privateKey: sshd.userKey }, command), (e: unknown) => {
        assert.ok(kindOf("output")(e), String(e));
        assert.match(
          (e as Error).message,
          new RegExp(
            `^ssh ${sshd.user}@127\\.0\\.0\\.1:${sshd.port}: the command sent more than ${MAX_OUTPUT_BYTES} bytes of output \\(the limit\\)`,
          ),
        );
        return true;
      });
    }
    assert.ok(process.memoryUsage().rss - before < 200 << 20, "the output was not kept");
    const small = await runSsh(target, { privateKey: sshd.userKey }, "head -c 2048 /dev/zero", {
      maxOutputBytes: 1024,
    }).then(
      () => "ran",
      (e: unknown) => (kindOf("output")(e) ? "stopped" : String(e)),
    );
    assert.equal(small, "stopped", "the limit is an option");
    const r = await runSsh(target, { privateKey: sshd.userKey }, "head -c 1024 /dev/zero", { maxOutputBytes: 1024 });
    assert.equal(r.stdout.length, 1024, "output up to the limit is whole");
  });

  it("refuses a server whose host key is not the pinned one", async () => {
    const other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILEZ9Ak3Chw7pUqhmeFtPzChapi4MzTG0VCi8fxsKcRb";
    await assert.rejects(runSsh({ ...target, hostKey: other }, { privateKey: sshd.userKey }, "true"), (e: unknown) => {
      assert.ok(kindOf("host-key")(e));
      assert.match((e as Error).message, /does not match the pinned hostKey/);
      return true;
    });
  });

  it("refuses a key that is not authorized, and says so without showing the key", async () => {
    const otherKey = join(sshd.dir, "intruder");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", otherKey]);
    const key = execFileSync("cat", [otherKey], { encoding: "utf8" });
    await assert.rejects(runSsh(target, { privateKey: key }, "true"), (e: unknown) => {
      assert.ok(kindOf("auth")(e));
      assert.doesNotMatch((e as Error).message, /PRIVATE KEY|AAAA/);
      return true;
    });
  });

  it("reports missing credentials before connecting", async () => {
    await assert.rejects(
      runSsh(target, {}, "true"),
      (e: unknown) => kindOf("auth")(e) && /SSH_AUTH_SOCK/.test((e as Error).message),
    );
  });

  it("reports an unreachable host after its retries", async () => {
    const closed = await freePort();
    const started = Date.now();
    await assert.rejects(
      runSsh({ ...target, port: closed }, { privateKey: sshd.userKey }, "true", { retries: 2, retryDelayMs: 100 }),
      (e: unknown) => kindOf("unreachable")(e) && /ECONNREFUSED/.test((e as Error).message),
    );
    assert.ok(Date.now() - started >= 200, "retried twice");
  });

  it("times out on a server that never speaks SSH", async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const port = (silent.address() as { port: number }).port;
    try {
      await assert.rejects(
        runSsh({ ...target, port }, { privateKey: sshd.userKey }, "true", { connectTimeoutMs: 500, retries: 0 }),
        (e: unknown) => kindOf("timeout")(e) && /no SSH handshake within 500 ms/.test((e as Error).message),
      );
    } finally {
      silent.close();
    }
  });

  it("times out a command that runs too long", async () => {
    await assert.rejects(
      runSsh(target, { privateKey: sshd.userKey }, "sleep 5", { commandTimeoutMs: 300 }),
      (e: unknown) => kindOf("timeout")(e) && /did not finish within 300 ms/.test((e as Error).message),
    );
  });

  it("authenticates through an SSH agent", async () => {
    const agent = spawn("ssh-agent", ["-D", "-a", join(sshd.dir, "agent.sock")], { stdio: "ignore" });
    try {
      for (let i = 0; i < 50; i++) {
        try {
          execFileSync("ssh-add", [join(sshd.dir, "user")], {
            env: { ...process.env, SSH_AUTH_SOCK: join(sshd.dir, "agent.sock") },
            stdio: "ignore",
          });
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      const r = await runSsh(target, { agentSocket: join(sshd.dir, "agent.sock") }, "echo via-agent");
      assert.equal(r.stdout, "via-agent\n");
    } finally {
      agent.kill();
    }
  });

  it("goes through a bastion", async () => {
    const r = await runSsh(
      { ...target, proxy: { host: "127.0.0.1", port: sshd.port, user: sshd.user, hostKey: sshd.hostKeyPub } },
      { privateKey: sshd.userKey },
      "echo hopped",
    );
    assert.equal(r.stdout, "hopped\n");
  });
});

describe("a host that accepts SSH and then goes silent or away (as while it reboots)", () => {
  /** An SSH server (ssh2's) that authenticates anyone, then does what `onSession` says with the session. */
  async function fakeHost(onSession: (accept: () => unknown, reject: () => unknown, end: () => void) => void) {
    const pair = utils.generateKeyPairSync("ed25519");
    const server = new Server({ hostKeys: [pair.private] }, (client) => {
      client.on("authentication", (ctx) => ctx.accept());
      client.on("session", (accept, reject) => onSession(accept, reject, () => client.end()));
      client.on("error", () => {});
    });
    const port = await new Promise<number>((resolve) =>
      server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)),
    );
    return { target: { host: "127.0.0.1", port, user: "root", hostKey: pair.public }, close: () => server.close() };
  }

  it("a channel that never opens fails at the command's time limit", { timeout: 20_000 }, async () => {
    const host = await fakeHost(() => {});
    try {
      const started = Date.now();
      await assert.rejects(
        runSsh(host.target, { privateKey: sshd.userKey }, "true", { commandTimeoutMs: 1_500 }),
        kindOf("timeout"),
      );
      assert.ok(Date.now() - started < 5_000);
    } finally {
      host.close();
    }
  });

  it("a connection that drops before the command ends fails at once, as unreachable", { timeout: 20_000 }, async () => {
    const host = await fakeHost((_accept, _reject, end) => end());
    try {
      const started = Date.now();
      await assert.rejects(
        runSsh(host.target, { privateKey: sshd.userKey }, "true", { commandTimeoutMs: 60_000 }),
        (e: unknown) =>
          kindOf("unreachable")(e) && /connection closed before the command finished/.test((e as Error).message),
      );
      assert.ok(Date.now() - started < 10_000);
    } finally {
      host.close();
    }
  });
});
