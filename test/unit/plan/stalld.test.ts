/**
 * stalld and RT throttling in the plan (lib/plan/stalld.ts): the decision per family and
 * profile (throttling as the profile leaves it without stalld), the refusal of stalld: true where
 * the family ships no stalld, the steps' arguments, and the plan text (with its line for RT hosts
 * without stalld), Markdown and --diff that show it.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { hostSteps } from "../../../lib/desired/host-steps";
import type { HostPlan } from "../../../lib/plan/host";
import { planWarnings } from "../../../lib/plan/rt-warnings";
import { withoutStalldLine } from "../../../lib/plan/stalld";
import { planStack } from "../../../lib/plan/stack";
import { diffPlans, formatPlanDiff } from "../../../lib/render/plan-diff";
import { renderPlanMarkdown, text as markdownText } from "../../../lib/render/plan-markdown";
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
  it("by default: stalld on the RHEL 9 RT host's isolated CPUs; RT throttling off (-1) on both RT hosts, stalld or not", () => {
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
      schedRtRuntimeUs: -1,
      reason: "debian-12 does not package stalld",
    });
  });

  it("without stalld the profile's value: -1 under realtime-virtual-host, the kernel's 950000 under cpu-partitioning", () => {
    const off = ok((raw) => (raw.hosts[index(raw, "rhel-9")].stalld = false)).plan;
    assert.deepEqual(host(off, "rhel-9").stalld, {
      enabled: false,
      cpus: null,
      schedRtRuntimeUs: -1,
      reason: "stalld: false",
    });
    const pinned = ok((raw) => (raw.hosts[index(raw, "rhel-9")].tunedProfile = "cpu-partitioning")).plan;
    assert.equal(host(pinned, "rhel-9").stalld.reason, "cpu-partitioning runs no RT vCPUs");
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
            message: `got true, but ${os} does not package stalld (only rhel-8 and rhel-9 do); remove the setting: kworkers, ksoftirqd and rcuc on an isolated CPU can then starve behind a busy RT vCPU, with nothing to boost them (this family's TuneD sets no thread priorities: its scheduler plugin needs the perf Python module, not packaged here)`,
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
      /^ {2}no stalld \(debian-12 does not package stalld\); RT throttling off: kernel\.sched_rt_runtime_us=-1 \(TuneD's realtime profile\)$/m,
    );
    const pinned = ok((raw) => (raw.hosts[index(raw, "rhel-9")].tunedProfile = "cpu-partitioning")).plan;
    assert.match(
      renderPlan("dev", pinned),
      /^ {2}no stalld \(cpu-partitioning runs no RT vCPUs\); RT throttling on: kernel\.sched_rt_runtime_us=950000 \(the kernel's default\)$/m,
    );
    const after = ok((raw) => (raw.hosts[index(raw, "rhel-9")].stalld = false)).plan;
    const diff = formatPlanDiff(diffPlans(plan, after), "the dev stack");
    assert.match(diff, /stalld\.enabled: true -> false/);
    assert.doesNotMatch(diff, /schedRtRuntimeUs/, "the profile's -1 either way");
    const diffPinned = formatPlanDiff(diffPlans(plan, pinned), "the dev stack");
    assert.match(diffPinned, /stalld\.schedRtRuntimeUs: -1 -> 950000/);
  });

  it("refuses stalld: true on a Debian cpu-partitioning host with what its throttling then means", () => {
    const r = planned((raw) => {
      const i = index(raw, "debian-12");
      raw.hosts[i].tunedProfile = "cpu-partitioning";
      raw.hosts[i].stalld = true;
    });
    assert.ok(!r.ok);
    assert.match(
      r.problems.find((p) => p.path.endsWith(".stalld"))!.message,
      /remove the setting: a kworker \(SCHED_OTHER\) on an isolated CPU then waits for RT throttling's 50 ms per second, with nothing to boost it sooner$/,
    );
  });
});

describe("the plan's line for RT hosts without stalld", () => {
  const LINE =
    "compute-rt-01 (debian-12 does not package stalld): no stalld, and RT throttling off (kernel.sched_rt_runtime_us=-1, TuneD's realtime profile), " +
    "so a busy RT vCPU (SCHED_FIFO 1) can starve the kernel threads on its CPU that do not outrank it, and nothing boosts them: kworkers (SCHED_OTHER); " +
    "and ksoftirqd, ktimers and rcuc too wherever TuneD's scheduler plugin does not load to raise them to FIFO 2 and 4 as the profile's rules say " +
    "(it needs the perf Python module, which Debian and Ubuntu do not package; the host check's kthread results show it). " +
    "Remedies: an OS family that packages stalld (rhel-8, rhel-9), or RT guests whose RT vCPUs go idle now and then instead of busy-polling " +
    "(sched_yield does not let those threads run)";

  it("the dev stack's Debian RT host: one line in the text and the Markdown plan, no warning or note", () => {
    const { config, plan } = ok();
    assert.ok(renderPlan("dev", plan).includes(`\nRT hosts without stalld: ${LINE}\n`));
    assert.ok(renderPlanMarkdown("dev", plan).includes(`\n_RT hosts without stalld:_ ${markdownText(LINE)}\n`));
    assert.deepEqual(planWarnings(config, plan, "dev"), { warnings: [], notes: [] });
  });

  it("one line for the stack however many hosts; none when every RT host runs stalld", () => {
    const both = ok((raw) => (raw.hosts[index(raw, "rhel-9")].stalld = false)).plan;
    assert.match(
      withoutStalldLine(both.hosts)!,
      /^compute-rt-01 \(debian-12 does not package stalld\), compute-rt-02 \(stalld: false\): no stalld, /,
    );
    const many = Array.from({ length: 7 }, (_, i) => ({ ...host(both, "debian-12"), name: `rt-${i}` }));
    assert.match(withoutStalldLine(many)!, /^rt-0 \(.*\), rt-4 \(debian-12 does not package stalld\) and 2 more: /);
    const pinned = ok((raw) => (raw.hosts[index(raw, "debian-12")].tunedProfile = "cpu-partitioning")).plan;
    assert.equal(withoutStalldLine(pinned.hosts), null);
    assert.ok(!renderPlan("dev", pinned).includes("RT hosts without stalld"));
  });
});
