/**
 * ComputeHost: turns one planned compute host into an RT host over SSH. Each step of
 * `hostSteps` (facts, packages, TuneD, kernel arguments, nova-compute, reboot) is a
 * `remote.Command` that runs its hostprep script from the host's copy of hostprep/ (one
 * `remote.CopyToRemote`, `<name>-hostprep`), chained in plan order; the reboot
 * step is followed by a RebootWaiter. The scripts are idempotent and report "unchanged" when
 * the host already matches, and a step runs again only when the plan values it applies (its
 * triggers), its arguments or its script change.
 *
 * On a live cloud (lib/desired/rollout.ts, deployment.*): the hosts change in batches of
 * `maxUnavailable` (`prepareHosts`), and with `maintenance` a HostMaintenance resource disables
 * the host's nova-compute and handles its guests before the first step that may change the host;
 * HostMaintenanceEnd enables it again after the host checks (components/host/host-maintenance.ts).
 *
 * Deleting a host from the stack undoes nothing on it: its commands have no `delete`, so the
 * host keeps the RT kernel and packages, TuneD's realtime-virtual-host profile with its
 * isolated_cores, the kernel arguments and hugepage boot unit, and nova.conf's CPU sets and
 * reservations, and it is not rebooted. Reverting a running RT host blindly would pull CPUs and
 * memory from under the guests pinned to them. What the deletion does do is take the host out
 * of the RT aggregate first (see `aggregateHost`), so no new RT guest lands there; then drain it
 * and revert those settings by hand if it is to become a plain compute host again. Its
 * nova-compute service keeps the state it has (deleting the maintenance resources calls nothing).
 */
import * as pulumi from "@pulumi/pulumi";
import type { remote } from "@pulumi/command";
import type { StackConfig } from "../../lib/config/schema";
import type { HostStepId } from "../../lib/desired/host-steps";
import { sshConnection } from "../../lib/desired/step-connection";
import type { DesiredHost } from "../../lib/desired/state";
import { parseRebootReport } from "../../lib/transport/boot-id";
import { batches, maxUnavailable } from "../../lib/desired/rollout";
import type { MaintenanceSettings } from "./host-maintenance";
import { HostMaintenance, HostMaintenanceEnd } from "./host-maintenance";
import { RebootWaiter } from "./reboot-waiter";
import { hostprepCopy, stepCommand, stepConnection } from "./step-command";

export interface ComputeHostArgs {
  /** The host as the desired state has it (lib/desired/state.ts): plan, config, steps and their digest. */
  desired: DesiredHost;
  /** The stack's secret `sshPrivateKey`; without it the SSH agent (SSH_AUTH_SOCK) is used. */
  privateKey?: pulumi.Output<string>;
  /** deployment.rebootTimeoutSeconds: how long the host may take to come back. */
  rebootTimeoutSeconds: number;
  /** Rolling reboots: this host's reboot waits until that resource (the previous host's waiter) is done. */
  rebootAfter?: pulumi.Resource;
  /**
   * Batches (deployment.maxUnavailable): every step that may change the host, from the packages
   * on (and the maintenance before them), waits for these: the previous batch's host checks
   * and maintenance ends. The read-only facts step does not wait.
   */
  after?: pulumi.Resource[];
  /** Host maintenance through Nova's API around the change; none leaves nova-compute alone. */
  maintenance?: MaintenanceSettings;
}

export class ComputeHost extends pulumi.ComponentResource {
  /** The nova-compute service host name (the plan's host name). */
  public readonly hostName: string;
  /** hostprep/ copied to the host; every step runs its script from there. */
  public readonly hostprep: remote.CopyToRemote;
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
  /** The digest of the steps that may change the host (lib/desired/rollout.ts changeDigest). */
  public readonly changeDigest: string;
  /** Disables nova-compute before the change (with deployment.maintenance). */
  public readonly maintenance?: HostMaintenance;
  private readonly maintenanceSettings?: MaintenanceSettings;

