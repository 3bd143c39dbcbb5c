/**
 * Host maintenance decisions, as pure functions: the reason Nova records for a nova-compute this
 * stack disabled, how a later run recognizes it, what the operator is told, and what to do with
 * the guests found on a host (`deployment.guests`). Kept apart from lib/desired/rollout.ts and free of
 * the config schema, because the host-maintenance provider (lib/providers/host-maintenance.ts)
 * runs it and carries only what it imports.
 */
import type { GUEST_POLICIES } from "../config/schema";

export type GuestPolicy = (typeof GUEST_POLICIES)[number];

/** The prefix of every reason this stack writes; how a later run recognizes its own disable. */
export function reasonPrefix(stack: string): string {
  return `openstack-rt stack ${stack}:`;
}

/** The reason Nova records on the disabled service (255 characters at most, Nova's column). */
export function maintenanceReason(stack: string): string {
  return `${reasonPrefix(stack)} RT host prep (pulumi up); re-enabled after the host checks pass`.slice(0, 255);
}

/** Was the service disabled by this stack (a run that failed halfway), rather than by an operator? */
export function disabledByStack(reason: string | null | undefined, stack: string): boolean {
  return typeof reason === "string" && reason.startsWith(reasonPrefix(stack));
}

/** How to take a host back into scheduling by hand. */
export function reenableHint(host: string): string {
  return (
    `fix the cause and run \`pulumi up\` again (it re-enables nova-compute on ${host} once the host checks pass), ` +
    `or re-enable it by hand: \`openstack compute service set --enable ${host} nova-compute\``
  );
}

/** What the operator is told about a host this stack disabled, logged when the disable happened. */
export function maintenanceNotice(host: string, stack: string): string {
  return (
    `nova-compute on ${host} is disabled for maintenance by stack ${stack} ("${maintenanceReason(stack)}"). ` +
    `It is re-enabled after the host checks pass; if a step or check fails it stays disabled: ${reenableHint(host)}`
  );
}

/** A guest found on a host, as Nova's servers API lists it. */
export interface Guest {
  id: string;
  name: string;
  projectId: string;
  status: string;
}

export type GuestDecision =
  | { action: "none" }
  | { action: "refuse"; message: string }
  | { action: "live-migrate"; guests: Guest[] }
  | { action: "ignore"; warning: string };

function listGuests(guests: readonly Guest[]): string {
  return guests.map((g) => `${g.name} (${g.id}, project ${g.projectId}, ${g.status})`).join("; ");
}

/** What `deployment.guests` says to do with the guests on a host that is about to change. */
export function decideGuests(host: string, policy: GuestPolicy, guests: readonly Guest[]): GuestDecision {
  if (guests.length === 0) return { action: "none" };
  const sorted = [...guests].sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  if (policy === "refuse")
    return {
      action: "refuse",
      message:
        `host ${host} runs ${sorted.length} guest(s), and deployment.guests is "refuse": ${listGuests(sorted)}. ` +
        `Nothing on the host was changed. Move them off (openstack server migrate --live-migration), or set ` +
        `deployment.guests to "live-migrate" to have the stack move them, or "ignore" to change the host under them; ` +
        `nova-compute on ${host} stays disabled meanwhile so that no new guest lands there: ${reenableHint(host)}`,
    };
  if (policy === "live-migrate") return { action: "live-migrate", guests: sorted };
  return {
    action: "ignore",
    warning:
      `deployment.guests is "ignore": host ${host} is changed (nova-compute restarted, maybe rebooted) under ` +
      `${sorted.length} running guest(s): ${listGuests(sorted)}`,
  };
}
