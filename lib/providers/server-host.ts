/**
 * The provider of ServerHost: which compute host runs a server, as Nova says
 * (`OS-EXT-SRV-ATTR:host`, shown to admins), so that the server's domain check carries the plan
 * of that one host instead of every host it might have landed on.
 *
 * - create asks Nova once the server exists; read (`pulumi refresh`) asks again, so a server that
 *   was migrated is checked on its new host at the next `pulumi up`.
 * - A new server id replaces it; nothing else changes it. `check` and `diff` do no I/O.
 * - Credentials come from `configure` (lib/providers/openstack-session.ts); never in state.
 */
import type * as pulumi from "@pulumi/pulumi";
import { codedError, messageOf } from "../errors";
import { getServer } from "../transport/nova-api/client";
import type { OpenStackSessionOptions } from "./openstack-session";
import { openstackSession } from "./openstack-session";
import { nonEmptyString } from "./inputs";

export interface ServerHostInputs {
  serverName: string;
  serverId: string;
}

export interface ServerHostState extends ServerHostInputs {
  /** The nova-compute service host that runs the server. */
  host: string;
}

export function makeServerHostProvider(
  options: OpenStackSessionOptions = {},
): pulumi.dynamic.ResourceProvider<ServerHostInputs, ServerHostState> {
  const openstack = openstackSession(options);
  const lookUp = async (i: ServerHostInputs): Promise<ServerHostState> => {
    const what = `finding the host of ${i.serverName} (${i.serverId})`;
    let server;
    try {
      server = await getServer(await openstack.session(), i.serverId);
    } catch (e) {
      throw codedError("server-host", `${what}: ${messageOf(e)}`);
    }
    if (server.host === null || server.host === "")
      throw codedError(
        "server-host",
        `${what}: Nova names no host (server status ${server.status}). Nova shows OS-EXT-SRV-ATTR:host only ` +
          "to admins (policy os_compute_api:os-extended-server-attributes): give openstack:* admin credentials, " +
          "as the aggregate and the flavors need; a server that is not ACTIVE has no host yet",
      );
    return { serverName: i.serverName, serverId: i.serverId, host: server.host };
  };
  return {
    configure: openstack.configure,
    check: (_olds, news) => {
      const failures = [
        ...nonEmptyString(news.serverName, "serverName", "must name the server"),
        ...nonEmptyString(news.serverId, "serverId", "must be the server's instance UUID"),
      ];
      return Promise.resolve(failures.length > 0 ? { inputs: news, failures } : { inputs: news });
    },
    diff: (_id, olds, news) => {
      const replaces = olds.serverId === news.serverId ? [] : ["serverId"];
      return Promise.resolve({ changes: replaces.length > 0 || olds.serverName !== news.serverName, replaces });
    },
    create: async (inputs) => ({ id: `server-host-${inputs.serverId}`, outs: await lookUp(inputs) }),
    update: async (_id, _olds, news) => ({ outs: await lookUp(news) }),
    read: async (id, props) => {
      if (props === undefined) throw codedError("server-host", `${id}: a ServerHost is created, not imported`);
      return { id, props: await lookUp(props) };
    },
    delete: () => Promise.resolve(),
  };
}

export const serverHostProvider = makeServerHostProvider();
