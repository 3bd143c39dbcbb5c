import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { formatCpuList } from "../../../lib/cpu/cpuset";
import {
  isTopologyError,
  parseLscpu,
  parseNodeMeminfo,
  topologyFromConfig,
  topologyFromFacts,
} from "../../../lib/cpu/topology";

const fixture = (name: string) => readFileSync(join(__dirname, "..", "..", "fixtures", "topology", name), "utf8");
const facts = (name: string) =>
  topologyFromFacts(parseLscpu(fixture(`${name}.lscpu`)), parseNodeMeminfo(fixture(`${name}.meminfo`)));

describe("topology from lscpu and node meminfo", () => {
  it("reads this machine's real output", () => {
    const t = facts("this-machine");
    const rows = parseLscpu(fixture("this-machine.lscpu"));
    assert.equal(
      t.nodes.reduce((s, n) => s + n.cpus.length, 0),
      rows.length,
    );
    assert.ok(t.nodes.every((n) => n.memoryMb > 0));
  });

  it("reads the seed's 2-node host with interleaved CPUs and SMT off", () => {
    const t = facts("seed-2node-nosmt");
    assert.equal(t.smt, false);
    assert.deepEqual(
      t.nodes.map((n) => formatCpuList(n.cpus)),
      ["0,2,4,6,8,10", "1,3,5,7,9,11"],
    );
    assert.deepEqual(
      t.nodes.map((n) => n.memoryMb),
      [16384, 16384],
    );
  });

  it("groups SMT siblings of a 2-socket Xeon by socket and core", () => {
    const t = facts("xeon-2s-smt");
    assert.equal(t.smt, true);
    assert.equal(t.nodes.length, 2);
    assert.deepEqual(t.nodes[0].cores[0], [0, 24]);
    assert.deepEqual(t.nodes[1].cores[0], [12, 36]);
    assert.equal(t.nodes[1].cores.length, 12);
  });

  it("reads a 4-node EPYC (NPS4) with SMT", () => {
    const t = facts("epyc-nps4-smt");
    assert.equal(t.nodes.length, 4);
    assert.deepEqual(formatCpuList(t.nodes[3].cpus), "12-15,28-31");
    assert.deepEqual(t.nodes[3].cores[0], [12, 28]);
  });

  it("treats an empty NODE column as node 0", () => {
    const rows = parseLscpu(fixture("no-numa.lscpu"));
    const t = topologyFromFacts(rows, new Map([[0, 8192]]));
    assert.deepEqual(
      t.nodes.map((n) => n.id),
      [0],
    );
  });

  it("fails clearly on garbage and missing memory", () => {
    assert.throws(() => parseLscpu("CPU,Core\nx,y"), /is not CPU,CORE,SOCKET,NODE/);
    assert.throws(() => parseLscpu("# header only\n"), /no CPU lines/);
    assert.throws(() => parseNodeMeminfo("MemTotal: 1 kB"), /no 'Node N MemTotal/);
    assert.throws(
      () => topologyFromFacts(parseLscpu(fixture("seed-2node-nosmt.lscpu")), new Map([[0, 1]])),
      /no MemTotal line for NUMA node 1/,
    );
  });
});

describe("declared topology", () => {
  it("builds cores from thread groups and singles", () => {
    const t = topologyFromConfig([{ id: 0, cpus: "0-3", memoryMb: 8192, threadSiblings: ["0,2"] }]);
    assert.deepEqual(t.nodes[0].cores, [[0, 2], [1], [3]]);
    assert.equal(t.smt, true);
  });

  it("rejects CPUs in two nodes and siblings outside the node", () => {
    assert.throws(
      () =>
        topologyFromConfig([
          { id: 0, cpus: "0-3", memoryMb: 8192, threadSiblings: [] },
          { id: 1, cpus: "3-5", memoryMb: 8192, threadSiblings: [] },
        ]),
      (e: Error) =>
        isTopologyError(e) &&
        Object.getPrototypeOf(e) === Error.prototype &&
        /CPU 3 is in node 0 and node 1/.test(e.message),
    );
    assert.throws(
      () => topologyFromConfig([{ id: 0, cpus: "0-3", memoryMb: 8192, threadSiblings: ["3,9"] }]),
      /CPU 9, which is not in node 0/,
    );
  });
});
