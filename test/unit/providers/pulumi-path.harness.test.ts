/**
 * The harness for the Pulumi path: the dev stack loaded by @pulumi/pulumi's own runner (with
 * Pulumi.yaml's nodeargs, as the language host starts it) under mocks, and its dynamic providers driven through Pulumi's own provider host
 * over gRPC, as the engine would.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { unknownValue } from "@pulumi/pulumi/runtime/rpc";
import { PLAIN_INPUTS_KEY } from "../../../lib/providers/plain-inputs";
import { devRaw } from "../../support/dev-config";
import type { LoadedProgram, RegisteredResource } from "../../support/pulumi-program";
import { isDynamic, loadProgram } from "../../support/pulumi-program";
import type { ProviderHost } from "../../support/provider-host";
import { startProviderHost } from "../../support/provider-host";

const PROBLEM = (p: LoadedProgram) => (p.ok ? "" : `${p.error}\n--- stderr ---\n${p.stderr}`);

describe("the program as Pulumi loads it", () => {
  let dev: LoadedProgram;
  let dynamic: RegisteredResource[] = [];
  before(async () => {
    dev = await loadProgram({ stack: "dev", config: devRaw() });
    dynamic = dev.resources.filter(isDynamic);
    console.log(
      `dev stack loaded in ${dev.durationMs} ms: ${dev.resources.length} registrations, ${dynamic.length} dynamic`,
    );
    for (const r of dynamic)
      console.log(`  ${r.name}: __provider ${Buffer.byteLength(String(r.inputs.__provider), "utf8")} bytes`);
  });

  it("loads the dev stack", () => {
    assert.ok(dev.ok, PROBLEM(dev));
    assert.ok(dev.resources.some((r) => r.type === "pulumi:pulumi:Stack" && r.name === "openstack-rt-dev"));
    assert.ok(
      dev.resources.every((r) => r.urn.startsWith("urn:pulumi:dev::openstack-rt::")),
      "every registration got a URN",
    );
  });

  it("registers the dynamic resources with their serialized providers", () => {
    assert.ok(dynamic.length > 0);
    for (const r of dynamic)
      assert.ok(
        typeof r.inputs.__provider === "string" && r.inputs.__provider.length > 0,
        `${r.name} has a __provider`,
      );
    for (const suffix of ["-verification", "-reboot-wait"])
      assert.ok(
        dynamic.some((r) => r.name.endsWith(suffix)),
        `a dynamic resource named *${suffix}`,
      );
  });

  it("puts no private key into a plain input, and no path of this checkout into any", () => {
    for (const r of dev.resources) {
      const plainInputs = Object.fromEntries(Object.entries(r.inputs).filter(([k]) => !r.secretInputs.includes(k)));
      assert.doesNotMatch(JSON.stringify(plainInputs), /PRIVATE KEY/, `${r.name}'s plain inputs`);
      const text = JSON.stringify(r.inputs);
      assert.ok(!text.includes(process.cwd()), `${r.name}'s inputs hold ${process.cwd()}`);
    }
  });

  it("keeps a configured SSH key out of every input but secret ones, and out of the serialized providers", async () => {
    const key = "-----BEGIN OPENSSH PRIVATE KEY-----\nharness-test-key\n-----END OPENSSH PRIVATE KEY-----\n";
    const p = await loadProgram({
      stack: "dev",
      config: { ...devRaw(), sshPrivateKey: key },
      secretKeys: ["sshPrivateKey"],
    });
    assert.ok(p.ok, PROBLEM(p));
    for (const r of p.resources) {
      for (const [k, v] of Object.entries(r.inputs)) {
        if (!JSON.stringify(v).includes("harness-test-key")) continue;
        assert.ok(
          r.secretInputs.includes(k) && k !== "__provider",
          `${r.name}.${k} holds the key and is not a secret input`,
        );
      }
    }
  });

  it("fails with the config problem for an image file that does not exist", async () => {
    const raw = devRaw();
    raw.image = { ...(raw.image as Record<string, unknown>), url: undefined, file: "missing.qcow2" };
    const p = await loadProgram({ stack: "dev", config: raw });
    assert.equal(p.ok, false);
    assert.ok(!p.ok && /image\.file.*missing\.qcow2.*does not exist/s.test(p.error), PROBLEM(p));
  });

  it("fails with the config problem for a flavor that fits on no host", async () => {
    const raw = devRaw();
    raw.flavors[0].vcpus = 64;
    const p = await loadProgram({ stack: "dev", config: raw });
    assert.equal(p.ok, false);
    assert.ok(!p.ok && /fits on no RT host/.test(p.error), PROBLEM(p));
    assert.deepEqual(
      p.resources.map((r) => r.type),
      ["pulumi:pulumi:Stack"],
      "nothing but the stack is registered",
    );
  });

  describe("its dynamic providers behind Pulumi's provider host", () => {
    let host: ProviderHost;
    before(async () => {
      host = await startProviderHost({ env: { SSH_AUTH_SOCK: "" } });
      await host.configure({});
    });
    after(() => host?.stop());

    // One of each provider: every one is a separate serialized module with its own captures.
    for (const kind of ["RebootWaiter", "HostVerification", "GuestVerification", "DomainVerification", "ServerHost"]) {
      it(`checks a ${kind} and diffs its inputs against themselves, as the engine would`, async () => {
        const r = dynamic.find((d) => d.type.endsWith(`:${kind}`));
        assert.ok(r, `a ${kind} is registered`);
        const checked = await host.check(r.urn, {}, r.inputs);
        assert.deepEqual(checked.failures, [], host.stderr());
        assert.equal(checked.inputs.__provider, r.inputs.__provider);
        const diff = await host.diff(`${r.name}-id`, r.urn, checked.inputs, checked.inputs);
        assert.deepEqual(diff, { changes: "none", replaces: [], deleteBeforeReplace: false });
      });
    }

    it("passes unknown values through check, as during a preview", async () => {
      const r = dynamic.find((d) => d.name.endsWith("-reboot-wait"));
      assert.ok(r);
      // The inputs that come from other resources: the reboot step's report.
      const news = { ...r.inputs, previousBootId: unknownValue, rebootScheduled: unknownValue };
      const checked = await host.check(r.urn, {}, news);
      assert.deepEqual(checked.failures, []);
      assert.equal(checked.inputs.previousBootId, unknownValue);
    });

    it("reports a provider's check failures and errors as the engine sees them", async () => {
      const r = dynamic.find((d) => d.name.endsWith("-reboot-wait"));
      assert.ok(r);
      const plain = { ...(r.inputs[PLAIN_INPUTS_KEY] as Record<string, unknown>), timeoutSeconds: -1 };
      const checked = await host.check(r.urn, {}, { ...r.inputs, [PLAIN_INPUTS_KEY]: plain });
      assert.deepEqual(checked.failures, [
        { property: "timeoutSeconds", reason: "must be a positive whole number of seconds" },
      ]);
      await assert.rejects(
        host.check(
          r.urn,
          {},
          { ...r.inputs, __provider: "exports.handler = () => { throw new Error('no provider here'); };" },
        ),
        { message: "no provider here" },
      );
    });
  });
});
