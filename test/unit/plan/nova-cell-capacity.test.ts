/**
 * capacity()'s one-step count for one guest cell of dedicated vCPUs (lib/plan/nova/cell-capacity.ts)
 * against placing the instances one by one (placedCapacity), on generated hosts: node counts, SMT
 * with siblings numbered either way, dedicated and shared sets, pages of both sizes with some
 * reserved, memory, and flavors of every thread policy, emulator policy and page request.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { NovaFlavor, NovaHost } from "../../../lib/plan/nova/model";
import { NOVA_DEFAULTS, capacity, guestRequest, placedCapacity } from "../../../lib/plan/nova/model";

const hostArb: fc.Arbitrary<NovaHost> = fc
  .record({
    nodes: fc.integer({ min: 1, max: 4 }),
    coresPerNode: fc.integer({ min: 1, max: 10 }),
    smt: fc.boolean(),
    siblingsAdjacent: fc.boolean(),
    housekeeping: fc.integer({ min: 0, max: 3 }),
    shared: fc.boolean(),
    memoryGb: fc.integer({ min: 2, max: 24 }),
    pages1g: fc.integer({ min: 0, max: 16 }),
    pages2m: fc.integer({ min: 0, max: 2048 }),
    reserved1g: fc.integer({ min: 0, max: 2 }),
    reservedHostMemoryMb: fc.constantFrom(512, 4096),
  })
  .map((g) => {
    const threads = g.smt ? 2 : 1;
    const cores = g.nodes * g.coresPerNode;
    const cpusOf = (c: number) => (!g.smt ? [c] : g.siblingsAdjacent ? [2 * c, 2 * c + 1] : [c, c + cores]);
    const cells = Array.from({ length: g.nodes }, (_, n) => {
      const own = Array.from({ length: g.coresPerNode }, (_, i) => n * g.coresPerNode + i);
      return {
        id: n,
        cpus: own.flatMap(cpusOf).sort((a, b) => a - b),
        siblings: g.smt ? own.map(cpusOf) : [],
        memoryMb: g.memoryGb * 1024,
        hugepages1g: Math.min(g.pages1g, g.memoryGb - 1),
        hugepages2m: g.pages2m,
      };
    });
    // The first `housekeeping` cores of each node are not dedicated (shared, or left out).
    const housekeepingCpus = cells.flatMap((c) =>
      Array.from({ length: Math.min(g.housekeeping, g.coresPerNode) }, (_, i) =>
        cpusOf(c.id * g.coresPerNode + i),
      ).flat(),
    );
    const dedicated = cells.flatMap((c) => c.cpus).filter((c) => !housekeepingCpus.includes(c));
    return {
      ...NOVA_DEFAULTS,
      cpuDedicatedSet: dedicated.sort((a, b) => a - b),
      cpuSharedSet: g.shared ? housekeepingCpus.sort((a, b) => a - b) : null,
      cells,
      reservedHostMemoryMb: g.reservedHostMemoryMb,
      reservedHugePages: g.reserved1g > 0 ? [{ node: 0, sizeKb: 1024 * 1024, count: g.reserved1g }] : [],
      packCells: threads === 2 && g.housekeeping % 2 === 0,
    };
  });

const flavorArb: fc.Arbitrary<NovaFlavor> = fc
  .record({
    vcpus: fc.integer({ min: 1, max: 8 }),
    ramGb: fc.integer({ min: 1, max: 6 }),
    threadPolicy: fc.constantFrom(undefined, "prefer", "isolate", "require"),
    emulator: fc.constantFrom(undefined, "isolate", "share"),
    pageSize: fc.constantFrom(undefined, "large", "any", "small", "1GB", "2MB"),
  })
  .map((f) => ({
    vcpus: f.vcpus,
    ramMb: f.ramGb * 1024,
    extraSpecs: {
      "hw:cpu_policy": "dedicated",
      ...(f.threadPolicy ? { "hw:cpu_thread_policy": f.threadPolicy } : {}),
      ...(f.emulator ? { "hw:emulator_threads_policy": f.emulator } : {}),
      ...(f.pageSize ? { "hw:mem_page_size": f.pageSize } : {}),
    },
  }));

describe("capacity of one dedicated guest cell in one step", () => {
  it("equals placing the instances one by one, on every generated host and flavor", () => {
    let counted = 0;
    fc.assert(
      fc.property(hostArb, flavorArb, (host, flavor) => {
        const request = guestRequest(flavor);
        assert.equal(request.cells?.length, 1);
        const placed = placedCapacity(request, host);
        if (placed > 0) counted++;
        assert.equal(capacity(flavor, host), placed);
      }),
      { numRuns: 1000, seed: 23 },
    );
    // The generated cases are not all empty hosts.
    assert.ok(counted > 150, `${counted} cases with room for an instance`);
  });

  it("bounds the count by `limit` as placing does", () => {
    const host = fc.sample(hostArb, { numRuns: 1, seed: 7 })[0];
    const flavor: NovaFlavor = { vcpus: 1, ramMb: 1024, extraSpecs: { "hw:cpu_policy": "dedicated" } };
    const full = capacity(flavor, host);
    assert.ok(full > 2, `the sample host takes ${full}`);
    assert.equal(capacity(flavor, host, {}, 2), 2);
    assert.equal(placedCapacity(guestRequest(flavor), host, 2), 2);
  });
});

describe("capacity of a guest of several dedicated cells, counted", () => {
  // Small guest cells, so that hosts take several and the cells' order matters.
  const spreadFlavorArb: fc.Arbitrary<NovaFlavor> = fc
    .record({
      flavor: flavorArb,
      nodes: fc.integer({ min: 2, max: 3 }),
      vcpusPerNode: fc.integer({ min: 1, max: 3 }),
      ramMbPerNode: fc.constantFrom(512, 1024, 2048),
    })
    .map(({ flavor, nodes, vcpusPerNode, ramMbPerNode }) => ({
      vcpus: vcpusPerNode * nodes,
      ramMb: ramMbPerNode * nodes,
      extraSpecs: { ...flavor.extraSpecs, "hw:numa_nodes": String(nodes) },
    }));

  it("equals placing the instances one by one, on every generated host and flavor", () => {
    let counted = 0;
    fc.assert(
      fc.property(hostArb, spreadFlavorArb, (host, flavor) => {
        const request = guestRequest(flavor);
        assert.ok(request.cells!.length >= 2);
        const placed = placedCapacity(request, host);
        if (placed > 1) counted++;
        assert.equal(capacity(flavor, host), placed);
      }),
      { numRuns: 600, seed: 24 },
    );
    assert.ok(counted > 100, `${counted} cases with room for more than one instance`);
  });

  it("stops at `limit`", () => {
    const host = fc.sample(
      hostArb.filter((h) => h.cells.length >= 2),
      { numRuns: 1, seed: 5 },
    )[0];
    const flavor: NovaFlavor = {
      vcpus: 2,
      ramMb: 1024,
      extraSpecs: { "hw:cpu_policy": "dedicated", "hw:numa_nodes": "2" },
    };
    assert.ok(capacity(flavor, host) > 2, `the sample host takes ${capacity(flavor, host)}`);
    assert.equal(capacity(flavor, host, {}, 2), 2);
  });
});
