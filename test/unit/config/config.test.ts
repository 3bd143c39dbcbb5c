import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseStackConfig } from "../../../lib/config/schema";
import { devRaw } from "../../support/dev-config";

function problemsOf(raw: Record<string, unknown>) {
  const r = parseStackConfig(raw);
  assert.equal(r.ok, false, "expected the config to be rejected");
  return r.ok ? [] : r.problems;
}

describe("stack config schema", () => {
  it("accepts the dev stack and fills defaults", () => {
    const r = parseStackConfig(devRaw());
    assert.ok(r.ok);
    if (!r.ok) return;
    assert.equal(r.config.hosts[0].ssh.port, 22);
    assert.equal(r.config.hosts[0].reservedHostMemoryMb, 4096);
    assert.equal(r.config.latency.guest.cyclictest.maxUs, 20);
    assert.deepEqual(r.config.aggregate.metadata, { realtime: "true" });
  });

  it("names the setting, the bad value and what is allowed", () => {
    const raw = devRaw();
    raw.hosts[0].housekeepingCpusPerNode = 0;
    const [p] = problemsOf(raw);
    assert.equal(p.path, "openstack-rt:hosts[0].housekeepingCpusPerNode");
    assert.match(p.message, /got 0; .*>=1/);
  });

  it("lists every problem at once", () => {
    const raw = devRaw();
    raw.hosts[0].os = "centos-7";
    raw.flavors[0].vcpus = "four";
    delete raw.keypair;
    const paths = problemsOf(raw).map((p) => p.path);
    assert.deepEqual(
      paths.sort(),
      ["openstack-rt:flavors[0].vcpus", "openstack-rt:hosts[0].os", "openstack-rt:keypair"].sort(),
    );
  });

  it("says which OS families exist", () => {
    const raw = devRaw();
    raw.hosts[1].os = "centos-7";
    const [p] = problemsOf(raw);
    assert.match(p.message, /got "centos-7".*"debian-12"\|"ubuntu-22.04"\|"ubuntu-24.04"\|"rhel-8"\|"rhel-9"/);
  });

  it("rejects unknown settings and lists the allowed ones", () => {
    const raw = devRaw();
    raw.hosts[0].hugepages = 4;
    const [p] = problemsOf(raw);
    assert.equal(p.path, "openstack-rt:hosts[0]");
    assert.match(p.message, /unknown setting "hugepages"; allowed here: .*hugepages1gPerNode/);
  });

  it("refuses topology: discover, naming the setting and the discover command for the host", () => {
    const raw = devRaw();
    raw.hosts[1].topology = "discover";
    (raw.hosts[0].ssh as Record<string, unknown>).port = "22";
    const problems = problemsOf(raw);
    // Listed with the other problems, once.
    assert.deepEqual(
      problems.map((p) => p.path),
      ["openstack-rt:hosts[0].ssh.port", "openstack-rt:hosts[1].topology"],
    );
    const p = problems[1];
    assert.match(p.message, /^got "discover"; the host's NUMA nodes must be declared now/);
    assert.match(p.message, /run `npm run discover -- --stack <stack> --host compute-rt-02`/);
    // Another string is just a wrong value.
    raw.hosts[1].topology = "auto";
    assert.match(
      problemsOf(raw)[1].message,
      /^got "auto"; must be \{nodes: \[\{id, cpus, memoryMb, threadSiblings\}\]\}/,
    );
  });

  it("reports a required setting as missing", () => {
    const raw = devRaw();
    delete raw.network;
    const [p] = problemsOf(raw);
    assert.equal(p.path, "openstack-rt:network");
    assert.match(p.message, /got nothing \(the setting is required\)/);
  });

  it("rejects shell metacharacters in names, addresses and CPU lists", () => {
    const hostile = ["compute-01;reboot", "$(id)", "`id`", "a b", "x\nreboot", "../etc"];
    for (const bad of hostile) {
      for (const mutate of [
        (r: ReturnType<typeof devRaw>) => (r.hosts[0].name = bad),
        (r: ReturnType<typeof devRaw>) => ((r.hosts[0].ssh as Record<string, unknown>).host = bad),
        (r: ReturnType<typeof devRaw>) => ((r.hosts[0].ssh as Record<string, unknown>).user = bad),
        (r: ReturnType<typeof devRaw>) =>
          ((r.hosts[0].topology as { nodes: Record<string, unknown>[] }).nodes[0].cpus = `0,2;${bad}`),
        (r: ReturnType<typeof devRaw>) => (r.flavors[0].name = bad),
      ]) {
        const raw = devRaw();
        mutate(raw);
        assert.ok(problemsOf(raw).length > 0, `accepted ${JSON.stringify(bad)}`);
      }
    }
  });

  it("explains a bad CPU list", () => {
    const raw = devRaw();
    (raw.hosts[0].topology as { nodes: Record<string, unknown>[] }).nodes[0].cpus = "0-2-4";
    const [p] = problemsOf(raw);
    assert.equal(p.path, "openstack-rt:hosts[0].topology.nodes[0].cpus");
    assert.match(p.message, /got "0-2-4"; .*use CPU lists like "0,2,4" or "4-11"/);
  });

  it("rejects a keypair without a key and a CIDR that is not one", () => {
    const raw = devRaw();
    raw.keypair = { name: "default-key", publicKey: "" };
    (raw.securityGroup as Record<string, unknown>).sshCidr = "198.51.100.0";
    const problems = problemsOf(raw);
    assert.deepEqual(problems.map((p) => p.path).sort(), [
      "openstack-rt:keypair.publicKey",
      "openstack-rt:securityGroup.sshCidr",
    ]);
    assert.match(problems.find((p) => p.path.endsWith("sshCidr"))!.message, /must be a CIDR such as 192.0.2.0\/24/);
  });
});
