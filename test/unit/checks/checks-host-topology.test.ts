/*
 * The host check's topology comparison (lib/checks/host-topology.ts): the dev plan's
 * compute-rt-01 against its crafted facts (test/fixtures/host/rt-host: lscpu.txt and
 * node-meminfo.txt, 2 NUMA nodes of 6 CPUs without SMT) and mutations of them, each one
 * difference; then host-facts.sh's new sections as this machine prints them.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { checkTopology, memoryToleranceMb } from "../../../lib/checks/host-topology";
import type { CheckResult } from "../../../lib/checks/result";
import { formatReport } from "../../../lib/checks/result";
import { declaredTopology } from "../../../lib/discover/discover";
import { planStack } from "../../../lib/plan/stack";
import type { HostPlan } from "../../../lib/plan/host";
import { readStackConfig } from "../../../lib/config/stack-files";
import { topologyFromText } from "../../../lib/cpu/topology";
import { parseSections } from "../../../lib/checks/verification";
import { scriptText } from "../../../lib/providers/collect";
import { devHost, PROJECT_DIR } from "../../support/dev-config";

const fixture = (name: string) =>
  readFileSync(join(__dirname, "..", "..", "fixtures", "host", "rt-host", name), "utf8");
const LSCPU = fixture("lscpu.txt");
const MEMINFO = fixture("node-meminfo.txt");
const plan = devHost("compute-rt-01");

/** The fixture's `lscpu -p` with some CPU lines replaced: cpu -> "CORE,SOCKET,NODE" (null drops the line). */
function lscpu(changes: Record<number, string | null>, extra: string[] = []): string {
  const lines = LSCPU.split("\n").flatMap((l) => {
    const cpu = /^(\d+),/.exec(l)?.[1];
    if (cpu === undefined || !(Number(cpu) in changes)) return [l];
    const to = changes[Number(cpu)];
    return to === null ? [] : [`${cpu},${to}`];
  });
  return [...lines.filter((l) => l !== ""), ...extra, ""].join("\n");
}

const meminfo = (mbByNode: Record<number, number>) =>
  Object.entries(mbByNode)
    .map(([n, mb]) => `Node ${n} MemTotal:       ${mb * 1024} kB`)
    .join("\n");

function byCheck(results: CheckResult[], check: string): CheckResult {
  const r = results.find((x) => x.check === check);
  assert.ok(r, `no "${check}" in:\n${formatReport(results)}`);
  return r;
}

function failing(results: CheckResult[], check: string): CheckResult {
  const r = byCheck(results, check);
  assert.equal(r.ok, false, `"${check}" should fail:\n${formatReport(results)}`);
  assert.match(r.hint, /npm run discover -- --stack <stack> --host compute-rt-01/);
  return r;
}

