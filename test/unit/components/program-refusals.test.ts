/**
 * The Pulumi program itself (index.ts), loaded under the SDK's mocks with bad dev configs: it
 * must stop with one RunError (Pulumi prints those without a stack trace) that lists every
 * problem once, before registering any resource or calling any function of the cloud.
 *
 * index.ts runs when it is loaded, so each case loads it afresh: fresh mocks (setMocks resets
 * the runtime's state), and the module dropped from the require cache. Node drops a module
 * that threw while loading by itself; the last case, a good config loading after the bad ones,
 * shows that the program did run again each time.
 */
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { CONFIG_NAMESPACE } from "../../../lib/config/schema";
import { devRaw } from "../../support/dev-config";
import { onRegister } from "../../support/mock-monitor";
import { setProgramMocks } from "../../support/mocks";

type Raw = ReturnType<typeof devRaw>;

const load = createRequire(__filename);
const PROGRAM = load.resolve("../../../index");

/** Loads index.ts with this config; returns what it threw and everything it asked of the engine. */
async function loadProgram(
  raw: Record<string, unknown>,
): Promise<{ error: unknown; registered: string[]; called: string[] }> {
  const registered: string[] = [];
  const called: string[] = [];
  await setProgramMocks({ onCall: (token) => called.push(token) });
  // Every registration, components included, goes through the monitor.
  onRegister((req) => {
    registered.push(`${req.getType()} ${req.getName()}`);
  });
  pulumi.runtime.setAllConfig(
    Object.fromEntries(Object.entries(raw).map(([k, v]) => [`${CONFIG_NAMESPACE}:${k}`, JSON.stringify(v)])),
  );
  delete load.cache[PROGRAM];
  let error: unknown;
  try {
    load(PROGRAM);
  } catch (e) {
    error = e;
  }
  // Whatever the program started is registered by now.
  await pulumi.runtime.disconnect();
  return { error, registered, called };
}

/** The RunError's message, after checking that nothing was registered or called. */
async function refusal(edit: (raw: Raw) => void): Promise<string> {
  const raw = devRaw();
  edit(raw);
  const { error, registered, called } = await loadProgram(raw);
  assert.ok(pulumi.RunError.isInstance(error), `a RunError, got ${String(error)}`);
  assert.deepEqual(registered, [], "no resource registered");
  assert.deepEqual(called, [], "no function of the cloud called");
  return error.message;
}

/** The message lists exactly these problem lines, each once, in this order. */
function assertLists(message: string, lines: RegExp[]): void {
  const [head, ...listed] = message.split("\n");
  assert.equal(head, `${lines.length} problem${lines.length === 1 ? "" : "s"} in the stack config:`);
  assert.equal(listed.length, lines.length, message);
  lines.forEach((re, i) => assert.match(listed[i], re));
}

describe("the program refuses a bad config before registering anything", () => {
  it("an image.file that does not exist", async () => {
    const message = await refusal((raw) => {
      raw.image = { name: "debian-12-rt", file: "images/does-not-exist.qcow2", loginUser: "debian" };
    });
    assertLists(message, [
      /^ {2}- openstack-rt:image\.file: got "images\/does-not-exist\.qcow2" \(.+\), which does not exist; give the path of the image file/,
    ]);
  });

  it("a flavor that fits on no host", async () => {
    const message = await refusal((raw) => {
      raw.flavors[0].vcpus = 12;
    });
    assertLists(message, [
      /^ {2}- openstack-rt:flavors\[0\]: flavor "rt1\.small" fits on no RT host \(compute-rt-01: .*\); give it fewer vCPUs/,
    ]);
  });

  it("a server naming an unknown flavor", async () => {
    const message = await refusal((raw) => {
      raw.servers[0].flavor = "rt9.huge";
    });
    assertLists(message, [
      /^ {2}- openstack-rt:servers\[0\]\.flavor: got "rt9\.huge", which is not a flavor of this stack; use one of rt1\.small, pin1\.medium$/,
    ]);
  });

  it("an image with neither file nor url", async () => {
    const message = await refusal((raw) => {
      raw.image = { name: "debian-12-rt", loginUser: "debian" };
    });
    assertLists(message, [/^ {2}- openstack-rt:image: got neither file nor url; give exactly one of them$/]);
  });

  it("two problems at once: both listed, each once", async () => {
    const message = await refusal((raw) => {
      raw.image = { name: "debian-12-rt", file: "images/does-not-exist.qcow2", loginUser: "debian" };
      raw.flavors[0].vcpus = 12;
    });
    assertLists(message, [
      /^ {2}- openstack-rt:flavors\[0\]: flavor "rt1\.small" fits on no RT host/,
      /^ {2}- openstack-rt:image\.file: got "images\/does-not-exist\.qcow2"/,
    ]);
  });

  it("and, loaded again with the dev config, the program runs and registers its resources", async () => {
    const { error, registered } = await loadProgram(devRaw());
    assert.equal(error, undefined);
    assert.ok(registered.includes("openstack-rt:host:ComputeHost compute-rt-01"), registered.join("\n"));
    assert.ok(
      registered.includes("openstack:compute/instance:Instance openstack-rt-rt-server-instance"),
      registered.join("\n"),
    );
  });
});
