/**
 * Rollout on a live cloud: the pure decisions of lib/desired/rollout.ts, and the resource graph the
 * program registers for five hosts with deployment.maxUnavailable 2, loaded by Pulumi's own
 * runner under the SDK's mocks (test/support/pulumi-program.ts): the dependencies the mock
 * monitor records show the batches {01,02} -> {03,04} -> {05}, each host's chain inside its
 * maintenance, and the lifecycle options of the cloud objects.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { decideStack } from "../../../lib/desired/decide";
import { unfoldPlainInputs } from "../../../lib/providers/plain-inputs";
import {
  batches,
  changeDigest,
  decideGuests,
  disabledByStack,
  flavorRevisionName,
  maintenanceReason,
  maxUnavailable,
} from "../../../lib/desired/rollout";
import { PROJECT_DIR, devRaw } from "../../support/dev-config";
import type { LoadedProgram, RegisteredResource } from "../../support/pulumi-program";
import { loadProgram } from "../../support/pulumi-program";

describe("rollout decisions", () => {
  it("cuts hosts into batches of maxUnavailable, in config order", () => {
    assert.deepEqual(batches([1, 2, 3, 4, 5], 2), [[1, 2], [3, 4], [5]]);
    assert.deepEqual(batches([1, 2], 5), [[1, 2]]);
    assert.throws(() => batches([1], 0), /batch size/);
    assert.equal(maxUnavailable({ maxUnavailable: 3, rollingReboots: true }), 1);
    assert.equal(maxUnavailable({ maxUnavailable: 3, rollingReboots: false }), 3);
  });

  it("refuses rollingReboots: true with maxUnavailable > 1, naming the new setting; accepts the old default", () => {
    const raw = devRaw();
    raw.deployment = { rollingReboots: true, maxUnavailable: 2 };
    const d = decideStack(raw, PROJECT_DIR);
    assert.ok(!d.ok);
    assert.ok(
      d.problems.some(
        (p) =>
          p.path === "openstack-rt:deployment.rollingReboots" &&
          /replaced by deployment\.maxUnavailable/.test(p.message),
      ),
      JSON.stringify(d.problems),
    );
    raw.deployment = { rollingReboots: false, rebootTimeoutSeconds: 900 };
    const old = decideStack(raw, PROJECT_DIR);
    assert.ok(old.ok);
    assert.equal(old.config.deployment.maxUnavailable, 1);
    assert.equal(old.config.deployment.guests, "refuse");
    assert.equal(old.config.deployment.protect, true);
  });

  it("reports a bad guests policy and maxUnavailable with the setting and what is allowed", () => {
    const raw = devRaw();
    raw.deployment = { guests: "evacuate", maxUnavailable: 0 };
    const d = decideStack(raw, PROJECT_DIR);
    assert.ok(!d.ok);
    const text = d.problems.map((p) => `${p.path}: ${p.message}`).join("\n");
    assert.match(text, /deployment\.guests: got "evacuate"; must be one of refuse, live-migrate, ignore/);
    assert.match(text, /deployment\.maxUnavailable: got 0; must be at least 1/);
  });

  it("decides guests: refuse lists servers and projects, ignore warns, live-migrate lists them", () => {
    const guests = [
      { id: "b", name: "rt-vm-2", projectId: "p2", status: "ACTIVE" },
      { id: "a", name: "rt-vm-1", projectId: "p1", status: "ACTIVE" },
    ];
    assert.deepEqual(decideGuests("h1", "refuse", []), { action: "none" });
    const refuse = decideGuests("h1", "refuse", guests);
    assert.equal(refuse.action, "refuse");
    assert.match(
      (refuse as { message: string }).message,
      /host h1 runs 2 guest\(s\).*rt-vm-1 \(a, project p1, ACTIVE\); rt-vm-2 \(b, project p2, ACTIVE\).*openstack compute service set --enable h1 nova-compute/,
    );
    const ignore = decideGuests("h1", "ignore", guests);
    assert.match((ignore as { warning: string }).warning, /"ignore".*under 2 running guest/);
    const migrate = decideGuests("h1", "live-migrate", guests);
    assert.deepEqual(
      (migrate as { guests: { id: string }[] }).guests.map((g) => g.id),
      ["a", "b"],
    );
  });

  it("names the stack in the disabled reason and recognizes its own", () => {
    const r = maintenanceReason("openstack-rt/prod");
    assert.match(r, /^openstack-rt stack openstack-rt\/prod: /);
    assert.ok(r.length <= 255);
    assert.ok(disabledByStack(r, "openstack-rt/prod"));
    assert.ok(!disabledByStack(r, "openstack-rt/dev"));
    assert.ok(!disabledByStack("hardware repair", "openstack-rt/prod"));
    assert.ok(!disabledByStack(null, "openstack-rt/prod"));
  });

  it("a step digest ignores the facts step and changes with any other step's args, triggers or script", () => {
    const steps = [
      { id: "facts", args: [], triggers: { os: "debian-12" }, script: "facts" },
      { id: "tuned", args: ["--isolated-cores", "4-11"], triggers: { isolatedCores: "4-11" }, script: "tuned v1" },
    ];
    const base = changeDigest(steps);
    assert.equal(changeDigest([{ ...steps[0], script: "facts v2" }, steps[1]]), base);
    assert.notEqual(changeDigest([steps[0], { ...steps[1], script: "tuned v2" }]), base);
    assert.notEqual(changeDigest([steps[0], { ...steps[1], args: ["--isolated-cores", "4-9"] }]), base);
  });

  it("a flavor's Nova name carries a revision of its size and extra specs", () => {
    const f = {
      name: "rt1.small",
      vcpus: 4,
      ramMb: 4096,
      diskGb: 20,
      isPublic: true,
      extraSpecs: { "hw:pmu": "false" },
    };
    const name = flavorRevisionName(f);
    assert.match(name, /^rt1\.small\.r[0-9a-f]{8}$/);
    assert.equal(flavorRevisionName({ ...f }), name);
    assert.notEqual(flavorRevisionName({ ...f, ramMb: 8192 }), name);
    assert.notEqual(flavorRevisionName({ ...f, extraSpecs: { "hw:pmu": "true" } }), name);
  });
});

/** Five hosts: the dev stack's two, and three more like compute-rt-01. */
function fiveHosts(): ReturnType<typeof devRaw> {
  const raw = devRaw();
  const template = raw.hosts[0];
  for (const n of [3, 4, 5]) {
    const h = structuredClone(template);
    h.name = `compute-rt-0${n}`;
    (h.ssh as Record<string, unknown>).host = `192.0.2.${10 + n}`;
    raw.hosts.push(h);
  }
  raw.deployment = { maxUnavailable: 2, guests: "live-migrate" };
  return raw;
}

