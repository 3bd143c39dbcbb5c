/** Declared and discovered topologies cost time linear in their size, and quote bad input short. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseLscpu, topologyFromConfig, topologyFromFacts } from "../../../lib/cpu/topology";

describe("topology work is linear in its size", () => {
  it("8192 thread groups of a node of 8192 CPUs are checked quickly", () => {
    const groups = Array.from({ length: 4096 }, (_, i) => `${i},${i + 4096}`);
    const started = Date.now();
    const t = topologyFromConfig([{ id: 0, cpus: "0-8191", memoryMb: 1 << 20, threadSiblings: groups }]);
    assert.equal(t.nodes[0].cores.length, 4096);
    assert.ok(Date.now() - started < 3000, `${Date.now() - started} ms`);
  });

  it("lscpu output with every CPU on one core is grouped without copying the core each time", () => {
    const text = Array.from({ length: 8192 }, (_, i) => `${i},0,0,0`).join("\n");
    const started = Date.now();
    const t = topologyFromFacts(parseLscpu(text), new Map([[0, 1024]]));
    assert.equal(t.nodes[0].cores[0].length, 8192);
    assert.ok(Date.now() - started < 3000, `${Date.now() - started} ms`);
  });

  it("a bad lscpu line or thread group is quoted short, with its control characters escaped", () => {
    assert.throws(
      () => parseLscpu(`0,0,0,0\n\u001b]0;x\u0007${"y".repeat(5000)}`),
      (e: Error) =>
        /^lscpu line 2 "\\u001b\]0;x\\u0007y+\.\.\." is not CPU,CORE,SOCKET,NODE/.test(e.message) &&
        e.message.length < 200,
    );
    assert.throws(
      () =>
        topologyFromConfig([{ id: 0, cpus: "0-3", memoryMb: 1024, threadSiblings: [Array(2000).fill("5").join(",")] }]),
      (e: Error) => /^thread group "5,5,5.*\.\.\." names CPU 5, which is not in node 0 \(0-3\)$/.test(e.message),
    );
  });
});
