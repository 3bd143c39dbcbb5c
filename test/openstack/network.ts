/**
 * The test cloud's network endpoint (the catalog's `network` service). A real neutron-server
 * needs an L2 agent and network namespaces to bind a port, which this machine cannot give; the
 * servers boot with `networks: none` (compute API 2.37+), but Nova still asks the network
 * service for the ports of a server on `show`, `list` and delete. This endpoint answers those
 * port (and network) queries with none, and keeps the security groups and rules the stand-in provider
 * creates (test/openstack/provider-standin.ts) in memory, in Neutron's v2.0 request and response
 * shapes, so the program's security group resources are applied and read back. Nothing else:
 * any other request gets 404 and is logged.
 */
import { randomUUID } from "node:crypto";
import { appendFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:http";

export interface NetworkEndpoint {
  url: string;
  securityGroups: Map<string, SecurityGroup>;
  stop(): Promise<void>;
}
export interface SecurityGroupRule {
  id: string;
  security_group_id: string;
  direction: string;
  ethertype: string;
  protocol: string | null;
  port_range_min: number | null;
  port_range_max: number | null;
  remote_ip_prefix: string | null;
  description: string;
}
export interface SecurityGroup {
  id: string;
  name: string;
  description: string;
  security_group_rules: SecurityGroupRule[];
}

async function body(req: IncomingMessage): Promise<Record<string, unknown>> {
  let text = "";
  for await (const chunk of req) text += String(chunk);
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

export async function startNetworkEndpoint(logFile: string): Promise<NetworkEndpoint> {
  const groups = new Map<string, SecurityGroup>();
  const rules = new Map<string, SecurityGroupRule>();
  const reply = (res: ServerResponse, status: number, doc?: unknown) => {
    res.writeHead(status, { "Content-Type": "application/json", Connection: "close" });
    res.end(doc === undefined ? "" : JSON.stringify(doc));
  };
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      const path = url.pathname.replace(/\/+$/, "");
      appendFileSync(logFile, `${req.method} ${req.url}\n`);
      if (req.method === "GET" && (path === "" || path === "/v2.0"))
        return reply(res, 200, { versions: [{ id: "v2.0", status: "CURRENT", links: [] }] });
      if (req.method === "GET" && path === "/v2.0/ports") return reply(res, 200, { ports: [] });
      // nova-compute lists the networks of a server's ports when it deletes the server.
      if (req.method === "GET" && path === "/v2.0/networks") return reply(res, 200, { networks: [] });
      if (req.method === "GET" && path === "/v2.0/extensions") return reply(res, 200, { extensions: [] });
      if (req.method === "POST" && path === "/v2.0/security-groups") {
        const g = (await body(req)).security_group as { name?: string; description?: string };
        const group: SecurityGroup = {
          id: randomUUID(),
          name: g.name ?? "",
          description: g.description ?? "",
          security_group_rules: [],
        };
        groups.set(group.id, group);
        return reply(res, 201, { security_group: group });
      }
      const sg = /^\/v2\.0\/security-groups\/([0-9a-f-]+)$/.exec(path);
      if (sg) {
        const group = groups.get(sg[1]);
        if (!group) return reply(res, 404, { NeutronError: { type: "SecurityGroupNotFound", message: sg[1] } });
        if (req.method === "GET") return reply(res, 200, { security_group: group });
        if (req.method === "DELETE") {
          for (const r of group.security_group_rules) rules.delete(r.id);
          groups.delete(group.id);
          return reply(res, 204);
        }
      }
      if (req.method === "POST" && path === "/v2.0/security-group-rules") {
        const r = (await body(req)).security_group_rule as Omit<SecurityGroupRule, "id">;
        const group = groups.get(r.security_group_id);
        if (!group)
          return reply(res, 404, { NeutronError: { type: "SecurityGroupNotFound", message: r.security_group_id } });
        const rule: SecurityGroupRule = {
          id: randomUUID(),
          security_group_id: r.security_group_id,
          direction: r.direction,
          ethertype: r.ethertype,
          protocol: r.protocol ?? null,
          port_range_min: r.port_range_min ?? null,
          port_range_max: r.port_range_max ?? null,
          remote_ip_prefix: r.remote_ip_prefix ?? null,
          description: r.description ?? "",
        };
        group.security_group_rules.push(rule);
        rules.set(rule.id, rule);
        return reply(res, 201, { security_group_rule: rule });
      }
      const sgr = /^\/v2\.0\/security-group-rules\/([0-9a-f-]+)$/.exec(path);
      if (sgr && rules.has(sgr[1])) {
        const rule = rules.get(sgr[1])!;
        if (req.method === "GET") return reply(res, 200, { security_group_rule: rule });
        if (req.method === "DELETE") {
          const group = groups.get(rule.security_group_id);
          if (group) group.security_group_rules = group.security_group_rules.filter((r) => r.id !== rule.id);
          rules.delete(rule.id);
          return reply(res, 204);
        }
      }
      appendFileSync(logFile, `  -> 404: not part of this endpoint\n`);
      return reply(res, 404, { NeutronError: { type: "HTTPNotFound", message: `${req.method} ${path}` } });
    })().catch((e: unknown) => reply(res, 500, { NeutronError: { message: String(e) } }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const addr = server.address();
  if (addr === null || typeof addr === "string") throw new Error("the network endpoint has no port");
  return {
    url: `http://127.0.0.1:${addr.port}`,
    securityGroups: groups,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
