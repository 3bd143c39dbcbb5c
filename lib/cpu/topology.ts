/**
 * Host CPU/NUMA topology: declared in config (as `npm run discover` writes it), and read from the
 * host with `lscpu -p=CPU,CORE,SOCKET,NODE` and the per-node `MemTotal` lines of
 * /sys/devices/system/node/node<N>/meminfo, by discover (hostprep/facts.sh) and by the host
 * check (hostprep/verify/host-facts.sh).
 */
import type { CpuSet } from "./cpuset";
import { cpuSet, formatCpuList, parseCpuList } from "./cpuset";
import type { CodedError } from "../errors";
import { codedError, hasCode } from "../errors";

export interface NumaNodeTopology {
  id: number;
  cpus: CpuSet;
  memoryMb: number;
  /** Physical cores as sets of sibling threads; every CPU of the node is in exactly one. */
  cores: CpuSet[];
}

export interface Topology {
  nodes: NumaNodeTopology[];
  /** True when any core has more than one thread. */
  smt: boolean;
}

/** A topology that cannot be read or is inconsistent (a coded Error, lib/errors.ts). */
export type TopologyError = CodedError<"TOPOLOGY">;

export function topologyError(message: string): TopologyError {
  return codedError("TOPOLOGY", message);
}

export function isTopologyError(e: unknown): e is TopologyError {
  return hasCode(e, "TOPOLOGY");
}

/** A line or list for a message: JSON-quoted (no control character survives), cut to 80 characters. */
function quoted(text: string): string {
  const json = JSON.stringify(text);
  return json.length > 80 ? `${json.slice(0, 77)}..."` : json;
}

export interface LscpuRow {
  cpu: number;
  core: number;
  socket: number;
  node: number;
}

/** Parses `lscpu -p=CPU,CORE,SOCKET,NODE`; an empty NODE column (no NUMA) means node 0. */
export function parseLscpu(text: string): LscpuRow[] {
  const rows: LscpuRow[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const fields = line.split(",");
    if (fields.length !== 4 || !fields.slice(0, 3).every((f) => /^\d+$/.test(f)) || !/^\d*$/.test(fields[3])) {
      throw topologyError(
        `lscpu line ${i + 1} ${quoted(line)} is not CPU,CORE,SOCKET,NODE (run lscpu -p=CPU,CORE,SOCKET,NODE)`,
      );
    }
    const [cpu, core, socket, node] = fields.map((f) => (f === "" ? 0 : Number(f)));
    rows.push({ cpu, core, socket, node });
  });
  if (rows.length === 0) throw topologyError("lscpu printed no CPU lines");
  return rows;
}

/** Parses the `Node <N> MemTotal: <kB> kB` lines of the per-node meminfo files into MiB per node. */
export function parseNodeMeminfo(text: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const m of text.matchAll(/^Node (\d+) MemTotal:\s+(\d+) kB$/gm)) {
    out.set(Number(m[1]), Math.floor(Number(m[2]) / 1024));
  }
  if (out.size === 0) throw topologyError("no 'Node N MemTotal: X kB' line in the node meminfo output");
  return out;
}

/** Builds the topology from lscpu rows and node memory; threads of one (socket, core) are siblings. */
export function topologyFromFacts(rows: LscpuRow[], memoryMbByNode: Map<number, number>): Topology {
  const seen = new Set<number>();
  const byNode = new Map<number, Map<string, number[]>>();
  for (const r of rows) {
    if (seen.has(r.cpu)) throw topologyError(`lscpu lists CPU ${r.cpu} twice`);
    seen.add(r.cpu);
    const cores = byNode.get(r.node) ?? new Map<string, number[]>();
    byNode.set(r.node, cores);
    const key = `${r.socket}:${r.core}`;
    const core = cores.get(key) ?? [];
    core.push(r.cpu);
    cores.set(key, core);
  }
  const nodes = [...byNode.entries()]
    .sort(([a], [b]) => a - b)
    .map(([id, cores]) => {
      const memoryMb =
        memoryMbByNode.get(id) ??
        (byNode.size === 1 && memoryMbByNode.size === 1 ? [...memoryMbByNode.values()][0] : undefined);
      if (memoryMb === undefined) throw topologyError(`no MemTotal line for NUMA node ${id}`);
      const coreSets = sortCores([...cores.values()].map(cpuSet));
      return { id, cpus: cpuSet(coreSets.flat()), memoryMb, cores: coreSets };
    });
  return { nodes, smt: nodes.some((n) => n.cores.some((c) => c.length > 1)) };
}

/** A NUMA node as config declares it (and discover writes it); the config schema's output is one. */
export interface DeclaredNumaNode {
  id: number;
  /** cpulist, e.g. "0-23,48-71" */
  cpus: string;
  memoryMb: number;
  /** SMT thread groups, each a cpulist of sibling threads ("0,24"); empty means SMT off. */
  threadSiblings: readonly string[];
}

/** Builds the topology from the config's declared nodes, checking that it is consistent. */
export function topologyFromConfig(nodes: readonly DeclaredNumaNode[]): Topology {
  // By CPU number, the node that has it and the node whose thread group has it: arrays, not
  // Maps or Sets, as a config declares every CPU of every host.
  const owner: number[] = [];
  const groupedIn: number[] = [];
  const ids = new Set<number>();
  const out = nodes.map((n) => {
    if (ids.has(n.id)) throw topologyError(`NUMA node ${n.id} is declared twice`);
    ids.add(n.id);
    const cpus = parseCpuList(n.cpus);
    for (const c of cpus) {
      const other = owner[c];
      if (other !== undefined) throw topologyError(`CPU ${c} is in node ${other} and node ${n.id}`);
      owner[c] = n.id;
    }
    const cores: CpuSet[] = n.threadSiblings.map((g) => {
      const group = parseCpuList(g);
      for (const c of group) {
        if (owner[c] !== n.id)
          throw topologyError(
            `thread group ${quoted(g)} names CPU ${c}, which is not in node ${n.id} (${formatCpuList(cpus)})`,
          );
        if (groupedIn[c] === n.id) throw topologyError(`CPU ${c} is in two thread groups of node ${n.id}`);
        groupedIn[c] = n.id;
      }
      return group;
    });
    for (const c of cpus) if (groupedIn[c] !== n.id) cores.push([c]);
    return { id: n.id, cpus, memoryMb: n.memoryMb, cores: sortCores(cores) };
  });
  out.sort((a, b) => a.id - b.id);
  return { nodes: out, smt: out.some((n) => n.cores.some((c) => c.length > 1)) };
}

function sortCores(cores: CpuSet[]): CpuSet[] {
  return cores.sort((a, b) => a[0] - b[0]);
}

/** Parses lscpu's and the node meminfo files' output into a topology; throws a TopologyError. */
export function topologyFromText(lscpu: string, nodeMeminfo: string): Topology {
  return topologyFromFacts(parseLscpu(lscpu), parseNodeMeminfo(nodeMeminfo));
}

/** A node's SMT thread groups as the config declares them (`threadSiblings: ["0,24", ...]`): cores of more than one thread. */
export function threadSiblingGroups(cores: readonly CpuSet[]): string[] {
  return cores.filter((c) => c.length > 1).map(formatCpuList);
}
