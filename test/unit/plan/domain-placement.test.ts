/**
 * The domain check on the host that runs the server: where it looks (lib/desired/check-targets.ts),
 * the ServerHost provider asking Nova over HTTP (a Keystone and Nova API stand-in on 127.0.0.1
 * that answers as they do, admin-only attribute included), the domain-check provider on a real
 * sshd, and the program's registrations: one candidate per server, whatever the fleet's size.
 */
import assert from "node:assert/strict";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import type * as pulumi from "@pulumi/pulumi";
import { decideStack } from "../../../lib/desired/decide";
import type { DomainCheckInputs } from "../../../lib/providers/domain-check";
import { domainCheckProvider } from "../../../lib/providers/domain-check";
import { makeServerHostProvider } from "../../../lib/providers/server-host";
import { devRaw, PROJECT_DIR } from "../../support/dev-config";
import { readDomainFixture } from "../../support/domain-fixtures";
import { configureKey } from "../../support/provider-config";
import { isDynamic, loadProgram } from "../../support/pulumi-program";
import type { TestSshd } from "../../support/sshd";
import { startSshd } from "../../support/sshd";

const SERVER_ID = "0b7f6c1e-2a3d-4e5f-8a9b-0c1d2e3f4a5b";
const PASSWORD = "nova-secret-7";

function desired(edit: (raw: ReturnType<typeof devRaw>) => void = () => {}) {
  const raw = devRaw();
  edit(raw);
  const d = decideStack(raw, PROJECT_DIR);
  if (!d.ok) throw new Error(JSON.stringify(d.problems));
  return d.desired;
}

describe("where a server's domain check looks", () => {
  it("an unpinned server: every eligible RT host, each candidate built for the host asked", () => {
    const t = desired().servers[0].domainCheck;
    assert.deepEqual(t.hosts, ["compute-rt-01", "compute-rt-02"]);
    const c = t.on("compute-rt-02");
    assert.ok(c);
    assert.equal(c.host, "compute-rt-02");
    assert.equal(c.target.host, "192.0.2.12");
    assert.equal(c.expectation.dedicatedSet, "4-11");
    assert.equal(c.expectation.vcpus, 4);
    assert.equal(t.on("compute-9"), null, "a host outside the plan has no candidate");
    assert.deepEqual(
      t.candidates.map((x) => x.host),
      t.hosts,
    );
  });

  it("a pinned server: only its host", () => {
    const t = desired((raw) => (raw.servers[0].host = "compute-rt-02")).servers[0].domainCheck;
    assert.deepEqual(t.hosts, ["compute-rt-02"]);
    assert.equal(t.on("compute-rt-01"), null);
  });
});

/** Keystone's token call and Nova's GET /servers/{id} as they answer, on 127.0.0.1. */
interface NovaStandIn {
  url: string;
  servers: Map<string, { host: string | null; status: string }>;
  requests: string[];
  stop: () => Promise<void>;
}

