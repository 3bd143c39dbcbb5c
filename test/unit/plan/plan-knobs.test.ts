/** Issue 15's host knobs: explicit housekeeping/isolated CPU lists and extra kernel arguments. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { hostSteps } from "../../../lib/desired/host-steps";
import { planStack } from "../../../lib/plan/stack";
import { devRaw } from "../../support/dev-config";

function plan(edit: (host: Record<string, unknown>) => void) {
  const raw = devRaw();
  edit(raw.hosts[0]);
  return planStack(raw);
}

function smtNodes(host: Record<string, unknown>) {
  // node0 CPUs 0-5 with cores (0,6)... as pairs (0,1),(2,3),(4,5); node1 6-11 likewise.
  const node = (id: number, cpus: number[]) => ({
    id,
    cpus: cpus.join(","),
    memoryMb: 16384,
    threadSiblings: [0, 2, 4].map((i) => `${cpus[i]},${cpus[i + 1]}`),
  });
  host.topology = { nodes: [node(0, [0, 1, 2, 3, 4, 5]), node(1, [6, 7, 8, 9, 10, 11])] };
}

describe("explicit housekeepingCpus / isolatedCpus", () => {
  it("isolatedCpus decides the split; housekeeping is the rest", () => {
    const r = plan((h) => (h.isolatedCpus = "2-11"));
    assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
    const host = r.plan.hosts[0];
    assert.equal(host.isolated, "2-11");
    assert.equal(host.housekeeping, "0-1");
    assert.equal(host.nova.cpuDedicatedSet, "2-11");
    assert.equal(host.tuned.isolatedCores, "2-11");
    assert.deepEqual(
      host.nodes.map((n) => n.housekeeping),
      ["0", "1"],
    );
  });
  it("housekeepingCpus overrides housekeepingCpusPerNode", () => {
    const r = plan((h) => (h.housekeepingCpus = "0,1,2,3"));
    assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
    assert.equal(r.plan.hosts[0].isolated, "4-11");
  });
  it("refuses a node without housekeeping, naming the node and a fix", () => {
    const r = plan((h) => (h.isolatedCpus = "1,3,5,7,9,11,4"));
    assert.ok(!r.ok);
    assert.ok(
      r.problems.some(
        (p) =>
          p.path === "openstack-rt:hosts[0].isolatedCpus" &&
          /leaves NUMA node 1 \(CPUs 1,3,5,7,9,11\) without a housekeeping CPU; .* add 1 to housekeeping/.test(
            p.message,
          ),
      ),
      JSON.stringify(r.problems),
    );
  });
  it("refuses a split SMT core, and CPUs the host lacks, and lists that do not split the host", () => {
    const split = plan((h) => {
      smtNodes(h);
      h.isolatedCpus = "3-5,8-11";
    });
    assert.ok(!split.ok);
    assert.ok(
      split.problems.some((p) =>
        /splits the core of CPUs 2-3 \(SMT siblings\) between housekeeping \(2\) and isolated \(3\)/.test(p.message),
      ),
      JSON.stringify(split.problems),
    );
    const unknown = plan((h) => (h.isolatedCpus = "4-15"));
    assert.ok(!unknown.ok);
    assert.match(unknown.problems[0].message, /the host has no CPU 12-15/);
    const both = plan((h) => {
      h.housekeepingCpus = "0-3";
      h.isolatedCpus = "3-10";
    });
    assert.ok(!both.ok);
    assert.ok(both.problems.some((p) => /CPUs 3 are in both; CPUs 11 are in neither/.test(p.message)));
  });
});

describe("extraKernelArgs", () => {
  it("go after the planned arguments, to the kernel-args and reboot steps", () => {
    const r = plan((h) => (h.extraKernelArgs = ["intel_iommu=on", "iommu=pt", "nosoftlockup"]));
    assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
    const host = r.plan.hosts[0];
    assert.deepEqual(host.kernel.args, [
      "default_hugepagesz=1G",
      "hugepagesz=1G",
      "hugepages=0:4,1:4",
      "intel_iommu=on",
      "iommu=pt",
      "nosoftlockup",
    ]);
    const steps = hostSteps(host, r.config.hosts[0]);
    const args = steps.find((s) => s.id === "kernel-args")!.args;
    assert.equal(args[args.indexOf("--args") + 1], host.kernel.args.join(" "));
  });
  it("refuse shell characters, spaces, planned keys and repeats", () => {
    const bad = plan((h) => (h.extraKernelArgs = ["a=b c", "x=$(reboot)", "'q'"]));
    assert.ok(!bad.ok);
    assert.equal(bad.problems.filter((p) => /extraKernelArgs\[\d\]/.test(p.path)).length, 3);
    const owned = plan(
      (h) => (h.extraKernelArgs = ["isolcpus=2-11", "hugepages=8", "mitigations=off", "mitigations=auto"]),
    );
    assert.ok(!owned.ok);
    assert.deepEqual(
      owned.problems.map((p) => p.path),
      [
        "openstack-rt:hosts[0].extraKernelArgs[0]",
        "openstack-rt:hosts[0].extraKernelArgs[1]",
        "openstack-rt:hosts[0].extraKernelArgs[3]",
      ],
    );
    assert.match(owned.problems[0].message, /the plan sets isolcpus itself/);
    assert.match(owned.problems[2].message, /a second mitigations/);
  });
});
