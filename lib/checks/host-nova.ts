/**
 * nova-compute's CPU inventory settings against the plan. Sets are compared in Nova's own
 * notation (`4-11`, `4,5,6-11`, `4-12,^12` are all the same set).
 */
import { isCpuSpecError, formatCpuList, parseNovaCpuSpec, sameSet } from "../cpu/cpuset";
import type { HostPlan } from "../plan/host";
import type { CheckResult } from "./result";
import { excerpt, fail, verdict } from "./result";

/** Keys before any `[section]` header: the input was one section's body on its own. */
const NO_SECTION = "";

/**
 * An oslo.config file: section -> option -> value, the last assignment winning, `#`/`;`
 * comment lines skipped, indented lines continuing the previous value, dashes in option names
 * read as underscores (as oslo.config does).
 */
export function parseIni(text: string): Map<string, Map<string, string>> {
  const sections = new Map<string, Map<string, string>>([[NO_SECTION, new Map()]]);
  let section = sections.get(NO_SECTION)!;
  let lastKey: string | null = null;
  for (const line of text.split("\n")) {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#") || trimmed.startsWith(";")) continue;
    const header = /^\[([^\]]+)\]$/.exec(trimmed);
    if (header) {
      section = sections.get(header[1]) ?? new Map<string, string>();
      sections.set(header[1], section);
      lastKey = null;
    } else if (/^\s/.test(line) && lastKey !== null) {
      section.set(lastKey, `${section.get(lastKey)}\n${trimmed}`);
    } else {
      const m = /^([^=:\s]+)\s*[=:]\s*(.*)$/.exec(trimmed);
      if (!m) continue;
      lastKey = m[1].replace(/-/g, "_");
      section.set(lastKey, m[2]);
    }
  }
  return sections;
}

function compareSet(check: string, value: string | undefined, planned: string | null, hint: string): CheckResult {
  const expected = planned ?? "unset";
  const observed = value === undefined || value.trim() === "" ? "unset" : value.trim();
  if (planned === null || observed === "unset") return verdict(check, observed === expected, expected, observed, hint);
  try {
    const got = parseNovaCpuSpec(observed);
    const ok = sameSet(got, parseNovaCpuSpec(planned));
    return verdict(
      check,
      ok,
      expected,
      ok || observed === formatCpuList(got) ? observed : `${observed} (CPUs ${formatCpuList(got)})`,
      hint,
    );
  } catch (e) {
    if (!isCpuSpecError(e)) throw e;
    return fail(check, expected, `${observed} (${e.message})`, hint);
  }
}

/**
 * Where a missing option goes, by who owns nova.conf: host prep (edit, the default) or the
 * deployment tool (verify: this project writes nothing, so the operator sets it through the tool).
 */
function whereToSet(plan: HostPlan): string {
  const owner = plan.nova.owner;
  const file = owner?.configPath ?? "nova-compute's nova.conf";
  const section = `in the [compute] section of ${file}`;
  if (owner?.mode === "verify")
    return (
      `${section} through the tool that owns it (nova.configMode is verify: this project writes nothing there; ` +
      "`npm run plan -- --format tripleo|kolla|osa|juju` prints the setting in the tool's terms), then restart nova-compute so placement's PCPU/VCPU inventory follows"
    );
  return `${section}, then restart nova-compute${owner?.restartCommand ? ` (${owner.restartCommand})` : ""} so placement's PCPU/VCPU inventory follows; host prep's nova-compute step does both`;
}

export function checkNovaConf(text: string, plan: HostPlan): CheckResult[] {
  if (text.trim() === "") {
    return [
      fail(
        "nova.conf",
        "[compute] cpu_dedicated_set and cpu_shared_set",
        "empty output",
        "collect /etc/nova/nova.conf (or the file your deployment renders for nova-compute) from the host",
      ),
    ];
  }
  const ini = parseIni(text);
  const compute = ini.get("compute") ?? ini.get(NO_SECTION)!;
  if (ini.size === 1 && compute.size === 0) {
    // No section and no option at all: every "unset" below would be a guess, not an observation.
    return [
      fail(
        "nova.conf",
        "an oslo.config file",
        `no section and no option (starts ${excerpt(text, 40)})`,
        "collect nova-compute's own nova.conf (/etc/nova/nova.conf, or the file your deployment renders), whole or its [compute] section with the header",
      ),
    ];
  }
  const restart = whereToSet(plan);
  const pinSet = [...ini].find(([, options]) => options.has("vcpu_pin_set"));
  return [
    compareSet(
      "nova cpu_dedicated_set",
      compute.get("cpu_dedicated_set"),
      plan.nova.cpuDedicatedSet,
      `set cpu_dedicated_set = ${plan.nova.cpuDedicatedSet} ${restart}; pinned RT vCPUs land only on these CPUs`,
    ),
    compareSet(
      "nova cpu_shared_set",
      compute.get("cpu_shared_set"),
      plan.nova.cpuSharedSet,
      plan.nova.cpuSharedSet === null
        ? `remove cpu_shared_set ${restart}; the plan offers no shared (VCPU) CPUs on this host`
        : `set cpu_shared_set = ${plan.nova.cpuSharedSet} ${restart}; emulator threads with hw:emulator_threads_policy=share run there`,
    ),
    verdict(
      "nova vcpu_pin_set",
      pinSet === undefined,
      "unset",
      pinSet ? `${pinSet[1].get("vcpu_pin_set")} in [${pinSet[0] || "?"}]` : "unset",
      "remove vcpu_pin_set: it is deprecated since Train and nova-compute refuses to start when it is combined with cpu_dedicated_set",
    ),
  ];
}
