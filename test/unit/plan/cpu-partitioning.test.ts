/**
 * Pinned-only hosts without an RT kernel (seed 002's case): `tunedProfile:
 * cpu-partitioning` plans TuneD's cpu-partitioning profile, installs no RT kernel and expects
 * none at reboot; its scripts run on a real Debian 12 root.
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { checkHostFacts, HOST_CHECKS } from "../../../lib/checks/host";
import { hostSectionsRead } from "../../../lib/checks/host-check";
import { stackWarnings } from "../../../lib/config/warnings";
import { hostSteps } from "../../../lib/desired/host-steps";
import { planStack } from "../../../lib/plan/stack";
import type { TestRoot } from "../../support/debian-root";
import { buildDebianRoot, runScript, show, writeDpkgStatus } from "../../support/debian-root";
import { devRaw, devStack } from "../../support/dev-config";

function planned() {
  const raw = devRaw();
  raw.hosts[0].tunedProfile = "cpu-partitioning";
  const r = planStack(raw);
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  return { plan: r.plan.hosts[0], config: r.config.hosts[0], other: r.plan.hosts[1] };
}

describe("tunedProfile: cpu-partitioning", () => {
  let root: TestRoot;
  beforeEach(() => {
    root = buildDebianRoot();
  });
  afterEach(() => root.remove());

  it("plans the profile and its command line, no RT kernel; RT hosts keep their steps", () => {
    const { plan, config, other } = planned();
    assert.equal(plan.tuned.profile, "cpu-partitioning");
    assert.deepEqual(plan.kernel.tunedArgs, ["nohz=on", "nohz_full=4-11", "rcu_nocbs=4-11"]);
    const steps = hostSteps(plan, config);
    const by = (id: string) => steps.find((s) => s.id === id)!;
    assert.deepEqual(by("packages").args, ["--os", "debian-12", "--no-rt-kernel"]);
    assert.deepEqual(by("tuned").args, [
      "--profile",
      "cpu-partitioning",
      "--isolated-cores",
      "4-11",
      "--stalld",
      "off",
    ]);
    assert.deepEqual(by("reboot").args.slice(-2), ["--expect-rt", "no"]);
    assert.equal(other.tuned.profile, "realtime-virtual-host");
  });

  it("packages.sh --no-rt-kernel wants TuneD, tuna and rt-tests only", () => {
    writeDpkgStatus(root, { tuned: "install ok installed" });
    const r = runScript("packages.sh", ["--os", "debian-12", "--no-rt-kernel", "--root", root.dir]);
    assert.equal(r.status, 0, show(r));
    assert.deepEqual(r.tripped, []);
    assert.deepEqual(r.lines.slice(0, 2), ["installed: tuned", "missing: tuna rt-tests"]);
    assert.ok(!r.stdout.includes("linux-image-rt"), show(r));
  });

  it("tuned.sh sets isolated_cores in cpu-partitioning-variables.conf from Debian's tuned package", () => {
    const vars = "/etc/tuned/cpu-partitioning-variables.conf";
    assert.ok(root.exists(vars), "Debian's tuned ships the variables file");
    const first = runScript("tuned.sh", [
      "--profile",
      "cpu-partitioning",
      "--isolated-cores",
      "4-11",
      "--root",
      root.dir,
    ]);
    assert.equal(first.status, 0, show(first));
    assert.deepEqual(first.tripped, []);
    assert.match(root.read(vars), /^isolated_cores=4-11$/m);
    assert.equal(root.read(vars).match(/^isolated_cores=/gm)?.length, 1);
    assert.ok(first.lines.includes(`skipped (--root ${root.dir}): tuned-adm profile cpu-partitioning`), show(first));
    root.write("/etc/tuned/active_profile", "cpu-partitioning\n");
    const second = runScript("tuned.sh", [
      "--profile",
      "cpu-partitioning",
      "--isolated-cores",
      "4-11",
      "--root",
      root.dir,
    ]);
    assert.equal(second.last, "unchanged", show(second));
  });

  it("the host check does not ask for PREEMPT_RT or isolcpus there, and checks the rest", () => {
    const { plan, other } = planned();
    const empty = {
      ...Object.fromEntries(hostSectionsRead(HOST_CHECKS).map((name) => [name, ""])),
      "uname-v": "#1 SMP PREEMPT_DYNAMIC Debian 6.1.0",
    };
    const names = (p: typeof plan) => checkHostFacts(empty, p, "observed").map((r) => r.check);
    const rt = names(other);
    const pinned = names(plan);
    const dropped = rt.filter((n) => !pinned.includes(n));
    assert.equal(dropped.length, 2, `dropped: ${dropped.join(", ")}`);
    assert.ok(
      dropped.some((n) => /kernel/i.test(n)),
      dropped.join(", "),
    );
    assert.ok(
      pinned.some((n) => /nohz_full/.test(n)),
      pinned.join(", "),
    );
  });
});

describe("realtime flavors and pinned-only hosts", () => {
  it("warns that Nova may place each realtime flavor on the cpu-partitioning host, and says how to avoid it", () => {
    const raw = devRaw();
    raw.hosts[0].tunedProfile = "cpu-partitioning";
    const r = planStack(raw);
    assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
    const w = stackWarnings(r.config).warnings.filter((x) => x.path.startsWith("openstack-rt:flavors"));
    assert.deepEqual(
      w.map((x) => x.path),
      ["openstack-rt:flavors[0].realtime"],
      "rt1.small only: pin1.medium is realtime: false",
    );
    assert.match(
      w[0].message,
      /flavor "rt1.small" is realtime, and Nova may place it on compute-rt-01 \(tunedProfile cpu-partitioning/,
    );
    assert.match(w[0].message, /Give its servers host: with a realtime-virtual-host host/);
    const rtOnly = devStack();
    assert.deepEqual(
      stackWarnings(rtOnly.config).warnings.filter((x) => x.path.startsWith("openstack-rt:flavors")),
      [],
    );
  });

  it("refuses a realtime server pinned to the cpu-partitioning host, naming the RT host to use", () => {
    const raw = devRaw();
    raw.hosts[0].tunedProfile = "cpu-partitioning";
    raw.servers[0].host = "compute-rt-01";
    const r = planStack(raw);
    assert.ok(!r.ok);
    assert.deepEqual(
      r.problems.map((p) => p.path),
      ["openstack-rt:servers[0].host"],
    );
    assert.match(
      r.problems[0].message,
      /flavor "rt1.small" is realtime: .* pin it to compute-rt-02, or use a flavor with realtime: false/,
    );
    raw.servers[0].host = "compute-rt-02";
    assert.ok(planStack(raw).ok);
  });
});
