/**
 * The host's real CPU/NUMA topology against the one the stack declares, which the whole plan
 * comes from: the housekeeping and isolated CPUs, the CPU sets, the 1 GiB pages per node and the
 * cells Nova sees. A host that differs would be set up for another machine, so any difference
 * fails: a CPU on another node (or absent, or not declared), a node missing or not declared,
 * other SMT thread groups, memory apart by more than a small tolerance.
 *
 * Pure: host-facts.sh's `lscpu` and `node-meminfo` sections in (the commands facts.sh runs for
 * `npm run discover`), results out.
 */
import { formatCpuList, parseCpuList } from "../cpu/cpuset";
import { messageOf } from "../errors";
import type { HostPlan, NodePlan } from "../plan/host";
import type { Topology } from "../cpu/topology";
import { threadSiblingGroups, topologyFromText } from "../cpu/topology";
import type { CheckResult } from "./result";
import { excerpt, fail, pass } from "./result";

/**
 * How far a node's MemTotal may lie from its declared memoryMb: 2 % of it, and at least 128 MiB.
 * MemTotal is what the running kernel manages, not what the DIMMs hold: each kernel first takes
 * its own image, the page structs (64 bytes per 4 KiB page, about 1.6 %), per-CPU areas and
 * reservations such as crashkernel or swiotlb, and these differ between kernels. discover
 * usually reads the stock kernel, the check runs on the RT one, with 1 GiB pages reserved
 * (they stay counted in MemTotal). Measured on the e2e VM, Debian 12's stock and RT 6.1 kernels
 * were 32 kB apart per node; a kernel of another size or configuration moves node 0 by tens of
 * MiB, a crashkernel reservation by hundreds on big hosts (inside 2 % of them), and HugeTLB
 * vmemmap optimisation gives back about 16 MiB per 1 GiB page. A missing DIMM or node is
 * gigabytes, far outside it. Declared memory the node does not have would let the plan overbook
 * it, so the check holds the declaration to what `npm run discover` reads (MemTotal), not to a
 * nominal size.
 */
export const MEMORY_TOLERANCE = { fraction: 0.02, minMb: 128 } as const;

export function memoryToleranceMb(declaredMb: number): number {
  return Math.max(MEMORY_TOLERANCE.minMb, Math.round(declaredMb * MEMORY_TOLERANCE.fraction));
}

/** At most `max` items, then how many more. */
function some(items: string[], max = 4): string {
  return items.length <= max ? items.join(" ") : `${items.slice(0, max).join(" ")} and ${items.length - max} more`;
}

/** The node's declared thread groups, as the host would print them (sorted, canonical cpulists). */
function declaredGroups(node: NodePlan): string[] {
  return (node.threadSiblings ?? [])
    .map((g) => formatCpuList(parseCpuList(g)))
    .sort((a, b) => parseCpuList(a)[0] - parseCpuList(b)[0]);
}

function describeNode(cpus: string, groups: string[], memoryMb: number, tolerance?: number): string {
  const smt =
    groups.length === 0
      ? "no SMT"
      : groups.length <= 4
        ? `SMT thread groups ${groups.join(" ")}`
        : `${groups.length} SMT thread groups`;
  return `CPUs ${cpus}, ${smt}, ${memoryMb} MiB${tolerance === undefined ? "" : ` (±${tolerance})`}`;
}

/** CPUs grouped by what is wrong with them, as "CPUs 5,7 are on node 1". */
function cpuDifferences(node: NodePlan, real: Topology): string[] {
  const nodeOf: Record<number, number> = {};
  for (const n of real.nodes) for (const c of n.cpus) nodeOf[c] = n.id;
  const declared = parseCpuList(node.cpus);
  const elsewhere: Record<string, number[]> = {};
  const absent: number[] = [];
  for (const c of declared) {
    const at = nodeOf[c];
    if (at === undefined) absent.push(c);
    else if (at !== node.id) (elsewhere[at] ??= []).push(c);
  }
  const out = Object.entries(elsewhere).map(
    ([at, cpus]) =>
      `CPU${cpus.length > 1 ? "s" : ""} ${formatCpuList(cpus)} ${cpus.length > 1 ? "are" : "is"} on node ${at} on the host`,
  );
  if (absent.length)
    out.push(
      `CPU${absent.length > 1 ? "s" : ""} ${formatCpuList(absent)} ${absent.length > 1 ? "are" : "is"} not on the host (offline or absent)`,
    );
  const here = real.nodes.find((n) => n.id === node.id);
  const extra = here ? here.cpus.filter((c) => !declared.includes(c)) : [];
  if (extra.length)
    out.push(`the host also has CPU${extra.length > 1 ? "s" : ""} ${formatCpuList(extra)} on this node`);
  return out;
}

