/**
 * The host's CPU power state against its latency mode (lib/plan/latency-mode.ts): the cpufreq
 * governor of the isolated CPUs, intel_pstate (off under TuneD's realtime profile), the cpuidle
 * driver and the deepest idle state an isolated CPU may enter, and Nova's
 * `[libvirt] cpu_power_management`. Read from host-facts.sh's `cpu-power` section: `grep -H .`
 * lines of /sys/devices/system/cpu (path:value).
 */
import type { CpuSet } from "../cpu/cpuset";
import { cpuSet, formatCpuList, parseCpuList } from "../cpu/cpuset";
import type { HostPlan } from "../plan/host";
import { hostCheck } from "./host-check";
import { parseIni } from "./host-nova";
import type { CheckResult } from "./result";
import { excerpt, fail, pass, verdict } from "./result";

const CPU_DIR = "/sys/devices/system/cpu";

export interface CpuPowerFacts {
  /** The `online` CPU list: present on every Linux host, so its absence means nothing was collected. */
  online: string | null;
  /** cpuidle/current_driver; null when the file is absent (idle=poll registers no driver). */
  cpuidleDriver: string | null;
  /** intel_pstate/status (active, passive, off); null when intel_pstate is not loaded. */
  intelPstate: string | null;
  /** CPU -> its cpuidle states by index: name, and whether it is disabled. */
  idleStates: Map<number, Map<number, { name: string; disabled: boolean }>>;
  /** CPU -> cpufreq/scaling_governor, for the CPUs that have cpufreq. */
  governors: Map<number, string>;
}

/** host-facts.sh's cpu-power section; lines it does not know are skipped. */
export function parseCpuPower(text: string): CpuPowerFacts {
  const facts: CpuPowerFacts = {
    online: null,
    cpuidleDriver: null,
    intelPstate: null,
    idleStates: new Map(),
    governors: new Map(),
  };
  for (const line of text.split("\n")) {
    const at = line.indexOf(":");
    if (!line.startsWith(`${CPU_DIR}/`) || at < 0) continue;
    const path = line.slice(CPU_DIR.length + 1, at);
    const value = line.slice(at + 1).trim();
    if (path === "online") facts.online = value;
    else if (path === "cpuidle/current_driver") facts.cpuidleDriver = value;
    else if (path === "intel_pstate/status") facts.intelPstate = value;
    let m = /^cpu(\d+)\/cpufreq\/scaling_governor$/.exec(path);
    if (m) facts.governors.set(Number(m[1]), value);
    m = /^cpu(\d+)\/cpuidle\/state(\d+)\/(name|disable)$/.exec(path);
    if (m) {
      const cpu = Number(m[1]);
      const states = facts.idleStates.get(cpu) ?? new Map<number, { name: string; disabled: boolean }>();
      facts.idleStates.set(cpu, states);
      const state = states.get(Number(m[2])) ?? { name: `state${m[2]}`, disabled: false };
      if (m[3] === "name") state.name = value;
      else state.disabled = value === "1";
      states.set(Number(m[2]), state);
    }
  }
  return facts;
}

/** A sysfs value as read, when it is a plain word; anything else quoted and escaped. */
function shown(value: string): string {
  return /^[A-Za-z0-9_.() -]{1,40}$/.test(value) ? value : excerpt(value, 40);
}

/** "performance on 4-11; powersave on 5", of values already made safe to show. */
function byValue(values: Map<number, string>): string {
  const groups = new Map<string, number[]>();
  for (const [cpu, v] of values) groups.set(v, [...(groups.get(v) ?? []), cpu]);
  return [...groups].map(([v, cpus]) => `${v} on ${formatCpuList(cpuSet(cpus))}`).join("; ");
}

function checkGovernor(facts: CpuPowerFacts, isolated: CpuSet, profile: string): CheckResult {
  const onIsolated = new Map([...facts.governors].filter(([cpu]) => isolated.includes(cpu)));
  if (onIsolated.size === 0)
    return pass(
      "cpufreq governor",
      "performance on the isolated CPUs",
      "no cpufreq on them (the firmware or the hypervisor sets the frequency)",
    );
  const ok = [...onIsolated.values()].every((g) => g === "performance");
  return verdict(
    "cpufreq governor",
    ok,
    `performance on ${formatCpuList(isolated)}`,
    byValue(new Map([...onIsolated].map(([cpu, g]) => [cpu, shown(g)]))),
    `TuneD's ${profile} profile sets the performance governor on every CPU: something changed it since (Nova's cpu_power_management with the governor strategy, cpupower, power-profiles-daemon); stop that, then \`systemctl restart tuned\``,
  );
}

function checkIntelPstate(facts: CpuPowerFacts): CheckResult {
  const ok = facts.intelPstate === null || facts.intelPstate === "off";
  return verdict(
    "intel_pstate",
    ok,
    "not driving the frequency (TuneD's realtime profile boots with intel_pstate=disable)",
    facts.intelPstate === null ? "not loaded" : `status ${shown(facts.intelPstate)}`,
    "the running kernel was booted without TuneD's intel_pstate=disable: check that GRUB uses TuneD's parameters ($tuned_params) and reboot",
  );
}