describe("the program with five hosts and maxUnavailable 2", () => {
  let loaded: LoadedProgram;
  let byName: Map<string, RegisteredResource>;
  before(async () => {
    loaded = await loadProgram({ stack: "dev", config: fiveHosts() });
    byName = new Map(loaded.resources.map((r) => [r.name, r]));
  });
  const deps = (name: string) => {
    const r = byName.get(name);
    assert.ok(r, `${name} is registered`);
    return r.dependsOn.map((u) => u.split("::").at(-1)!).sort();
  };
  const HOSTS = [1, 2, 3, 4, 5].map((n) => `compute-rt-0${n}`);
  const STEPS = ["packages", "tuned", "kernel-args", "nova-compute", "reboot"];

  it("loads", () => assert.ok(loaded.ok, loaded.ok ? "" : loaded.error));

  it("each host's change runs inside its maintenance: facts, maintenance, steps, checks, maintenance end", () => {
    for (const h of HOSTS) {
      assert.deepEqual(deps(`${h}-hostprep`), [], `${h}: the copy of hostprep/ waits for nothing`);
      assert.deepEqual(deps(`${h}-facts`), [`${h}-hostprep`], `${h}: facts waits only for the copy`);
      assert.ok(deps(`${h}-maintenance`).includes(`${h}-facts`));
      assert.deepEqual(deps(`${h}-packages`), [`${h}-hostprep`, `${h}-maintenance`]);
      assert.deepEqual(deps(`${h}-maintenance-end`), [`${h}-verification`]);
      const m = byName.get(`${h}-maintenance`)!;
      assert.equal(m.type, "pulumi-nodejs:dynamic:HostMaintenance");
      const inputs = unfoldPlainInputs(m.inputs);
      assert.equal(inputs.phase, "start");
      assert.equal(inputs.guests, "live-migrate");
      assert.equal(inputs.stack, "openstack-rt/dev");
      assert.equal(m.parent?.split("::").at(-1), h);
    }
  });

  it("batch {01,02} starts at once; {03,04} waits for both of its maintenance ends; {05} for {03,04}'s", () => {
    const gate = (hosts: string[]) => hosts.map((h) => `${h}-maintenance-end`);
    const order: string[] = [];
    for (const h of HOSTS) {
      const waits = deps(`${h}-maintenance`).filter((d) => d !== `${h}-facts`);
      order.push(`${h} <- ${waits.join(",") || "-"}`);
    }
    process.stdout.write(`# batch order (maintenance start <- what it waits for):\n# ${order.join("\n# ")}\n`);
    assert.deepEqual(deps("compute-rt-01-maintenance"), ["compute-rt-01-facts"]);
    assert.deepEqual(deps("compute-rt-02-maintenance"), ["compute-rt-02-facts"]);
    for (const h of ["compute-rt-03", "compute-rt-04"])
      assert.deepEqual(deps(`${h}-maintenance`), [...gate(["compute-rt-01", "compute-rt-02"]), `${h}-facts`].sort());
    assert.deepEqual(
      deps("compute-rt-05-maintenance"),
      [...gate(["compute-rt-03", "compute-rt-04"]), "compute-rt-05-facts"].sort(),
    );
    // Nothing of a later batch's change waits on anything but its own chain and that gate.
    for (const h of HOSTS)
      for (const s of STEPS.slice(1))
        assert.ok(
          deps(`${h}-${s}`).every((d) => d.startsWith(h)),
          `${h}-${s} waits only for its own chain: ${deps(`${h}-${s}`).join(", ")}`,
        );
  });

  it("flavors carry revisioned names and servers wait for each other (protect and the like: rollout-lifecycle.test.ts)", () => {
    const keypair = loaded.resources.find((r) => r.type === "openstack:compute/keypair:Keypair")!;
    const aggregate = loaded.resources.find((r) => r.type === "openstack:compute/aggregateV2:AggregateV2")!;
    assert.ok(keypair && aggregate);
    const flavors = loaded.resources.filter((r) => r.type === "openstack:compute/flavor:Flavor");
    assert.ok(flavors.length > 0);
    for (const f of flavors) assert.match(String(f.inputs.name), /\.r[0-9a-f]{8}$/);
    const servers = loaded.resources.filter((r) => r.type === "openstack:compute/instance:Instance");
    const serverComponents = loaded.resources.filter((r) => r.type === "openstack-rt:server:RtServer");
    for (let i = 1; i < serverComponents.length; i++)
      assert.ok(
        byName.get(servers[i].name)!.dependsOn.some((u) => u.endsWith(`::${serverComponents[i - 1].name}`)),
        `${servers[i].name} waits for ${serverComponents[i - 1].name}`,
      );
  });
});

