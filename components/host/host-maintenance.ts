/**
 * Host maintenance through Nova's API, as two dynamic resources around a host's change
 * (provider: lib/providers/host-maintenance.ts):
 *
 * - HostMaintenance, before the first step that may restart nova-compute or reboot: disables
 *   the host's nova-compute with a reason naming the stack and handles its guests by
 *   `deployment.guests` (refuse with their list, live-migrate them off, or ignore loudly);
 * - HostMaintenanceEnd, after the host checks passed: enables the service again.
 *
 * Both take the digest of the host's steps as input, so a host whose steps will not run again
 * is neither disabled nor enabled. A failed step or check stops the chain before the end: the
 * service stays disabled, and the warning logged when it was disabled says how to re-enable
 * it. Deleting either resource changes nothing in Nova.
 */
import * as pulumi from "@pulumi/pulumi";
import type { GuestPolicy } from "../../lib/desired/maintenance";
import { maintenanceNotice } from "../../lib/desired/maintenance";
import { BundledResource } from "../bundled-resource";

/** The stack-wide maintenance settings (deployment.guests, deployment.migrationTimeoutSeconds). */
export interface MaintenanceSettings {
  /** `<project>/<stack>`, as the reason Nova records names it. */
  stack: string;
  guests: GuestPolicy;
  migrationTimeoutSeconds: number;
  /** deployment.adoptPreparedHosts: a new maintenance records the host as it is and changes nothing. */
  adopt: boolean;
}

export interface HostMaintenanceArgs extends MaintenanceSettings {
  hostName: string;
  changeDigest: string;
}

export class HostMaintenance extends BundledResource {
  /** This stack disabled the host's nova-compute (now, or in a run that failed). */
  declare public readonly disabledByStack: pulumi.Output<boolean>;
  /** What was found and done, one line each. */
  declare public readonly report: pulumi.Output<string[]>;
  declare public readonly warning: pulumi.Output<string>;

  constructor(name: string, args: HostMaintenanceArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      "host-maintenance",
      name,
      { phase: "start", ...args, disabledByStack: undefined, report: undefined, warning: undefined },
      opts,
      undefined,
      "HostMaintenance",
    );
    // Logged once the disable happened (applies do not run in previews): the failure of a
    // later step shows in the same run's diagnostics, next to how to recover.
    this.disabledByStack.apply((disabled) => {
      if (disabled) void pulumi.log.warn(maintenanceNotice(args.hostName, args.stack), this);
    });
    this.warning.apply((w) => {
      if (w) void pulumi.log.warn(w, this);
    });
  }
}

export interface HostMaintenanceEndArgs {
  hostName: string;
  stack: string;
  changeDigest: string;
  disabledByStack: pulumi.Input<boolean>;
}

export class HostMaintenanceEnd extends BundledResource {
  declare public readonly report: pulumi.Output<string[]>;

  constructor(name: string, args: HostMaintenanceEndArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      "host-maintenance",
      name,
      { phase: "end", ...args, report: undefined },
      opts,
      undefined,
      "HostMaintenanceEnd",
    );
  }
}
