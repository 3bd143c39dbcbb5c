/**
 * The checks run for real over SSH against this machine (a throwaway sshd on 127.0.0.1): it is
 * no RT host and no RT guest, so the verdicts must be clear failures, never exceptions.
 */
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { CheckResult } from "../../../lib/checks/result";
import { formatReport } from "../../../lib/checks/result";
import { CONFIG_LIMITS } from "../../../lib/config/schema";
import type { StackPlan } from "../../../lib/plan/stack";
import type { SshTarget } from "../../../lib/transport/ssh";
import type { Verification } from "../../../lib/checks/verification";
import { allResults, hostFactsArgs, parseSections } from "../../../lib/checks/verification";
import type { RunScript } from "../../../lib/providers/collect";
import {
  allScriptTexts,
  guestReadiness,
  observeGuest,
  sshRunner,
  verifyDomain,
  verifyGuest,
  verifyHost,
  waitForGuest,
} from "../../../lib/providers/collect";
import { expectationFromPlan } from "../../../lib/checks/domain-expectation";
import { devStackPlan } from "../../support/dev-config";
import type { TestSshd } from "../../support/sshd";
import { freePort, startSshd } from "../../support/sshd";

let sshd: TestSshd;
let run: RunScript;
let target: SshTarget;
const plan: StackPlan = devStackPlan();
const host = plan.hosts[0];
const rt1 = plan.flavors.find((f) => f.name === "rt1.small")!;

before(async () => {
  sshd = await startSshd();
  target = { host: "127.0.0.1", port: sshd.port, user: sshd.user, hostKey: sshd.hostKeyPub };
  run = sshRunner(target, { privateKey: sshd.userKey }, allScriptTexts());
});
after(() => sshd.stop());

const byName = (results: CheckResult[], check: string) => results.find((x) => x.check === check);

describe("section parsing", () => {
  it("splits sections and notices a cut-off", () => {
    assert.deepEqual([...parseSections("=== a ===\n1\n2\n=== end ===\n").sections], [["a", "1\n2"]]);
    assert.equal(parseSections("=== a ===\n1\n").complete, false);
  });
});

/** The host's latency stages, all off: these tests look at host-facts.sh's checks. */
const noStages = {
  hwlatdetect: { enabled: false, thresholdUs: 20, durationSeconds: 1 },
  cyclictest: { enabled: false, durationSeconds: 1, maxUs: 20, meanUs: 10 },
  oslat: { enabled: false, durationSeconds: 1, maxUs: 20 },
};