function siblingDifferences(declared: string[], real: string[]): string[] {
  const out: string[] = [];
  const unexpected = real.filter((g) => !declared.includes(g));
  const missing = declared.filter((g) => !real.includes(g));
  if (unexpected.length) out.push(`the host has the SMT thread groups ${some(unexpected)}, not declared`);
  if (missing.length) out.push(`the declared thread groups ${some(missing)} are not cores of the host`);
  return out;
}

function nodeCheck(node: NodePlan, real: Topology, hint: string): CheckResult {
  const groups = declaredGroups(node);
  const tolerance = memoryToleranceMb(node.memoryMb);
  const expected = describeNode(node.cpus, groups, node.memoryMb, tolerance);
  const check = `topology node ${node.id}`;
  const here = real.nodes.find((n) => n.id === node.id);
  const differences = cpuDifferences(node, real);
  if (!here) return fail(check, expected, [`the host has no NUMA node ${node.id}`, ...differences].join("; "), hint);
  const realGroups = threadSiblingGroups(here.cores);
  differences.push(...siblingDifferences(groups, realGroups));
  const apart = here.memoryMb - node.memoryMb;
  if (Math.abs(apart) > tolerance)
    differences.push(
      `MemTotal ${here.memoryMb} MiB, ${Math.abs(apart)} MiB ${apart < 0 ? "less" : "more"} than declared`,
    );
  const observed = describeNode(formatCpuList(here.cpus), realGroups, here.memoryMb);
  return differences.length ? fail(check, expected, differences.join("; "), hint) : pass(check, expected, observed);
}

/**
 * One result per NUMA node, declared or found on the host. `lscpu`: `lscpu -p=CPU,CORE,SOCKET,NODE`;
 * `nodeMeminfo`: the `Node <N> MemTotal: <kB> kB` lines of /sys/devices/system/node/node*\/meminfo.
 */
export function checkTopology(lscpu: string, nodeMeminfo: string, plan: HostPlan): CheckResult[] {
  const discover = `npm run discover -- --stack <stack> --host ${plan.name}`;
  let real: Topology;
  try {
    real = topologyFromText(lscpu, nodeMeminfo);
  } catch (e) {
    return [
      fail(
        "topology",
        "the host's CPUs and NUMA nodes (lscpu -p=CPU,CORE,SOCKET,NODE, node MemTotal)",
        excerpt(messageOf(e), 160),
        "host-facts.sh could not read the topology: check that lscpu (util-linux) is installed and /sys/devices/system/node is readable",
      ),
    ];
  }
  const hint =
    `the host is not what the stack declares, and everything planned for it (isolated CPUs, CPU sets, 1 GiB pages per node) follows the declaration: ` +
    `if the host changed for good (BIOS NUMA or SMT setting, CPUs, memory), run \`${discover}\`, review its diff and the new plan, and deploy again; ` +
    "otherwise bring the host back (an offline CPU: echo 1 > /sys/devices/system/cpu/cpu<N>/online)";
  const results = plan.nodes.map((n) => nodeCheck(n, real, hint));
  for (const n of real.nodes) {
    if (plan.nodes.some((d) => d.id === n.id)) continue;
    const groups = threadSiblingGroups(n.cores);
    results.push(
      fail(
        `topology node ${n.id}`,
        "no such node (not declared)",
        describeNode(formatCpuList(n.cpus), groups, n.memoryMb),
        hint,
      ),
    );
  }
  return results;
}
