/**
 * Properties of the host planner over generated hosts, in the spirit of pulumi-awsx's subnet
 * distributor tests: whatever the topology (1 to 4 NUMA nodes, SMT on or off, CPUs numbered
 * per node or interleaved) and the knobs, a plan the planner accepts partitions each node into
 * housekeeping and isolated CPUs, keeps SMT siblings together, leaves each node a housekeeping
 * core, pins guests only to isolated CPUs and fits its 1 GiB pages in each node's memory. A
 * config it cannot plan is refused with problems, never planned wrong.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { difference, intersection, isSubset, parseCpuList, union } from "../../../lib/cpu/cpuset";
import type { HostPlan } from "../../../lib/plan/host";
import { MIN_SMALL_PAGE_MB_PER_NODE } from "../../../lib/plan/hugepages";
import { planStack } from "../../../lib/plan/stack";
import { devRaw } from "../../support/dev-config";

interface GeneratedHost {
  nodes: { id: number; cpus: string; memoryMb: number; threadSiblings?: string[] }[];
  housekeepingCpusPerNode: number;
  hugepages1gPerNode: number[];
}

/** A host as `npm run discover` would declare it: cores spread over nodes, threads numbered the Linux way. */
const hostArb: fc.Arbitrary<GeneratedHost> = fc
  .record({
    nodeCount: fc.integer({ min: 1, max: 4 }),
    coresPerNode: fc.integer({ min: 1, max: 12 }),
    threads: fc.constantFrom(1, 2),
    interleaved: fc.boolean(),
    memoryGb: fc.array(fc.integer({ min: 2, max: 64 }), { minLength: 4, maxLength: 4 }),
    housekeepingCpusPerNode: fc.integer({ min: 1, max: 4 }),
    pages: fc.array(fc.integer({ min: 0, max: 12 }), { minLength: 4, maxLength: 4 }),
  })
  .map(({ nodeCount, coresPerNode, threads, interleaved, memoryGb, housekeepingCpusPerNode, pages }) => {
    const cores = nodeCount * coresPerNode;
    // Core c's thread t is CPU t * cores + c, as Linux numbers x86 SMT siblings.
    const nodeOf = (c: number) => (interleaved ? c % nodeCount : Math.floor(c / coresPerNode));
    const nodes = Array.from({ length: nodeCount }, (_, n) => {
      const coreIds = Array.from({ length: cores }, (_, c) => c).filter((c) => nodeOf(c) === n);
      const groups = coreIds.map((c) => Array.from({ length: threads }, (_, t) => t * cores + c));
      return {
        id: n,
        cpus: union(...groups).join(","),
        memoryMb: memoryGb[n] * 1024,
        ...(threads > 1 ? { threadSiblings: groups.map((g) => g.join(",")) } : {}),
      };
    });
    return { nodes, housekeepingCpusPerNode, hugepages1gPerNode: pages.slice(0, nodeCount) };
  });

function plan(host: GeneratedHost): { ok: true; plan: HostPlan } | { ok: false; problems: string[] } {
  const raw = devRaw();
  raw.hosts = [
    {
      ...raw.hosts[0],
      topology: { nodes: host.nodes },
      housekeepingCpusPerNode: host.housekeepingCpusPerNode,
      hugepages1gPerNode: host.hugepages1gPerNode,
      reservedHostMemoryMb: 512,
    },
  ];
  raw.flavors = [{ name: "p1", vcpus: 1, ramMb: 512, diskGb: 1, realtime: false, threadPolicy: "prefer" }];
  raw.servers = [];
  const r = planStack(raw);
  return r.ok ? { ok: true, plan: r.plan.hosts[0] } : { ok: false, problems: r.problems.map((p) => p.path) };
}

describe("the host planner, over generated hosts", () => {
  it("partitions, keeps siblings together, keeps a housekeeping core per node, pins to isolated CPUs, fits the pages", () => {
    let planned = 0;
    let refused = 0;
    fc.assert(
      fc.property(hostArb, (host) => {
        const r = plan(host);
        if (!r.ok) {
          refused++;
          assert.ok(r.problems.length > 0);
          for (const path of r.problems) assert.match(path, /^openstack-rt:(hosts\[0\]|flavors\[0\])/);
          return;
        }
        planned++;
        const p = r.plan;
        for (const [i, node] of p.nodes.entries()) {
          const cpus = parseCpuList(node.cpus);
          const hk = parseCpuList(node.housekeeping);
          const iso = parseCpuList(node.isolated);
          assert.deepEqual(union(hk, iso), cpus, `node ${node.id}: housekeeping and isolated cover its CPUs`);
          assert.deepEqual(intersection(hk, iso), [], `node ${node.id}: housekeeping and isolated are disjoint`);
          assert.ok(hk.length > 0, `node ${node.id} keeps a housekeeping CPU`);
          const groups = (host.nodes[i].threadSiblings ?? []).map(parseCpuList);
          for (const g of groups) assert.ok(isSubset(g, hk) || isSubset(g, iso), `siblings ${g.join(",")} split`);
          assert.ok(isSubset(parseCpuList(node.dedicated), iso), `node ${node.id}: dedicated within isolated`);
          assert.ok(
            node.hugepages1g * 1024 + MIN_SMALL_PAGE_MB_PER_NODE <= node.memoryMb,
            `node ${node.id}: ${node.hugepages1g} GiB of pages in ${node.memoryMb} MiB`,
          );
        }
        const isolated = parseCpuList(p.isolated);
        assert.deepEqual(isolated, union(...p.nodes.map((n) => parseCpuList(n.isolated))));
        assert.ok(
          isSubset(parseCpuList(p.nova.cpuDedicatedSet), isolated),
          "cpu_dedicated_set within the isolated CPUs",
        );
        assert.deepEqual(difference(parseCpuList(p.tuned.isolatedCores), isolated), []);
        assert.ok(isolated.length > 0, "an accepted plan isolates CPUs for guests");
      }),
      { numRuns: 300, seed: 20261130 },
    );
    // Both outcomes must be exercised, or the properties above say little.
    console.log(`  ${planned} generated hosts planned, ${refused} refused`);
    assert.ok(planned >= 100, `only ${planned} of 300 generated hosts were planned`);
    assert.ok(refused >= 10, `only ${refused} of 300 generated hosts were refused`);
  });

  it("refuses, naming the setting, a host whose pages leave too little small-page memory on a node", () => {
    const r = plan({
      nodes: [{ id: 0, cpus: "0-7", memoryMb: 4096 }],
      housekeepingCpusPerNode: 2,
      hugepages1gPerNode: [4],
    });
    assert.ok(!r.ok);
    assert.ok(r.problems.includes("openstack-rt:hosts[0].hugepages1gPerNode"), r.problems.join(", "));
  });
});