function checkCpuidle(facts: CpuPowerFacts, isolated: CpuSet, deepest: 0 | 1): CheckResult {
  const driver = facts.cpuidleDriver;
  const driverShown = driver === null ? "no cpuidle" : `driver ${shown(driver)}`;
  const hint =
    "the running kernel lacks the latencyMode's arguments: it uses what /proc/cmdline said at boot, so rerun the kernel step and reboot";
  if (deepest === 0)
    return verdict("cpuidle", driver === null || driver === "none", "no cpuidle driver (idle=poll)", driverShown, hint);
  // The enabled states deeper than C1 on the isolated CPUs: intel_idle.max_cstate=0 keeps intel_idle
  // out, and processor.max_cstate=1 limits acpi_idle to POLL and C1.
  // Each isolated CPU's deepest enabled state, as "name (stateN)".
  const deepestOf = new Map<number, { index: number; label: string }>();
  for (const cpu of isolated) {
    const enabled = [...(facts.idleStates.get(cpu) ?? [])].filter(([, s]) => !s.disabled).sort(([a], [b]) => b - a);
    if (enabled.length)
      deepestOf.set(cpu, { index: enabled[0][0], label: `${shown(enabled[0][1].name)} (state${enabled[0][0]})` });
  }
  const tooDeep = new Map([...deepestOf].filter(([, d]) => d.index > deepest).map(([cpu, d]) => [cpu, d.label]));
  const labels = new Map([...deepestOf].map(([cpu, d]) => [cpu, d.label]));
  return verdict(
    "cpuidle",
    driver !== "intel_idle" && tooDeep.size === 0,
    "C1 at most on the isolated CPUs, not intel_idle",
    `${driverShown}${labels.size ? `; deepest enabled: ${byValue(tooDeep.size ? tooDeep : labels)}` : "; no idle states"}`,
    hint,
  );
}

/** oslo.config's true spellings for a BoolOpt. */
const OSLO_TRUE = new Set(["true", "1", "yes", "on"]);

function checkNovaPower(novaConf: string, plan: HostPlan): CheckResult {
  const ini = parseIni(novaConf);
  // Every nova.conf has sections; a file without one is not nova.conf (empty, unreadable, an error page).
  if ([...ini.keys()].every((section) => section === ""))
    return fail(
      "Nova cpu_power_management",
      "[libvirt] cpu_power_management off",
      `no section in nova.conf: ${excerpt(novaConf)}`,
      "check that nova-compute's nova.conf exists and is readable (nova.configPath)",
    );
  const value = ini.get("libvirt")?.get("cpu_power_management")?.trim();
  const on = value !== undefined && OSLO_TRUE.has(value.toLowerCase());
  const planned = plan.power.novaCpuPowerManagement === "off";
  const ok = planned ? value !== undefined && !on : !on;
  const file = plan.nova.owner?.configPath ?? "nova-compute's nova.conf";
  const where =
    plan.nova.owner?.mode === "verify"
      ? "through the tool that owns it (`npm run plan -- --format tripleo|kolla|osa|juju` prints it)"
      : "(host prep's nova-compute step writes it with nova.cpuPowerManagement: off)";
  return verdict(
    "Nova cpu_power_management",
    ok,
    planned ? "[libvirt] cpu_power_management = false" : "off (unset or false)",
    value === undefined ? "unset" : excerpt(value, 20),
    on
      ? `Nova powers idle dedicated CPUs down behind TuneD's back (offlined or put on powersave); set [libvirt] cpu_power_management = false in ${file} ${where}, then restart nova-compute`
      : `set [libvirt] cpu_power_management = false in ${file} ${where}, then restart nova-compute`,
  );
}

export function checkCpuPower(section: string, novaConf: string, plan: HostPlan): CheckResult[] {
  const facts = parseCpuPower(section);
  if (facts.online === null)
    return [
      fail(
        "CPU power state",
        `${CPU_DIR}/online and the power files, as path:value lines`,
        excerpt(section),
        "run hostprep/verify/host-facts.sh on the host by hand and read its cpu-power section",
      ),
      checkNovaPower(novaConf, plan),
    ];
  const isolated = parseCpuList(plan.isolated);
  return [
    checkGovernor(facts, isolated, plan.tuned.profile),
    ...(plan.tuned.profile === "realtime-virtual-host" ? [checkIntelPstate(facts)] : []),
    ...(plan.power.deepestIdleState === null ? [] : [checkCpuidle(facts, isolated, plan.power.deepestIdleState)]),
    checkNovaPower(novaConf, plan),
  ];
}

/** The power state is a fact of the host: `pulumi refresh` re-reads it. */
export const cpuPowerCheck = /* @__PURE__ */ hostCheck({
  sections: ["cpu-power", "nova-conf"],
  kind: "observed",
  check: (f, plan) => checkCpuPower(f["cpu-power"], f["nova-conf"], plan),
});
