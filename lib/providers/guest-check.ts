/**
 * The provider of GuestVerification. Before it measures, it waits (bounded, reporting each new
 * state) for the guest to answer on SSH, cloud-init to finish and the RT kernel to run; then it
 * runs the latency stages (hwlatdetect, cyclictest, oslat; lib/checks/latency-stages.ts), each
 * bounded by its own duration. A refresh re-reads the guest's RT setup and measures nothing.
 */
import type { GuestPlan } from "../plan/stack";
import type { SshTarget } from "../transport/ssh";
import { describeTarget } from "../transport/ssh";
import type { GuestBudget } from "../checks/verification";
import { observeGuest, sshRunner, verifyGuest, waitForGuest } from "./collect";
import { checkProvider } from "./check";
import { nonEmptyString, positiveInteger, targetProblems } from "./inputs";

export interface GuestCheckInputs {
  serverName: string;
  target: SshTarget;
  guest: GuestPlan;
  budget: GuestBudget;
  readyTimeoutSeconds: number;
  script: string;
  verifyRevision: string;
}

/** How often a booting guest is asked whether it is ready. */
const READY_POLL_MS = 10_000;

export const guestCheckProvider = checkProvider<GuestCheckInputs>({
  inputs: ["serverName", "target", "guest", "budget", "readyTimeoutSeconds", "script", "verifyRevision"],
  what: (i) => `guest verification of ${i.serverName}`,
  id: (i) => `guest-verification-${i.serverName}`,
  problems: (i) => [
    ...nonEmptyString(i.serverName, "serverName", "must be the server's name"),
    ...targetProblems(i.target, "target"),
    ...positiveInteger(i.readyTimeoutSeconds, "readyTimeoutSeconds", "must be a positive whole number of seconds"),
  ],
  run: async (i, auth, mode) => {
    const run = sshRunner(i.target, auth, { "guest-latency.sh": i.script });
    if (mode === "refresh") return observeGuest(run, i.guest);
    await waitForGuest(run, i.guest, {
      name: `${i.serverName} (${describeTarget(i.target)})`,
      timeoutMs: i.readyTimeoutSeconds * 1000,
      intervalMs: READY_POLL_MS,
      now: () => Date.now(),
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      // The engine shows what a provider writes to stderr while the resource is being created.
      progress: (message) => console.error(message),
    });
    return verifyGuest(run, i.guest, i.budget);
  },
});
