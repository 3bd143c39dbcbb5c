/**
 * The stalld and RT throttling check (lib/checks/host-stalld.ts) on host-facts.sh's stalld and
 * rt-throttling sections: throttling at the plan's value, which without stalld is the profile's;
 * and TuneD verify, which excuses no throttling value.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkHostFacts } from "../../../lib/checks/host";
import { checkStalld, parseStalld } from "../../../lib/checks/host-stalld";
import { stalldPlan } from "../../../lib/plan/stalld";
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

  it("on Debian: passes with no stalld and the realtime profile's -1, fails throttling on with the profile to re-apply", () => {
    assert.ok(checkStalld("<absent>", "-1", debian).every((r) => r.ok));
    const throttling = byName(checkStalld("<absent>", "950000", debian), "RT throttling");
    assert.equal(throttling.ok, false);
    assert.equal(throttling.expected, "kernel.sched_rt_runtime_us=-1");
    assert.equal(
      throttling.hint,
      "TuneD's realtime-virtual-host profile sets -1: check that no file in /etc/sysctl.d sets it, then run `tuned-adm profile realtime-virtual-host`, which applies the profile's value again",
    );
    const running = byName(checkStalld(RUNNING, "-1", debian), "stalld");
    assert.equal(running.ok, false);
    assert.match(running.hint, /systemctl disable --now stalld/);
  });

  it("on cpu-partitioning: the kernel's 950000 without stalld, -1 with stalld: true, each with its own fix", () => {
    const pinned = { ...debian, tuned: { ...debian.tuned, profile: "cpu-partitioning" as const } };
    const plain = { ...pinned, stalld: stalldPlan({ os: "debian-12", tunedProfile: "cpu-partitioning" }, "4-11") };
    assert.ok(checkStalld("<absent>", "950000", plain).every((r) => r.ok));
    const off = byName(checkStalld("<absent>", "-1", plain), "RT throttling");
    assert.equal(off.expected, "kernel.sched_rt_runtime_us=950000");
    assert.match(
      off.hint,
      /^TuneD's cpu-partitioning profile leaves the kernel's 950000: .*`tuned-adm profile cpu-partitioning`/,
    );
    const withStalld = {
      ...pinned,
      stalld: stalldPlan({ os: "rhel-9", tunedProfile: "cpu-partitioning", stalld: true }, "4-11"),
    };
    const on = byName(checkStalld(RUNNING, "950000", withStalld), "RT throttling");
    assert.equal(on.ok, false);
    assert.equal(
      on.hint,
      "stalld's unit sets -1 when it starts: check that no file in /etc/sysctl.d sets it, then run `systemctl restart stalld`",
    );
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

  it("is one of the host checks, and passes on the recorded RT host (TuneD's -1, no stalld)", () => {
    const results = checkHostFacts(rtHostSections(), debian, "observed");
    assert.deepEqual(
      results.filter((r) => r.check === "stalld" || r.check === "RT throttling").map((r) => [r.check, r.ok]),
      [
        ["stalld", true],
        ["RT throttling", true],
      ],
    );
  });
});

describe("TuneD verify and RT throttling", () => {
  const log = [
    "Verification failed, current system settings differ from the preset profile.",
    "2026-12-05 07:00:00,001 ERROR    tuned.plugins.base: verify: failed: 'kernel.sched_rt_runtime_us' = '950000', expected '-1'",
  ].join("\n");

  it("fails throttling switched on under the realtime profile, on a host with stalld or without", () => {
    const sections = { ...rtHostSections(), "tuned-verify": `exit=1\n${log}` };
    const tuned = (plan: typeof debian) =>
      checkHostFacts(sections, plan, "observed").find((r) => r.check === "TuneD verify")!;
    for (const plan of [debian, { ...debian, stalld: rhel.stalld }]) {
      const r = tuned(plan);
      assert.equal(r.ok, false);
      assert.equal(r.observed, `exit 1: "'kernel.sched_rt_runtime_us' = '950000', expected '-1'"`);
    }
  });
});
