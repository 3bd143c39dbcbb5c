/**
 * The provider of HostVerification: host-facts.sh over SSH, judged by the host checks, then the
 * latency stages (guest-latency.sh --stage on the host). It re-runs after every reboot (the boot
 * id is an input); a refresh re-reads the host's state and runs neither the latency stages nor
 * the interrupt snapshot.
 */
import type { HostPlan } from "../plan/host";
import type { SshTarget } from "../transport/ssh";
import type { HostVerifyOptions } from "../checks/verification";
import { sshRunner, verifyHost } from "./collect";
import { checkProvider } from "./check";
import { nonEmptyString, positiveInteger, targetProblems } from "./inputs";

export interface HostCheckInputs {
  hostName: string;
  target: SshTarget;
  plan: HostPlan;
  latency: HostVerifyOptions["latency"];
  /** The boot the checks looked at: a new one (a reboot) runs them again. */
  bootId: string;
  /** How long host-facts.sh may run before the check fails as timed out. */
  timeoutSeconds: number;
  script: string;
  /** guest-latency.sh, which runs each latency stage. */
  latencyScript: string;
  verifyRevision: string;
}

export const hostCheckProvider = checkProvider<HostCheckInputs>({
  inputs: [
    "hostName",
    "target",
    "plan",
    "latency",
    "bootId",
    "timeoutSeconds",
    "script",
    "latencyScript",
    "verifyRevision",
  ],
  what: (i) => `host verification of ${i.hostName}`,
  id: (i) => `host-verification-${i.hostName}`,
  problems: (i) => [
    ...nonEmptyString(i.hostName, "hostName", "must be the host's name"),
    ...targetProblems(i.target, "target"),
    ...positiveInteger(i.timeoutSeconds, "timeoutSeconds", "must be a positive whole number of seconds"),
  ],
  run: (i, auth, mode) =>
    verifyHost(sshRunner(i.target, auth, { "host-facts.sh": i.script, "guest-latency.sh": i.latencyScript }), i.plan, {
      latency: i.latency,
      observeOnly: mode === "refresh",
      timeoutSeconds: i.timeoutSeconds,
    }),
});
