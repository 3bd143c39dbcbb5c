/**
 * A consumer stack reading an openstack-rt stack's outputs through a StackReference: the
 * program (index.ts) runs under the SDK's mocks and its exports become the referenced stack's
 * outputs; a second program then boots one more RT guest from them, typed by lib/render/outputs.ts.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as openstack from "@pulumi/openstack";
import * as pulumi from "@pulumi/pulumi";
import { CONFIG_NAMESPACE } from "../../../lib/config/schema";
import type { StackOutputs } from "../../../lib/render/outputs";
import { readStackOutputs, STACK_OUTPUT_NAMES } from "../../../lib/render/outputs";
import { devFlavor, devRaw } from "../../support/dev-config";
import { computedState } from "../../support/mock-state";
import { setProgramMocks } from "../../support/mocks";

const REF = "acme/openstack-rt/dev";

/** Mocks (for `project`) that answer a StackReference to REF with these outputs and record every resource's inputs. */
async function mocks(
  project: string,
  referenced: Record<string, unknown>,
): Promise<Map<string, Record<string, unknown>>> {
  const inputs = new Map<string, Record<string, unknown>>();
  await setProgramMocks({
    project,
    state: (a) => computedState(a.type, a.name, 7),
    onResource: (a) => inputs.set(a.name, a.inputs as Record<string, unknown>),
    answer: (a) => {
      if (a.type !== "pulumi:pulumi:StackReference") return undefined;
      assert.equal(a.id, REF);
      return { id: a.id, state: { name: REF, outputs: referenced, secretOutputNames: [] } };
    },
  });
  return inputs;
}

const value = <T>(o: pulumi.Output<T>) => new Promise<T>((resolve) => o.apply(resolve));

/** The dev stack's outputs as `pulumi stack output --json` would show them (the program runs once per process). */
let produced: Promise<Record<string, unknown>> | undefined;
function producedOutputs(): Promise<Record<string, unknown>> {
  produced ??= runProgram();
  return produced.then((o) => structuredClone(o));
}

async function runProgram(): Promise<Record<string, unknown>> {
  await mocks("openstack-rt", {});
  pulumi.runtime.setAllConfig(
    Object.fromEntries(Object.entries(devRaw()).map(([k, v]) => [`${CONFIG_NAMESPACE}:${k}`, JSON.stringify(v)])),
  );
  const program = (await import("../../../index")) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [name, v] of Object.entries(program)) out[name] = pulumi.Output.isInstance(v) ? await value(v) : v;
  await pulumi.runtime.disconnect();
  return JSON.parse(JSON.stringify(out)) as Record<string, unknown>;
}

describe("a consumer stack", () => {
  it("the program exports exactly the documented outputs", async () => {
    const outputs = await producedOutputs();
    assert.deepEqual(Object.keys(outputs).sort(), [...STACK_OUTPUT_NAMES].sort());
  });

  it("boots another guest on the RT flavor, in the aggregate, with the stack's keypair and security group", async () => {
    const produced = await producedOutputs();
    const inputs = await mocks("consumer", produced);

    // The consumer program, as an application stack would write it.
    const rt = readStackOutputs(new pulumi.StackReference(REF));
    const flavor = rt.flavors.apply((f) => f["rt1.small"]);
    const guest = new openstack.compute.Instance("app-guest", {
      name: "app-guest",
      flavorId: flavor.id,
      imageId: rt.image.id,
      keyPair: rt.keypair.name,
      securityGroups: [rt.securityGroup.name],
      networks: [{ name: "provider-net" }],
      metadata: { rtVcpus: flavor.realtimeVcpus, peer: rt.servers.apply((s) => s["rt-server"].accessIpV4) },
    });
    const hosts: StackOutputs["hostPlans"] = await value(rt.hostPlans);
    const dedicated = hosts.map((h) => h.nova.cpuDedicatedSet);
    await value(guest.id);
    await pulumi.runtime.disconnect();

    assert.deepEqual(inputs.get("app-guest"), {
      name: "app-guest",
      flavorId: "openstack-rt-rt1.small-flavor-id",
      imageId: "openstack-rt-image-id",
      keyPair: "default-key",
      securityGroups: ["rt-ssh-icmp"],
      networks: [{ name: "provider-net" }],
      metadata: { rtVcpus: "2-3", peer: "10.0.0.7" },
    });
    assert.deepEqual(dedicated, ["4-11", "4-11"]);
    const flavors = produced.flavors as StackOutputs["flavors"];
    assert.deepEqual(flavors["rt1.small"].extraSpecs, devFlavor("rt1.small").extraSpecs);
  });

  it("requires every output, so that a missing one fails the consumer's preview instead of reading as undefined", () => {
    const asked: string[] = [];
    const ref = {
      requireOutput: (name: string) => {
        asked.push(name);
        return pulumi.output(name);
      },
    } as unknown as pulumi.StackReference;
    const rt = readStackOutputs(ref);
    assert.deepEqual(asked, [...STACK_OUTPUT_NAMES]);
    assert.deepEqual(Object.keys(rt), [...STACK_OUTPUT_NAMES]);
  });
});
