/**
 * The stalld and RT throttling check (lib/checks/host-stalld.ts) on host-facts.sh's stalld and
 * rt-throttling sections, and TuneD verify's excuse of the throttling host prep keeps on purpose.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkHostFacts, checkTuned } from "../../../lib/checks/host";
import { checkStalld, parseStalld } from "../../../lib/checks/host-stalld";
import type { CheckResult } from "../../../lib/checks/result";
import { devHostPlans } from "../../support/dev-config";
import { rtHostSections } from "../../support/rt-host-facts";

const { debian, rhel } = devHostPlans();
/** As host-facts.sh prints a running stalld started by RHEL's unit from the file tuned.sh wrote. */
const RUNNING = [
  "active=active",
  "cmdline=/usr/bin/stalld --systemd -c 4-11 -p 1000000000 -r 20000 -d 3 -t 60 --foreground --pidfile /run/stalld.pid ",
].join("\n");
const byName = (results: CheckResult[], name: string) => results.find((r) => r.check === name)!;

describe("stalld check", () => {
  it("reads the unit state and the CPU list of the running daemon", () => {
    assert.deepEqual(parseStalld(RUNNING), {
      collected: true,
      installed: true,
      active: "active",
      cpus: "4-11",
      running: true,
    });
    assert.deepEqual(parseStalld("<absent>"), {
      collected: true,
      installed: false,
      active: null,
      cpus: null,
      running: false,
    });
    assert.equal(parseStalld("active=active\ncmdline=/usr/bin/stalld --cpu=4,5-11").cpus, "4,5-11");
  });

  it("passes on the RHEL host with stalld on the isolated CPUs and throttling off", () => {
    const results = checkStalld(RUNNING, "-1", rhel);
    assert.deepEqual(
      results.map((r) => [r.check, r.ok, r.observed]),
      [
        ["stalld", true, "active, watching CPUs 4-11"],
        ["RT throttling", true, "-1"],
      ],
    );
  });

  it("fails a stalld that watches every CPU, another list, or does not run, with the fix", () => {
    const all = byName(
      checkStalld("active=active\ncmdline=/usr/bin/stalld --systemd -p 1000000000", "-1", rhel),
      "stalld",
    );
    assert.equal(all.ok, false);
    assert.equal(all.observed, "active, watching every CPU (no -c)");
    assert.equal(
      all.hint,
      'set CLIST="-c 4-11" in /etc/sysconfig/stalld and run `systemctl enable stalld && systemctl restart stalld` (host prep\'s tuned step does both)',
    );
    const other = byName(checkStalld(RUNNING.replace("-c 4-11", "-c 2-3"), "-1", rhel), "stalld");
    assert.equal(other.ok, false);
    assert.equal(other.observed, "active, watching CPUs 2-3");
    const stopped = byName(checkStalld("active=inactive", "-1", rhel), "stalld");
    assert.equal(stopped.ok, false);
    assert.equal(stopped.observed, "inactive");
    const missing = byName(checkStalld("<absent>", "-1", rhel), "stalld");
    assert.equal(missing.observed, "not installed");
    assert.match(missing.hint, /packages\.sh --stalld/);
  });

  it("on Debian: passes with no stalld and throttling at 950000, fails at the profile's -1 with the fix", () => {
    assert.ok(checkStalld("<absent>", "950000", debian).every((r) => r.ok));
    const throttling = byName(checkStalld("<absent>", "-1", debian), "RT throttling");
    assert.equal(throttling.ok, false);
    assert.equal(throttling.expected, "kernel.sched_rt_runtime_us=950000");
    assert.match(throttling.hint, /90-openstack-rt-rt-throttling\.conf/);
    const running = byName(checkStalld(RUNNING, "950000", debian), "stalld");
    assert.equal(running.ok, false);
    assert.match(running.hint, /systemctl disable --now stalld/);
  });

  it("an empty or garbage section fails, never passes", () => {
    const results = checkStalld("", "", debian);
    assert.deepEqual(
      results.map((r) => r.ok),
      [false, false],
    );
    const garbage = checkStalld("\u0000<html>", "\u001b[2J", rhel);
    assert.ok(garbage.every((r) => !r.ok && !r.observed.includes("\u001b")));
  });

  it("is one of the host checks, and passes on the recorded RT host", () => {
    const results = checkHostFacts(rtHostSections(), debian, "observed");
    assert.deepEqual(
      results.filter((r) => r.check === "stalld" || r.check === "RT throttling").map((r) => r.ok),
      [true, true],
    );
  });
});

describe("TuneD verify and the kept throttling", () => {
  const log = [
    "Verification failed, current system settings differ from the preset profile.",
    "2026-12-05 07:00:00,001 ERROR    tuned.plugins.base: verify: failed: 'kernel.sched_rt_runtime_us' = '950000', expected '-1'",
  ].join("\n");
  const active = "Current active profile: realtime-virtual-host";
  const verify = (own: Map<string, string>) =>
    checkTuned(active, { exitCode: 1, output: log }, "realtime-virtual-host", own).find(
      (r) => r.check === "TuneD verify",
    )!;

  it("excuses exactly the planned value, not another one or a plan without the override", () => {
    assert.equal(verify(new Map([["kernel.sched_rt_runtime_us", "950000"]])).ok, true);
    assert.equal(verify(new Map([["kernel.sched_rt_runtime_us", "900000"]])).ok, false);
    assert.equal(verify(new Map()).ok, false);
  });

  it("the host check gives the override only to hosts without stalld", () => {
    const sections = { ...rtHostSections(), "tuned-verify": `exit=1\n${log}` };
    const tuned = (plan: typeof debian) =>
      checkHostFacts(sections, plan, "observed").find((r) => r.check === "TuneD verify")!.ok;
    assert.equal(tuned(debian), true);
    assert.equal(tuned({ ...debian, stalld: rhel.stalld }), false);
  });
});
