/**
 * Controller: the scheduler side of RT placement. scheduler.sh adds NUMATopologyFilter (pinning,
 * huge pages, NUMA fit) and AggregateInstanceExtraSpecsFilter (RT flavors only on the RT
 * aggregate's hosts) to nova-scheduler's enabled_filters, keeping the entries already there,
 * and restarts nova-scheduler only when the list changed. Servers that use RT flavors should
 * depend on this component.
 *
 * With `nova.configMode: verify` (the deployment tool owns the scheduler's nova.conf) the step
 * writes nothing and fails, naming the filters to add and the file, until the list has them.
 * An HA control plane has one Controller per nova-scheduler host (`controllers: [...]`).
 *
 * Deleting it changes nothing on the controller: other flavors may rely on the filters too.
 */
import * as pulumi from "@pulumi/pulumi";
import type { remote } from "@pulumi/command";
import type { ControllerConfig } from "../../lib/desired/host-steps";
import { controllerSteps } from "../../lib/desired/host-steps";
import { hostprepCopy, stepCommand, stepConnection } from "./step-command";

export interface ControllerArgs {
  /** How to reach the controller (the host running nova-scheduler). */
  controller: ControllerConfig;
  /** The stack's secret `sshPrivateKey`; without it the SSH agent (SSH_AUTH_SOCK) is used. */
  privateKey?: pulumi.Output<string>;
}

export class Controller extends pulumi.ComponentResource {
  /** hostprep/ copied to the controller; scheduler.sh runs from there. */
  public readonly hostprep: remote.CopyToRemote;
  public readonly scheduler: remote.Command;
  /** scheduler.sh's report: the new filter list when it changed, then "changed" or "unchanged". */
  public readonly schedulerReport: pulumi.Output<string>;

  constructor(name: string, args: ControllerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("openstack-rt:host:Controller", name, {}, opts);
    const connection = stepConnection(args.controller.ssh, args.privateKey);
    const [step] = controllerSteps(args.controller);
    this.hostprep = hostprepCopy(name, args.controller.ssh, connection, { parent: this });
    this.scheduler = stepCommand(name, step, connection, this.hostprep, { parent: this });
    this.schedulerReport = this.scheduler.stdout;
    this.registerOutputs({ schedulerReport: this.schedulerReport });
  }
}