describe("host checks over SSH", () => {
  it("collect this machine's facts and fail it as an RT host, with hints", async () => {
    const v = await verifyHost(run, host, { latency: noStages });
    const results = allResults(v);
    assert.ok(results.length > 8, formatReport(results));
    assert.deepEqual(
      v.measured.map((x) => x.check),
      ["device IRQs on isolated CPUs"],
    );
    assert.equal(byName(results, "RT kernel")?.ok, false);
    assert.match(byName(results, "RT kernel")!.hint, /install the RT kernel/);
    assert.ok(results.some((x) => !x.ok && /isolated/i.test(x.check)));
    assert.match(formatReport(results), /FAIL/);
  });

  it("read nova.conf where the deployment tool keeps it (nova.configPath), not /etc/nova/nova.conf", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kolla-"));
    try {
      const conf = join(dir, "nova-compute", "nova.conf");
      mkdirSync(join(dir, "nova-compute"));
      copyFileSync(join(__dirname, "..", "..", "fixtures", "host", "rt-host", "nova.conf"), conf);
      const opts = { latency: noStages };
      const owned = { ...host, nova: { ...host.nova, owner: { mode: "verify" as const, configPath: conf } } };
      assert.deepEqual(hostFactsArgs(owned), ["--nova-conf", conf, "--tuned-profile", "realtime-virtual-host"]);
      const nova = (v: Verification) => allResults(v).find((x) => x.check === "nova cpu_dedicated_set");
      assert.equal(nova(await verifyHost(run, owned, opts))?.ok, true);
      // Without nova.configPath the script reads its default (/etc/nova/nova.conf); this machine's own
      // file, if any, is no part of the test: a path that does not exist stands for a host without one.
      assert.deepEqual(hostFactsArgs(host), ["--tuned-profile", "realtime-virtual-host"]);
      const absent = {
        ...host,
        nova: { ...host.nova, owner: { mode: "verify" as const, configPath: join(dir, "none") } },
      };
      assert.equal(allResults(await verifyHost(run, absent, opts)).find((x) => x.check === "nova.conf")?.ok, false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("report an unreachable host as a failed check", async () => {
    const closed = await freePort();
    const { observed: results } = await verifyHost(
      sshRunner({ ...target, port: closed }, { privateKey: sshd.userKey }, allScriptTexts(), { retries: 0 }),
      host,
      { latency: noStages },
    );
    assert.equal(results.length, 1);
    assert.equal(results[0].ok, false);
    assert.match(results[0].observed, /ECONNREFUSED/);
    assert.match(results[0].hint, /unreachable: fix SSH access/);
  });

  it("report a wrong host key without running anything", async () => {
    const other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJmLMDzsXv6Fx8Sw0Lue6LH45zNKPzEe5Sehxmp2dyp6";
    const { observed: results } = await verifyHost(
      sshRunner({ ...target, hostKey: other }, { privateKey: sshd.userKey }, allScriptTexts()),
      host,
      { latency: noStages },
    );
    assert.match(results[0].observed, /does not match the pinned hostKey/);
  });
});

describe("domain checks over SSH", () => {
  it("say the instance is on none of the hosts when no host runs it", async () => {
    const { host: found, results } = await verifyDomain("0b7f6c1e-2a3d-4e5f-8a9b-0c1d2e3f4a5b", [
      { name: "local", run, expectation: expectationFromPlan(host, rt1) },
    ]);
    assert.equal(found, null);
    assert.equal(results[0].ok, false);
    assert.match(results[0].observed, /local: not there/);
  });

  it("report a script that fails, with its stderr", async () => {
    const { results } = await verifyDomain("not-a-uuid", [
      { name: "local", run, expectation: expectationFromPlan(host, rt1) },
    ]);
    assert.match(results[0].observed, /exit 2: "domain-xml.sh: not-a-uuid is not an instance UUID"/);
  });
});

describe("guest checks over SSH (this machine standing in for the guest)", () => {
  const guest = { realtimeVcpus: "1", housekeepingVcpus: "0", tunedIsolatedCores: "1", kernelArgs: [] };

  /** Each stage 2 s; budgets as given, the defaults' 20 µs where not. */
  const stages = (cyclictestUs: number, oslatUs: number) => ({
    hwlatdetect: { enabled: true, durationSeconds: 1, thresholdUs: 20 },
    cyclictest: { enabled: true, durationSeconds: 2, maxUs: cyclictestUs, meanUs: cyclictestUs },
    oslat: { enabled: true, durationSeconds: 2, maxUs: oslatUs },
  });

  it("run the stages in order: hwlatdetect skipped with its reason, cyclictest fails 1 µs, oslat not run", async () => {
    // A timer wake-up takes more than a microsecond on any kernel, so a 1 µs budget fails;
    // 20 µs would pass on a quiet machine even without PREEMPT_RT.
    const v = await verifyGuest(run, guest, stages(1, 20));
    const results = allResults(v);
    assert.equal(byName(results, "RT kernel")?.ok, false);
    assert.equal(byName(results, "guest isolated_cores")?.ok, false);
    const hwlat = byName(v.measured, "hwlatdetect");
    assert.equal(hwlat?.ok, true, formatReport(v.measured));
    assert.match(
      hwlat.observed,
      /^skipped, nothing measured: hwlatdetect could not run: the kernel has no hwlat tracer/,
    );
    assert.equal(byName(v.measured, "max latency CPU 1")?.ok, false, formatReport(v.measured));
    assert.deepEqual(
      v.measured.filter((x) => /^oslat/.test(x.check)).map((x) => [x.check, x.ok, x.observed]),
      [["oslat stage", false, "not run: the cyclictest stage failed"]],
    );
  });

  it("go on to oslat when cyclictest passes, and report its figure per RT CPU", async () => {
    const v = await verifyGuest(run, guest, stages(CONFIG_LIMITS.latencyUs, 1));
    assert.ok(
      v.measured.filter((x) => /latency CPU 1|cyclictest/.test(x.check)).every((x) => x.ok),
      formatReport(v.measured),
    );
    assert.equal(byName(v.measured, "oslat CPUs")?.ok, true, formatReport(v.measured));
    const oslat = byName(v.measured, "oslat max CPU 1");
    // A busy loop is never kept from running for less than a microsecond: a 1 µs budget fails.
    assert.equal(oslat?.ok, false, formatReport(v.measured));
    assert.match(oslat.observed, /^\d+ µs \(min \d+, avg [\d.]+\)$/);
  });

  it("report a run that fails mid-way with the script's stderr", async () => {
    const results = allResults(await verifyGuest(run, { ...guest, housekeepingVcpus: "0-" }, stages(20, 20)));
    assert.equal(results.length, 1);
    assert.match(results[0].observed, /exit 2: "guest-latency.sh: 0- is not a CPU list"/);
  });
});

describe("refresh reads only what stays the same", () => {
  it("host: no interrupt snapshot, no latency stage, and the same results twice", async () => {
    const allStages = {
      hwlatdetect: { ...noStages.hwlatdetect, enabled: true },
      cyclictest: { ...noStages.cyclictest, enabled: true },
      oslat: { ...noStages.oslat, enabled: true },
    };
    const opts = { latency: allStages, observeOnly: true };
    const first = await verifyHost(run, host, opts);
    const second = await verifyHost(run, host, opts);
    assert.deepEqual(first.measured, []);
    assert.ok(
      !first.observed.some((x) => /hwlatdetect|cyclictest|oslat|stage|IRQ/.test(x.check)),
      formatReport(first.observed),
    );
    assert.deepEqual(second, first);
  });

  it("guest: its RT setup without cyclictest", async () => {
    const guest = { realtimeVcpus: "1", housekeepingVcpus: "0", tunedIsolatedCores: "1", kernelArgs: [] };
    const started = Date.now();
    const v = await observeGuest(run, guest);
    assert.deepEqual(
      v.observed.map((x) => x.check),
      ["RT kernel", "guest TuneD profile", "guest isolated_cores"],
    );
    assert.deepEqual(v.measured, []);
    assert.ok(Date.now() - started < 5_000, "measured nothing");
  });
});

describe("waiting for a guest to be ready", () => {
  const guest = { realtimeVcpus: "1", housekeepingVcpus: "0", tunedIsolatedCores: "1", kernelArgs: [] };
  const clock = () => {
    let t = 0;
    return { now: () => t, sleep: (ms: number) => ((t += ms), Promise.resolve()) };
  };

  it("this machine is not ready (no RT kernel): waits, tells each new state once, and fails at the bound", async () => {
    const said: string[] = [];
    await assert.rejects(
      waitForGuest(run, guest, {
        name: "rt-server",
        timeoutMs: 30_000,
        intervalMs: 10_000,
        ...clock(),
        progress: (m) => said.push(m),
      }),
      /rt-server was not ready within 30 s \(latency\.guest\.readyTimeoutSeconds\): /,
    );
    assert.equal(new Set(said.map((m) => m.replace(/ \(\d+ s\)$/, ""))).size, said.length, said.join("\n"));
    assert.ok(said.length >= 1);
  });

  it("a wrong host key ends the wait at once", async () => {
    const other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJmLMDzsXv6Fx8Sw0Lue6LH45zNKPzEe5Sehxmp2dyp6";
    const wrong = sshRunner({ ...target, hostKey: other }, { privateKey: sshd.userKey }, allScriptTexts());
    const r = await guestReadiness(wrong, guest);
    assert.deepEqual({ ready: r.ready, final: !r.ready && r.final }, { ready: false, final: true });
    await assert.rejects(
      waitForGuest(wrong, guest, {
        name: "rt-server",
        timeoutMs: 600_000,
        intervalMs: 10_000,
        ...clock(),
        progress: () => {},
      }),
      /rt-server is not ready: .*does not match the pinned hostKey/,
    );
  });

  it("a failed cloud-init is final; done with an RT kernel is ready", async () => {
    const answer =
      (status: string, kernel: string): RunScript =>
      () =>
        Promise.resolve({
          code: 0,
          signal: null,
          stderr: "",
          stdout: `=== uname-v ===\n${kernel}\n=== cloud-init ===\nstatus: ${status}\n=== end ===\n`,
        });
    const rt = "#1 SMP PREEMPT_RT Debian 6.1.158-1 (2025-11-20)";
    const failed = await guestReadiness(answer("error", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.158-1"), guest);
    assert.ok(!failed.ready && failed.final && /cloud-init failed \(status: error\)/.test(failed.state));
    const rebooting = await guestReadiness(answer("done", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.158-1"), guest);
    assert.ok(
      !rebooting.ready && !rebooting.final && /waiting for its reboot into the RT kernel/.test(rebooting.state),
    );
    const running = await guestReadiness(answer("running", rt), guest);
    assert.ok(!running.ready && !running.final);
    assert.deepEqual(await guestReadiness(answer("done", rt), guest), { ready: true });
  });
});
