/**
 * The host check of the CPU power state (latencyMode): host-facts.sh runs for real in a
 * mount namespace of its own, with a sysfs-like tree bound over /sys/devices/system/cpu and a
 * command line over /proc/cmdline; its sections go through the declared host checks.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { checkCmdline } from "../../../lib/checks/host-cmdline";
import { runHostChecks } from "../../../lib/checks/host-check";
import { checkCpuPower, cpuPowerCheck, parseCpuPower } from "../../../lib/checks/host-power";
import type { CheckResult } from "../../../lib/checks/result";
import { hostFactsArgs, parseSections } from "../../../lib/checks/verification";
import type { HostPlan } from "../../../lib/plan/host";
import { planStack } from "../../../lib/plan/stack";
import { scriptText } from "../../../lib/providers/collect";
import { SCRATCH } from "../../support/debian-root";
import { devRaw } from "../../support/dev-config";

type Raw = ReturnType<typeof devRaw>;

function hostPlan(edit: (raw: Raw) => void): HostPlan {
  const raw = devRaw();
  edit(raw);
  const r = planStack(raw);
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  return r.plan.hosts[0];
}

const low = hostPlan((raw) => (raw.hosts[0].latencyMode = "low-latency"));
const ultra = hostPlan((raw) => (raw.hosts[0].latencyMode = "ultra-low-latency"));
const byDefault = hostPlan(() => {});
const novaOff = hostPlan((raw) => (raw.hosts[0].nova = { cpuPowerManagement: "off" }));

/** A host's /sys/devices/system/cpu as the kernel lays it out, for the 12 CPUs of the dev hosts. */
interface CpuTree {
  driver?: string;
  pstate?: string;
  /** Every CPU's idle states by name, in index order; a name ending in "!" is disabled. */
  states?: string[];
  /** CPU -> governor; CPUs not named have no cpufreq. */
  governors?: Record<number, string>;
}

