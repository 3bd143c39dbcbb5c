/**
 * Which CPUs of a host keep it running (housekeeping): whole cores per NUMA node, lowest ids
 * first, or the explicit lists `housekeepingCpus` / `isolatedCpus`.
 */
import type { HostConfig } from "../config/schema";
import type { Problem } from "../config/problems";
import type { CpuSet } from "../cpu/cpuset";
import { difference, formatCpuList, intersection, parseCpuList, union } from "../cpu/cpuset";
import type { Topology } from "../cpu/topology";

/** Takes whole cores, lowest CPU ids first, until `want` CPUs are housekeeping (SMT siblings stay together). */
export function pickHousekeeping(cores: readonly CpuSet[], want: number): CpuSet {
  const picked: number[] = [];
  for (const core of cores) {
    if (picked.length >= want) break;
    picked.push(...core);
  }
  return union(picked);
}

/**
 * `housekeepingCpus` or `isolatedCpus`: the housekeeping CPUs per node, or null when neither is
 * given (housekeepingCpusPerNode decides). Whole cores only (SMT siblings stay together), and
 * every node keeps at least one housekeeping core, as housekeepingCpusPerNode guarantees.
 */
export function explicitHousekeeping(
  host: HostConfig,
  topology: Topology,
  path: string,
): { perNode: CpuSet[] | null; problems: Problem[] } {
  if (host.housekeepingCpus === undefined && host.isolatedCpus === undefined) return { perNode: null, problems: [] };
  const problems: Problem[] = [];
  const all = union(...topology.nodes.map((n) => n.cpus));
  const hkGiven = host.housekeepingCpus === undefined ? null : parseCpuList(host.housekeepingCpus);
  const isoGiven = host.isolatedCpus === undefined ? null : parseCpuList(host.isolatedCpus);
  const key = hkGiven ? "housekeepingCpus" : "isolatedCpus";
  for (const [name, set] of [
    ["housekeepingCpus", hkGiven],
    ["isolatedCpus", isoGiven],
  ] as const) {
    const unknown = set ? difference(set, all) : [];
    if (unknown.length)
      problems.push({
        path: `${path}.${name}`,
        message: `got "${formatCpuList(set!)}", but the host has no CPU ${formatCpuList(unknown)} (its CPUs: ${formatCpuList(all)}); name only the declared topology's CPUs`,
      });
  }
  const hk = hkGiven ?? difference(all, isoGiven!);
  const iso = isoGiven ?? difference(all, hkGiven!);
  if (hkGiven && isoGiven) {
    const both = intersection(hkGiven, isoGiven);
    const neither = difference(all, union(hkGiven, isoGiven));
    if (both.length || neither.length)
      problems.push({
        path: `${path}.isolatedCpus`,
        message:
          `housekeepingCpus "${host.housekeepingCpus}" and isolatedCpus "${host.isolatedCpus}" must split the host's CPUs (${formatCpuList(all)}) between them` +
          (both.length ? `; CPUs ${formatCpuList(both)} are in both` : "") +
          (neither.length ? `; CPUs ${formatCpuList(neither)} are in neither` : "") +
          "; give one of the two lists, the other is the rest",
      });
  }
  for (const node of topology.nodes) {
    for (const core of node.cores) {
      const inHk = intersection(core, hk);
      if (inHk.length > 0 && inHk.length < core.length)
        problems.push({
          path: `${path}.${key}`,
          message: `splits the core of CPUs ${formatCpuList(core)} (SMT siblings) between housekeeping (${formatCpuList(inHk)}) and isolated (${formatCpuList(difference(core, inHk))}); a core's threads share its caches and pipeline, so keep them on one side: take all of ${formatCpuList(core)} or none`,
        });
    }
    if (intersection(node.cpus, hk).length === 0)
      problems.push({
        path: `${path}.${key}`,
        message: `leaves NUMA node ${node.id} (CPUs ${formatCpuList(node.cpus)}) without a housekeeping CPU; each node keeps at least one housekeeping core for its kernel threads and interrupts: add ${formatCpuList(node.cores[0])} to housekeeping`,
      });
  }
  if (iso.length === 0)
    problems.push({
      path: `${path}.${key}`,
      message: `leaves no CPU of the host for RT guests (housekeeping ${formatCpuList(hk)}); isolate at least one core`,
    });
  return { perNode: topology.nodes.map((n) => intersection(n.cpus, hk)), problems };
}
