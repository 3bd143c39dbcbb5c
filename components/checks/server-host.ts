/**
 * ServerHost: the compute host that runs a server, as Nova names it (lib/providers/server-host.ts).
 * `pulumi refresh` reads it again, so the domain check follows a migrated server.
 */
import type * as pulumi from "@pulumi/pulumi";
import { BundledResource } from "../bundled-resource";

export class ServerHost extends BundledResource {
  declare readonly host: pulumi.Output<string>;

  constructor(
    name: string,
    args: { serverName: string; serverId: pulumi.Input<string> },
    opts?: pulumi.CustomResourceOptions,
  ) {
    super("server-host", name, { ...args, host: undefined }, opts, "cloud", "ServerHost");
  }
}
