/**
 * End to end: a Debian 12 VM with 2 NUMA nodes, prepared by the project's own host-prep
 * steps over SSH, rebooted by its reboot step into the RT kernel, checked with the host checks,
 * prepared again (nothing changes, no reboot), shut down. The faults ride on the same VM, since
 * every boot and every RT kernel install costs minutes under emulation:
 *   - a step that fails mid-way: the mirror (the harness's proxy) lacks the RT kernel's package,
 *     so the packages step fails after `apt-get update`, with a clear error; the re-run of the
 *     whole step list (what `pulumi up` does next) finishes the job;
 *   - the nova-compute step's SSH connection cut right after nova.conf is replaced: a cut
 *     connection alone does not stop the run, it restarts nova-compute itself; a cut that kills the
 *     run too leaves the restart pending, the host check fails naming it, and the next run of the
 *     steps restarts nova-compute first, after which the check passes;
 *   - a host that never reboots, and a host that does not come back (the VM powered off): the
 *     reboot waiter fails with a clear error within a short timeout.
 *
 *   npm run test:e2e          (root; builds the image on the first run: see test/e2e/image.ts)
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { formatReport, summarize } from "../../lib/checks/result";
import type { CheckResult } from "../../lib/checks/result";
import { bashStdinCommand } from "../../lib/transport/shell";
import { runSsh } from "../../lib/transport/ssh";
import { argToDrop, dropBootArgScript, restoreBootEntryScript } from "../support/boot-entry-fault";
import type { Props } from "../support/provider-host";
import type { Env, NovaComputeState, PrepResult, StepOutcome } from "./harness";
import { RT_KERNEL_IMAGE_DEB } from "./mirror-proxy";
import {
  Phases,
  StepFailed,
  checkHost,
  currentBootId,
  cutNovaComputeStep,
  kernelStarts,
  novaComputeState,
  prepareHost,
  refreshHostCheck,
  say,
  seconds,
  startEnv,
  stopEnv,
  waitForReboot,
} from "./harness";

const MIN = 60_000;
const phases = new Phases();
let env: Env | undefined;
const runs: { name: string; outcomes: StepOutcome[] }[] = [];
let checks: CheckResult[] = [];
/** The passing host check's inputs and state, for the refreshes of later steps. */
let passedCheck: { inputs: Props; state: Props } | undefined;
let shutdown = "";
/** The nova-compute cut's figures, for the summary. */
const cutRows: string[] = [];

function need(): Env {
  if (!env) throw new Error("no VM: the environment did not start");
  return env;
}

/** The RT kernel's image package, not the metapackage linux-image-rt-amd64: the mirror "lost" it. */
const MISSING = RT_KERNEL_IMAGE_DEB;

function summaryText(e: Env): string {
  const out = [
    "",
    "==================== e2e summary ====================",
    `accelerator: ${e.accel.kind === "kvm" ? "KVM" : `TCG (${e.accel.note})`}`,
    `image: ${e.image.dir}${e.image.cached ? " (cached)" : ""}`,
    "phases (wall time):",
    ...phases.rows.map((p) => `  ${p.name.padEnd(36)} ${seconds(p.ms).padStart(12)}${p.note ? `  ${p.note}` : ""}`),
    `  ${"total".padEnd(36)} ${seconds(phases.rows.reduce((a, p) => a + p.ms, 0)).padStart(12)}`,
    "host-prep runs:",
    ...runs.map(
      (r) => `  ${r.name.padEnd(36)} ${r.outcomes.map((o) => `${o.id}=${o.status}(${seconds(o.ms)})`).join(" ")}`,
    ),
    `reboots: ${e.bootIds.length - 1} (boot ids ${e.bootIds.map((b) => b.slice(0, 8)).join(" -> ")}; kernel starts on the serial console: ${kernelStarts(e)})`,
    "nova-compute step cut right after nova.conf was replaced:",
    ...(cutRows.length ? cutRows.map((r) => `  ${r}`) : ["  not run"]),
    `host checks: ${checks.length ? `${summarize(checks).passed}/${checks.length} passed` : "not run"}`,
    `mirror proxy: ${e.proxy.stats.requests} requests, ${e.proxy.stats.cacheHits} from the .deb cache, ${(e.proxy.stats.bytesFromMirror / 1e6).toFixed(1)} MB from the mirror, ` +
      `${e.proxy.stats.faulted.length} refused by the injected fault, ${e.proxy.stats.refused.length} refused as not the mirror`,
    `shutdown: ${shutdown || "not reached"}`,
    `serial console: ${e.vm.serialLog}`,
    "=====================================================",
  ];
  return out.join("\n");
}

