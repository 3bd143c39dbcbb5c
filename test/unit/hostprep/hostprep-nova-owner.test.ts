/**
 * nova.conf owned by someone else: `nova.configMode: edit` with a kolla-style config
 * path and restart command, on a real Debian 12 root; `verify`, which writes nothing.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { controllerName, controllerSteps, controllersOf, hostSteps } from "../../../lib/desired/host-steps";
import { planStack } from "../../../lib/plan/stack";
import { checkNovaConf } from "../../../lib/checks/host-nova";
import type { TestRoot } from "../../support/debian-root";
import { buildDebianRoot, runScript } from "../../support/debian-root";
import { devRaw } from "../../support/dev-config";

const KOLLA_CONF = "/etc/kolla/nova-compute/nova.conf";

function plannedWith(nova: Record<string, unknown>, where: "host" | "stack" = "host") {
  const raw = devRaw();
  if (where === "host") raw.hosts[0].nova = nova;
  else raw.nova = nova;
  const r = planStack(raw);
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  return { plan: r.plan.hosts[0], config: r.config.hosts[0], all: r.plan.hosts };
}

describe("nova.configMode edit with a kolla-style path and restart command", () => {
  const bin = mkdtempSync(join(tmpdir(), "fake-docker-"));
  const docker = join(bin, "docker");
  const calls = join(bin, "calls.log");
  writeFileSync(docker, `#!/bin/sh\nprintf '%s\\n' "docker $*" >>"${calls}"\n`, { mode: 0o755 });
  let root: TestRoot | undefined;
  after(() => {
    rmSync(bin, { recursive: true, force: true });
    root?.remove();
  });

  it("host prep's step edits the configured file and runs the configured command, once", () => {
    const { plan, config } = plannedWith({ configPath: KOLLA_CONF, restartCommand: `${docker} restart nova_compute` });
    const step = hostSteps(plan, config).find((s) => s.id === "nova-compute");
    assert.ok(step);
    assert.deepEqual(step.args.slice(-4), [
      "--conf",
      KOLLA_CONF,
      "--restart-command",
      `${docker} restart nova_compute`,
    ]);
    assert.deepEqual(step.triggers, {
      cpuDedicatedSet: "4-11",
      cpuSharedSet: null,
      reservedHostMemoryMb: 4096,
      reservedHugePages: [],
      configPath: KOLLA_CONF,
      restartCommand: `${docker} restart nova_compute`,
    });

    root = buildDebianRoot();
    // kolla renders its own nova.conf for the container; the distribution's file stays as it is.
    const shipped = root.read("/etc/nova/nova.conf");
    root.write(KOLLA_CONF, "[DEFAULT]\ndebug = False\n\n[compute]\n# rendered by kolla-ansible\n", 0o600);
    const env = { NOVA_COMPUTE_SH_RESTART_UNDER_ROOT: "1" };
    const first = runScript("nova-compute.sh", [...step.args, "--root", root.dir], env);
    assert.equal(first.status, 0, first.stderr);
    assert.equal(first.last, "changed");
    assert.deepEqual(first.tripped, []);
    assert.ok(
      first.lines.some((l) => l.includes(`running: ${docker} restart nova_compute`)),
      first.stdout,
    );
    assert.equal(readFileSync(calls, "utf8"), "docker restart nova_compute\n");
    const written = root.read(KOLLA_CONF);
    assert.match(written, /^\[compute\]\n# rendered by kolla-ansible\ncpu_dedicated_set = 4-11$/m);
    assert.match(written, /^reserved_host_memory_mb = 4096$/m);
    assert.match(written, /^debug = False$/m);
    assert.equal(root.read("/etc/nova/nova.conf"), shipped, "the distribution's nova.conf is not the one edited");

    const second = runScript("nova-compute.sh", [...step.args, "--root", root.dir], env);
    assert.equal(second.status, 0, second.stderr);
    assert.equal(second.last, "unchanged");
    assert.equal(readFileSync(calls, "utf8"), "docker restart nova_compute\n", "no restart when nothing changed");
  });

  it("refuses a config path or restart command with shell characters, in the script too", () => {
    const raw = devRaw();
    raw.hosts[0].nova = { configPath: "/etc/../root/x", restartCommand: "docker restart nova_compute; reboot" };
    const r = planStack(raw);
    assert.ok(!r.ok);
    const paths = r.problems.map((p) => p.path);
    assert.ok(paths.includes("openstack-rt:hosts[0].nova.configPath"), JSON.stringify(r.problems));
    assert.ok(paths.includes("openstack-rt:hosts[0].nova.restartCommand"), JSON.stringify(r.problems));
    const bad = runScript("nova-compute.sh", [
      "--dedicated",
      "4-11",
      "--reserved-host-memory-mb",
      "1",
      "--restart-command",
      "a;b",
    ]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--restart-command takes a command and its arguments/);
    const badConf = runScript("nova-compute.sh", [
      "--dedicated",
      "4-11",
      "--reserved-host-memory-mb",
      "1",
      "--conf",
      "/etc/../x",
    ]);
    assert.equal(badConf.status, 2);
  });
});

describe("nova.configMode verify", () => {
  it("the nova-compute step writes nothing and fails with what to set where, on a real Debian root", () => {
    const { plan, config } = plannedWith({ configMode: "verify", configPath: KOLLA_CONF }, "stack");
    assert.deepEqual(plan.nova.owner, { mode: "verify", configPath: KOLLA_CONF });
    const step = hostSteps(plan, config).find((s) => s.id === "nova-compute");
    assert.ok(step);
    assert.deepEqual(step.args.slice(-3), ["--conf", KOLLA_CONF, "--check"]);
    assert.equal((step.triggers as Record<string, unknown>).configMode, "verify");
    const root = buildDebianRoot();
    try {
      const rendered = "[DEFAULT]\ndebug = False\n\n[compute]\n";
      root.write(KOLLA_CONF, rendered, 0o600);
      const r = runScript("nova-compute.sh", [...step.args, "--root", root.dir]);
      assert.equal(r.status, 1);
      assert.deepEqual(r.tripped, []);
      assert.equal(root.read(KOLLA_CONF), rendered, "verify writes nothing");
      assert.match(
        r.stderr,
        /\/etc\/kolla\/nova-compute\/nova.conf lacks the planned settings; nova.configMode is verify, so this project writes nothing there: set \[compute\] cpu_dedicated_set = 4-11; set \[DEFAULT\] reserved_host_memory_mb = 4096\. Set them in \/etc\/kolla\/nova-compute\/nova.conf through the tool that owns it \(npm run plan -- --format tripleo\|kolla\|osa\|juju/,
      );
      // Once the tool has rendered them, the check passes and still writes nothing.
      const done = "[DEFAULT]\nreserved_host_memory_mb = 4096\n\n[compute]\ncpu_dedicated_set = 4-11\n";
      root.write(KOLLA_CONF, done, 0o600);
      const ok = runScript("nova-compute.sh", [...step.args, "--root", root.dir]);
      assert.equal(ok.status, 0, ok.stderr);
      assert.equal(ok.last, "unchanged");
      assert.equal(root.read(KOLLA_CONF), done);
    } finally {
      root.remove();
    }
  });
  it("a host whose nova.conf lacks the settings fails its check, saying what to set where", () => {
    const { plan } = plannedWith({ configMode: "verify", configPath: KOLLA_CONF });
    const results = checkNovaConf("[DEFAULT]\ndebug = False\n\n[compute]\n", plan);
    const dedicated = results.find((r) => r.check === "nova cpu_dedicated_set");
    assert.ok(dedicated && !dedicated.ok);
    assert.match(
      dedicated.hint ?? "",
      /set cpu_dedicated_set = 4-11 in the \[compute\] section of \/etc\/kolla\/nova-compute\/nova.conf/,
    );
    assert.match(dedicated.hint ?? "", /nova.configMode is verify: this project writes nothing there/);
    assert.match(dedicated.hint ?? "", /npm run plan -- --format tripleo\|kolla\|osa\|juju/);
  });
  it("a restart command in verify mode is a problem", () => {
    const raw = devRaw();
    raw.hosts[0].nova = { configMode: "verify", restartCommand: "docker restart nova_compute" };
    const r = planStack(raw);
    assert.ok(!r.ok);
    assert.match(r.problems[0].message, /nova.configMode is verify: nothing is written, so nothing is restarted/);
  });
  it("without nova: the step is what it always was", () => {
    const raw = devRaw();
    const r = planStack(raw);
    assert.ok(r.ok);
    const step = hostSteps(r.plan.hosts[0], r.config.hosts[0]).find((s) => s.id === "nova-compute");
    assert.deepEqual(step?.args, ["--dedicated", "4-11", "--reserved-host-memory-mb", "4096"]);
    assert.equal(r.plan.hosts[0].nova.owner, undefined);
  });
});

describe("controllers: every nova-scheduler of an HA control plane", () => {
  const ssh = (host: string) => ({ host, user: "root" });
  it("keeps the single controller as it was, and takes a list", () => {
    const single = devRaw();
    const r1 = planStack(single);
    assert.ok(r1.ok);
    const one = controllersOf(r1.config);
    assert.equal(one.length, 1);
    assert.deepEqual(controllerSteps(one[0])[0].args, []);
    assert.deepEqual(controllerSteps(one[0])[0].triggers, {});
    assert.equal(controllerName(0), "controller");

    const ha = devRaw();
    ha.controller = false;
    ha.controllers = [
      { ssh: ssh("192.0.2.5") },
      {
        ssh: ssh("192.0.2.6"),
        nova: { configPath: "/etc/kolla/nova-scheduler/nova.conf", restartCommand: "docker restart nova_scheduler" },
      },
      { ssh: ssh("192.0.2.7"), nova: { configMode: "verify" } },
    ];
    const r2 = planStack(ha);
    assert.ok(r2.ok, JSON.stringify(!r2.ok && r2.problems));
    const list = controllersOf(r2.config);
    assert.deepEqual(
      list.map((c) => controllerSteps(c)[0].args),
      [
        [],
        ["--conf", "/etc/kolla/nova-scheduler/nova.conf", "--restart-command", "docker restart nova_scheduler"],
        ["--check"],
      ],
    );
    assert.deepEqual([0, 1, 2].map(controllerName), ["controller", "controller-2", "controller-3"]);
  });
  it("refuses controller and controllers together, naming the new setting", () => {
    const raw = devRaw();
    raw.controllers = [{ ssh: ssh("192.0.2.6") }];
    const r = planStack(raw);
    assert.ok(!r.ok);
    assert.equal(r.problems[0].path, "openstack-rt:controllers");
    assert.match(
      r.problems[0].message,
      /give every nova-scheduler host in controllers: \[\.\.\.\] .* and remove controller/,
    );
  });
  it("scheduler.sh --check writes nothing and names the missing filters and the file", () => {
    const root = buildDebianRoot();
    try {
      const conf = "/etc/kolla/nova-scheduler/nova.conf";
      const text = "[filter_scheduler]\nenabled_filters = ComputeFilter,NUMATopologyFilter\n";
      root.write(conf, text, 0o600);
      const r = runScript("scheduler.sh", ["--conf", conf, "--check", "--root", root.dir]);
      assert.equal(r.status, 1);
      assert.equal(root.read(conf), text);
      assert.match(
        r.stderr,
        /\[filter_scheduler\] enabled_filters in \/etc\/kolla\/nova-scheduler\/nova.conf lacks AggregateInstanceExtraSpecsFilter; nova.configMode is verify/,
      );
      const edit = runScript("scheduler.sh", [
        "--conf",
        conf,
        "--restart-command",
        "docker restart nova_scheduler",
        "--root",
        root.dir,
      ]);
      assert.equal(edit.status, 0, edit.stderr);
      assert.ok(edit.lines.includes(`skipped (--root ${root.dir}): docker restart nova_scheduler`), edit.stdout);
      assert.match(
        root.read(conf),
        /^enabled_filters = ComputeFilter,NUMATopologyFilter,AggregateInstanceExtraSpecsFilter$/m,
      );
      const again = runScript("scheduler.sh", ["--conf", conf, "--check", "--root", root.dir]);
      assert.equal(again.status, 0, again.stderr);
      assert.equal(again.last, "unchanged");
    } finally {
      root.remove();
    }
  });
});
