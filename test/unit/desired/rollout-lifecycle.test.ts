/**
 * Lifecycle options of the cloud objects under the SDK's mocks, read from the registrations the
 * mock monitor receives (deleteBeforeReplace, protect, retainOnDelete): the keypair is deleted
 * before its replacement, the aggregate is protected and the image and flavors are kept in the
 * cloud when superseded, unless deployment.protect is false; the flavors have revisioned names
 * and are replaced create-before-delete, and the servers wait for each other.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { decideStack } from "../../../lib/desired/decide";
import { PROJECT_DIR, devRaw } from "../../support/dev-config";
import { onRegister } from "../../support/mock-monitor";
import { setProgramMocks } from "../../support/mocks";

interface Seen {
  type: string;
  name: string;
  dependsOn: string[];
  deleteBeforeReplace: boolean;
  protect: boolean;
  retainOnDelete: boolean;
  inputs: Record<string, unknown>;
}
const seen: Seen[] = [];

void setProgramMocks({ state: () => ({}) });
onRegister((req) => {
  const raw = req as unknown as { getProtect(): boolean; getRetainondelete(): boolean };
  seen.push({
    type: req.getType(),
    name: req.getName(),
    dependsOn: req.getDependenciesList().map((u) => u.split("::").at(-1)!),
    deleteBeforeReplace: req.getDeletebeforereplace(),
    protect: raw.getProtect(),
    retainOnDelete: raw.getRetainondelete(),
    inputs: req.getObject()?.toJavaScript() ?? {},
  });
});

async function cloud(prefix: string, deployment: Record<string, unknown>) {
  const { RtCloud } = await import("../../../components/cloud/rt-cloud");
  const raw = devRaw();
  raw.deployment = deployment;
  raw.servers = [
    { name: "rt-a", flavor: raw.flavors[0].name },
    { name: "rt-b", flavor: raw.flavors[0].name },
    { name: "rt-c", flavor: raw.flavors[0].name },
  ];
  const d = decideStack(raw, PROJECT_DIR);
  if (!d.ok) throw new Error(JSON.stringify(d.problems));
  const c = new RtCloud(prefix, { desired: d.desired });
  await new Promise((resolve) => pulumi.all([...c.servers.values()].map((s) => s.output)).apply(resolve));
  await new Promise((resolve) => setTimeout(resolve, 50));
  return seen.filter((s) => s.name.startsWith(prefix));
}

const ofType = (regs: Seen[], type: string) => regs.filter((r) => r.type === type);

describe("lifecycle of the cloud objects", () => {
  it("protects by default: aggregate protected, image and flavors retained, keypair deleted before replaced", async () => {
    const regs = await cloud("p-", {});
    const [keypair] = ofType(regs, "openstack:compute/keypair:Keypair");
    assert.equal(keypair.deleteBeforeReplace, true);
    const [aggregate] = ofType(regs, "openstack:compute/aggregateV2:AggregateV2");
    assert.equal(aggregate.protect, true);
    const [image] = ofType(regs, "openstack:images/image:Image");
    assert.deepEqual([image.protect, image.retainOnDelete], [false, true]);
    const flavors = ofType(regs, "openstack:compute/flavor:Flavor");
    assert.ok(flavors.length > 0);
    for (const f of flavors) {
      assert.equal(f.deleteBeforeReplace, false, `${f.name}: a new revision is created before the old goes`);
      assert.equal(f.retainOnDelete, true);
      assert.match(String(f.inputs.name), /^[^.].*\.r[0-9a-f]{8}$/);
    }
  });

  it("deployment.protect: false lets superseded objects go", async () => {
    const regs = await cloud("u-", { protect: false });
    const [aggregate] = ofType(regs, "openstack:compute/aggregateV2:AggregateV2");
    assert.equal(aggregate.protect, false);
    for (const r of [
      ...ofType(regs, "openstack:images/image:Image"),
      ...ofType(regs, "openstack:compute/flavor:Flavor"),
    ])
      assert.equal(r.retainOnDelete, false, r.name);
  });

  it("servers are replaced one at a time: each waits for the one before it", async () => {
    const regs = await cloud("s-", {});
    const instances = ofType(regs, "openstack:compute/instance:Instance");
    assert.deepEqual(
      instances.map((i) => i.name),
      ["s--rt-a-instance", "s--rt-b-instance", "s--rt-c-instance"],
    );
    assert.ok(!instances[0].dependsOn.some((d) => ["s--rt-b", "s--rt-c"].includes(d)));
    assert.ok(instances[1].dependsOn.includes("s--rt-a-instance"), instances[1].dependsOn.join(", "));
    assert.ok(instances[2].dependsOn.includes("s--rt-b-instance"), instances[2].dependsOn.join(", "));
    for (const i of instances) assert.equal(i.deleteBeforeReplace, true, "only this server is down while it moves");
  });
});