describe("e2e: a Debian 12 VM prepared by the project's host-prep steps", () => {
  before(
    async () => {
      env = await startEnv(phases);
    },
    { timeout: 120 * MIN },
  );

  after(async () => {
    if (!env) return;
    if (env.vm.running()) shutdown = await stopEnv(env).catch((e: Error) => `failed: ${e.message}`);
    else await env.proxy.close();
    await env.engine.host.stop();
    process.stdout.write(`${summaryText(env)}\n`);
  });

  it(
    "a step that fails mid-way stops the run with a clear error (the mirror lacks the RT kernel package)",
    { timeout: 60 * MIN },
    async () => {
      const e = need();
      e.proxy.missing = MISSING;
      let failure: unknown;
      try {
        await phases.time("prep 1 (fault: mirror lacks a package)", () => prepareHost(e));
      } catch (err) {
        failure = err;
      } finally {
        e.proxy.missing = null;
      }
      assert.ok(failure instanceof StepFailed, `expected the packages step to fail, got ${String(failure)}`);
      const o = failure.outcome;
      runs.push({ name: "prep 1 (mirror lacks a package)", outcomes: failure.outcomes });
      say(`as expected: ${failure.message}`);
      assert.equal(o.id, "packages", "the packages step is the one that needs the mirror");
      assert.equal(o.code, 1);
      assert.match(o.stdout, /^missing: .*linux-image-rt-amd64/m);
      assert.match(
        o.stderr,
        /packages\.sh: error: 'env DEBIAN_FRONTEND=noninteractive apt-get install -y [^']*linux-image-rt-amd64[^']*' failed with exit status 100/,
      );
      assert.match(o.stderr, /404\s+Not Found/, "apt's own reason is in the step's output");
      assert.ok(
        e.proxy.stats.faulted.some((p) => MISSING.test(p)),
        "the proxy refused the RT kernel's package",
      );
      // Nothing was left half-done: no RT kernel, no reboot.
      const r = await runSsh(
        e.target,
        e.auth,
        "dpkg-query -W -f='${db:Status-Abbrev}' 'linux-image-*-rt-amd64' 2>/dev/null | grep -c '^.i' || true",
      );
      assert.equal(r.stdout.trim(), "0", "no RT kernel package is installed");
      assert.equal(await currentBootId(e), e.bootIds[0], "the host did not reboot");
    },
  );

  let prep: PrepResult | undefined;
  it(
    "the re-run finishes the job: every step in plan order, one reboot into the new boot",
    { timeout: 120 * MIN },
    async () => {
      const e = need();
      prep = await phases.time(
        "prep 2 (re-run, reboot included)",
        () => prepareHost(e),
        (r) => `reboot wait ${seconds(r.reboot.waitedMs)}`,
      );
      runs.push({ name: "prep 2 (re-run)", outcomes: prep.outcomes });
      assert.deepEqual(
        prep.outcomes.map((o) => o.id),
        e.steps.map((s) => s.id),
        "the plan's steps, in its order",
      );
      const status = Object.fromEntries(prep.outcomes.map((o) => [o.id, o.status]));
      assert.deepEqual(status, {
        facts: "unchanged",
        packages: "changed",
        tuned: "changed",
        "kernel-args": "changed",
        "nova-compute": "changed",
        reboot: "changed",
      });
      assert.ok(prep.reboot.scheduled, "reboot.sh scheduled the reboot");
      assert.equal(prep.reboot.previousBootId, e.bootIds[0]);
      assert.notEqual(prep.reboot.bootId, prep.reboot.previousBootId, "the waiter saw a new boot id");
      assert.equal(e.bootIds.length, 2);
    },
  );

  it(
    "host checks pass: RT kernel, TuneD realtime-virtual-host, planned kernel args, isolated CPUs, 1 GiB and 2 MiB pages per node, the 2 MiB hugetlbfs mount, nova.conf CPU sets",
    { timeout: 30 * MIN },
    async () => {
      const e = need();
      const done = await phases.time(
        "host checks",
        () => checkHost(e),
        (r) => `${summarize(r.results).passed}/${r.results.length} passed`,
      );
      checks = done.results;
      passedCheck = done;
      process.stdout.write(`${formatReport(checks)}\n`);
      const names = checks.map((c) => c.check);
      const wanted = [
        "RT kernel",
        "TuneD profile",
        "TuneD verify",
        "cmdline default_hugepagesz",
        "cmdline hugepagesz 1G",
        "cmdline hugepages 1G",
        "cmdline hugepagesz 2M",
        "cmdline hugepages 2M",
        "cmdline isolcpus",
        "cmdline nohz_full",
        "cmdline processor.max_cstate",
        "cmdline intel_idle.max_cstate",
        "cmdline intel_pstate",
        "cpuidle",
        "cpufreq governor",
        "intel_pstate",
        "Nova cpu_power_management",
        "sysfs isolated",
        "1G pages node 0",
        "1G pages node 1",
        "2M pages node 0",
        "2M pages node 1",
        "hugetlbfs 2M",
        "nova cpu_dedicated_set",
        "boot entry arguments",
        "boot entry kernel",
      ];
      for (const want of wanted) assert.ok(names.includes(want), `a "${want}" check among ${names.join(", ")}`);
      assert.ok(summarize(checks).ok, `every host check passes:\n${formatReport(checks)}`);

      // pulumi refresh, twice: the same state both times, and no latency tool or counter snapshot runs.
      const first = await phases.time("refresh 1", () => refreshHostCheck(e, done.inputs, done.state));
      const second = await phases.time("refresh 2", () => refreshHostCheck(e, done.inputs, first));
      assert.deepEqual(second, first, "two refreshes of an unchanged host give identical state");
      assert.deepEqual(first.observed, done.state.observed, "the refresh re-read what the deployment saw");
      assert.deepEqual(first.measured, done.state.measured, "what was measured is kept, not measured again");
    },
  );

  it(
    "fault: an argument dropped from the default boot entry (as a kernel update can leave it) fails the boot entry check naming it, before any reboot; restored, it passes",
    { timeout: 20 * MIN },
    async () => {
      const e = need();
      const arg = argToDrop(e.plan.kernel.args);
      const key = arg.split("=")[0];
      const run = async (script: string) => {
        const r = await runSsh(e.target, e.auth, bashStdinCommand([]), { stdin: script });
        assert.equal(r.code, 0, r.stderr);
      };
      await run(dropBootArgScript(arg));
      let failed = "";
      let refreshed: Props | undefined;
      try {
        // `pulumi refresh` re-reads observed facts only: it sees the edited entry too.
        assert.ok(passedCheck, "the host checks passed before");
        refreshed = await phases.time("refresh, boot entry edited", () =>
          refreshHostCheck(e, passedCheck!.inputs, passedCheck!.state),
        );
        await phases.time("host checks, boot entry edited (fail)", () =>
          assert.rejects(checkHost(e), (err: Error) => {
            failed = err.message;
            return true;
          }),
        );
      } finally {
        await run(restoreBootEntryScript());
      }
      say(`as expected, the host check fails:\n${failed}`);
      const quoted = arg.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      assert.match(
        failed,
        new RegExp(`^FAIL +boot entry arguments +.*grub\\.cfg's default entry lacks ${quoted} \\(absent\\)$`, "m"),
      );
      assert.match(
        failed,
        new RegExp(`^PASS +cmdline ${key.replace(/\./g, "\\.")} `, "m"),
        "the running kernel still has it: only the next boot would lose it",
      );
      assert.match(failed, /, 1 failed - NOT OK$/m, "that check alone fails");
      const seen = (refreshed?.observed as CheckResult[]).find((c) => c.check === "boot entry arguments");
      assert.equal(seen?.ok, false, "the refresh saw the lost argument");
      const passed = await phases.time(
        "host checks, boot entry restored",
        () => checkHost(e),
        (r) => `${summarize(r.results).passed}/${r.results.length} passed`,
      );
      assert.ok(summarize(passed.results).ok, formatReport(passed.results));
      assert.equal(await currentBootId(e), e.bootIds[1], "no reboot");
    },
  );

  it("a second run changes nothing: every step unchanged, no reboot", { timeout: 60 * MIN }, async () => {
    const e = need();
    const again = await phases.time("prep 3 (again: idempotent)", () => prepareHost(e));
    runs.push({ name: "prep 3 (again)", outcomes: again.outcomes });
    for (const o of again.outcomes) assert.equal(o.status, "unchanged", `step ${o.id} reports unchanged:\n${o.stdout}`);
    assert.equal(again.reboot.scheduled, false);
    // reboot.sh's timer fires 5 s after it is set: wait past that, then the boot id must stand.
    await phases.time("no-reboot watch (20 s)", () => new Promise((r) => setTimeout(r, 20_000)));
    assert.equal(await currentBootId(e), e.bootIds[1], "the host did not reboot");
    assert.equal(e.bootIds.length - 1, 1, "exactly one reboot in the whole run");
    assert.equal(kernelStarts(e), 2, "the serial console shows two kernel starts: the first boot and the one reboot");
  });

  it(
    "fault: the nova-compute step's SSH connection is cut right after nova.conf is replaced; the restart is never lost",
    { timeout: 45 * MIN },
    async () => {
      const e = need();
      const settings = checks.find((c) => c.check === "nova cpu_dedicated_set");
      assert.ok(settings?.ok, "the host checks before the cut passed");
      // The step has a change to make only when nova.conf lacks a planned setting.
      const revert = async () => {
        const r = await runSsh(e.target, e.auth, "sed -i '/^cpu_dedicated_set[[:space:]]*=/d' /etc/nova/nova.conf");
        assert.equal(r.code, 0, r.stderr);
        assert.equal((await novaComputeState(e)).dedicatedLine, "", "nova.conf lost its cpu_dedicated_set");
      };
      const planned = `cpu_dedicated_set = ${e.plan.nova.cpuDedicatedSet}`;
      const restarted = (before: NovaComputeState, after: NovaComputeState) =>
        after.invocation !== before.invocation && after.state === "active";

      // 1. The connection alone: the run goes on to the restart, its output to a closed pipe.
      await revert();
      const s0 = await novaComputeState(e);
      const dropped = await phases.time("cut: connection only", () => cutNovaComputeStep(e, false));
      const s1 = await novaComputeState(e);
      assert.equal(s1.dedicatedLine, planned);
      assert.ok(restarted(s0, s1), `the cut run restarted nova-compute itself: ${JSON.stringify({ s0, s1 })}`);
      assert.equal(s1.pending, "", "and cleared its pending restart");
      cutRows.push(
        `connection only: nova.conf replaced ${seconds(dropped.replacedMs)} into the step; the run went on and ` +
          `restarted nova-compute (${s0.activeSince} -> ${s1.activeSince}), its end ${seconds(dropped.endedMs)} after the cut`,
      );

      // 2. The connection and the run: the restart is pending, the host check fails naming it.
      await revert();
      const killed = await phases.time("cut: connection and run", () => cutNovaComputeStep(e, true));
      const s2 = await novaComputeState(e);
      assert.equal(s2.dedicatedLine, planned, "the cut came after nova.conf was replaced");
      assert.equal(s2.invocation, s1.invocation, "nova-compute was not restarted");
      assert.match(s2.pending, /^systemctl restart nova-compute(\.service)?$/, "the restart is recorded as pending");
      let failed = "";
      await phases.time("host checks after the cut (fail)", () =>
        assert.rejects(checkHost(e), (err: Error) => {
          failed = err.message;
          return true;
        }),
      );
      say(`as expected, the host check fails:\n${failed}`);
      assert.match(
        failed,
        /^FAIL +nova-compute runs nova\.conf +.*before its settings in nova\.conf changed .*: it runs the settings from before that change$/m,
      );
      assert.match(
        failed,
        /^PASS +nova cpu_dedicated_set /m,
        "the file alone says planned: only the new check sees it",
      );
      assert.match(failed, /, 1 failed - NOT OK$/m, "that check alone fails");

      // 3. The next `pulumi up`: the nova-compute step restarts nova-compute first; nothing else changes.
      const resumed = await phases.time("prep 4 (after the cut)", () => prepareHost(e));
      runs.push({ name: "prep 4 (after the cut)", outcomes: resumed.outcomes });
      const status = Object.fromEntries(resumed.outcomes.map((o) => [o.id, o.status]));
      assert.deepEqual(status, {
        facts: "unchanged",
        packages: "unchanged",
        tuned: "unchanged",
        "kernel-args": "unchanged",
        "nova-compute": "changed",
        reboot: "unchanged",
      });
      const nova = resumed.outcomes.find((o) => o.id === "nova-compute")!;
      assert.match(
        nova.stdout,
        /^a previous run changed files and ended before running: systemctl restart nova-compute(\.service)?$/m,
      );
      assert.equal(resumed.reboot.scheduled, false);
      const s3 = await novaComputeState(e);
      assert.ok(restarted(s2, s3), `the re-run restarted nova-compute: ${JSON.stringify({ s2, s3 })}`);
      assert.equal(s3.pending, "", "the pending restart is gone");

      const passed = await phases.time(
        "host checks after the re-run",
        () => checkHost(e),
        (r) => `${summarize(r.results).passed}/${r.results.length} passed`,
      );
      assert.ok(summarize(passed.results).ok, formatReport(passed.results));
      assert.ok(passed.results.find((c) => c.check === "nova-compute runs nova.conf")?.ok);
      assert.equal(await currentBootId(e), e.bootIds[1], "no reboot for a nova.conf change");
      cutRows.push(
        `connection and run: nova.conf replaced ${seconds(killed.replacedMs)} into the step; restart pending ` +
          `(${s2.pending}); host check: 1 failed (nova-compute runs nova.conf); the re-run restarted nova-compute ` +
          `in its step (${seconds(nova.ms)}; ${s2.activeSince} -> ${s3.activeSince}); host check: ` +
          `${summarize(passed.results).passed}/${passed.results.length} passed`,
      );
    },
  );

  it("fault: a host that never reboots fails the wait with a clear error", { timeout: 10 * MIN }, async () => {
    const e = need();
    const booted = await currentBootId(e);
    await phases.time("waiter fault: never reboots (10 s)", () =>
      assert.rejects(waitForReboot(e, booted, true, 10), (err: Error) => {
        assert.match(
          err.message,
          new RegExp(
            `^${e.plan.name} \\(root@127\\.0\\.0\\.1:${e.vm.port}\\) did not reboot: 10 s after reboot\\.sh scheduled it, the host still runs boot ${booted}`,
          ),
        );
        say(`as expected: ${err.message}`);
        return true;
      }),
    );
  });

  it(
    "shuts down cleanly; fault: a host that does not come back fails the wait with a clear error",
    { timeout: 15 * MIN },
    async () => {
      const e = need();
      const last = e.bootIds.at(-1)!;
      shutdown = await phases.time("shutdown", () => stopEnv(e));
      assert.equal(shutdown, "clean", "the guest powered off and qemu exited");
      await phases.time("waiter fault: host gone (15 s)", () =>
        assert.rejects(waitForReboot(e, last, true, 15), (err: Error) => {
          assert.match(
            err.message,
            new RegExp(
              `^${e.plan.name} \\(root@127\\.0\\.0\\.1:${e.vm.port}\\) did not come back within 15 s of the reboot`,
            ),
          );
          assert.match(err.message, /cannot connect \(ECONNREFUSED\)/, "the last attempt's reason is named");
          say(`as expected: ${err.message}`);
          return true;
        }),
      );
      assert.deepEqual(e.proxy.stats.refused, [], "the VM asked the proxy for nothing but the mirror");
    },
  );
});
