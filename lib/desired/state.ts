/**
 * The desired state: config, plan and cloud decisions joined once, by name, into what each
 * resource is made from. The program, `npm run verify` and the e2e run read it; none of them
 * joins config and plan again, and only components turn it into resources.
 */
import type { GuestBudget, HostVerifyOptions } from "../checks/verification";
import type { HostConfig, StackConfig } from "../config/schema";
import type { HostPlan } from "../plan/host";
import type { FlavorPlan, GuestPlan, ServerPlan, StackPlan } from "../plan/stack";
import type { SshTarget } from "../transport/ssh";
import type { DomainCheckTargets } from "./check-targets";
import { domainCheckTargets, latencyBudget, wantsGuestCheck } from "./check-targets";
import type { CloudDecisions, ServerDecision } from "./cloud";
import type { HostStep } from "./host-steps";
import { bundleScript } from "../hostprep/scripts";
import { changeDigest } from "./rollout";
import type { ImageSource } from "./image-source";

export interface DesiredHost {
  name: string;
  config: HostConfig;
  plan: HostPlan;
  /** Host prep, in order: each step a hostprep script with its arguments and triggers. */
  steps: HostStep[];
  /** What those steps would do (lib/desired/rollout.ts changeDigest): unchanged, no maintenance. */
  changeDigest: string;
  /** What the host check holds the host to; the boot id it checks comes from the reboot. */
  check: { target: SshTarget; plan: HostPlan; latency: HostVerifyOptions["latency"] };
}

export interface DesiredServer {
  name: string;
  plan: ServerPlan;
  flavor: FlavorPlan;
  /** Zone, pinned host, user data and the RT hosts the server waits for. */
  decision: ServerDecision;
  /** The hosts Nova may place it on, and the domain expected on each. */
  domainCheck: DomainCheckTargets;
  /** The latency check inside the guest: servers of realtime flavors, when switched on. */
  guestCheck: { guest: GuestPlan; budget: GuestBudget; readyTimeoutSeconds: number } | null;
}

export interface DesiredState {
  config: StackConfig;
  plan: StackPlan;
  image: ImageSource;
  hosts: DesiredHost[];
  servers: DesiredServer[];
}

/** `steps`: each planned host's prep steps, by host name (decideStack builds them, refusing bad values). */
export function desiredState(
  config: StackConfig,
  plan: StackPlan,
  cloud: CloudDecisions,
  steps: ReadonlyMap<string, HostStep[]>,
): DesiredState {
  const hosts = plan.hosts.map((p): DesiredHost => {
    const host = byName(config.hosts, p.name, "host");
    const hostSteps = steps.get(p.name) ?? missing("host steps", p.name);
    return {
      name: p.name,
      config: host,
      plan: p,
      steps: hostSteps,
      changeDigest: changeDigest(hostSteps.map((s) => ({ ...s, script: bundleScript(s.script) }))),
      check: { target: host.ssh, plan: p, latency: config.latency.host },
    };
  });
  const domainTargets = domainCheckTargets(config, plan);
  const servers = plan.servers.map((s): DesiredServer => {
    const flavor = byName(plan.flavors, s.flavor, "flavor");
    return {
      name: s.name,
      plan: s,
      flavor,
      decision: byName(cloud.servers, s.name, "server decision"),
      domainCheck: domainTargets(s),
      guestCheck: wantsGuestCheck(config, flavor)
        ? {
            guest: flavor.guest,
            budget: latencyBudget(config.latency.guest),
            readyTimeoutSeconds: config.latency.guest.readyTimeoutSeconds,
          }
        : null,
    };
  });
  return { config, plan, image: cloud.image, hosts, servers };
}

// decideStack builds the state only from a plan without problems, where every name resolves.
function byName<T extends { name: string }>(items: readonly T[], name: string, what: string): T {
  return items.find((i) => i.name === name) ?? missing(what, name);
}

function missing(what: string, name: string): never {
  throw new Error(`desired state: no ${what} named "${name}" (the plan and the config disagree)`);
}
