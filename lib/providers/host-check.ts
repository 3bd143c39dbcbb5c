/**
 * The provider of HostVerification: host-facts.sh over SSH, judged by the host checks, then the
 * latency stages (guest-latency.sh --stage on the host), both run from the host's copy of hostprep/. It re-runs after every reboot (the boot
 * id is an input); a refresh re-reads the host's state and runs neither the latency stages nor
 * the interrupt snapshot.
 */
import type { HostPlan } from "../plan/host";
import type { SshTarget } from "../transport/ssh";
import type { HostVerifyOptions } from "../checks/verification";
import type { ScriptFiles } from "./collect";
import { copyRunner, verifyHost } from "./collect";
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
  /** The CopyToRemote of hostprep/ to this host: the scripts run from there. */
  hostprepCopy: string;
  /** host-facts.sh and guest-latency.sh (which runs each latency stage) as stepFiles names them. */
  scripts: ScriptFiles;
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
    "hostprepCopy",
    "scripts",
    "verifyRevision",
  ],
  what: (i) => `host verification of ${i.hostName}`,
  id: (i) => `host-verification-${i.hostName}`,
  problems: (i) => [
    ...nonEmptyString(i.hostName, "hostName", "must be the host's name"),
    ...nonEmptyString(i.hostprepCopy, "hostprepCopy", "must name the host's copy of hostprep/"),
    ...targetProblems(i.target, "target"),
    ...positiveInteger(i.timeoutSeconds, "timeoutSeconds", "must be a positive whole number of seconds"),
  ],
  run: (i, auth, mode) =>
    verifyHost(copyRunner(i.target, auth, i.hostprepCopy, i.scripts), i.plan, {
      latency: i.latency,
      observeOnly: mode === "refresh",
      timeoutSeconds: i.timeoutSeconds,
    }),
});
