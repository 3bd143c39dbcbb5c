/**
 * The config's rules across settings, which the schema (one setting at a time) cannot state:
 * unique names, one way to name the schedulers, who restarts nova, where the image comes from,
 * what servers refer to, how far SSH is open. Each rule is checked here only: the planner and the
 * cloud decisions take a config that passed them, and run on one that did not only to list their
 * own problems beside these. Pure.
 */
import type { NovaOwnerConfig, StackConfig } from "./schema";
import { settingPath } from "./schema";
import type { Problem } from "./problems";
import { ANYWHERE_RULE, sshFromAnywhere } from "./warnings";

/** Every broken rule, in the order of the settings. */
export function configProblems(config: StackConfig): Problem[] {
  return [
    ...duplicateNames(config),
    ...controllerProblems(config),
    ...restartProblems(config),
    ...imageChoiceProblems(config.image),
    ...serverProblems(config),
    ...sshProblems(config.securityGroup),
  ];
}

function duplicateNames(config: StackConfig): Problem[] {
  const problems: Problem[] = [];
  for (const [key, names] of [
    ["hosts", config.hosts.map((h) => h.name)],
    ["flavors", config.flavors.map((f) => f.name)],
    ["servers", config.servers.map((s) => s.name)],
  ] as const) {
    const twice = new Set(names.filter((n, i) => names.indexOf(n) !== i));
    for (const d of twice)
      problems.push({ path: settingPath([key]), message: `the name "${d}" is used twice; names must be unique` });
  }
  return problems;
}

function controllerProblems(config: StackConfig): Problem[] {
  if (config.controller === false || config.controllers.length === 0) return [];
  return [
    {
      path: settingPath(["controllers"]),
      message: `got ${config.controllers.length} controllers and controller as well; give every nova-scheduler host in controllers: [...] (move controller's entry there) and remove controller`,
    },
  ];
}

/**
 * configMode verify writes nothing, so a restart command has nothing to follow. The stack's
 * `nova` applies to every host and scheduler, each overriding it key by key: the clash is
 * reported once, at the owner that brings it (the stack's `nova` when it has both keys).
 */
function restartProblems(config: StackConfig): Problem[] {
  const clash = (nova: NovaOwnerConfig | undefined) =>
    nova?.configMode === "verify" && nova.restartCommand !== undefined;
  // `novaPath`: the owner's nova setting; the key named is the one it sets itself.
  const problem = (novaPath: string, nova: NovaOwnerConfig, own: NovaOwnerConfig | undefined): Problem => ({
    path: `${novaPath}.${own === undefined || own.restartCommand !== undefined ? "restartCommand" : "configMode"}`,
    message: `got "${nova.restartCommand}", but nova.configMode is verify: nothing is written, so nothing is restarted; remove restartCommand, or set configMode: edit`,
  });
  const stackClash = clash(config.nova);
  const owners = [
    ...config.hosts.map((h, i) => ({ path: settingPath(["hosts", i, "nova"]), own: h.nova })),
    ...(config.controller === false
      ? config.controllers.map((c, i) => ({ path: settingPath(["controllers", i, "nova"]), own: c.nova }))
      : [{ path: settingPath(["controller", "nova"]), own: config.controller.nova }]),
  ];
  const inherited = (own: NovaOwnerConfig | undefined) =>
    stackClash && own?.configMode === undefined && own?.restartCommand === undefined;
  return [
    ...(stackClash ? [problem(settingPath(["nova"]), config.nova, undefined)] : []),
    ...owners.flatMap(({ path, own }) => {
      const nova = { ...config.nova, ...own };
      return clash(nova) && !inherited(own) ? [problem(path, nova, own)] : [];
    }),
  ];
}

/** The image comes from exactly one of a local file and a URL. */
export function hasOneImageSource(image: StackConfig["image"]): boolean {
  return (image.file === undefined) !== (image.url === undefined);
}

function imageChoiceProblems(image: StackConfig["image"]): Problem[] {
  if (hasOneImageSource(image)) return [];
  return [
    {
      path: settingPath(["image"]),
      message: `got ${image.file === undefined ? "neither file nor url" : "both file and url"}; give exactly one of them`,
    },
  ];
}

/** A server names a flavor of the stack, a host of the stack, and no realtime flavor on a host without an RT kernel. */
function serverProblems(config: StackConfig): Problem[] {
  return config.servers.flatMap((_, i) => serverRuleProblem(config, i) ?? []);
}

/** What is wrong with the i-th server's references, if anything; the planner places such a server nowhere. */
export function serverRuleProblem(config: StackConfig, i: number): Problem | null {
  const server = config.servers[i];
  const path = settingPath(["servers", i]);
  const flavor = config.flavors.find((f) => f.name === server.flavor);
  if (flavor === undefined)
    return {
      path: `${path}.flavor`,
      message: `got "${server.flavor}", which is not a flavor of this stack; use one of ${config.flavors.map((f) => f.name).join(", ")}`,
    };
  if (server.host === undefined) return null;
  const host = config.hosts.find((h) => h.name === server.host);
  if (host === undefined)
    return {
      path: `${path}.host`,
      message: `got "${server.host}", which is not an RT host of this stack; use one of ${config.hosts.map((h) => h.name).join(", ")}`,
    };
  if (host.tunedProfile !== "cpu-partitioning" || flavor.realtime === false) return null;
  const rtHosts = config.hosts.filter((h) => h.tunedProfile !== "cpu-partitioning").map((h) => h.name);
  return {
    path: `${path}.host`,
    message:
      `got "${server.host}", which runs TuneD cpu-partitioning without an RT kernel, but flavor "${server.flavor}" is realtime: ` +
      "its RT vCPUs would run SCHED_FIFO on a kernel that does not bound their latency; " +
      (rtHosts.length ? `pin it to ${rtHosts.join(" or ")}` : "give the stack a realtime-virtual-host host for it") +
      `, or use a flavor with realtime: false`,
  };
}

function sshProblems(sg: StackConfig["securityGroup"]): Problem[] {
  if (!sshFromAnywhere(sg) || sg.allowSshFromAnywhere) return [];
  return [
    {
      path: settingPath(["securityGroup", "sshCidr"]),
      message: `got "${sg.sshCidr}", which opens SSH to the whole internet (${ANYWHERE_RULE}); narrow it to your operators' network, or set securityGroup.allowSshFromAnywhere: true if you mean it`,
    },
  ];
}
