/**
 * The whole stack's plan: config -> per-host, per-flavor and per-server decisions, with every
 * problem found listed (not just the first). Pure: no Pulumi, no I/O.
 */
import type { StackConfig } from "../config/schema";
import { discoverCommand, parseStackConfig, settingPath } from "../config/schema";
import { formatCpuList, parseCpuList } from "../cpu/cpuset";
import type { NovaFlavor, NovaHost, Verdict } from "./nova/model";
import { NOVA_DEFAULTS, PAGE_1G, PAGE_2M, capacity, consume, emptyUsage, novaVerdict } from "./nova/model";
import type { ExtraSpecs } from "./flavor";
import { flavorExtraSpecs } from "./flavor";
import type { HostPlan } from "./host";
import { mergedNovaOwner, planHost } from "./host";
import type { Problem } from "../config/problems";
import type { Topology } from "../cpu/topology";
import { isTopologyError, topologyFromConfig } from "../cpu/topology";
import { configProblems, serverRuleProblem } from "../config/rules";

export interface GuestPlan {
  realtimeVcpus: string;
  housekeepingVcpus: string;
  /** TuneD realtime-virtual-guest `isolated_cores` inside the guest: the RT vCPUs. */
  tunedIsolatedCores: string;
  kernelArgs: string[];
}

export interface FlavorPlan {
  name: string;
  vcpus: number;
  ramMb: number;
  diskGb: number;
  isPublic: boolean;
  extraSpecs: ExtraSpecs;
  guest: GuestPlan;
  /** Per host: how many instances an empty host takes, and why none when it takes none. */
  hosts: { host: string; capacity: number; reason?: string }[];
}

export interface ServerPlan {
  name: string;
  flavor: string;
  /** Hosts whose Nova would place the server on an otherwise empty host. */
  candidates: string[];
  pinnedHost: string | null;
}

export interface StackPlan {
  hosts: HostPlan[];
  flavors: FlavorPlan[];
  servers: ServerPlan[];
}

export type PlanResult =
  | { ok: true; plan: StackPlan; config: StackConfig }
  | { ok: false; problems: Problem[]; partial?: { config: StackConfig; plan: StackPlan } };

/** Nova's view of a planned host: what nova-compute will report with these settings. */
export function novaHostOf(plan: HostPlan, topology: Topology): NovaHost {
  return {
    cpuDedicatedSet: parseCpuList(plan.nova.cpuDedicatedSet),
    cpuSharedSet: plan.nova.cpuSharedSet ? parseCpuList(plan.nova.cpuSharedSet) : null,
    cells: topology.nodes.map((n, i) => ({
      id: n.id,
      cpus: n.cpus,
      siblings: n.cores.filter((c) => c.length > 1),
      memoryMb: n.memoryMb,
      hugepages1g: plan.nodes[i].hugepages1g,
      hugepages2m: plan.nodes[i].hugepages2m,
    })),
    reservedHostMemoryMb: plan.nova.reservedHostMemoryMb,
    reservedHugePages: topology.nodes.flatMap((n, i) => [
      { node: n.id, sizeKb: PAGE_1G, count: plan.nodes[i].reservedHugepages1g },
      { node: n.id, sizeKb: PAGE_2M, count: plan.nodes[i].reservedHugepages2m },
    ]),
    cpuAllocationRatio: NOVA_DEFAULTS.cpuAllocationRatio,
    ramAllocationRatio: NOVA_DEFAULTS.ramAllocationRatio,
    packCells: NOVA_DEFAULTS.packCells,
  };
}

/**
 * What novaHostOf makes its host of, as one string: hosts with the same key are the same to
 * Nova. Built from the plan's own CPU lists, not the host's CPU sets, as every host needs one.
 */
function novaHostKey(plan: HostPlan): string {
  const { cpuDedicatedSet, cpuSharedSet, reservedHostMemoryMb } = plan.nova;
  return JSON.stringify([
    cpuDedicatedSet,
    cpuSharedSet,
    reservedHostMemoryMb,
    plan.nodes.map((n) => [
      n.id,
      n.cpus,
      n.threadSiblings,
      n.memoryMb,
      n.hugepages1g,
      n.hugepages2m,
      n.reservedHugepages1g,
      n.reservedHugepages2m,
    ]),
  ]);
}

function whyNot(v: Verdict): string {
  switch (v.outcome) {
    case "fits":
      return "";
    case "rejected":
      return v.errors.join("; ");
    case "no-fit":
      return v.reasons.join("; ");
    case "spawn-error":
      return v.error;
  }
}

function guestPlan(v: Verdict, flavor: StackConfig["flavors"][number]): GuestPlan {
  const rt = v.outcome === "rejected" ? [] : v.request.realtimeVcpus;
  const all = Array.from({ length: flavor.vcpus }, (_, i) => i);
  const pages = flavor.pageSize ?? (flavor.realtime === false ? undefined : "1GB");
  return {
    realtimeVcpus: formatCpuList(rt),
    housekeepingVcpus: formatCpuList(all.filter((c) => !rt.includes(c))),
    tunedIsolatedCores: formatCpuList(rt),
    kernelArgs: pages === "1GB" ? ["default_hugepagesz=1G"] : pages === "2MB" ? ["default_hugepagesz=2M"] : [],
  };
}

