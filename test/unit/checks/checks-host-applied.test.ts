/**
 * The host check compares what nova-compute and TuneD run with, not only their files:
 * host-facts.sh's `applied` section on this machine, with a real process named nova-compute and
 * a nova.conf changed before or after it started; TuneD's side from the section's text.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { checkNovaApplied, checkTunedApplied } from "../../../lib/checks/host-applied";
import { hostFactsArgs, parseSections } from "../../../lib/checks/verification";
import { scriptText } from "../../../lib/providers/collect";
import { SCRATCH } from "../../support/debian-root";
import { devHost } from "../../support/dev-config";

const plan = devHost("compute-rt-01");

describe("host-facts.sh's applied section and the nova-compute check, on this machine", () => {
  const dir = mkdtempSync(join(SCRATCH, "host-applied-"));
  const conf = join(dir, "nova.conf");
  writeFileSync(conf, "[compute]\ncpu_dedicated_set = 4-11\n");
  // A process named nova-compute: the shell running a script of that name keeps the name.
  const fake = join(dir, "nova-compute");
  writeFileSync(fake, "#!/bin/sh\nsleep 60\n", { mode: 0o755 });
  after(() => rmSync(dir, { recursive: true, force: true }));
  /**
   * host-facts.sh's applied section, run in PID and mount namespaces of its own, so that the
   * processes it sees are the ones the test starts there (this machine may run a real
   * nova-compute) and host prep's own records on this machine (/var/lib/openstack-rt) are hidden.
   */
  const facts = (withNovaCompute: boolean) => {
    const args = hostFactsArgs(plan);
    const out = execFileSync(
      "unshare",
      [
        "--pid",
        "--mount",
        "--fork",
        "--mount-proc",
        "bash",
        "-c",
        "if [ -d /var/lib/openstack-rt ]; then mount -t tmpfs none /var/lib/openstack-rt; fi; " +
          'if [ "$1" = yes ]; then "$2" & sleep 0.2; fi; shift 2; exec bash -s -- "$@"',
        "_",
        withNovaCompute ? "yes" : "no",
        fake,
        ...args,
        "--nova-conf",
        conf,
      ],
      { input: scriptText("host-facts.sh"), encoding: "utf8", maxBuffer: 64 << 20 },
    );
    const { sections, complete } = parseSections(out);
    assert.ok(complete, out);
    return sections.get("applied") ?? "";
  };

  it("asks for the planned profile's variables file", () => {
    assert.deepEqual(hostFactsArgs(plan).slice(-2), ["--tuned-profile", "realtime-virtual-host"]);
  });

  it("no nova-compute running: fails, saying so", () => {
    const r = checkNovaApplied(facts(false), plan);
    assert.equal(r.ok, false);
    assert.match(r.observed, /no active nova-compute\.service .* and no nova-compute process/);
  });

  it("passes when nova-compute started after nova.conf's last change, fails when the file changed after it started", () => {
    const now = Math.floor(Date.now() / 1000);
    utimesSync(conf, now - 60, now - 60);
    const before = checkNovaApplied(facts(true), plan);
    assert.equal(before.ok, true, JSON.stringify(before));
    assert.match(before.observed, /^started \S+Z, nova\.conf changed \S+Z$/);

    // The edit of a step cut off before its restart: the file is newer than the process.
    utimesSync(conf, now + 30, now + 30);
    const stale = checkNovaApplied(facts(true), plan);
    assert.equal(stale.ok, false);
    assert.match(stale.expected, /nova-compute \(process \d+\) started at or after the last change of nova\.conf/);
    assert.match(stale.observed, /before nova\.conf changed .*: it runs the settings from before that change/);
    assert.match(stale.hint, /restart nova-compute \(systemctl restart nova-compute\)/);
  });
});

describe("nova-compute's start against the settings host prep changed", () => {
  const applied = (settings: number | "", conf: number) =>
    `nova_conf_changed=${conf}\nnova_settings_changed=${settings}\nnova_compute=nova-compute.service\nnova_compute_started=2000\n`;

  it("an all-in-one host: scheduler.sh's later edit of nova.conf does not count, host prep's edit of nova-compute's settings does", () => {
    const scheduler = checkNovaApplied(applied(1990, 2010), plan);
    assert.equal(scheduler.ok, true, JSON.stringify(scheduler));
    assert.match(scheduler.observed, /its settings in nova\.conf changed 1970-01-01T00:33:10Z/);
    const cut = checkNovaApplied(applied(2010, 2010), plan);
    assert.equal(cut.ok, false);
    assert.match(cut.observed, /before its settings in nova\.conf changed/);
    // Without host prep's record (nova.configMode verify): nova.conf's own time.
    assert.equal(checkNovaApplied(applied("", 2010), plan).ok, false);
    assert.equal(checkNovaApplied(applied("", 1990), plan).ok, true);
  });
});

describe("TuneD applied its variables", () => {
  const applied = (variables: number, tuned: number | "") =>
    `nova_conf_changed=1\nnova_compute=none\nnova_compute_started=\ntuned_variables_changed=${variables}\ntuned_applied=${tuned}\n`;
  const names = (rs: { check: string; ok: boolean }[]) => rs.map((r) => `${r.check}: ${r.ok}`);

  it("passes when the file says the planned cores and TuneD applied the profile after the file changed", () => {
    assert.deepEqual(names(checkTunedApplied(applied(1000, 1005), "isolated_cores=4-11\n", plan)), [
      "TuneD isolated_cores: true",
      "TuneD applied its variables: true",
    ]);
  });

  it("fails when TuneD last applied the profile before the file changed (tuned-adm profile was cut off)", () => {
    const [, stale] = checkTunedApplied(applied(1005, 1000), "isolated_cores=4-11\n", plan);
    assert.equal(stale.ok, false);
    assert.match(
      stale.observed,
      /^applied 1970-01-01T00:16:40Z, before \/etc\/tuned\/realtime-virtual-host-variables\.conf changed/,
    );
    assert.match(stale.hint, /tuned-adm profile realtime-virtual-host/);
    const [, never] = checkTunedApplied(applied(1005, ""), "isolated_cores=4-11\n", plan);
    assert.equal(never.ok, false);
    assert.match(never.observed, /time unknown/);
  });

  it("reads isolated_cores as TuneD does, the last line winning; other cores or none fail", () => {
    const cores = (text: string) => checkTunedApplied(applied(1, 2), text, plan)[0];
    assert.equal(cores("isolated_cores=2-3\nisolated_cores=4,5,6-11\n").ok, true);
    assert.equal(cores("isolated_cores=4-11\nisolated_cores=2-3\n").ok, false);
    assert.match(cores("# isolated_cores=4-11\n").observed, /no isolated_cores in/);
    assert.equal(cores("isolated_cores=${f:cpulist2hex:4-11}\n").ok, false);
  });
});
