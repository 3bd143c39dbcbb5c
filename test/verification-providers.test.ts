/** The verification resources' dynamic providers: life cycle, real SSH runs, and what lands in state. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { domainVerificationProvider } from "../components/domain-verification";
import { guestVerificationProvider } from "../components/guest-verification";
import { hostVerificationProvider } from "../components/host-verification";
import { pass } from "../lib/checks/result";
import { CheckFailedError, checkProvider } from "../lib/check-provider";
import { isPlannedHost, planStack } from "../lib/plan";
import { scriptText } from "../lib/verify";
import { devRaw } from "./support/dev-config";
import type { TestSshd } from "./support/sshd";
import { startSshd } from "./support/sshd";

const r = planStack(devRaw());
if (!r.ok) throw new Error("dev plan");
const hostPlan = r.plan.hosts.filter(isPlannedHost)[0];

let sshd: TestSshd;
before(async () => (sshd = await startSshd()));
after(() => sshd.stop());

const hostInputs = () => ({
  target: { host: "127.0.0.1", port: sshd.port, user: sshd.user, hostKey: sshd.hostKeyPub },
  privateKey: sshd.userKey,
  plan: hostPlan,
  hwlatdetect: { enabled: false, thresholdUs: 20, durationSeconds: 1 },
  script: scriptText("host-facts.sh"),
  verifyRevision: "",
});

describe("check/diff do no I/O and re-run only for real changes", () => {
  const p = hostVerificationProvider;
  it("sees no change for the same inputs or a rotated key", async () => {
    const olds = { ...hostInputs(), results: [], passed: true };
    assert.equal((await p.diff!("id", olds, hostInputs())).changes, false);
    assert.equal((await p.diff!("id", olds, { ...hostInputs(), privateKey: "another key" })).changes, false);
  });

  it("re-runs when the plan or verifyRevision changes", async () => {
    const olds = { ...hostInputs(), results: [], passed: true };
    assert.equal((await p.diff!("id", olds, { ...hostInputs(), verifyRevision: "2" })).changes, true);
    assert.equal((await p.diff!("id", olds, { ...hostInputs(), plan: { ...hostPlan, isolated: "5-11" } })).changes, true);
  });

  it("check passes the inputs through without touching the network", async () => {
    const bogus = { ...hostInputs(), target: { host: "192.0.2.1", port: 22, user: "root" } };
    assert.deepEqual((await p.check!({}, bogus)).inputs, bogus);
  });
});

describe("create, update and read run the checks over SSH", () => {
  it("fail the deployment with the report when the host is not RT, without the key", async () => {
    await assert.rejects(hostVerificationProvider.create(hostInputs()), (e: unknown) => {
      assert.ok(e instanceof CheckFailedError);
      assert.match(e.message, /^host verification of compute-rt-01 failed:\n/);
      assert.match(e.message, /FAIL\s+RT kernel/);
      assert.doesNotMatch(e.message, /PRIVATE KEY/);
      return true;
    });
  });

  it("read reports drift instead of failing", async () => {
    const got = await hostVerificationProvider.read!("host-verification-compute-rt-01", { ...hostInputs(), results: [], passed: true });
    assert.equal((got.props as { passed: boolean }).passed, false);
    assert.ok(((got.props as { results: unknown[] }).results).length > 5);
  });

  it("a passing run creates the resource with its results", async () => {
    const p = checkProvider<{ name: string }>((i) => i.name, (i) => `id-${i.name}`, () => Promise.resolve([pass("x", "1", "1")]));
    const created = await p.create({ name: "a" });
    assert.equal(created.id, "id-a");
    assert.deepEqual(created.outs, { name: "a", results: [pass("x", "1", "1")], passed: true });
    const updated = await p.update!("id-a", { name: "a" }, { name: "a" });
    assert.equal((updated.outs as { passed: boolean }).passed, true);
  });

  it("a run with no results is not a pass", async () => {
    const p = checkProvider<{ name: string }>((i) => i.name, () => "id", () => Promise.resolve([]));
    await assert.rejects(p.create({ name: "empty" }), /no checks ran/);
  });
});

describe("what Pulumi serializes into state", () => {
  for (const [name, provider] of [
    ["host", hostVerificationProvider],
    ["domain", domainVerificationProvider],
    ["guest", guestVerificationProvider],
  ] as const) {
    it(`${name} provider: no key material, no machine path`, async () => {
      const sf = await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true });
      assert.ok(sf.text.length > 0);
      assert.doesNotMatch(sf.text, /PRIVATE KEY|BEGIN OPENSSH/);
      assert.ok(!sf.text.includes(sshd.userKey.split("\n")[1]), "a line of the test key");
      assert.ok(!sf.text.includes(process.cwd()), "the project's path");
    });
  }
});
