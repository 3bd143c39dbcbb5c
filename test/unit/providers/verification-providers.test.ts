/** The verification providers called directly: life cycle, real SSH runs, refresh, and what lands in state. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { pass } from "../../../lib/checks/result";
import { checkProvider } from "../../../lib/providers/check";
import { domainCheckProvider } from "../../../lib/providers/domain-check";
import { guestCheckProvider } from "../../../lib/providers/guest-check";
import type { HostCheckInputs } from "../../../lib/providers/host-check";
import { hostCheckProvider } from "../../../lib/providers/host-check";
import { stepFiles } from "../../../lib/hostprep/scripts";
import { devStackPlan } from "../../support/dev-config";
import { configureKey } from "../../support/provider-config";
import { shipHostprep } from "../../support/ship-hostprep";
import type { TestSshd } from "../../support/sshd";
import { startSshd } from "../../support/sshd";

const hostPlan = devStackPlan().hosts[0];
const BOOT = "5b0d3f0e-3c55-4a4c-8f47-3d1d0f9b2a61";
const p = hostCheckProvider as Required<pulumi.dynamic.ResourceProvider>;

let sshd: TestSshd;
/** The providers as the program serializes them: before the engine configured any key. */
const serialized = new Map<string, string>();
before(async () => {
  for (const [name, provider] of [
    ["host", hostCheckProvider],
    ["domain", domainCheckProvider],
    ["guest", guestCheckProvider],
  ] as const) {
    serialized.set(name, (await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true })).text);
  }
  // The host check runs its scripts from the copy of hostprep/ in the session's home.
  sshd = await startSshd({ ownHome: true });
  await configureKey(hostCheckProvider, sshd.userKey);
  await shipHostprep(
    { host: "127.0.0.1", port: sshd.port, user: sshd.user, hostKey: sshd.hostKeyPub },
    { privateKey: sshd.userKey },
  );
});
after(() => sshd.stop());

const hostInputs = (): HostCheckInputs => ({
  hostName: "compute-rt-01",
  target: { host: "127.0.0.1", port: sshd.port, user: sshd.user, hostKey: sshd.hostKeyPub },
  plan: hostPlan,
  latency: {
    hwlatdetect: { enabled: false, thresholdUs: 20, durationSeconds: 1 },
    cyclictest: { enabled: false, durationSeconds: 1, maxUs: 20, meanUs: 10 },
    oslat: { enabled: false, durationSeconds: 1, maxUs: 20 },
  },
  bootId: BOOT,
  timeoutSeconds: 420,
  hostprepCopy: "compute-rt-01-hostprep",
  scripts: {
    "host-facts.sh": stepFiles("verify/host-facts.sh"),
    "guest-latency.sh": stepFiles("verify/guest-latency.sh"),
  },
  verifyRevision: "",
});

describe("check/diff do no I/O and re-run only for real changes", () => {
  it("sees no change for the same inputs", async () => {
    const olds = { ...hostInputs(), observed: [], measured: [], passed: true };
    assert.equal((await p.diff("id", olds, hostInputs())).changes, false);
  });

  it("re-runs when the plan, the boot id or verifyRevision changes, or the last refresh failed", async () => {
    const olds = { ...hostInputs(), observed: [], measured: [], passed: true };
    assert.equal((await p.diff("id", olds, { ...hostInputs(), verifyRevision: "2" })).changes, true);
    assert.equal(
      (await p.diff("id", olds, { ...hostInputs(), bootId: "0c9e4a52-1b7e-4f0d-a1a3-7e0c1f1b9d27" })).changes,
      true,
    );
    assert.equal(
      (await p.diff("id", olds, { ...hostInputs(), plan: { ...hostPlan, isolated: "5-11" } })).changes,
      true,
    );
    assert.equal((await p.diff("id", { ...olds, passed: false }, hostInputs())).changes, true);
  });

  it("check passes good and not-yet-known inputs through without touching the network, and names bad ones", async () => {
    const bogus = { ...hostInputs(), target: { host: "192.0.2.1", port: 22, user: "root" } };
    assert.deepEqual(await p.check({}, bogus), { inputs: bogus });
    const preview = { ...hostInputs(), bootId: pulumi.runtime.unknownValue, target: pulumi.runtime.unknownValue };
    assert.deepEqual(await p.check({}, preview), { inputs: preview });
    const bad = { ...hostInputs(), hostName: "", target: { host: "h", port: "22", user: "" } };
    assert.deepEqual(
      (await p.check({}, bad)).failures?.map((f) => f.property),
      ["hostName", "target.user", "target.port"],
    );
  });
});

