/**
 * The config's rules across settings (lib/config/rules.ts), each checked once: on its own, and
 * through decideStack, which lists every problem of every stage without any repeated.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { configProblems } from "../../../lib/config/rules";
import type { Problem } from "../../../lib/config/problems";
import { parseStackConfig } from "../../../lib/config/schema";
import { decideStack } from "../../../lib/desired/decide";
import { planStack } from "../../../lib/plan/stack";
import { devRaw, PROJECT_DIR } from "../../support/dev-config";

type Raw = ReturnType<typeof devRaw>;

function broken(edit: (raw: Raw) => void): Problem[] {
  const raw = devRaw();
  edit(raw);
  const parsed = parseStackConfig(raw);
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
  return configProblems(parsed.config);
}

const paths = (ps: Problem[]) => ps.map((p) => p.path);
const RESTART = "docker restart nova_compute";

describe("config rules", () => {
  it("the dev stack keeps them all", () => {
    assert.deepEqual(
      broken(() => {}),
      [],
    );
  });

  it("names are unique among hosts, flavors and servers", () => {
    const ps = broken((raw) => {
      raw.hosts[1].name = raw.hosts[0].name;
      raw.servers.push({ ...raw.servers[0] });
    });
    assert.deepEqual(ps, [
      { path: "openstack-rt:hosts", message: 'the name "compute-rt-01" is used twice; names must be unique' },
      { path: "openstack-rt:servers", message: 'the name "rt-server" is used twice; names must be unique' },
    ]);
  });

  it("the schedulers are named in controller or in controllers, not both", () => {
    const ps = broken((raw) => {
      raw.controllers = [{ ssh: { host: "192.0.2.6", user: "root" } }];
    });
    assert.deepEqual(paths(ps), ["openstack-rt:controllers"]);
    assert.match(ps[0].message, /got 1 controllers and controller as well; .*remove controller/);
  });

  describe("a restart command with configMode verify", () => {
    it("in the stack's nova: once, there, not on every host and scheduler that inherits it", () => {
      const ps = broken((raw) => {
        raw.nova = { configMode: "verify", restartCommand: RESTART };
      });
      assert.deepEqual(ps, [
        {
          path: "openstack-rt:nova.restartCommand",
          message: `got "${RESTART}", but nova.configMode is verify: nothing is written, so nothing is restarted; remove restartCommand, or set configMode: edit`,
        },
      ]);
    });

    it("at the owner that brings the clash: its restartCommand, or its configMode over the stack's command", () => {
      const ps = broken((raw) => {
        raw.hosts[0].nova = { configMode: "verify", restartCommand: RESTART };
        raw.controller = false;
        raw.controllers = [
          { ssh: { host: "192.0.2.5", user: "root" }, nova: { configMode: "verify" } },
          { ssh: { host: "192.0.2.6", user: "root" }, nova: { configMode: "edit" } },
        ];
        raw.nova = { restartCommand: RESTART };
      });
      assert.deepEqual(paths(ps), [
        "openstack-rt:hosts[0].nova.restartCommand",
        "openstack-rt:controllers[0].nova.configMode",
      ]);
    });

    it("on the single controller", () => {
      const ps = broken((raw) => {
        (raw.controller as Record<string, unknown>).nova = { configMode: "verify", restartCommand: RESTART };
      });
      assert.deepEqual(paths(ps), ["openstack-rt:controller.nova.restartCommand"]);
    });
  });

  it("the image comes from exactly one of file and url", () => {
    const neither = broken((raw) => {
      raw.image = { name: "img", loginUser: "debian" };
    });
    assert.deepEqual(neither, [
      { path: "openstack-rt:image", message: "got neither file nor url; give exactly one of them" },
    ]);
    const both = broken((raw) => {
      raw.image = { name: "img", loginUser: "debian", file: "a.qcow2", url: "https://example.org/a.qcow2" };
    });
    assert.match(both[0].message, /^got both file and url; give exactly one of them$/);
  });

  it("a server names a flavor and a host of the stack", () => {
    const ps = broken((raw) => {
      raw.servers.push({ name: "b", flavor: "rt9.huge" }, { name: "c", flavor: "rt1.small", host: "compute-9" });
    });
    assert.deepEqual(ps, [
      {
        path: "openstack-rt:servers[1].flavor",
        message: 'got "rt9.huge", which is not a flavor of this stack; use one of rt1.small, pin1.medium',
      },
      {
        path: "openstack-rt:servers[2].host",
        message: 'got "compute-9", which is not an RT host of this stack; use one of compute-rt-01, compute-rt-02',
      },
    ]);
  });

  it("a realtime server is not pinned to a host without an RT kernel", () => {
    const ps = broken((raw) => {
      raw.hosts[1].tunedProfile = "cpu-partitioning";
      raw.servers[0].host = "compute-rt-02";
    });
    assert.deepEqual(paths(ps), ["openstack-rt:servers[0].host"]);
    assert.match(ps[0].message, /runs TuneD cpu-partitioning without an RT kernel.*pin it to compute-rt-01/);
  });

  it("SSH is not open to the whole internet unless allowSshFromAnywhere says so", () => {
    const open = (allow: boolean) =>
      broken((raw) => {
        raw.securityGroup = { ...(raw.securityGroup as object), sshCidr: "0.0.0.0/0", allowSshFromAnywhere: allow };
      });
    assert.deepEqual(paths(open(false)), ["openstack-rt:securityGroup.sshCidr"]);
    assert.deepEqual(open(true), []);
  });
});

describe("each rule checked once", () => {
  it("decideStack lists a rule's problem once beside the planner's and the cloud's, none repeated", () => {
    const raw = devRaw();
    raw.nova = { configMode: "verify", restartCommand: RESTART };
    raw.image = { name: "jammy", file: "missing.img", url: "https://example.org/a.img", loginUser: "ubuntu" };
    raw.servers.push({ name: "b", flavor: "rt9.huge" });
    raw.flavors[1].vcpus = 12;
    const d = decideStack(raw, PROJECT_DIR);
    assert.ok(!d.ok);
    const keys = d.problems.map((p) => JSON.stringify(p));
    assert.equal(new Set(keys).size, keys.length, `a problem listed twice: ${keys.join("\n")}`);
    assert.deepEqual(paths(d.problems), [
      "openstack-rt:nova.restartCommand",
      "openstack-rt:image",
      "openstack-rt:servers[1].flavor",
      "openstack-rt:flavors[1]",
      "openstack-rt:image.loginUser",
    ]);
  });

  it("planStack keeps what it could plan beside the problems, for the later stages", () => {
    const raw = devRaw();
    raw.servers[0].flavor = "rt9.huge";
    const r = planStack(raw);
    assert.ok(!r.ok);
    assert.deepEqual(paths(r.problems), ["openstack-rt:servers[0].flavor"]);
    assert.deepEqual(
      r.partial?.plan.hosts.map((h) => h.name),
      ["compute-rt-01", "compute-rt-02"],
    );
    assert.deepEqual(r.partial?.plan.servers, [
      { name: "rt-server", flavor: "rt9.huge", candidates: [], pinnedHost: null },
    ]);
    const unparsed = planStack({ ...devRaw(), hosts: "none" });
    assert.ok(!unparsed.ok);
    assert.equal(unparsed.partial, undefined);
  });
});