  constructor(name: string, args: ComputeHostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("openstack-rt:host:ComputeHost", name, {}, opts);
    const { plan, config: host } = args.desired;
    this.hostName = plan.name;
    this.maintenanceSettings = args.maintenance;
    const connection = stepConnection(host.ssh, args.privateKey);
    // Not held back by the batches: copying the scripts changes nothing the host runs.
    this.hostprep = hostprepCopy(name, host.ssh, connection, { parent: this });
    const steps = {} as Record<HostStepId, remote.Command>;
    this.changeDigest = args.desired.changeDigest;
    let previous: pulumi.Resource | undefined;
    for (const step of args.desired.steps) {
      const changes = step.id !== "facts";
      if (changes && this.maintenance === undefined && args.maintenance !== undefined) {
        // Before the first step that may restart nova-compute or reboot: disable the service
        // and deal with the guests. Its input is the digest of those steps, so a host whose
        // steps will all be skipped is not disabled.
        this.maintenance = new HostMaintenance(
          `${name}-maintenance`,
          { ...args.maintenance, hostName: plan.name, changeDigest: this.changeDigest },
          { parent: this, dependsOn: [previous, ...(args.after ?? [])].filter((r) => r !== undefined) },
        );
        previous = this.maintenance;
      }
      const dependsOn = [
        previous,
        step.id === "reboot" ? args.rebootAfter : undefined,
        ...(changes && args.maintenance === undefined ? (args.after ?? []) : []),
      ].filter((r) => r !== undefined);
      const command = stepCommand(name, step, connection, this.hostprep, { parent: this, dependsOn });
      steps[step.id as HostStepId] = command;
      previous = command;
    }
    this.steps = steps;

    const report = steps.reboot.stdout.apply(parseRebootReport);
    this.rebootWaiter = new RebootWaiter(
      `${name}-reboot-wait`,
      {
        hostName: plan.name,
        target: sshConnection(host.ssh),
        previousBootId: report.bootId,
        rebootScheduled: report.scheduled,
        timeoutSeconds: args.rebootTimeoutSeconds,
      },
      { parent: this, dependsOn: [steps.reboot] },
    );
    this.bootId = this.rebootWaiter.bootId;
    this.aggregateHost = this.rebootWaiter.bootId.apply(() => plan.name);
    this.facts = steps.facts.stdout;
    this.registerOutputs({ aggregateHost: this.aggregateHost, bootId: this.bootId, facts: this.facts });
  }

  /**
   * Ends the maintenance once the host checks (`checks`) passed: nova-compute is enabled again
   * (when this stack disabled it). Without maintenance there is nothing to end: undefined.
   */
  finishMaintenance(checks: pulumi.Resource, parent?: pulumi.Resource): HostMaintenanceEnd | undefined {
    if (this.maintenance === undefined || this.maintenanceSettings === undefined) return undefined;
    return new HostMaintenanceEnd(
      `${this.hostName}-maintenance-end`,
      {
        hostName: this.hostName,
        stack: this.maintenanceSettings.stack,
        changeDigest: this.changeDigest,
        disabledByStack: this.maintenance.disabledByStack,
      },
      // Not a child of this host: the checks wait for the whole host component, so a child
      // waiting for the checks would be a cycle.
      { parent, dependsOn: [checks] },
    );
  }
}

export interface ComputeHostsArgs {
  hosts: DesiredHost[];
  deployment: Pick<
    StackConfig["deployment"],
    "maxUnavailable" | "rebootTimeoutSeconds" | "rollingReboots" | "maintenance" | "guests" | "migrationTimeoutSeconds"
  > &
    Partial<Pick<StackConfig["deployment"], "adoptPreparedHosts">>;
  privateKey?: pulumi.Output<string>;
  /** The stack's name as Nova's disabled reason shows it (`<project>/<stack>`). */
  stack?: string;
  /**
   * Builds a host's checks (HostVerification, built elsewhere). The next batch waits for them,
   * and the host's maintenance ends after them.
   */
  verify?: (host: ComputeHost, index: number) => pulumi.Resource;
}

export interface PreparedHost {
  host: ComputeHost;
  /** What `verify` built for the host, if given. */
  checks?: pulumi.Resource;
  /** Re-enables nova-compute after the checks (with deployment.maintenance). */
  maintenanceEnd?: HostMaintenanceEnd;
}

/**
 * Every RT compute host, in batches of `deployment.maxUnavailable` in config order (lib/desired/rollout.ts):
 * the hosts of a batch change in parallel, and every step of the next batch that may change a
 * host (from the maintenance and packages to the host checks) waits for the previous batch's
 * host checks and maintenance ends. With maxUnavailable 1, one bad kernel argument takes down
 * one host, not the fleet. The read-only facts steps run at once everywhere.
 */
export function prepareHosts(args: ComputeHostsArgs, opts?: pulumi.ComponentResourceOptions): PreparedHost[] {
  const d = args.deployment;
  const maintenance: MaintenanceSettings | undefined = d.maintenance
    ? {
        stack: args.stack ?? `${pulumi.getProject()}/${pulumi.getStack()}`,
        guests: d.guests,
        migrationTimeoutSeconds: d.migrationTimeoutSeconds,
        adopt: d.adoptPreparedHosts ?? false,
      }
    : undefined;
  const out: PreparedHost[] = [];
  let gate: pulumi.Resource[] = [];
  for (const batch of batches(args.hosts, maxUnavailable(d))) {
    const prepared = batch.map((desired) => {
      const made = new ComputeHost(
        desired.name,
        {
          desired,
          privateKey: args.privateKey,
          rebootTimeoutSeconds: d.rebootTimeoutSeconds,
          after: gate,
          maintenance,
        },
        opts,
      );
      const checks = args.verify?.(made, out.length);
      const maintenanceEnd = checks === undefined ? undefined : made.finishMaintenance(checks, opts?.parent);
      const entry: PreparedHost = { host: made, checks, maintenanceEnd };
      out.push(entry);
      return entry;
    });
    gate = prepared.map((p) => p.maintenanceEnd ?? p.checks ?? p.host);
  }
  return out;
}