const dir = mkdtempSync(join(SCRATCH, "host-power-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let trees = 0;

/** host-facts.sh's sections on this machine, with `tree` as its CPUs, `cmdline` as /proc/cmdline and this nova.conf. */
function collect(tree: CpuTree, cmdline: string, novaConf = "[compute]\ncpu_dedicated_set = 4-11\n") {
  const root = join(dir, `tree${trees++}`);
  const cpu = join(root, "cpu");
  mkdirSync(cpu, { recursive: true });
  const put = (path: string, text: string) => {
    mkdirSync(join(cpu, path, ".."), { recursive: true });
    writeFileSync(join(cpu, path), `${text}\n`);
  };
  put("online", "0-11");
  if (tree.driver !== undefined) put("cpuidle/current_driver", tree.driver);
  if (tree.pstate !== undefined) put("intel_pstate/status", tree.pstate);
  for (let c = 0; c < 12; c++) {
    (tree.states ?? []).forEach((name, i) => {
      put(`cpu${c}/cpuidle/state${i}/name`, name.replace(/!$/, ""));
      put(`cpu${c}/cpuidle/state${i}/disable`, name.endsWith("!") ? "1" : "0");
    });
    const governor = tree.governors?.[c];
    if (governor !== undefined) put(`cpu${c}/cpufreq/scaling_governor`, governor);
  }
  writeFileSync(join(root, "cmdline"), `${cmdline}\n`);
  writeFileSync(join(root, "nova.conf"), novaConf);
  const out = execFileSync(
    "unshare",
    [
      "--mount",
      "--fork",
      "bash",
      "-c",
      'mount --bind "$1/cpu" /sys/devices/system/cpu && mount --bind "$1/cmdline" /proc/cmdline && shift && exec bash -s -- "$@"',
      "_",
      root,
      ...hostFactsArgs(byDefault),
      "--nova-conf",
      join(root, "nova.conf"),
    ],
    { input: scriptText("host-facts.sh"), encoding: "utf8", timeout: 120_000 },
  );
  const { sections, complete } = parseSections(out);
  assert.ok(complete, out.slice(-400));
  return Object.fromEntries(sections);
}

function power(sections: Record<string, string>, plan: HostPlan): Map<string, CheckResult> {
  return new Map(runHostChecks(sections, plan, "observed", [cpuPowerCheck]).map((r) => [r.check, r]));
}

const all = (g: string) => Object.fromEntries(Array.from({ length: 12 }, (_, c) => [c, g]));
const RT_CMDLINE = "BOOT_IMAGE=/boot/vmlinuz-6.1.0-28-rt-amd64 root=/dev/vda1 ro isolcpus=4-11 intel_pstate=disable";

describe("host-facts.sh's cpu-power section and the power check, on a sysfs-like tree", () => {
  it("low-latency on an Intel host whose intel_idle still offers C6: cpuidle fails naming it, intel_pstate too", () => {
    const s = collect(
      { driver: "intel_idle", pstate: "active", states: ["POLL", "C1", "C1E", "C6"], governors: all("performance") },
      RT_CMDLINE,
    );
    const r = power(s, low);
    assert.equal(r.get("cpuidle")?.ok, false);
    assert.equal(r.get("cpuidle")!.observed, "driver intel_idle; deepest enabled: C6 (state3) on 4-11");
    assert.match(r.get("cpuidle")!.hint, /reboot/);
    assert.equal(r.get("intel_pstate")?.ok, false);
    assert.equal(r.get("intel_pstate")?.observed, "status active");
    assert.equal(r.get("cpufreq governor")?.ok, true);
    // The command line lacks the mode's arguments: the existing cmdline check names each.
    const cmd = checkCmdline(s.cmdline, low).filter((c) => !c.ok);
    assert.deepEqual(
      cmd.map((c) => c.expected).filter((e) => /cstate/.test(e)),
      ["processor.max_cstate=1", "intel_idle.max_cstate=0"],
    );
  });

  it("low-latency as booted: acpi_idle with POLL and C1 (a deeper state disabled), no intel_pstate: all pass", () => {
    const s = collect(
      { driver: "acpi_idle", states: ["POLL", "C1", "C2!"], governors: all("performance") },
      `${RT_CMDLINE} processor.max_cstate=1 intel_idle.max_cstate=0`,
    );
    const r = power(s, low);
    assert.deepEqual(
      [...r.values()].filter((c) => !c.ok),
      [],
    );
    assert.equal(r.get("cpuidle")?.observed, "driver acpi_idle; deepest enabled: C1 (state1) on 4-11");
    assert.equal(r.get("intel_pstate")?.observed, "not loaded");
    assert.ok(
      checkCmdline(s.cmdline, low)
        .filter((c) => /cstate/.test(c.check))
        .every((c) => c.ok),
    );
  });

  it("ultra-low-latency: no cpuidle at all passes, a registered driver fails", () => {
    const booted = power(collect({ governors: all("performance") }, `${RT_CMDLINE} idle=poll`), ultra);
    assert.equal(booted.get("cpuidle")?.ok, true);
    assert.equal(booted.get("cpuidle")?.observed, "no cpuidle");
    const not = power(collect({ driver: "acpi_idle", states: ["POLL", "C1"] }, RT_CMDLINE), ultra);
    assert.equal(not.get("cpuidle")?.ok, false);
    assert.equal(not.get("cpuidle")?.observed, "driver acpi_idle");
  });

  it("default: no cpuidle check; a powersave isolated CPU fails the governor, named; no cpufreq passes", () => {
    const governors = { ...all("performance"), 5: "powersave" };
    const r = power(collect({ driver: "intel_idle", states: ["POLL", "C6"], governors }, RT_CMDLINE), byDefault);
    assert.equal(r.has("cpuidle"), false);
    assert.equal(r.get("cpufreq governor")?.ok, false);
    assert.equal(r.get("cpufreq governor")?.observed, "performance on 4,6-11; powersave on 5");
    assert.match(r.get("cpufreq governor")!.hint, /systemctl restart tuned/);
    const none = power(collect({}, RT_CMDLINE), byDefault);
    assert.equal(none.get("cpufreq governor")?.ok, true);
    assert.match(none.get("cpufreq governor")!.observed, /no cpufreq/);
  });

  it("a governor a host reports with control characters is escaped, not passed to the terminal", () => {
    const r = power(collect({ governors: { ...all("performance"), 4: "perf\u001b[31m" } }, RT_CMDLINE), byDefault);
    const observed = r.get("cpufreq governor")!.observed;
    assert.equal(r.get("cpufreq governor")?.ok, false);
    assert.ok(!observed.includes("\u001b"), observed);
  });

  it("Nova's cpu_power_management: true fails on every host; planned off needs false written", () => {
    const tree: CpuTree = { governors: all("performance") };
    const on = power(collect(tree, RT_CMDLINE, "[libvirt]\ncpu_power_management = True\n"), byDefault);
    assert.equal(on.get("Nova cpu_power_management")?.ok, false);
    assert.match(on.get("Nova cpu_power_management")!.hint, /behind TuneD's back/);
    const unset = power(collect(tree, RT_CMDLINE), byDefault);
    assert.equal(unset.get("Nova cpu_power_management")?.ok, true);
    const missing = power(collect(tree, RT_CMDLINE), novaOff);
    assert.equal(missing.get("Nova cpu_power_management")?.ok, false);
    assert.equal(missing.get("Nova cpu_power_management")?.observed, "unset");
    const written = power(collect(tree, RT_CMDLINE, "[libvirt]\ncpu_power_management = false\n"), novaOff);
    assert.equal(written.get("Nova cpu_power_management")?.ok, true);
  });

  it("an empty or foreign section fails instead of passing on no evidence; so does an empty nova.conf", () => {
    for (const text of ["", "<html>502 Bad Gateway</html>"]) {
      const r = checkCpuPower(text, "", low);
      assert.deepEqual(
        r.map((c) => [c.check, c.ok]),
        [
          ["CPU power state", false],
          ["Nova cpu_power_management", false],
        ],
      );
    }
  });

  it("parses only /sys/devices/system/cpu lines, the last state attribute per CPU winning", () => {
    const f = parseCpuPower(
      [
        "/sys/devices/system/cpu/cpu3/cpuidle/state2/name:C6",
        "/sys/devices/system/cpu/cpu3/cpuidle/state2/disable:1",
        "/etc/passwd:root:x:0:0",
        "/sys/devices/system/cpu/cpu3/cpufreq/scaling_governor:schedutil",
      ].join("\n"),
    );
    assert.deepEqual(f.idleStates.get(3)?.get(2), { name: "C6", disabled: true });
    assert.equal(f.governors.get(3), "schedutil");
    assert.equal(f.cpuidleDriver, null);
  });
});
