/**
 * Waiting for a rebooted host: the polling logic with a fake clock and scripted probes, the
 * report reboot.sh really prints, and the RebootWaiter provider against a real sshd (this
 * machine's own boot id stands in for the host's).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import type { RebootWaiterInputs, RebootWaiterState } from "../../../lib/providers/reboot-wait";
import { rebootWaiterProvider } from "../../../lib/providers/reboot-wait";
import type { WaitForBootOptions } from "../../../lib/transport/boot-id";
import { parseBootId, parseRebootReport, waitForNewBootId } from "../../../lib/transport/boot-id";
import { isSshError, sshError } from "../../../lib/transport/ssh";
import { FIXTURES_DIR, RT_KERNEL, RT_VERSION, buildDebianRoot, runScript } from "../../support/debian-root";
import type { TestSshd } from "../../support/sshd";
import { configureKey } from "../../support/provider-config";
import { freePort, startSshd } from "../../support/sshd";
import { devHostPlans } from "../../support/dev-config";

const OLD = "5b0d3f0e-3c55-4a4c-8f47-3d1d0f9b2a61";
const NEW = "0c9e4a52-1b7e-4f0d-a1a3-7e0c1f1b9d27";

/** A fake clock whose sleep advances time, and a probe answering from a script of answers (the last one repeats). */
function scripted(answers: (string | Error)[], overrides: Partial<WaitForBootOptions> = {}) {
  let t = 0;
  const sleeps: number[] = [];
  let calls = 0;
  const options: WaitForBootOptions = {
    host: "compute-rt-01 (root@192.0.2.11:22)",
    previousBootId: OLD,
    probe: () => Promise.resolve(answers[Math.min(calls++, answers.length - 1)]),
    probeTimeoutMs: 45_000,
    timeoutMs: 900_000,
    intervalMs: 5_000,
    now: () => t,
    sleep: (ms) => {
      sleeps.push(ms);
      t += ms;
      return Promise.resolve();
    },
    ...overrides,
  };
  return { options, sleeps, calls: () => calls, now: () => t };
}

const down = () =>
  sshError(
    "unreachable",
    "root@192.0.2.11:22",
    "cannot connect (ECONNREFUSED): check the address, the port and that sshd runs",
  );

describe("waitForNewBootId", () => {
  it("counts a probe that never settles as a failed attempt, and still answers within its bound", async () => {
    let calls = 0;
    const r = await waitForNewBootId({
      ...scripted([]).options,
      // The first probe hangs (a connection that died without a word); the next answers.
      probe: () => (calls++ === 0 ? new Promise<string | Error>(() => {}) : Promise.resolve(NEW)),
      probeTimeoutMs: 50,
    });
    assert.equal(r.bootId, NEW);
    assert.equal(r.attempts, 2);
  });
  it("returns the new boot id once the host answers with one, after the old one and a while unreachable", async () => {
    const s = scripted([OLD, OLD, down(), down(), down(), NEW]);
    const r = await waitForNewBootId(s.options);
    assert.deepEqual(r, { bootId: NEW, attempts: 6, waitedMs: 25_000 });
    assert.deepEqual(s.sleeps, [5_000, 5_000, 5_000, 5_000, 5_000]);
  });

  it("a host that never comes back: an error naming the host, the timeout and the last failure, at the timeout", async () => {
    const s = scripted([down()], { timeoutMs: 60_000 });
    await assert.rejects(waitForNewBootId(s.options), (e: Error) => {
      assert.match(e.message, /^compute-rt-01 \(root@192\.0\.2\.11:22\) did not come back within 60 s /);
      assert.match(
        e.message,
        /the last of 13 attempts to read its boot id failed: ssh root@192\.0\.2\.11:22: cannot connect \(ECONNREFUSED\)/,
      );
      return true;
    });
    assert.equal(s.now(), 60_000, "waited the whole timeout and not longer");
  });

  it("a host that keeps its boot id did not reboot, and the error says so", async () => {
    const s = scripted([OLD], { timeoutMs: 20_000 });
    await assert.rejects(
      waitForNewBootId(s.options),
      /compute-rt-01 .* did not reboot: 20 s after reboot.sh scheduled it, the host still runs boot 5b0d3f0e-3c55-4a4c-8f47-3d1d0f9b2a61 \(asked 5 times\)/,
    );
  });

  it("the last sleep is cut to the time left, so the deadline holds with any interval", async () => {
    const s = scripted([down()], { timeoutMs: 12_000, intervalMs: 5_000 });
    await assert.rejects(waitForNewBootId(s.options), /did not come back within/);
    assert.deepEqual(s.sleeps, [5_000, 5_000, 2_000]);
  });

  it("counts the time a slow probe takes", async () => {
    const s = scripted([]);
    let t = 0;
    const options = {
      ...s.options,
      now: () => t,
      sleep: (ms: number) => ((t += ms), Promise.resolve()),
      timeoutMs: 30_000,
    };
    // Each attempt hangs 10 s in a connect timeout.
    options.probe = () => ((t += 10_000), Promise.resolve(down()));
    await assert.rejects(waitForNewBootId(options), /the last of 3 attempts/);
  });

  it("stops at once when the probe fails in a way waiting cannot fix", async () => {
    const s = scripted([]);
    s.options.probe = () =>
      Promise.reject(
        sshError("host-key", "root@192.0.2.11:22", "the server's host key does not match the pinned hostKey"),
      );
    await assert.rejects(waitForNewBootId(s.options), (e: unknown) => isSshError(e) && e.kind === "host-key");
    assert.deepEqual(s.sleeps, []);
  });
});