describe("create, update and read run the checks over SSH", () => {
  it("fail the deployment with the report as a plain Error, without the key", async () => {
    await assert.rejects(p.create(hostInputs()), (e: unknown) => {
      assert.equal(
        Object.getPrototypeOf(e),
        Error.prototype,
        "a plain Error: a subclass loses its message in the engine",
      );
      const message = (e as Error).message;
      assert.match(message, /^host verification of compute-rt-01 failed:\n/);
      assert.match(message, /FAIL\s+RT kernel/);
      assert.doesNotMatch(message, /PRIVATE KEY/);
      return true;
    });
  });

  it("read re-reads the observed facts, keeps what was measured, reports drift, and is the same twice", async () => {
    const measured = [pass("device IRQs on isolated CPUs", "none on CPUs 4-11", "none")];
    const state = {
      ...hostInputs(),
      observed: [],
      measured,
      passed: true,
      privateKey: "an old key from an earlier version's state",
    };
    const first = await p.read("host-verification-compute-rt-01", state);
    const second = await p.read("host-verification-compute-rt-01", { ...state, ...first.props });
    const props = first.props as Record<string, unknown>;
    assert.equal(props.passed, false, "this machine is no RT host");
    assert.deepEqual(props.measured, measured);
    assert.ok((props.observed as unknown[]).length > 5);
    assert.equal("privateKey" in props, false);
    assert.deepEqual(second.props, first.props);
  });

  it("a copy of hostprep/ that is not as planned fails the check, naming the file, the copy and the fix", async () => {
    const stale = ["verify/host-facts.sh=" + "0".repeat(64)];
    const inputs = { ...hostInputs(), scripts: { ...hostInputs().scripts, "host-facts.sh": stale } };
    await assert.rejects(p.create(inputs), (e: unknown) => {
      const message = (e as Error).message;
      assert.match(message, /the copy of hostprep\/ as planned/);
      assert.match(
        message,
        /verify\/host-facts\.sh is not the file this step runs \(expected sha256 0{64}, found sha256 [0-9a-f]{64}\)/,
      );
      assert.match(message, /resource compute-rt-01-hostprep/);
      assert.match(message, /run pulumi up again/);
      return true;
    });
  });

  it("a passing run creates the resource with its results; outputs are exactly the inputs and the results", async () => {
    const q = checkProvider<{ name: string }>({
      inputs: ["name"],
      what: (i) => i.name,
      id: (i) => `id-${i.name}`,
      problems: () => [],
      run: () => Promise.resolve({ observed: [pass("x", "1", "1")], measured: [] }),
    }) as Required<pulumi.dynamic.ResourceProvider>;
    const created = await q.create({ name: "a", privateKey: "must not stay" });
    assert.equal(created.id, "id-a");
    assert.deepEqual(created.outs, { name: "a", observed: [pass("x", "1", "1")], measured: [], passed: true });
    const updated = await q.update("id-a", { name: "a" }, { name: "a" });
    assert.equal((updated.outs as { passed: boolean }).passed, true);
  });

  it("a run with no results is not a pass", async () => {
    const q = checkProvider<{ name: string }>({
      inputs: ["name"],
      what: (i) => i.name,
      id: () => "id",
      problems: () => [],
      run: () => Promise.resolve({ observed: [], measured: [] }),
    });
    await assert.rejects(q.create({ name: "empty" }), /no checks ran/);
  });
});

describe("what Pulumi serializes into state", () => {
  for (const name of ["host", "domain", "guest"]) {
    it(`${name} provider: no key material, no machine path`, () => {
      const text = serialized.get(name) ?? "";
      assert.ok(text.length > 0);
      assert.doesNotMatch(text, /PRIVATE KEY|BEGIN OPENSSH/);
      assert.ok(!text.includes(sshd.userKey.split("\n")[1]), "a line of the test key");
      assert.ok(!text.includes(process.cwd()), "the project's path");
    });
  }
});