describe("checkTopology against the declared topology", () => {
  it("passes the host the stack declares, one result per node", () => {
    const results = checkTopology(LSCPU, MEMINFO, plan);
    assert.deepEqual(
      results.map((r) => [r.check, r.ok]),
      [
        ["topology node 0", true],
        ["topology node 1", true],
      ],
      formatReport(results),
    );
    assert.equal(results[0].expected, "CPUs 0,2,4,6,8,10, no SMT, 16384 MiB (±328)");
    assert.equal(results[0].observed, "CPUs 0,2,4,6,8,10, no SMT, 16146 MiB");
  });

  it("fails a CPU on another node, on both nodes", () => {
    const results = checkTopology(lscpu({ 10: "10,1,1" }), MEMINFO, plan);
    assert.equal(failing(results, "topology node 0").observed, "CPU 10 is on node 1 on the host");
    assert.equal(failing(results, "topology node 1").observed, "the host also has CPU 10 on this node");
  });

  it("fails a CPU the host does not have (offline), and one it has but nobody declared", () => {
    assert.equal(
      failing(checkTopology(lscpu({ 11: null }), MEMINFO, plan), "topology node 1").observed,
      "CPU 11 is not on the host (offline or absent)",
    );
    const extra = checkTopology(lscpu({}, ["12,12,0,0"]), MEMINFO, plan);
    assert.equal(failing(extra, "topology node 0").observed, "the host also has CPU 12 on this node");
    assert.equal(byCheck(extra, "topology node 1").ok, true);
  });

  it("fails a missing node and a node that is not declared", () => {
    const oneNode = checkTopology(
      lscpu({ 1: "1,0,0", 3: "3,0,0", 5: "5,0,0", 7: "7,0,0", 9: "9,0,0", 11: "11,0,0" }),
      meminfo({ 0: 32768 }),
      plan,
    );
    assert.match(
      failing(oneNode, "topology node 1").observed,
      /^the host has no NUMA node 1; CPUs 1,3,5,7,9,11 are on node 0 on the host$/,
    );
    assert.match(
      failing(oneNode, "topology node 0").observed,
      /the host also has CPUs 1,3,5,7,9,11 on this node; MemTotal 32768 MiB, 16384 MiB more than declared/,
    );

    const threeNodes = checkTopology(
      lscpu({}, ["12,12,2,2", "13,13,2,2"]),
      `${MEMINFO}\n${meminfo({ 2: 8192 })}`,
      plan,
    );
    const node2 = failing(threeNodes, "topology node 2");
    assert.equal(node2.expected, "no such node (not declared)");
    assert.equal(node2.observed, "CPUs 12-13, no SMT, 8192 MiB");
    assert.equal(byCheck(threeNodes, "topology node 0").ok, true);
  });

  it("fails SMT thread groups that differ, either way", () => {
    // SMT on, with CPUs 0 and 2 one core: the plan declared none.
    const smt = checkTopology(lscpu({ 2: "0,0,0" }), MEMINFO, plan);
    assert.equal(failing(smt, "topology node 0").observed, "the host has the SMT thread groups 0,2, not declared");
    // Declared siblings that the host runs as separate cores.
    const declared: HostPlan = {
      ...plan,
      nodes: plan.nodes.map((n) => (n.id === 0 ? { ...n, threadSiblings: ["0,2", "4,6"] } : n)),
    };
    assert.equal(
      failing(checkTopology(LSCPU, MEMINFO, declared), "topology node 0").observed,
      "the declared thread groups 0,2 4,6 are not cores of the host",
    );
    // The same groups, written in another order, pass.
    const same: HostPlan = {
      ...plan,
      nodes: plan.nodes.map((n) => (n.id === 0 ? { ...n, threadSiblings: ["2,0"] } : n)),
    };
    assert.equal(byCheck(checkTopology(lscpu({ 2: "0,0,0" }), MEMINFO, same), "topology node 0").ok, true);
  });

  it("fails memory apart by more than the tolerance, and passes what kernels differ by", () => {
    assert.equal(memoryToleranceMb(16384), 328);
    assert.equal(memoryToleranceMb(2560), 128);
    assert.equal(
      byCheck(checkTopology(LSCPU, meminfo({ 0: 16384 - 328, 1: 16384 + 328 }), plan), "topology node 0").ok,
      true,
    );
    const less = checkTopology(LSCPU, meminfo({ 0: 16384 - 329, 1: 16384 }), plan);
    assert.equal(failing(less, "topology node 0").observed, "MemTotal 16055 MiB, 329 MiB less than declared");
    assert.equal(byCheck(less, "topology node 1").ok, true);
    // A DIMM short.
    assert.match(
      failing(checkTopology(LSCPU, meminfo({ 0: 16384, 1: 8192 }), plan), "topology node 1").observed,
      /8192 MiB less than declared/,
    );
  });

  it("reads a plan made before thread groups were planned as one without SMT", () => {
    const old = structuredClone(plan);
    for (const n of old.nodes) delete (n as Partial<typeof n>).threadSiblings;
    assert.ok(checkTopology(LSCPU, MEMINFO, old).every((r) => r.ok));
  });

  it("turns missing and garbage facts into one failed result, never an exception", () => {
    for (const [l, m] of [
      ["", ""],
      [LSCPU, ""],
      ["\u0000<html>502</html>", MEMINFO],
      ["0,0,0,0\n0,0,0,0\n", MEMINFO],
    ]) {
      const results = checkTopology(l, m, plan);
      assert.equal(results.length, 1);
      assert.equal(results[0].check, "topology");
      assert.equal(results[0].ok, false);
      assert.match(results[0].hint, /lscpu \(util-linux\)/);
    }
  });
});

describe("host-facts.sh's topology sections on this machine", () => {
  it("print lscpu -p=CPU,CORE,SOCKET,NODE and the node MemTotal lines, and the check passes this machine as discover declares it", () => {
    const nodeMemMb = () =>
      Object.fromEntries(
        readdirSync("/sys/devices/system/node")
          .filter((d) => /^node\d+$/.test(d))
          .map((d) => [
            Number(d.slice(4)),
            Math.floor(
              Number(/MemTotal:\s+(\d+) kB/.exec(readFileSync(`/sys/devices/system/node/${d}/meminfo`, "utf8"))![1]) /
                1024,
            ),
          ]),
      );
    const memBefore = nodeMemMb();
    const out = execFileSync("bash", ["-s"], {
      input: scriptText("host-facts.sh"),
      encoding: "utf8",
      maxBuffer: 64 << 20,
    });
    const memAfter = nodeMemMb();
    const { sections, complete } = parseSections(out);
    assert.ok(complete);
    assert.equal(
      sections.get("lscpu"),
      execFileSync("lscpu", ["-p=CPU,CORE,SOCKET,NODE"], { encoding: "utf8" }).trimEnd(),
    );
    const real = topologyFromText(sections.get("lscpu")!, sections.get("node-meminfo")!);
    // Memory can be hot-plugged on a VM while the script runs: the value lies between the reads around it.
    for (const n of real.nodes) {
      assert.ok(
        n.memoryMb >= Math.min(memBefore[n.id], memAfter[n.id]) &&
          n.memoryMb <= Math.max(memBefore[n.id], memAfter[n.id]),
        `node ${n.id}: ${n.memoryMb} MiB`,
      );
    }

    const raw = readStackConfig(PROJECT_DIR, join(__dirname, "..", "..", "fixtures", "stacks", "Pulumi.discover.yaml"));
    (raw.values.hosts as Record<string, unknown>[])[0].topology = declaredTopology(real);
    const planned = planStack(raw.values);
    assert.ok(planned.ok, planned.ok ? "" : JSON.stringify(planned.problems));
    const results = checkTopology(sections.get("lscpu")!, sections.get("node-meminfo")!, planned.plan.hosts[0]);
    assert.equal(results.length, real.nodes.length);
    assert.ok(
      results.every((r) => r.ok),
      formatReport(results),
    );
  });
});