describe("the program with five hosts, maxUnavailable 2 and maintenance: false", () => {
  let loaded: LoadedProgram;
  before(async () => {
    const raw = fiveHosts();
    raw.deployment = { maxUnavailable: 2, maintenance: false };
    loaded = await loadProgram({ stack: "dev", config: raw });
  });
  const deps = (name: string) =>
    loaded.resources
      .find((r) => r.name === name)!
      .dependsOn.map((u) => u.split("::").at(-1)!)
      .sort();

  it("registers no maintenance, and each batch's packages wait for the previous batch's host checks", () => {
    assert.ok(loaded.ok, loaded.ok ? "" : loaded.error);
    assert.ok(!loaded.resources.some((r) => r.name.includes("-maintenance")));
    assert.deepEqual(deps("compute-rt-01-packages"), ["compute-rt-01-facts", "compute-rt-01-hostprep"]);
    for (const h of ["compute-rt-03", "compute-rt-04"])
      assert.deepEqual(deps(`${h}-packages`), [
        "compute-rt-01-verification",
        "compute-rt-02-verification",
        `${h}-facts`,
        `${h}-hostprep`,
      ]);
    assert.deepEqual(deps("compute-rt-05-packages"), [
      "compute-rt-03-verification",
      "compute-rt-04-verification",
      "compute-rt-05-facts",
      "compute-rt-05-hostprep",
    ]);
  });
});
