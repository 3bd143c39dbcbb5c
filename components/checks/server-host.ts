/**
 * ServerHost: the compute host that runs a server, as Nova names it (lib/providers/server-host.ts).
 * `pulumi refresh` reads it again, so the domain check follows a migrated server.
 */
import * as pulumi from "@pulumi/pulumi";
import { bundledProvider } from "../../lib/providers/bundle";
import { serverHostProvider } from "../../lib/providers/server-host";

export class ServerHost extends pulumi.dynamic.Resource {
  declare readonly host: pulumi.Output<string>;

  constructor(
    name: string,
    args: { serverName: string; serverId: pulumi.Input<string> },
    opts?: pulumi.CustomResourceOptions,
  ) {
    super(
      bundledProvider("server-host", serverHostProvider),
      name,
      { ...args, host: undefined },
      opts,
      "cloud",
      "ServerHost",
    );
  }
}