async function startNova(): Promise<NovaStandIn> {
  const servers = new Map<string, { host: string | null; status: string }>();
  const requests: string[] = [];
  let base = "";
  const body = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      let text = "";
      req.on("data", (d: Buffer) => (text += d.toString()));
      req.on("end", () => resolve(text));
    });
  const send = (res: ServerResponse, status: number, doc: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { "Content-Type": "application/json", ...headers });
    res.end(JSON.stringify(doc));
  };
  const server = createServer((req, res) => {
    void (async () => {
      requests.push(`${req.method} ${req.url}`);
      if (req.method === "POST" && req.url === "/v3/auth/tokens") {
        const auth = JSON.parse(await body(req)) as {
          auth: { identity: { password?: { user: { password: string } } } };
        };
        if (auth.auth.identity.password?.user.password !== PASSWORD)
          return send(res, 401, {
            error: { code: 401, message: "The request you have made requires authentication." },
          });
        const catalog = [{ type: "compute", endpoints: [{ interface: "public", url: `${base}/compute/v2.1/` }] }];
        return send(res, 201, { token: { catalog } }, { "X-Subject-Token": "token-1" });
      }
      const m = /^\/compute\/v2\.1\/servers\/([^/?]+)$/.exec(req.url ?? "");
      if (req.method === "GET" && m && req.headers["x-auth-token"] === "token-1") {
        const s = servers.get(decodeURIComponent(m[1]));
        if (!s) return send(res, 404, { itemNotFound: { code: 404, message: `Instance ${m[1]} could not be found.` } });
        // Nova's default policy shows the host to admins only: without it, the key is absent.
        const hostAttr = s.host === null ? {} : { "OS-EXT-SRV-ATTR:host": s.host };
        return send(res, 200, {
          server: { id: m[1], name: "rt-server", tenant_id: "p1", status: s.status, ...hostAttr },
        });
      }
      send(res, 404, { itemNotFound: { code: 404, message: "not found" } });
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    servers,
    requests,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe("ServerHost: the host Nova names", () => {
  let nova: NovaStandIn;
  before(async () => (nova = await startNova()));
  after(() => nova.stop());

  const provider = (password = PASSWORD) => {
    const p = makeServerHostProvider({ env: {} });
    const values: Record<string, string> = {
      "openstack:authUrl": `${nova.url}/v3`,
      "openstack:userName": "admin",
      "openstack:password": password,
      "openstack:tenantName": "admin",
    };
    void p.configure!({ config: { get: (k: string) => values[k], require: (k: string) => values[k] } });
    return p as Required<typeof p>;
  };
  const inputs = { serverName: "rt-server", serverId: SERVER_ID };

  it("create reads OS-EXT-SRV-ATTR:host; a refresh after a migration reads the new host; no credential in state", async () => {
    nova.servers.set(SERVER_ID, { host: "compute-rt-01", status: "ACTIVE" });
    const p = provider();
    const made = await p.create(inputs);
    assert.equal(made.id, `server-host-${SERVER_ID}`);
    assert.deepEqual(made.outs, { ...inputs, host: "compute-rt-01" });
    assert.ok(nova.requests.includes(`GET /compute/v2.1/servers/${SERVER_ID}`));
    nova.servers.set(SERVER_ID, { host: "compute-rt-02", status: "ACTIVE" });
    const read = await p.read(made.id, made.outs);
    assert.equal(read.props?.host, "compute-rt-02");
    assert.ok(!JSON.stringify([made, read]).includes(PASSWORD));
  });

  it("credentials without admin rights: an error naming the policy and the fix", async () => {
    nova.servers.set(SERVER_ID, { host: null, status: "ACTIVE" });
    await assert.rejects(
      provider().create(inputs),
      /finding the host of rt-server \(0b7f6c1e-.*\): Nova names no host \(server status ACTIVE\)\. .*os_compute_api:os-extended-server-attributes\): give openstack:\* admin credentials/,
    );
  });

  it("a server Nova does not know, and a refused login: Nova's or Keystone's answer, never the password", async () => {
    nova.servers.delete(SERVER_ID);
    await assert.rejects(
      provider().create(inputs),
      /GET \/compute\/v2\.1\/servers\/0b7f.* returned 404: Instance .* could not be found/,
    );
    await assert.rejects(
      provider("wrong-password").create(inputs),
      (e: Error) => /Keystone authentication: .* returned 401/.test(e.message) && !e.message.includes("wrong-password"),
    );
  });

  it("check and diff do no I/O: a new server id replaces it, the same inputs change nothing", async () => {
    const p = provider();
    const before = nova.requests.length;
    assert.deepEqual(
      (await p.check({} as never, { serverName: "", serverId: "" })).failures?.map((f) => f.property),
      ["serverName", "serverId"],
    );
    const olds = { ...inputs, host: "compute-rt-01" };
    assert.deepEqual(await p.diff("id", olds, inputs), { changes: false, replaces: [] });
    assert.deepEqual(await p.diff("id", olds, { ...inputs, serverId: "other" }), {
      changes: true,
      replaces: ["serverId"],
    });
    assert.equal(nova.requests.length, before);
  });
});

describe("the domain-check provider on the host that runs the server", () => {
  let sshd: TestSshd;
  before(async () => {
    sshd = await startSshd();
    await configureKey(domainCheckProvider, sshd.userKey);
  });
  after(() => sshd.stop());
  const p = domainCheckProvider as Required<pulumi.dynamic.ResourceProvider>;

  /** Stands in for domain-xml.sh: prints the dev plan's rt1.small domain for the instance asked. */
  const dumpScript = (xml: string) => `#!/usr/bin/env bash\nset -euo pipefail\ncat <<'XML'\n${xml}\nXML\n`;

  function inputsOn(host: string | null): DomainCheckInputs {
    const c = desired().servers[0].domainCheck.on("compute-rt-01")!;
    return {
      serverName: "rt-server",
      serverId: SERVER_ID,
      placedOn: host ?? "compute-9",
      candidates:
        host === null
          ? []
          : [{ ...c, target: { host: "127.0.0.1", port: sshd.port, user: sshd.user, hostKey: sshd.hostKeyPub } }],
      script: dumpScript(readDomainFixture("dev-plan-rt1.small.xml")),
      verifyRevision: "",
    };
  }

  it("passes the planned domain on the host Nova placed it on", async () => {
    const made = await p.create(inputsOn("compute-rt-01"));
    const outs = made.outs as { passed: boolean; observed: { check: string; ok: boolean }[] };
    assert.equal(outs.passed, true);
    assert.ok(outs.observed.some((r) => r.check === "vCPU count" && r.ok));
  });

  it("a host outside the plan fails the placement check, naming the host and the filter", async () => {
    await assert.rejects(
      p.create(inputsOn(null)),
      /domain verification of rt-server \(0b7f6c1e-[^)]*\) on compute-9 failed:\n.*instance placement.*on compute-9.*AggregateInstanceExtraSpecsFilter/s,
    );
  });

  it("check refuses more than one candidate and an empty host name", async () => {
    const i = inputsOn("compute-rt-01");
    const bad = await p.check({}, { ...i, placedOn: "", candidates: [i.candidates[0], i.candidates[0]] });
    assert.deepEqual(bad.failures?.map((f) => f.property).sort(), ["candidates", "placedOn"]);
  });
});

describe("what the program registers for the domain checks", () => {
  /** Dev hosts repeated `n` times, one unpinned and one pinned rt1.small server. */
  function fleet(n: number) {
    const raw = devRaw();
    raw.hosts = Array.from({ length: n }, (_, i) => ({
      ...structuredClone(raw.hosts[i % 2]),
      name: `compute-rt-${String(i + 1).padStart(2, "0")}`,
      ssh: { ...(raw.hosts[i % 2].ssh as object), host: `192.0.2.${20 + i}` },
    }));
    raw.servers = [
      { name: "rt-server", flavor: "rt1.small" },
      { name: "rt-pinned", flavor: "rt1.small", host: "compute-rt-02" },
    ];
    return raw;
  }

  it("one candidate per server whatever the fleet's size; a ServerHost only for the unpinned server", async () => {
    const sizes: Record<string, number>[] = [];
    for (const n of [2, 12]) {
      const loaded = await loadProgram({ stack: "dev", config: fleet(n) });
      assert.ok(loaded.ok, loaded.ok ? "" : loaded.error);
      const dynamic = loaded.resources.filter(isDynamic);
      assert.deepEqual(
        dynamic.filter((r) => r.type.endsWith(":ServerHost")).map((r) => r.name),
        ["rt-server-server-host"],
      );
      const checks = dynamic.filter((r) => r.type.endsWith(":DomainVerification"));
      const byName = Object.fromEntries(checks.map((r) => [r.name, r.inputs]));
      const unpinned = byName["rt-server-domain-verification"];
      // The mocked Nova places it on compute-rt-01 (test/support/mock-state.ts).
      assert.equal(unpinned.placedOn, "compute-rt-01");
      assert.deepEqual(
        (unpinned.candidates as { host: string }[]).map((c) => c.host),
        ["compute-rt-01"],
      );
      const pinned = byName["rt-pinned-domain-verification"];
      assert.equal(pinned.placedOn, "compute-rt-02");
      assert.deepEqual(
        (pinned.candidates as { host: string }[]).map((c) => c.host),
        ["compute-rt-02"],
      );
      sizes.push(Object.fromEntries(checks.map((r) => [r.name, Buffer.byteLength(JSON.stringify(r.inputs))])));
    }
    assert.deepEqual(sizes[1], sizes[0], "a domain check's inputs do not grow with the number of hosts");
  });
});