describe("reboot.sh's report", () => {
  const grub = readFileSync(join(FIXTURES_DIR, "debian-12-rt", "grub.cfg"), "utf8");
  const args = devHostPlans().debian.kernel.args.join(" ");

  it("is read from what reboot.sh prints: scheduled with the boot id to leave, or nothing to wait for", () => {
    const root = buildDebianRoot();
    try {
      root.write("/boot/grub/grub.cfg", grub);
      const run = () => runScript("reboot.sh", ["--args", args, "--expect-rt", "yes", "--root", root.dir]).stdout;
      assert.deepEqual(parseRebootReport(run()), { bootId: OLD, scheduled: true });
      root.setKernel(RT_KERNEL, RT_VERSION, `BOOT_IMAGE=/boot/vmlinuz-${RT_KERNEL} ro ${args}`);
      assert.deepEqual(parseRebootReport(run()), { bootId: OLD, scheduled: false });
    } finally {
      root.remove();
    }
  });

  it("anything else is an error that shows what was printed", () => {
    for (const bad of [
      "",
      "changed\n",
      `boot_id=${OLD}\n`,
      `boot_id=not-a-uuid\nchanged\n`,
      `boot_id=${OLD}\nboot_id=${NEW}\nchanged\n`,
    ]) {
      assert.throws(() => parseRebootReport(bad), /reboot\.sh's output is not its report/, JSON.stringify(bad));
    }
  });

  it("a boot id file is one UUID line", () => {
    const mine = readFileSync("/proc/sys/kernel/random/boot_id", "utf8");
    assert.equal(parseBootId(mine), mine.trim());
    assert.equal(parseBootId("bash: cat: No such file\n"), null);
  });
});

describe("RebootWaiterProvider", () => {
  const provider = rebootWaiterProvider as Required<
    pulumi.dynamic.ResourceProvider<RebootWaiterInputs, RebootWaiterState>
  >;
  const myBootId = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  let sshd: TestSshd;
  let inputs: RebootWaiterInputs;
  before(async () => {
    sshd = await startSshd();
    await configureKey(provider, sshd.userKey);
    inputs = {
      hostName: "compute-rt-01",
      target: { host: "127.0.0.1", port: sshd.port, user: sshd.user, hostKey: sshd.hostKeyPub },
      previousBootId: OLD,
      rebootScheduled: true,
      timeoutSeconds: 60,
    };
  });
  after(() => sshd.stop());

  it("create: reads the host's new boot id over SSH with the configured key, and keeps no key in its state", async () => {
    const r = await provider.create(inputs);
    assert.equal(r.id, "compute-rt-01");
    assert.deepEqual(r.outs, {
      hostName: "compute-rt-01",
      target: inputs.target,
      previousBootId: OLD,
      rebootScheduled: true,
      timeoutSeconds: 60,
      bootId: myBootId,
    });
    assert.doesNotMatch(JSON.stringify(r.outs), /PRIVATE KEY/);
  });

  it("when nothing was scheduled, asks nobody: the boot id stays", async () => {
    const closed = await freePort();
    const r = await provider.update(
      "compute-rt-01",
      { ...inputs, bootId: OLD },
      { ...inputs, rebootScheduled: false, target: { ...inputs.target, port: closed } },
    );
    assert.equal(r.outs?.bootId, OLD);
  });

  it("a host that still runs the old boot fails with its name and the timeout", async () => {
    const started = Date.now();
    await assert.rejects(
      provider.create({ ...inputs, previousBootId: myBootId, timeoutSeconds: 1 }),
      /compute-rt-01 \(.*@127\.0\.0\.1:\d+\) did not reboot: 1 s after/,
    );
    assert.ok(Date.now() - started < 10_000);
  });

  it("a host that does not answer fails with its name, the timeout and why", async () => {
    const closed = await freePort();
    await assert.rejects(
      provider.create({ ...inputs, target: { ...inputs.target, port: closed }, timeoutSeconds: 1 }),
      /did not come back within 1 s .*ECONNREFUSED/,
    );
  });

  it("what a failing host printed reaches the error escaped: no terminal sequence passes through", async () => {
    const hostile = await startSshd({
      forceCommand: "printf '\\033]0;owned\\007\\033[2Jboot id unreadable\\n' >&2; exit 1",
    });
    try {
      await configureKey(provider, hostile.userKey);
      const target = { host: "127.0.0.1", port: hostile.port, user: hostile.user, hostKey: hostile.hostKeyPub };
      const error = await provider.create({ ...inputs, target, timeoutSeconds: 1 }).then(
        () => assert.fail("the wait passed"),
        (e: unknown) => String(e),
      );
      assert.match(error, /exited with 1: \\e\]0;owned\\a\\e\[2Jboot id unreadable/);
      // eslint-disable-next-line no-control-regex -- no control character may pass
      assert.doesNotMatch(error, /[\u0000-\u0008\u000b-\u001f]/);
    } finally {
      await configureKey(provider, sshd.userKey);
      await hostile.stop();
    }
  });

  it("a host key that does not match ends the wait at once", async () => {
    const other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILEZ9Ak3Chw7pUqhmeFtPzChapi4MzTG0VCi8fxsKcRb";
    const started = Date.now();
    await assert.rejects(
      provider.create({ ...inputs, target: { ...inputs.target, hostKey: other } }),
      /the server's host key does not match the pinned hostKey/,
    );
    assert.ok(Date.now() - started < 10_000, "did not wait for the 60 s timeout");
  });

  it("check takes valid and not-yet-known inputs and names each bad one; diff ignores the key", async () => {
    assert.deepEqual(await provider.check(inputs, inputs), { inputs });
    const unknown = pulumi.runtime.unknownValue as unknown;
    const preview = { ...inputs, previousBootId: unknown, rebootScheduled: unknown } as RebootWaiterInputs;
    assert.deepEqual(await provider.check(inputs, preview), { inputs: preview });
    const bad = {
      ...inputs,
      previousBootId: "yesterday",
      rebootScheduled: "yes",
      timeoutSeconds: 0,
      target: { host: "", port: "22", user: "root" },
    } as unknown as RebootWaiterInputs;
    const r = await provider.check(inputs, bad);
    assert.deepEqual(r.failures?.map((f) => f.property).sort(), [
      "previousBootId",
      "rebootScheduled",
      "target.host",
      "target.port",
      "timeoutSeconds",
    ]);

    const state = { ...inputs, bootId: NEW };
    assert.deepEqual(await provider.diff("compute-rt-01", state, inputs), { changes: false });
    assert.deepEqual(await provider.diff("compute-rt-01", state, { ...inputs, previousBootId: NEW }), {
      changes: true,
    });
    assert.deepEqual(
      await provider.diff("compute-rt-01", state, { ...inputs, target: { ...inputs.target, port: 2222 } }),
      { changes: true },
    );
  });
});
