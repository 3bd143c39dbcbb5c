/** The Pulumi program under the SDK's mocks: it plans from `pulumi.Config` and exports the plan. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { CONFIG_NAMESPACE } from "../lib/config";
import { PlanError } from "../lib/problems";
import { planFromPulumiConfig } from "../lib/pulumi-config";
import { devRaw } from "./support/dev-config";

const registered: string[] = [];
void pulumi.runtime.setMocks(
  {
    newResource: (args) => {
      registered.push(args.type);
      return { id: `${args.name}-id`, state: args.inputs as Record<string, unknown> };
    },
    call: (args) => args.inputs as Record<string, unknown>,
  },
  "openstack-rt",
  "dev",
  true,
);

function setConfig(raw: Record<string, unknown>): void {
  pulumi.runtime.setAllConfig(Object.fromEntries(Object.entries(raw).map(([k, v]) => [`${CONFIG_NAMESPACE}:${k}`, JSON.stringify(v)])));
}

const resolved = <T>(o: pulumi.Output<T> | T) => new Promise<T>((res) => (pulumi.Output.isInstance(o) ? o.apply(res) : res(o)));

describe("the program", () => {
  it("fails before registering anything when the config is bad, listing every problem", () => {
    const raw = devRaw();
    raw.flavors[0].vcpus = 6;
    raw.hosts[0].hugepages1gPerNode = [4];
    setConfig(raw);
    assert.throws(
      () => planFromPulumiConfig(new pulumi.Config()),
      (e: Error) =>
        e instanceof PlanError &&
        e.problems.length === 2 &&
        /hugepages1gPerNode: got 1 counts for 2 NUMA nodes/.test(e.message) &&
        /flavors\[0\]: flavor "rt1.small" fits on no RT host/.test(e.message),
    );
    assert.deepEqual(registered, []);
  });

  it("exports the dev stack's plan", async () => {
    setConfig(devRaw());
    const program = await import("../index");
    const hosts = await resolved(program.hostPlans);
    assert.deepEqual(hosts.map((h) => [h.name, h.nova.cpuDedicatedSet]), [["compute-rt-01", "4-11"], ["compute-rt-02", "4-11"]]);
    const flavors = await resolved(program.flavorPlans);
    assert.equal(flavors.find((f) => f.name === "rt1.small")?.extraSpecs["hw:cpu_realtime_mask"], "^0-1");
  });
});
