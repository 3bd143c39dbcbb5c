/**
 * Issue 25's latency and power modes: `latencyMode` (C-state limits, idle=poll) and Nova's
 * `[libvirt] cpu_power_management` (nova.cpuPowerManagement), from the stack file through the
 * plan, the steps, the plan text, --diff, the tool formats and nova-compute.sh on a Debian root.
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { impactSide } from "../../../cli/plan";
import { parseStackConfig } from "../../../lib/config/schema";
import { decideStack } from "../../../lib/desired/decide";
import { hostSteps } from "../../../lib/desired/host-steps";
import { parseIni } from "../../../lib/checks/host-nova";
import type { HostPlan } from "../../../lib/plan/host";
import { planWarnings } from "../../../lib/plan/rt-warnings";
import { planStack } from "../../../lib/plan/stack";
import { planImpact } from "../../../lib/desired/impact";
import { diffPlans, formatPlanDiff } from "../../../lib/render/plan-diff";
import { renderPlan } from "../../../lib/render/plan-text";
import { renderForTool } from "../../../lib/render/tool-formats";
import type { TestRoot } from "../../support/debian-root";
import { buildDebianRoot, runScript, show, sourcedCmdline } from "../../support/debian-root";
import { devRaw, PROJECT_DIR } from "../../support/dev-config";

type Raw = ReturnType<typeof devRaw>;

function planned(edit: (raw: Raw) => void = () => {}) {
  const raw = devRaw();
  edit(raw);
  return planStack(raw);
}

function ok(edit: (raw: Raw) => void = () => {}) {
  const r = planned(edit);
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  return r;
}

function problemsOf(edit: (raw: Raw) => void) {
  const r = planned(edit);
  assert.ok(!r.ok, "expected the plan to be refused");
  return r.problems;
}

const first = (r: ReturnType<typeof ok>): HostPlan => r.plan.hosts[0];

describe("latencyMode: the schema and the plan", () => {
  it("defaults to default, which keeps the dev stack's kernel arguments as they were (no reboot)", () => {
    const r = ok();
    for (const h of r.plan.hosts) {
      assert.equal(h.power.latencyMode, "default");
      assert.equal(h.power.deepestIdleState, null);
      assert.ok(!h.kernel.args.some((a) => /cstate|^idle=/.test(a)), h.kernel.args.join(" "));
    }
    assert.deepEqual(first(r).kernel.args, ["default_hugepagesz=1G", "hugepagesz=1G", "hugepages=0:4,1:4"]);
  });

  it("low-latency limits C-states from boot; ultra-low-latency adds idle=poll; extraKernelArgs come last", () => {
    const low = first(
      ok((raw) => {
        raw.hosts[0].latencyMode = "low-latency";
        raw.hosts[0].extraKernelArgs = ["intel_iommu=on"];
      }),
    );
    assert.deepEqual(low.kernel.args.slice(-3), [
      "processor.max_cstate=1",
      "intel_idle.max_cstate=0",
      "intel_iommu=on",
    ]);
    assert.equal(low.power.deepestIdleState, 1);
    const ultra = first(ok((raw) => (raw.hosts[0].latencyMode = "ultra-low-latency")));
    assert.deepEqual(ultra.kernel.args.slice(-3), ["processor.max_cstate=1", "intel_idle.max_cstate=0", "idle=poll"]);
    assert.equal(ultra.power.deepestIdleState, 0);
  });

  it("expects TuneD's realtime profile to boot with intel_pstate=disable; cpu-partitioning does not", () => {
    const r = ok((raw) => (raw.hosts[1].tunedProfile = "cpu-partitioning"));
    assert.ok(r.plan.hosts[0].kernel.tunedArgs.includes("intel_pstate=disable"));
    assert.ok(!r.plan.hosts[1].kernel.tunedArgs.some((a) => a.startsWith("intel_pstate")));
  });

  it("refuses an unknown mode, naming the setting and the choices", () => {
    const p = problemsOf((raw) => (raw.hosts[0].latencyMode = "realtime"));
    assert.equal(p[0].path, "openstack-rt:hosts[0].latencyMode");
    assert.match(p[0].message, /default, low-latency, ultra-low-latency/);
  });

  it("refuses the C-state and idle arguments in extraKernelArgs (latencyMode owns them), dashes or not", () => {
    const p = problemsOf((raw) => (raw.hosts[0].extraKernelArgs = ["processor.max-cstate=1", "idle=poll"]));
    assert.deepEqual(
      p.map((x) => x.path),
      ["openstack-rt:hosts[0].extraKernelArgs[0]", "openstack-rt:hosts[0].extraKernelArgs[1]"],
    );
    assert.match(p[0].message, /set latencyMode instead/);
  });

  it("refuses intel_pstate in extraKernelArgs on an RT host (TuneD sets it) and takes it on a cpu-partitioning one", () => {
    const p = problemsOf((raw) => (raw.hosts[0].extraKernelArgs = ["intel_pstate=passive"]));
    assert.equal(p[0].path, "openstack-rt:hosts[0].extraKernelArgs[0]");
    assert.match(p[0].message, /intel_pstate=disable/);
    const r = ok((raw) => {
      raw.hosts[0].tunedProfile = "cpu-partitioning";
      raw.hosts[0].extraKernelArgs = ["intel_pstate=passive"];
    });
    assert.ok(first(r).kernel.args.includes("intel_pstate=passive"));
  });
});

describe("latencyMode: the warning", () => {
  const smt = (raw: Raw, mode: string) => {
    // Each node's CPUs in sibling pairs: SMT on.
    const node = (id: number, cpus: number[]) => ({
      id,
      cpus: cpus.join(","),
      memoryMb: 16384,
      threadSiblings: [0, 2, 4].map((i) => `${cpus[i]},${cpus[i + 1]}`),
    });
    raw.hosts[0].topology = { nodes: [node(0, [0, 1, 2, 3, 4, 5]), node(1, [6, 7, 8, 9, 10, 11])] };
    raw.hosts[0].latencyMode = mode;
  };
  const warned = (mode: string) => {
    const r = ok((raw) => smt(raw, mode));
    return planWarnings(r.config, r.plan).warnings.filter((w) => w.path.endsWith(".latencyMode"));
  };

  it("ultra-low-latency on an SMT host: idle=poll spins beside the RT vCPU's sibling thread", () => {
    const w = warned("ultra-low-latency");
    assert.deepEqual(
      w.map((x) => x.path),
      ["openstack-rt:hosts[0].latencyMode"],
    );
    assert.match(w[0].message, /sibling thread/);
    assert.match(w[0].message, /use low-latency/);
  });

  it("no warning for low-latency on that host, nor for ultra-low-latency without SMT", () => {
    assert.deepEqual(warned("low-latency"), []);
    const r = ok((raw) => (raw.hosts[0].latencyMode = "ultra-low-latency"));
    assert.deepEqual(
      planWarnings(r.config, r.plan).warnings.filter((w) => w.path.endsWith(".latencyMode")),
      [],
    );
  });
});

describe("nova.cpuPowerManagement: planned explicitly", () => {
  it("unset: not written, and nova-compute's step keeps its command and triggers", () => {
    const r = ok();
    assert.equal(first(r).power.novaCpuPowerManagement, null);
    const cfg = parseStackConfig(devRaw());
    assert.ok(cfg.ok);
    const step = hostSteps(first(r), cfg.config.hosts[0]).find((s) => s.id === "nova-compute")!;
    assert.ok(!step.args.includes("--cpu-power-management"));
    assert.ok(!("cpuPowerManagement" in step.triggers));
  });

  it("off, stack-wide: every host's step writes it (a new trigger), and nova.conf's owner stays the default", () => {
    const r = ok((raw) => (raw.nova = { cpuPowerManagement: "off" }));
    for (const h of r.plan.hosts) {
      assert.equal(h.power.novaCpuPowerManagement, "off");
      assert.equal(h.nova.owner, undefined);
    }
    const raw = devRaw();
    raw.nova = { cpuPowerManagement: "off" };
    const cfg = parseStackConfig(raw);
    assert.ok(cfg.ok);
    const step = hostSteps(first(r), cfg.config.hosts[0]).find((s) => s.id === "nova-compute")!;
    const at = step.args.indexOf("--cpu-power-management");
    assert.deepEqual(step.args.slice(at, at + 2), ["--cpu-power-management", "off"]);
    assert.equal(step.triggers.cpuPowerManagement, "off");
  });

  it("refuses cpu_state on an RT host: onlining a CPU beside running RT guests is a latency event", () => {
    const p = problemsOf((raw) => (raw.hosts[0].nova = { cpuPowerManagement: "cpu_state" }));
    assert.equal(p[0].path, "openstack-rt:hosts[0].nova.cpuPowerManagement");
    assert.match(p[0].message, /latency event/);
    assert.match(p[0].message, /use off/);
  });

  it("refuses cpu_state on a cpu-partitioning host too (TuneD's isolated_cores must be online)", () => {
    const p = problemsOf((raw) => {
      raw.hosts[0].tunedProfile = "cpu-partitioning";
      raw.hosts[0].nova = { cpuPowerManagement: "cpu_state" };
    });
    assert.match(p[0].message, /isolated_cores online/);
  });

  it("refuses governor: TuneD's profile sets performance on every CPU", () => {
    const p = problemsOf((raw) => (raw.nova = { cpuPowerManagement: "governor" }));
    assert.deepEqual(
      p.map((x) => x.path),
      ["openstack-rt:hosts[0].nova.cpuPowerManagement", "openstack-rt:hosts[1].nova.cpuPowerManagement"],
    );
    assert.match(p[0].message, /verify fails/);
  });

  it("refuses an unknown value and the setting on a controller (a scheduler has no dedicated CPUs)", () => {
    const bad = problemsOf((raw) => (raw.nova = { cpuPowerManagement: "on" }));
    assert.equal(bad[0].path, "openstack-rt:nova.cpuPowerManagement");
    assert.match(bad[0].message, /off, governor, cpu_state/);
    const ctl = problemsOf((raw) => {
      (raw.controller as Record<string, unknown>).nova = { cpuPowerManagement: "off" };
    });
    assert.match(JSON.stringify(ctl), /cpuPowerManagement/);
  });
});

describe("the steps, the plan text, --diff and the tool formats", () => {
  it("a new latencyMode re-runs the kernel step and its reboot, nothing else", () => {
    const cfg = parseStackConfig(devRaw());
    assert.ok(cfg.ok);
    const before = hostSteps(first(ok()), cfg.config.hosts[0]);
    const after = hostSteps(first(ok((raw) => (raw.hosts[0].latencyMode = "low-latency"))), cfg.config.hosts[0]);
    const changed = after.filter((s, i) => JSON.stringify(s) !== JSON.stringify(before[i])).map((s) => s.id);
    assert.deepEqual(changed, ["kernel-args", "reboot"]);
    const kernel = after.find((s) => s.id === "kernel-args")!;
    assert.match(kernel.args.join(" "), /processor\.max_cstate=1 intel_idle\.max_cstate=0/);
  });

  it("--diff names the mode and the arguments, and the impact is a reboot of that host only", () => {
    const changes = diffPlans(ok().plan, ok((raw) => (raw.hosts[0].latencyMode = "ultra-low-latency")).plan);
    const text = formatPlanDiff(changes, "the dev stack");
    assert.match(text, /power\.latencyMode: default -> ultra-low-latency/);
    assert.match(text, /kernel\.args: .* -> .*idle=poll/);
    const side = (raw: Raw) => {
      const d = decideStack(raw, PROJECT_DIR);
      if (!d.ok) throw new Error(JSON.stringify(d.problems));
      return impactSide(d.desired);
    };
    const changed = devRaw();
    changed.hosts[0].latencyMode = "ultra-low-latency";
    const impact = planImpact(side(devRaw()), side(changed), { maintenance: true, guests: "live-migrate" });
    const hosts = impact.hosts.filter((h) => h.reboot !== "no");
    assert.deepEqual(
      hosts.map((h) => [h.host, h.reboot]),
      [["compute-rt-01", "yes"]],
    );
  });

  it("the plan text shows each host's mode and Nova's setting when planned", () => {
    const text = renderPlan(
      "dev",
      ok((raw) => {
        raw.hosts[0].latencyMode = "low-latency";
        raw.hosts[0].nova = { cpuPowerManagement: "off" };
      }).plan,
    );
    assert.match(text, /latency mode: low-latency \(C1 at most from boot\)/);
    assert.match(text, /latency mode: default \(C-states limited by TuneD/);
    assert.match(text, /reserved_host_memory_mb=4096; \[libvirt\] cpu_power_management=false/);
  });

  it("the tool formats carry cpu_power_management = false, and say so where the tool has no option", () => {
    const p = ok((raw) => (raw.nova = { cpuPowerManagement: "off" })).plan;
    const kolla = renderForTool("kolla", "dev", p);
    const fragment = kolla.split("# --- /etc/kolla/config/nova/compute-rt-01/nova.conf\n")[1].split("\n\n#")[0];
    assert.equal(parseIni(fragment).get("libvirt")?.get("cpu_power_management"), "false");
    assert.match(renderForTool("osa", "dev", p), / {2}libvirt:\n {4}cpu_power_management: false/);
    assert.match(renderForTool("tripleo", "dev", p), /#\s+cpu_power_management = false/);
    assert.match(renderForTool("juju", "dev", p), /this tool has no option for it/);
    assert.doesNotMatch(renderForTool("kolla", "dev", ok().plan), /cpu_power_management/);
  });
});

describe("the kernel step of a low-latency host on Debian's /etc/default/grub", () => {
  it("puts the C-state limits on GRUB's command line with the huge pages, says a reboot is needed, then is unchanged", () => {
    const root = buildDebianRoot();
    try {
      const cfg = parseStackConfig(devRaw());
      assert.ok(cfg.ok);
      const plan = first(ok((raw) => (raw.hosts[0].latencyMode = "low-latency")));
      const step = hostSteps(plan, cfg.config.hosts[0]).find((s) => s.id === "kernel-args")!;
      const r = runScript("kernel-args.sh", [...step.args, "--root", root.dir]);
      assert.equal(r.status, 0, show(r));
      assert.equal(
        sourcedCmdline(root),
        "default_hugepagesz=1G hugepagesz=1G hugepages=0:4,1:4 processor.max_cstate=1 intel_idle.max_cstate=0",
      );
      assert.equal(r.values.get("reboot_needed"), "yes");
      const again = runScript("kernel-args.sh", [...step.args, "--root", root.dir]);
      assert.equal(again.last, "unchanged", show(again));
    } finally {
      root.remove();
    }
  });
});

describe("nova-compute.sh --cpu-power-management off on Debian's nova.conf", () => {
  let root: TestRoot;
  beforeEach(() => {
    root = buildDebianRoot();
  });
  afterEach(() => root.remove());
  const args = () => [
    "--dedicated",
    "4-11",
    "--reserved-host-memory-mb",
    "4096",
    "--cpu-power-management",
    "off",
    "--root",
    root.dir,
  ];

  it("sets [libvirt] cpu_power_management = false, removes the strategy, then is unchanged", () => {
    const conf = root.read("/etc/nova/nova.conf");
    root.write(
      "/etc/nova/nova.conf",
      conf.replace(
        /^\[libvirt\]$/m,
        "[libvirt]\ncpu_power_management = true\ncpu_power_management_strategy = cpu_state",
      ),
    );
    const r = runScript("nova-compute.sh", args());
    assert.equal(r.status, 0, show(r));
    assert.equal(r.last, "changed");
    assert.ok(r.lines.some((l) => l.startsWith("set [libvirt] cpu_power_management = false")));
    assert.ok(r.lines.some((l) => l.startsWith("removed [libvirt] cpu_power_management_strategy")));
    const libvirt = parseIni(root.read("/etc/nova/nova.conf")).get("libvirt")!;
    assert.equal(libvirt.get("cpu_power_management"), "false");
    assert.equal(libvirt.has("cpu_power_management_strategy"), false);
    const again = runScript("nova-compute.sh", args());
    assert.equal(again.status, 0, show(again));
    assert.equal(again.last, "unchanged");
  });

  it("with --check (configMode verify) writes nothing and names the setting to make, then passes once it is made", () => {
    const check = [...args(), "--check"];
    const set = runScript("nova-compute.sh", [
      "--dedicated",
      "4-11",
      "--reserved-host-memory-mb",
      "4096",
      "--root",
      root.dir,
    ]);
    assert.equal(set.status, 0, show(set));
    const before = root.read("/etc/nova/nova.conf");
    const r = runScript("nova-compute.sh", check);
    assert.notEqual(r.status, 0, show(r));
    assert.match(r.stderr, /set \[libvirt\] cpu_power_management = false/);
    assert.equal(root.read("/etc/nova/nova.conf"), before);
    root.write("/etc/nova/nova.conf", `${before}\n[libvirt]\ncpu_power_management = false\n`);
    const ok = runScript("nova-compute.sh", check);
    assert.equal(ok.status, 0, show(ok));
  });

  it("takes only off, and refuses a second file that sets the option (it would override the edit)", () => {
    const bad = runScript("nova-compute.sh", [...args().slice(0, 4), "--cpu-power-management", "governor"]);
    assert.equal(bad.status, 2, show(bad));
    assert.match(bad.stderr, /--cpu-power-management takes off/);
    root.write("/etc/nova/nova-compute.conf", "[libvirt]\ncpu_power_management = true\n");
    const r = runScript("nova-compute.sh", args());
    assert.notEqual(r.status, 0, show(r));
    assert.match(r.stderr, /nova-compute\.conf sets \[libvirt\] cpu_power_management/);
  });
});
