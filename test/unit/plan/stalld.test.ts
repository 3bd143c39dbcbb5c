/**
 * stalld and RT throttling in the plan (lib/plan/stalld.ts): the decision per family and
 * profile, the refusal of stalld: true where the family ships no stalld, the steps' arguments,
 * and the plan text and --diff that show it.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { hostSteps } from "../../../lib/desired/host-steps";
import type { HostPlan } from "../../../lib/plan/host";
import { planStack } from "../../../lib/plan/stack";
import { diffPlans, formatPlanDiff } from "../../../lib/render/plan-diff";
import { renderPlan } from "../../../lib/render/plan-text";
import { devRaw } from "../../support/dev-config";

type Raw = ReturnType<typeof devRaw>;

function planned(edit: (raw: Raw) => void = () => {}) {
  const raw = devRaw();
  edit(raw);
  return planStack(raw);
}
function ok(edit?: (raw: Raw) => void) {
  const r = planned(edit);
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  return r;
}
const index = (raw: Raw, os: string) => raw.hosts.findIndex((h) => h.os === os);
const host = (plan: { hosts: HostPlan[] }, os: string) => plan.hosts.find((h) => h.os === os)!;

describe("stalld and RT throttling", () => {
  it("by default: stalld on the RHEL 9 RT host's isolated CPUs with throttling off; throttling kept on Debian", () => {
    const { plan } = ok();
    assert.deepEqual(host(plan, "rhel-9").stalld, {
      enabled: true,
      cpus: "4-11",
      schedRtRuntimeUs: -1,
      reason: "rhel-9 packages stalld",
    });
    assert.deepEqual(host(plan, "debian-12").stalld, {
      enabled: false,
      cpus: null,
      schedRtRuntimeUs: 950000,
      reason: "debian-12 does not package stalld",
    });
  });

  it("stalld: false and cpu-partitioning keep throttling on a RHEL host; stalld: true turns stalld on there", () => {
    const off = ok((raw) => (raw.hosts[index(raw, "rhel-9")].stalld = false)).plan;
    assert.deepEqual(host(off, "rhel-9").stalld, {
      enabled: false,
      cpus: null,
      schedRtRuntimeUs: 950000,
      reason: "stalld: false",
    });
    const pinned = ok((raw) => (raw.hosts[index(raw, "rhel-9")].tunedProfile = "cpu-partitioning")).plan;
    assert.equal(host(pinned, "rhel-9").stalld.reason, "cpu-partitioning keeps throttling");
    assert.equal(host(pinned, "rhel-9").stalld.schedRtRuntimeUs, 950000);
    const asked = ok((raw) => {
      const i = index(raw, "rhel-9");
      raw.hosts[i].tunedProfile = "cpu-partitioning";
      raw.hosts[i].stalld = true;
    }).plan;
    assert.deepEqual(host(asked, "rhel-9").stalld, {
      enabled: true,
      cpus: "4-11",
      schedRtRuntimeUs: -1,
      reason: "stalld: true",
    });
  });

  for (const os of ["debian-12", "ubuntu-22.04", "ubuntu-24.04"])
    it(`refuses stalld: true on ${os}, naming the setting, the value and the fix`, () => {
      const r = planned((raw) => {
        const i = index(raw, "debian-12");
        raw.hosts[i].os = os;
        raw.hosts[i].stalld = true;
      });
      assert.ok(!r.ok);
      const i = index(devRaw(), "debian-12");
      assert.deepEqual(
        r.problems.filter((p) => p.path.endsWith(".stalld")),
        [
          {
            path: `openstack-rt:hosts[${i}].stalld`,
            message: `got true, but ${os} does not package stalld (only rhel-8 and rhel-9 do); remove the setting: RT throttling then stays on (kernel.sched_rt_runtime_us=950000) as the guard against starved kernel threads`,
          },
        ],
      );
    });

  it("the steps: packages.sh --stalld and tuned.sh --stalld on only where planned", () => {
    const { config, plan } = ok();
    const args = (os: string, id: string) => {
      const p = host(plan, os);
      return hostSteps(
        p,
        config.hosts.find((h) => h.name === p.name)!,
      ).find((s) => s.id === id)!;
    };
    assert.deepEqual(args("rhel-9", "packages").args, ["--os", "rhel-9", "--stalld"]);
    assert.deepEqual(args("rhel-9", "tuned").args.slice(-2), ["--stalld", "on"]);
    assert.deepEqual(args("debian-12", "packages").args, ["--os", "debian-12"]);
    assert.deepEqual(args("debian-12", "packages").triggers, { os: "debian-12" });
    assert.deepEqual(args("debian-12", "tuned").args.slice(-2), ["--stalld", "off"]);
    assert.deepEqual(args("debian-12", "tuned").triggers, {
      profile: "realtime-virtual-host",
      isolatedCores: "4-11",
      stalld: false,
      schedRtRuntimeUs: 950000,
    });
  });

  it("the plan text says it per host, and --diff shows a change", () => {
    const { plan } = ok();
    const text = renderPlan("dev", plan);
    assert.match(
      text,
      /^ {2}stalld on CPUs 4-11 \(rhel-9 packages stalld\); RT throttling off: kernel\.sched_rt_runtime_us=-1$/m,
    );
    assert.match(
      text,
      /^ {2}no stalld \(debian-12 does not package stalld\); RT throttling on: kernel\.sched_rt_runtime_us=950000$/m,
    );
    const after = ok((raw) => (raw.hosts[index(raw, "rhel-9")].stalld = false)).plan;
    const diff = formatPlanDiff(diffPlans(plan, after), "the dev stack");
    assert.match(diff, /stalld\.enabled: true -> false/);
    assert.match(diff, /stalld\.schedRtRuntimeUs: -1 -> 950000/);
  });
});
