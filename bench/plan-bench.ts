/**
 * `npm run bench`: plans a generated fleet (1,000 hosts of mixed topologies up to 4 NUMA nodes and
 * 256 CPUs, SMT on and off, 50 flavors) and prints wall time and peak memory, then the same at
 * half and quarter size to show how it grows. Targets: under 1 s and 300 MB at full size.
 */
import { performance } from "node:perf_hooks";
import { planStack } from "../lib/plan/stack";
import { devRaw } from "../test/support/dev-config";

interface Shape {
  nodes: number;
  coresPerNode: number;
  smt: boolean;
}
const SHAPES: Shape[] = [
  { nodes: 1, coresPerNode: 8, smt: false },
  { nodes: 2, coresPerNode: 6, smt: false },
  { nodes: 2, coresPerNode: 16, smt: true },
  { nodes: 2, coresPerNode: 32, smt: true },
  { nodes: 4, coresPerNode: 16, smt: true },
  { nodes: 4, coresPerNode: 32, smt: true },
  { nodes: 4, coresPerNode: 64, smt: false },
];

function host(i: number) {
  const s = SHAPES[i % SHAPES.length];
  const threads = s.smt ? 2 : 1;
  const total = s.nodes * s.coresPerNode;
  const nodes = Array.from({ length: s.nodes }, (_, n) => {
    const cores = Array.from({ length: s.coresPerNode }, (_, c) => n * s.coresPerNode + c);
    const cpus = cores.flatMap((c) => (s.smt ? [c, c + total] : [c]));
    return {
      id: n,
      cpus: cpus.join(","),
      memoryMb: 65536,
      threadSiblings: s.smt ? cores.map((c) => `${c},${c + total}`) : [],
    };
  });
  return {
    name: `compute-${String(i).padStart(4, "0")}`,
    ssh: { host: `10.${(i >> 8) & 255}.${i & 255}.10` },
    os: i % 2 ? "debian-12" : "rhel-9",
    topology: { nodes },
    housekeepingCpusPerNode: threads * 2,
    hugepages1gPerNode: 16,
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

function run(hosts: number, flavors: number): { ms: number; cpuMs: number; heapMb: number } {
  const raw = {
    ...devRaw(),
    hosts: Array.from({ length: hosts }, (_, i) => host(i)),
    flavors: Array.from({ length: flavors }, (_, i) => flavor(i)),
    servers: [],
  };
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
  return { ms, cpuMs: (used.user + used.system) / 1000, heapMb: process.memoryUsage().rss / 2 ** 20 };
}

run(20, 5); // warm-up: JIT and module loading are not what is measured
for (const [hosts, flavors] of [
  [250, 50],
  [500, 50],
  [1000, 50],
]) {
  const r = run(hosts, flavors);
  // CPU time next to wall time: on a shared machine the wall clock also counts other processes.
  console.log(
    `plan: ${hosts} hosts x ${flavors} flavors: ${r.ms.toFixed(0)} ms (cpu ${r.cpuMs.toFixed(0)} ms), rss ${r.heapMb.toFixed(0)} MB`,
  );
}
console.log(
  `peak rss: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB (target: < 1000 ms and < 300 MB at 1000 hosts)`,
);
