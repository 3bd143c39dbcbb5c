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
import { ANYWHERE_RULE, sshFromAnywhere } from "../config/warnings";

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

export type PlanResult = { ok: true; plan: StackPlan; config: StackConfig } | { ok: false; problems: Problem[] };

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

function duplicates(names: string[]): string[] {
  return [...new Set(names.filter((n, i) => names.indexOf(n) !== i))];
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

/** The image needs exactly one of file and url; shared with the image source's own check. */
export function imageChoiceProblem(img: StackConfig["image"]): Problem | null {
  if ((img.file === undefined) !== (img.url === undefined)) return null;
  return {
    path: settingPath(["image"]),
    message: `got ${img.file === undefined ? "neither file nor url" : "both file and url"}; give exactly one of them`,
  };
}

function stackProblems(config: StackConfig): Problem[] {
  const problems: Problem[] = [];
  for (const [key, names] of [
    ["hosts", config.hosts.map((h) => h.name)],
    ["flavors", config.flavors.map((f) => f.name)],
    ["servers", config.servers.map((s) => s.name)],
  ] as const) {
    for (const d of duplicates([...names]))
      problems.push({ path: settingPath([key]), message: `the name "${d}" is used twice; names must be unique` });
  }
  if (config.controller !== false && config.controllers.length > 0)
    problems.push({
      path: settingPath(["controllers"]),
      message: `got ${config.controllers.length} controllers and controller as well; give every nova-scheduler host in controllers: [...] (move controller's entry there) and remove controller`,
    });
  for (const [i, c] of (config.controller === false ? config.controllers : [config.controller]).entries()) {
    const nova = { ...config.nova, ...c.nova };
    if (nova.configMode === "verify" && nova.restartCommand !== undefined)
      problems.push({
        path: `${settingPath(config.controller === false ? ["controllers", i] : ["controller"])}.nova.restartCommand`,
        message: `got "${nova.restartCommand}", but nova.configMode is verify: nothing is written, so nothing is restarted; remove restartCommand, or set configMode: edit`,
      });
  }
  const image = imageChoiceProblem(config.image);
  if (image) problems.push(image);
  const sg = config.securityGroup;
  if (sshFromAnywhere(sg) && !sg.allowSshFromAnywhere) {
    problems.push({
      path: settingPath(["securityGroup", "sshCidr"]),
      message: `got "${sg.sshCidr}", which opens SSH to the whole internet (${ANYWHERE_RULE}); narrow it to your operators' network, or set securityGroup.allowSshFromAnywhere: true if you mean it`,
    });
  }
  return problems;
}

export function planStack(raw: Record<string, unknown>): PlanResult {
  const parsed = parseStackConfig(raw);
  if (!parsed.ok) return parsed;
  const { plan, problems } = planConfig(parsed.config);
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, config: parsed.config, plan };
}

/** A server's flavor that is not one of the stack's: the planner's problem, shared with whoever else looks the flavor up. */
export function unknownFlavorProblem(config: StackConfig, server: number): Problem {
  return {
    path: `${settingPath(["servers", server])}.flavor`,
    message: `got "${config.servers[server].flavor}", which is not a flavor of this stack; use one of ${config.flavors.map((f) => f.name).join(", ")}`,
  };
}

/**
 * The plan of a valid config, and every problem with it. With problems the plan is partial (a
 * host that cannot be planned is left out, a server of an unknown flavor has no candidates),
 * but it still lets later checks run, so that one pass lists every problem.
 */
export function planConfig(config: StackConfig): { plan: StackPlan; problems: Problem[] } {
  const problems = stackProblems(config);
  const hostPlans: HostPlan[] = [];
  const novaHosts: { name: string; nova: NovaHost; key: string }[] = [];
  // Fleets are built from a few host models: hosts that look the same to Nova get the same
  // verdict and take the same number of instances, so each is worked out once per model.
  const hostModels = new Map<string, string>();
  const memo = new Map<string, unknown>();
  const cached = <T>(key: string, compute: () => T): T => {
    if (!memo.has(key)) memo.set(key, compute());
    return memo.get(key) as T;
  };
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
      const nova = novaHostOf(plan, topology);
      const shape = JSON.stringify(nova);
      if (!hostModels.has(shape)) hostModels.set(shape, `model${hostModels.size}`);
      novaHosts.push({ name: host.name, nova, key: hostModels.get(shape)! });
    }
  });

  const imageProps = config.image.properties;
  const novaFlavors = new Map<string, NovaFlavor>();
  const flavorPlans = config.flavors.map((flavor, i): FlavorPlan => {
    const path = settingPath(["flavors", i]);
    const { specs, problems: specProblems } = flavorExtraSpecs(flavor, config.aggregate, path);
    problems.push(...specProblems);
    const nova: NovaFlavor = { vcpus: flavor.vcpus, ramMb: flavor.ramMb, extraSpecs: specs };
    novaFlavors.set(flavor.name, nova);
    const flavorKey = `flavor${i}`;
    const verdicts = novaHosts.map((h) => ({
      host: h,
      verdict: cached(`${h.key}|${flavorKey}|verdict`, () => novaVerdict(nova, h.nova, imageProps)),
    }));
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
              capacity: cached(`${host.key}|${flavorKey}|capacity`, () => capacity(nova, host.nova, imageProps)),
            }
          : { host: host.name, capacity: 0, reason: whyNot(verdict) },
      ),
    };
  });

  const usage = new Map(novaHosts.map((h) => [h.name, emptyUsage()]));
  const serverPlans = config.servers.map((server, i): ServerPlan => {
    const path = settingPath(["servers", i]);
    const nova = novaFlavors.get(server.flavor);
    const plan: ServerPlan = {
      name: server.name,
      flavor: server.flavor,
      candidates: [],
      pinnedHost: server.host ?? null,
    };
    if (!nova) {
      problems.push(unknownFlavorProblem(config, i));
      return plan;
    }
    if (server.host !== undefined && !config.hosts.some((h) => h.name === server.host)) {
      problems.push({
        path: `${path}.host`,
        message: `got "${server.host}", which is not an RT host of this stack; use one of ${config.hosts.map((h) => h.name).join(", ")}`,
      });
      return plan;
    }
    const pinnedTo = config.hosts.find((h) => h.name === server.host);
    const flavorConfig = config.flavors.find((f) => f.name === server.flavor);
    if (pinnedTo?.tunedProfile === "cpu-partitioning" && flavorConfig && flavorConfig.realtime !== false) {
      const rtHosts = config.hosts.filter((h) => h.tunedProfile !== "cpu-partitioning").map((h) => h.name);
      problems.push({
        path: `${path}.host`,
        message:
          `got "${server.host}", which runs TuneD cpu-partitioning without an RT kernel, but flavor "${server.flavor}" is realtime: ` +
          "its RT vCPUs would run SCHED_FIFO on a kernel that does not bound their latency; " +
          (rtHosts.length
            ? `pin it to ${rtHosts.join(" or ")}`
            : "give the stack a realtime-virtual-host host for it") +
          `, or use a flavor with realtime: false`,
      });
      return plan;
    }
    const eligible = novaHosts.filter((h) => server.host === undefined || h.name === server.host);
    plan.candidates = eligible
      .filter((h) => novaVerdict(nova, h.nova, imageProps).outcome === "fits")
      .map((h) => h.name);
    // Book the server where Nova would still take it, so that servers together cannot overbook.
    const booked = eligible.find((h) => {
      const v = novaVerdict(nova, h.nova, imageProps, usage.get(h.name));
      if (v.outcome !== "fits") return false;
      consume(usage.get(h.name)!, v.request, v.placement, h.nova);
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
