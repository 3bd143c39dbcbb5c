/** The Pulumi program under the SDK's mocks: from `pulumi.Config` to every resource of the dev stack. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { CONFIG_NAMESPACE } from "../../../lib/config/schema";
import { planFromPulumiConfig } from "../../../lib/desired/from-pulumi";
import { devRaw } from "../../support/dev-config";
import { onRegister } from "../../support/mock-monitor";
import { setProgramMocks } from "../../support/mocks";

interface Registered {
  type: string;
  name: string;
  dependsOn: string[];
}

const registered: Registered[] = [];
void setProgramMocks();
onRegister((req) => {
  registered.push({
    type: req.getType(),
    name: req.getName(),
    dependsOn: req.getDependenciesList().map((urn) => urn.split("::").pop()!),
  });
});

function setConfig(raw: Record<string, unknown>): void {
  pulumi.runtime.setAllConfig(
    Object.fromEntries(Object.entries(raw).map(([k, v]) => [`${CONFIG_NAMESPACE}:${k}`, JSON.stringify(v)])),
  );
}

const resolved = <T>(o: pulumi.Output<T>) => new Promise<T>((res) => o.apply(res));
const one = (name: string) => {
  const r = registered.filter((x) => x.name === name);
  assert.equal(r.length, 1, `${name} registered once`);
  return r[0];
};

describe("the program", () => {
  it("fails before registering anything when the config is bad, listing every problem", () => {
    const raw = devRaw();
    raw.flavors[0].vcpus = 6;
    raw.hosts[0].hugepages1gPerNode = [4];
    setConfig(raw);
    assert.throws(
      () => planFromPulumiConfig(new pulumi.Config()),
      (e: Error) =>
        pulumi.RunError.isInstance(e) &&
        /^2 problems in the stack config:\n/.test(e.message) &&
        /hugepages1gPerNode: got 1 counts for 2 NUMA nodes/.test(e.message) &&
        /flavors\[0\]: flavor "rt1.small" fits on no RT host/.test(e.message),
    );
    assert.deepEqual(registered, []);
  });

  it("reads a plain string where a structure belongs as that string, for the schema to name, not as a JSON error", () => {
    const raw = devRaw();
    pulumi.runtime.setAllConfig({
      ...Object.fromEntries(Object.entries(raw).map(([k, v]) => [`${CONFIG_NAMESPACE}:${k}`, JSON.stringify(v)])),
      // What `pulumi config set openstack-rt:network provider-net` hands the program.
      [`${CONFIG_NAMESPACE}:network`]: "provider-net",
    });
    assert.throws(
      () => planFromPulumiConfig(new pulumi.Config()),
      (e: Error) =>
        pulumi.RunError.isInstance(e) &&
        /^1 problem in the stack config:\n {2}- openstack-rt:network: got "provider-net"; .*object/.test(e.message),
    );
    assert.deepEqual(registered, []);
  });

  it("wires the dev stack: host prep, host checks, scheduler, cloud objects, then domain and guest checks", async () => {
    setConfig(devRaw());
    const program = await import("../../../index");
    const verification = await resolved(program.verification);
    const hosts = await resolved(program.hostPlans);
    assert.deepEqual(
      hosts.map((h) => [h.name, h.nova.cpuDedicatedSet]),
      [
        ["compute-rt-01", "4-11"],
        ["compute-rt-02", "4-11"],
      ],
    );
    assert.deepEqual(Object.keys(verification.hosts), ["compute-rt-01", "compute-rt-02"]);
    assert.deepEqual(Object.keys(verification.domains), ["rt-server"]);
    assert.deepEqual(Object.keys(verification.guests), ["rt-server"]);

    for (const host of ["compute-rt-01", "compute-rt-02"]) {
      assert.equal(one(host).type, "openstack-rt:host:ComputeHost");
      const check = one(`${host}-verification`);
      assert.equal(check.type, "pulumi-nodejs:dynamic/verify:HostVerification");
      assert.ok(
        check.dependsOn.includes(`${host}-reboot-wait`),
        `${host}'s checks run after its reboot: ${check.dependsOn.join(", ")}`,
      );
    }
    assert.equal(one("controller").type, "openstack-rt:host:Controller");
    const server = registered.find((r) => r.type === "openstack:compute/instance:Instance");
    assert.ok(server);
    for (const dep of ["compute-rt-01-verification", "compute-rt-02-verification", "controller-scheduler"]) {
      assert.ok(server.dependsOn.includes(dep), `the server waits for ${dep}: ${server.dependsOn.join(", ")}`);
    }
    // The aggregate's fanout to the schedulers must not meet a scheduler being restarted.
    assert.ok(one("openstack-rt-aggregate").dependsOn.includes("controller-scheduler"));
    assert.ok(one("rt-server-domain-verification").dependsOn.includes(server.name));
    assert.ok(one("rt-server-guest-verification").dependsOn.includes(server.name));
  });
});