/**
 * The stack's plan from the raw values of its config keys: the config parsed and its rules
 * checked (lib/config), then planned. The one way in to the planner: decideStack (the program,
 * `npm run plan`, `npm run verify`) runs it, and so do the tests and the bench. With problems,
 * `partial` is what could be planned once the config parsed (see planConfig), for the checks
 * that come after to list theirs too.
 */
export function planStack(raw: Record<string, unknown>): PlanResult {
  const parsed = parseStackConfig(raw);
  if (!parsed.ok) return parsed;
  const { plan, problems } = planConfig(parsed.config);
  const all = [...configProblems(parsed.config), ...problems];
  if (all.length > 0) return { ok: false, problems: all, partial: { config: parsed.config, plan } };
  return { ok: true, config: parsed.config, plan };
}

/**
 * The plan of a parsed config, and every problem planning finds. With problems the plan is
 * partial (a host that cannot be planned is left out); a server that breaks a config rule
 * (configProblems reports it) gets no candidates. Either way the later checks can run on it, so
 * that one pass lists every problem.
 */
function planConfig(config: StackConfig): { plan: StackPlan; problems: Problem[] } {
  const problems: Problem[] = [];
  const hostPlans: HostPlan[] = [];
  const novaHosts: { name: string; nova: NovaHost; model: number }[] = [];
  // Fleets are built from a few host models: hosts that look the same to Nova get the same
  // verdict and take the same number of instances, so each is worked out once per model.
  const hostModels = new Map<string, number>();
  config.hosts.forEach((host, i) => {
    const path = settingPath(["hosts", i]);
    let topology: Topology;
    try {
      topology = topologyFromConfig(host.topology.nodes);
    } catch (e) {
      if (!isTopologyError(e)) throw e;
      problems.push({
        path: `${path}.topology`,
        message: `${e.message}; fix the declared nodes, or write them from the host with \`${discoverCommand(host.name)}\``,
      });
      return;
    }
    const nova = mergedNovaOwner(config.nova, host.nova);
    const { plan, problems: hostProblems } = planHost({ ...host, nova }, topology, path);
    problems.push(...hostProblems);
    if (plan) {
      hostPlans.push(plan);
      const key = novaHostKey(plan);
      if (!hostModels.has(key)) hostModels.set(key, hostModels.size);
      novaHosts.push({ name: host.name, nova: novaHostOf(plan, topology), model: hostModels.get(key)! });
    }
  });

  const imageProps = config.image.properties;
  const novaFlavors = new Map<string, NovaFlavor>();
  // Whether each flavor fits each host model with nothing on it: a server's candidates.
  const fitsModel = new Map<string, boolean[]>();
  const flavorPlans = config.flavors.map((flavor, i): FlavorPlan => {
    const path = settingPath(["flavors", i]);
    const { specs, problems: specProblems } = flavorExtraSpecs(flavor, config.aggregate, path);
    problems.push(...specProblems);
    const nova: NovaFlavor = { vcpus: flavor.vcpus, ramMb: flavor.ramMb, extraSpecs: specs };
    novaFlavors.set(flavor.name, nova);
    // By host model, for this flavor only: kept for every flavor, a large fleet's would pile up.
    // The placements' emulator threads are not planned from: no emulatorpin.
    const verdictOf: Verdict[] = [];
    const capacityOf: number[] = [];
    const verdicts = novaHosts.map((h) => ({
      host: h,
      verdict: (verdictOf[h.model] ??= novaVerdict(nova, h.nova, imageProps, undefined, false)),
    }));
    fitsModel.set(
      flavor.name,
      verdictOf.map((v) => v.outcome === "fits"),
    );
    const rejected = verdicts.find((v) => v.verdict.outcome === "rejected");
    if (rejected) {
      // A key Nova's extra-spec API refuses is already a problem of the setting it came from (flavorExtraSpecs).
      const stage = rejected.verdict.outcome === "rejected" ? rejected.verdict.stage : undefined;
      if (stage !== "extra-specs")
        problems.push({
          path,
          message: `Nova rejects flavor "${flavor.name}" (extra specs ${JSON.stringify(specs)}): ${whyNot(rejected.verdict)}`,
        });
    } else if (novaHosts.length > 0 && verdicts.every((v) => v.verdict.outcome !== "fits")) {
      // Name a few hosts only: on a large fleet the reasons repeat.
      const shown = verdicts.slice(0, 3).map((v) => `${v.host.name}: ${whyNot(v.verdict)}`);
      if (verdicts.length > 3) shown.push(`and ${verdicts.length - 3} more hosts`);
      const why = shown.join("; ");
      problems.push({
        path,
        message: `flavor "${flavor.name}" fits on no RT host (${why}); ${noFitHint(
          flavor,
          novaHosts.map((h) => h.nova),
        )}`,
      });
    }
    return {
      name: flavor.name,
      vcpus: flavor.vcpus,
      ramMb: flavor.ramMb,
      diskGb: flavor.diskGb,
      isPublic: flavor.isPublic,
      extraSpecs: specs,
      guest: guestPlan(verdicts[0]?.verdict ?? novaVerdict(nova, emptyHost(), imageProps), flavor),
      hosts: verdicts.map(({ host, verdict }) =>
        verdict.outcome === "fits"
          ? {
              host: host.name,
              capacity: (capacityOf[host.model] ??= capacity(nova, host.nova, imageProps)),
            }
          : { host: host.name, capacity: 0, reason: whyNot(verdict) },
      ),
    };
  });

  const usage = new Map(novaHosts.map((h) => [h.name, emptyUsage()]));
  // Each host's verdicts by flavor on its usage so far, dropped when a server is booked there: a
  // full host is asked once per flavor, not again for every server after it.
  const verdictsOnUsage = new Map<string, Map<string, Verdict>>();
  const serverPlans = config.servers.map((server, i): ServerPlan => {
    const path = settingPath(["servers", i]);
    const nova = novaFlavors.get(server.flavor);
    const plan: ServerPlan = {
      name: server.name,
      flavor: server.flavor,
      candidates: [],
      pinnedHost: server.host ?? null,
    };
    // A server that breaks a config rule (an unknown flavor or host, a realtime flavor on a host
    // without an RT kernel) is placed nowhere; configProblems reports it.
    if (!nova || serverRuleProblem(config, i) !== null) return plan;
    const eligible = novaHosts.filter((h) => server.host === undefined || h.name === server.host);
    const fits = fitsModel.get(server.flavor)!;
    plan.candidates = eligible.filter((h) => fits[h.model]).map((h) => h.name);
    // Book the server where Nova would still take it, so that servers together cannot overbook.
    const booked = eligible.find((h) => {
      const known = verdictsOnUsage.get(h.name) ?? new Map<string, Verdict>();
      verdictsOnUsage.set(h.name, known);
      const v = known.get(server.flavor) ?? novaVerdict(nova, h.nova, imageProps, usage.get(h.name));
      known.set(server.flavor, v);
      if (v.outcome !== "fits") return false;
      consume(usage.get(h.name)!, v.request, v.placement, h.nova);
      verdictsOnUsage.delete(h.name);
      return true;
    });
    if (!booked && eligible.length > 0 && problems.every((p) => !p.path.startsWith(settingPath(["flavors"])))) {
      problems.push({
        path,
        message:
          plan.candidates.length === 0
            ? `flavor "${server.flavor}" fits on no ${server.host ? `host "${server.host}"` : "RT host"}; pick another flavor or host`
            : `no RT host has room left for "${server.name}" after the servers before it; add hosts or use a smaller flavor`,
      });
    }
    return plan;
  });
  return { plan: { hosts: hostPlans, flavors: flavorPlans, servers: serverPlans }, problems };
}

