/**
 * What the services run with, not only what their files say: a service reads its files when it
 * starts, so nova-compute started before nova.conf's last change, or TuneD that last applied its
 * profile before the variables file changed, runs the settings from before that change (a host
 * prep step cut off between the edit and the restart). From host-facts.sh's `applied` section:
 * times in seconds since the epoch, to the second.
 */
import { isCpuSpecError, parseCpuList, sameSet } from "../cpu/cpuset";
import type { HostPlan } from "../plan/host";
import type { CheckResult } from "./result";
import { excerpt, fail, verdict } from "./result";

/** `key=value` lines; a value that is not a whole number of seconds reads as null. */
function parseTimes(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^([a-z_]+)=(.*)$/.exec(line);
    if (m) out.set(m[1], m[2]);
  }
  return out;
}
function seconds(v: string | undefined): number | null {
  return v !== undefined && /^\d{1,12}$/.test(v) ? Number(v) : null;
}
function at(s: number): string {
  return new Date(s * 1000).toISOString().replace(".000Z", "Z");
}

/** Did the service start (read its file) at or after the file's last change? As a check result. */
function startedAfter(
  check: string,
  what: { started: number | null; changed: number | null; service: string; verb: string; file: string },
  hint: string,
): CheckResult {
  const expected = `${what.service} ${what.verb} at or after the last change of ${what.file}`;
  if (what.changed === null) return fail(check, expected, `no ${what.file}`, hint);
  if (what.started === null) return fail(check, expected, `${what.service}: time unknown`, hint);
  const ok = what.started >= what.changed;
  return verdict(
    check,
    ok,
    expected,
    ok
      ? `${what.verb} ${at(what.started)}, ${what.file} changed ${at(what.changed)}`
      : `${what.verb} ${at(what.started)}, before ${what.file} changed (${at(what.changed)}): it runs the settings from before that change`,
    hint,
  );
}

export function checkNovaApplied(appliedText: string, plan: HostPlan): CheckResult {
  const check = "nova-compute runs nova.conf";
  const a = parseTimes(appliedText);
  const restart = plan.nova.owner?.restartCommand ?? "systemctl restart nova-compute";
  const hint = `restart nova-compute (${restart}) so that it reads nova.conf as it is, and placement's PCPU inventory follows; host prep's nova-compute step does it first on its next run when a run was cut off after the edit`;
  const seen = a.get("nova_compute");
  if (seen === undefined || !/^[\w .@-]{1,80}$/.test(seen))
    return fail(
      check,
      "nova_compute=<unit or process> in host-facts.sh's applied section",
      seen === undefined ? "not collected" : excerpt(seen),
      "re-run the host check",
    );
  if (seen === "none")
    return fail(
      check,
      "nova-compute running",
      "no active nova-compute.service or openstack-nova-compute.service and no nova-compute process",
      `start nova-compute (${restart}) and read its log if it does not stay up`,
    );
  // Where host prep edits nova.conf, the time it last changed nova-compute's settings there:
  // the file's own time also moves for scheduler.sh's filters on an all-in-one host.
  const settings = seconds(a.get("nova_settings_changed"));
  return startedAfter(
    check,
    {
      started: seconds(a.get("nova_compute_started")),
      changed: settings ?? seconds(a.get("nova_conf_changed")),
      service: `nova-compute (${seen})`,
      verb: "started",
      file: settings === null ? "nova.conf" : "its settings in nova.conf",
    },
    hint,
  );
}

/** TuneD's variables file holds the planned isolated_cores, and TuneD applied its profile after the file last changed. */
export function checkTunedApplied(appliedText: string, variablesText: string, plan: HostPlan): CheckResult[] {
  const { profile, isolatedCores } = plan.tuned;
  const file = `/etc/tuned/${profile}-variables.conf`;
  // configparser, as TuneD reads the file: the last assignment wins.
  const lines = [...variablesText.matchAll(/^isolated_cores\s*=\s*(.*?)\s*$/gm)];
  const value = lines.at(-1)?.[1] ?? null;
  let same = false;
  try {
    same = value !== null && sameSet(parseCpuList(value), parseCpuList(isolatedCores));
  } catch (e) {
    if (!isCpuSpecError(e)) throw e;
  }
  const a = parseTimes(appliedText);
  return [
    verdict(
      "TuneD isolated_cores",
      same,
      isolatedCores,
      value === null ? `no isolated_cores in ${file}` : excerpt(value, 60),
      `set isolated_cores=${isolatedCores} in ${file}, then \`tuned-adm profile ${profile}\`; host prep's tuned step does both`,
    ),
    startedAfter(
      "TuneD applied its variables",
      {
        started: seconds(a.get("tuned_applied")),
        changed: seconds(a.get("tuned_variables_changed")),
        service: `TuneD's ${profile} profile`,
        verb: "applied",
        file,
      },
      `run \`tuned-adm profile ${profile}\` so that TuneD reads ${file} as it is; host prep's tuned step does it first on its next run when a run was cut off after the edit`,
    ),
  ];
}
