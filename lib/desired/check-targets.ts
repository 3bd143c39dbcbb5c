/** Who verifies what: the hosts a server's domain may be on, and which servers get guest checks. Pure. */
import { expectationFromPlan } from "../checks/domain-expectation";
import type { StackConfig } from "../config/schema";
import type { FlavorPlan, ServerPlan, StackPlan } from "../plan/stack";
import type { DomainExpectation } from "../checks/domain-expectation";
import type { SshTarget } from "../transport/ssh";
import type { GuestBudget } from "../checks/verification";

/** A host a server may run on, how to reach it, and the domain expected there. */
export interface DomainCandidate {
  host: string;
  target: SshTarget;
  expectation: DomainExpectation;
}

/**
 * Where a server's domain check looks. The program checks only the host that runs the server, so
 * that a check's inputs do not grow with the fleet; `npm run verify` looks on every candidate.
 */
export interface DomainCheckTargets {
  /** The planned hosts Nova may place the server on: the pinned one, or every eligible RT host. */
  hosts: string[];
  /** `host`'s SSH target and the domain expected there; null for a host not among `hosts`. */
  on: (host: string) => DomainCandidate | null;
  /** Every host's candidate, built when read. */
  readonly candidates: DomainCandidate[];
}

/** The domain-check targets of each server of `plan`: the hosts indexed once, each candidate built on demand. */
export function domainCheckTargets(config: StackConfig, plan: StackPlan): (server: ServerPlan) => DomainCheckTargets {
  const hostPlans = new Map(plan.hosts.map((h) => [h.name, h]));
  const targets = new Map(config.hosts.map((h) => [h.name, h.ssh]));
  const flavors = new Map(plan.flavors.map((f) => [f.name, f]));
  return (server) => {
    const flavor = flavors.get(server.flavor);
    const names = new Set(flavor === undefined ? [] : server.pinnedHost ? [server.pinnedHost] : server.candidates);
    const hosts = plan.hosts.filter((h) => names.has(h.name)).map((h) => h.name);
    const on = (host: string): DomainCandidate | null => {
      const hostPlan = hostPlans.get(host);
      if (flavor === undefined || hostPlan === undefined || !names.has(host)) return null;
      return {
        host,
        target: targets.get(host)!,
        expectation: expectationFromPlan(hostPlan, flavor, config.image.properties),
      };
    };
    return {
      hosts,
      on,
      get candidates() {
        return hosts.map((h) => on(h)!);
      },
    };
  };
}

/** Guest checks measure RT latency: they apply to servers of realtime flavors, when switched on. */
export function wantsGuestCheck(config: StackConfig, flavor: FlavorPlan): boolean {
  return config.latency.guest.enabled && flavor.guest.realtimeVcpus !== "";
}

/** The guest's latency proof: each stage's duration and the budget its figures are held to. */
export function latencyBudget(guest: StackConfig["latency"]["guest"]): GuestBudget {
  return { hwlatdetect: guest.hwlatdetect, cyclictest: guest.cyclictest, oslat: guest.oslat };
}