/** What to change when a flavor fits no host: the cause the hosts and the flavor show, else the general advice. */
export function noFitHint(flavor: StackConfig["flavors"][number], hosts: NovaHost[]): string {
  const smt = (h: NovaHost) => h.cells.some((c) => c.siblings.some((s) => s.length > 1));
  if (flavor.threadPolicy === "isolate" && hosts.length > 0 && hosts.every(smt))
    return (
      "threadPolicy isolate needs hosts with SMT off, and these hosts have SMT on: use threadPolicy: require " +
      "(vCPUs on sibling threads of whole cores) or prefer (Nova's default), or turn SMT off on the hosts"
    );
  if (flavor.threadPolicy === "require" && hosts.length > 0 && !hosts.some(smt))
    return "threadPolicy require needs hosts with SMT on, and these hosts have SMT off: use threadPolicy: isolate or prefer";
  const size = flavor.pageSize === "2MB" ? 2 : flavor.pageSize === "1GB" ? 1 : 0;
  if (size === 2 && hosts.every((h) => h.cells.every((c) => c.hugepages2m === 0)))
    return "pageSize 2MB needs 2 MiB pages on the hosts, and no RT host has any: use pageSize: 1GB (the hosts' 1 GiB pages) or give the hosts 2 MiB pages (hugepages2mPerNode)";
  if (size === 1 && hosts.every((h) => h.cells.every((c) => c.hugepages1g === 0)))
    return "pageSize 1GB needs 1 GiB pages on the hosts, and no RT host has any: give the hosts hugepages1gPerNode";
  return "give it fewer vCPUs or less memory, spread it with numaNodes, or change the hosts";
}

/** A host with nothing on it: lets a flavor's guest plan be derived when no host is planned yet. */
function emptyHost(): NovaHost {
  return { ...NOVA_DEFAULTS, cpuDedicatedSet: null, cpuSharedSet: null, cells: [], reservedHugePages: [] };
}
