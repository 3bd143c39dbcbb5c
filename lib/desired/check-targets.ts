/** Who verifies what: the hosts a server's domain may be on, and which servers get guest checks. Pure. */
import { expectationFromPlan } from "../checks/domain-expectation";
import type { StackConfig } from "../config/schema";
import type { FlavorPlan, ServerPlan, StackPlan } from "../plan/stack";
import type { DomainCandidate } from "../providers/domain-check";
import type { GuestBudget } from "../checks/collect";

/** The planned hosts Nova may place the server on, each with what the domain must look like there. */
export function domainCandidates(config: StackConfig, plan: StackPlan, server: ServerPlan): DomainCandidate[] {
  const flavor = plan.flavors.find((f) => f.name === server.flavor);
  if (!flavor) return [];
  const names = server.pinnedHost ? [server.pinnedHost] : server.candidates;
  return plan.hosts
    .filter((h) => names.includes(h.name))
    .map((h) => ({
      host: h.name,
      target: config.hosts.find((c) => c.name === h.name)!.ssh,
      expectation: expectationFromPlan(h, flavor, config.image.properties),
    }));
}

/** Guest checks measure RT latency: they apply to servers of realtime flavors, when switched on. */
export function wantsGuestCheck(config: StackConfig, flavor: FlavorPlan): boolean {
  return config.latency.guest.enabled && flavor.guest.realtimeVcpus !== "";
}

/** The guest's latency budget: what a guest check holds cyclictest's figures to. */
export function latencyBudget(guest: StackConfig["latency"]["guest"]): GuestBudget {
  return { durationSeconds: guest.durationSeconds, maxUs: guest.maxUs, meanUs: guest.meanUs };
}
