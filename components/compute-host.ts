/**
 * ComputeHost: turns one planned compute host into an RT host over SSH. Each step of
 * `hostSteps` (facts, packages, TuneD, kernel arguments, nova-compute, reboot) is a
 * `remote.Command` that sends its hostprep script on stdin, chained in plan order; the reboot
 * step is followed by a RebootWaiter. The scripts are idempotent and report "unchanged" when
 * the host already matches, and a step runs again only when the plan values it applies (its
 * triggers), its arguments or its script change.
 *
 * Deleting a host from the stack undoes nothing on it: its commands have no `delete`, so the
 * host keeps the RT kernel and packages, TuneD's realtime-virtual-host profile with its
 * isolated_cores, the kernel arguments and hugepage boot unit, and nova.conf's CPU sets and
 * reservations, and it is not rebooted. Reverting a running RT host blindly would pull CPUs and
 * memory from under the guests pinned to them. What the deletion does do is take the host out
 * of the RT aggregate first (see `aggregateHost`), so no new RT guest lands there; then drain it
 * and revert those settings by hand if it is to become a plain compute host again.
 */
import * as pulumi from "@pulumi/pulumi";
import { remote } from "@pulumi/command";
import type { HostConfig } from "../lib/config";
import type { HostStep, HostStepId, SshConfig } from "../lib/host-steps";
import { bundleScript, hostSteps, remoteCommand, sshConnection } from "../lib/host-steps";
import type { HostPlan } from "../lib/plan-host";
import { parseRebootReport } from "../lib/reboot-wait";
import { RebootWaiter } from "./reboot-waiter";

export interface ComputeHostArgs {
  plan: HostPlan;
  host: HostConfig;
  /** The stack's secret `sshPrivateKey`; without it the SSH agent (SSH_AUTH_SOCK) is used. */
  privateKey?: pulumi.Output<string>;
  /** deployment.rebootTimeoutSeconds: how long the host may take to come back. */
  rebootTimeoutSeconds: number;
  /** Rolling reboots: this host's reboot waits until that resource (the previous host's waiter) is done. */
  rebootAfter?: pulumi.Resource;
}

/** The `remote.Command` of one step: its script on stdin, its arguments on the command line. */
export function stepCommand(
  name: string,
  step: HostStep,
  connection: remote.CommandArgs["connection"],
  opts: pulumi.CustomResourceOptions,
): remote.Command {
  return new remote.Command(
    `${name}-${step.id}`,
    {
      connection,
      stdin: bundleScript(step.script),
      create: remoteCommand(step),
      // A changed plan value replaces the step, which runs its script again; so does a changed
      // script or argument list (an update runs `create` again). Nothing else does.
      triggers: [step.triggers],
      // The scripts print plan values and what they changed, never a credential, and their
      // output is what an operator needs when a step fails. The only secret, the private key,
      // is in `connection`, which the provider stores as a secret and never prints.
      logging: "stdoutAndStderr",
      // The scripts decide from the host as it is, not from what the last run printed.
      addPreviousOutputInEnv: false,
    },
    opts,
  );
}

/** The connection of every step, with the private key (if any) kept secret. */
export function stepConnection(ssh: SshConfig, privateKey?: pulumi.Output<string>) {
  return sshConnection(ssh, privateKey === undefined ? undefined : pulumi.secret(privateKey));
}

export class ComputeHost extends pulumi.ComponentResource {
  /** The nova-compute service host name (the plan's host name). */
  public readonly hostName: string;
  public readonly steps: Readonly<Record<HostStepId, remote.Command>>;
  public readonly rebootWaiter: RebootWaiter;
  /**
   * The nova-compute service host name, known once this host is prepared and back from its
   * reboot. The RT aggregate's `hosts` takes its names from here: that makes a new host join
   * only when it is ready, and, because the aggregate then depends on this host's resources, a
   * host removed from the stack leaves the aggregate before those resources are deleted.
   */
  public readonly aggregateHost: pulumi.Output<string>;
  /** The boot id the host runs after this deployment. */
  public readonly bootId: pulumi.Output<string>;
  /** facts.sh's report: OS, kernel, boot id, command line, CPU/NUMA topology. */
  public readonly facts: pulumi.Output<string>;

  constructor(name: string, args: ComputeHostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("openstack-rt:host:ComputeHost", name, {}, opts);
    this.hostName = args.plan.name;
    const connection = stepConnection(args.host.ssh, args.privateKey);
    const steps = {} as Record<HostStepId, remote.Command>;
    let previous: pulumi.Resource | undefined;
    for (const step of hostSteps(args.plan, args.host)) {
      const dependsOn = [previous, step.id === "reboot" ? args.rebootAfter : undefined].filter((r) => r !== undefined);
      const command = stepCommand(name, step, connection, { parent: this, dependsOn });
      steps[step.id as HostStepId] = command;
      previous = command;
    }
    this.steps = steps;

    const report = steps.reboot.stdout.apply(parseRebootReport);
    this.rebootWaiter = new RebootWaiter(
      `${name}-reboot-wait`,
      {
        hostName: args.plan.name,
        target: sshConnection(args.host.ssh),
        previousBootId: report.bootId,
        rebootScheduled: report.scheduled,
        timeoutSeconds: args.rebootTimeoutSeconds,
      },
      { parent: this, dependsOn: [steps.reboot] },
    );
    this.bootId = this.rebootWaiter.bootId;
    this.aggregateHost = this.rebootWaiter.bootId.apply(() => args.plan.name);
    this.facts = steps.facts.stdout;
    this.registerOutputs({ aggregateHost: this.aggregateHost, bootId: this.bootId, facts: this.facts });
  }
}

export interface ComputeHostsArgs {
  hosts: { plan: HostPlan; host: HostConfig }[];
  deployment: { rollingReboots: boolean; rebootTimeoutSeconds: number };
  privateKey?: pulumi.Output<string>;
}

/**
 * Every RT compute host, prepared in parallel. With `rollingReboots` the reboots go one host at
 * a time, in config order: a host reboots only after the previous one came back, so a bad
 * kernel argument takes down one host, not the fleet.
 */
export function computeHosts(args: ComputeHostsArgs, opts?: pulumi.ComponentResourceOptions): ComputeHost[] {
  const out: ComputeHost[] = [];
  for (const { plan, host } of args.hosts) {
    const rebootAfter = args.deployment.rollingReboots ? out.at(-1)?.rebootWaiter : undefined;
    out.push(
      new ComputeHost(
        plan.name,
        {
          plan,
          host,
          privateKey: args.privateKey,
          rebootTimeoutSeconds: args.deployment.rebootTimeoutSeconds,
          rebootAfter,
        },
        opts,
      ),
    );
  }
  return out;
}
