/**
 * The fold of a dynamic resource's plain inputs into one property (lib/providers/plain-inputs.ts):
 * what goes in, what stays top-level, and that the provider's check gets back exactly what the
 * component gave. The path through Pulumi's provider host is pulumi-path.test.ts's.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { PLAIN_INPUTS_KEY, foldPlainInputs, unfoldPlainInputs } from "../../../lib/providers/plain-inputs";

describe("foldPlainInputs", () => {
  const bootId = pulumi.output("6c1f1c2e-5b1a-4f5e-9d41-0a7c3b2e8f10");
  const pending = Promise.resolve("later");
  const props = {
    hostName: "compute-rt-01",
    timeoutSeconds: 900,
    adopt: false,
    none: null,
    plan: { cpus: [2, 3], nova: { cpuDedicatedSet: "2-3" } },
    scripts: ["verify/host-facts.sh=ab12"],
    bootId,
    pending,
    target: { host: "10.0.0.1", hostKey: bootId },
    when: new Date(0),
    observed: undefined,
  };

  it("folds primitives, arrays and plain objects; leaves Outputs, promises, class instances and undefined top-level", () => {
    const folded = foldPlainInputs(props);
    assert.deepEqual(Object.keys(folded).sort(), [PLAIN_INPUTS_KEY, "bootId", "observed", "pending", "target", "when"]);
    assert.deepEqual(folded[PLAIN_INPUTS_KEY], {
      hostName: "compute-rt-01",
      timeoutSeconds: 900,
      adopt: false,
      none: null,
      plan: props.plan,
      scripts: props.scripts,
    });
    assert.equal(folded.bootId, bootId);
    assert.equal(folded.target, props.target, "an object with an Output inside keeps its dependency top-level");
  });

  it("registers nothing extra when no input is plain", () => {
    assert.deepEqual(Object.keys(foldPlainInputs({ bootId, observed: undefined })), ["bootId", "observed"]);
  });
});

describe("unfoldPlainInputs", () => {
  it("gives back the inputs the component passed, flat", () => {
    const given = { hostName: "compute-rt-01", plan: { cpus: [2, 3] }, bootId: "6c1f1c2e", __provider: "exports..." };
    const registered = {
      [PLAIN_INPUTS_KEY]: { hostName: "compute-rt-01", plan: { cpus: [2, 3] } },
      bootId: "6c1f1c2e",
    };
    assert.deepEqual(unfoldPlainInputs({ ...registered, __provider: "exports..." }), given);
  });

  it("passes inputs without the fold as they are: the state's own, which the engine checks again", () => {
    const state = { hostName: "compute-rt-01", bootId: "6c1f1c2e" };
    assert.equal(unfoldPlainInputs(state), state);
  });

  it("refuses a fold that is not an object, and a key that is both top-level and folded", () => {
    assert.throws(
      () => unfoldPlainInputs({ [PLAIN_INPUTS_KEY]: "x" }),
      /__plain must be an object of inputs, not string/,
    );
    assert.throws(() => unfoldPlainInputs({ [PLAIN_INPUTS_KEY]: [1] }), /__plain must be an object/);
    assert.throws(
      () => unfoldPlainInputs({ [PLAIN_INPUTS_KEY]: { target: "a", hostName: "h" }, target: "b" }),
      /inputs both top-level and in __plain: target$/,
    );
  });
});
