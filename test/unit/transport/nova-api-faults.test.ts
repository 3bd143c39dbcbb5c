/**
 * The Nova client and host maintenance when the API misbehaves, against a fake Nova on
 * 127.0.0.1 (a real HTTP server): an HTML body names the call and the status, a transient 5xx
 * while a migration is polled is tried again within the migration timeout, and every failure
 * after the host was disabled says that nova-compute stays disabled and how to enable it.
 */
import assert from "node:assert/strict";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, beforeEach, describe, it } from "node:test";
import type { NovaSession } from "../../../lib/transport/nova-api/client";
import { authenticate, computeServices } from "../../../lib/transport/nova-api/client";
import type { MigrationClock } from "../../../lib/providers/host-maintenance";
import { endMaintenance, startMaintenance } from "../../../lib/providers/host-maintenance";

type Handler = (req: IncomingMessage, body: string) => { status: number; type?: string; body: string };
let handle: Handler;
const calls: string[] = [];
const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  let body = "";
  req.on("data", (d: Buffer) => (body += d.toString()));
  req.on("end", () => {
    calls.push(`${req.method} ${req.url}`);
    const r = handle(req, body);
    res.writeHead(r.status, { "Content-Type": r.type ?? "application/json" });
    res.end(r.body);
  });
});
let base = "";
before(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => server.close());
beforeEach(() => (calls.length = 0));

const session = (): NovaSession => ({ token: "t0ken", computeUrl: `${base}/v2.1`, timeoutMs: 5_000, fetch });
const HTML = (status: number) => ({
  status,
  type: "text/html",
  body: `<html><head><title>${status}</title></head><body>\u001b]0;proxy\u0007 Bad Gateway</body></html>`,
});
const json = (v: unknown, status = 200) => ({ status, body: JSON.stringify(v) });
const service = (status: "enabled" | "disabled", reason: string | null = null) => ({
  id: "svc-1",
  host: "h1",
  binary: "nova-compute",
  status,
  state: "up",
  disabled_reason: reason,
  zone: "nova",
});
const guest = (host: string, taskState: string | null) => ({
  id: "g1",
  name: "guest-1",
  tenant_id: "p1",
  status: "ACTIVE",
  "OS-EXT-SRV-ATTR:host": host,
  "OS-EXT-STS:task_state": taskState,
});

/** A clock that moves only when the provider sleeps. */
function fakeClock(): MigrationClock & { lines: string[] } {
  let t = 0;
  const lines: string[] = [];
  return {
    now: () => t,
    sleep: (ms) => ((t += ms), Promise.resolve()),
    intervalMs: 5_000,
    progress: (l) => lines.push(l),
    lines,
  };
}
const START = {
  phase: "start" as const,
  hostName: "h1",
  stack: "openstack-rt/test",
  changeDigest: "d",
  guests: "live-migrate" as const,
  migrationTimeoutSeconds: 60,
};
const REENABLE = "openstack compute service set --enable h1 nova-compute";

/** Nova with one guest on h1 that moves to h2 once migrated; `fault(path, n)` may answer instead. */
function nova(fault: (path: string, n: number) => ReturnType<Handler> | undefined): Handler {
  let disabled = false;
  let migrated = false;
  const seen = new Map<string, number>();
  return (req, body) => {
    const path = (req.url ?? "").split("?")[0];
    const n = (seen.get(path) ?? 0) + 1;
    seen.set(path, n);
    const f = fault(path, n);
    if (f) return f;
    if (path === "/v2.1/os-services" && req.method === "GET")
      return json({ services: [service(disabled ? "disabled" : "enabled", disabled ? "x" : null)] });
    if (path === "/v2.1/os-services/svc-1") {
      disabled = (JSON.parse(body) as { status: string }).status === "disabled";
      return json({ service: service(disabled ? "disabled" : "enabled") });
    }
    if (path === "/v2.1/servers/detail") return json({ servers: migrated ? [] : [guest("h1", null)] });
    if (path === "/v2.1/servers/g1/action") return ((migrated = true), { status: 202, body: "" });
    if (path === "/v2.1/servers/g1") return json({ server: guest(migrated ? "h2" : "h1", null) });
    if (path === "/v2.1/servers/g1/migrations") return json({ migrations: [] });
    return json({ itemNotFound: { message: `no ${path}` } }, 404);
  };
}

describe("Nova's API answering with something else than JSON", () => {
  it("an HTML body with 200 names the call, the status and the content type, escaped", async () => {
    handle = () => HTML(200);
    await assert.rejects(computeServices(session(), "h1"), (e: Error) => {
      assert.match(
        e.message,
        /^listing nova-compute on h1: GET \/v2\.1\/os-services returned 200 with a body that is not JSON \(text\/html\): "<html><head><title>200<\/title>.*\\u001b\]0;proxy\\u0007 Bad Gateway/,
      );
      assert.ok(!e.message.includes("\u001b") && !e.message.includes("\u0007"), "no raw ESC or BEL");
      return true;
    });
  });

  it("an HTML error page with 502 names the call and the status", async () => {
    handle = () => HTML(502);
    await assert.rejects(computeServices(session(), "h1"), (e: Error) =>
      /^listing nova-compute on h1: GET \/v2\.1\/os-services returned 502: "<html>.*\\u001b/.test(e.message),
    );
  });

  it("Keystone answering HTML is named as the authentication, not a JSON parser's error", async () => {
    handle = () => ({ status: 201, type: "text/html", body: "<html>portal</html>" });
    await assert.rejects(authenticate({ authUrl: `${base}/identity`, token: "x" }), (e: Error) =>
      /^Keystone authentication: POST \/identity\/v3\/auth\/tokens returned 201 with a body that is not JSON \(text\/html\): "<html>portal<\/html>"/.test(
        e.message,
      ),
    );
  });
});

describe("host maintenance when Nova fails for a while, or for good", () => {
  it("a 503 while a migration is polled is tried again, and the migration completes", async () => {
    handle = nova((path, n) => (path === "/v2.1/servers/g1" && n <= 2 ? HTML(503) : undefined));
    const clock = fakeClock();
    const state = await startMaintenance(session(), START, clock);
    assert.equal(state.disabledByStack, true);
    assert.ok(state.report.includes("guest-1 now runs on h2"), state.report.join("\n"));
    assert.equal(clock.lines.filter((l) => /^reading guest-1: .* returned 503: .*; trying again$/.test(l)).length, 2);
  });

  it("5xx until the migration timeout: fails, saying nova-compute stays disabled and how to enable it", async () => {
    handle = nova((path) => (path === "/v2.1/servers/g1" ? HTML(500) : undefined));
    await assert.rejects(startMaintenance(session(), START, fakeClock()), (e: Error) => {
      assert.match(e.message, /returned 500: .*\. Nothing on h1 was changed; nova-compute on h1 stays disabled: /);
      assert.ok(e.message.includes(REENABLE), e.message);
      return true;
    });
  });

  it("any failure after the disable says so: the guest list, a 4xx on the migration", async () => {
    for (const broken of ["/v2.1/servers/detail", "/v2.1/servers/g1/action"]) {
      handle = nova((path) => (path === broken ? json({ badRequest: { message: "no" } }, 400) : undefined));
      await assert.rejects(startMaintenance(session(), START, fakeClock()), (e: Error) => {
        assert.ok(calls.includes("PUT /v2.1/os-services/svc-1"), "the service was disabled first");
        assert.match(e.message, /returned 400: no\. Nothing on h1 was changed; nova-compute on h1 stays disabled/);
        assert.ok(e.message.includes(REENABLE), `${broken}: ${e.message}`);
        return true;
      });
    }
  });

  it("the end failing to enable says the service stays disabled and how to enable it", async () => {
    handle = (req) =>
      req.method === "PUT"
        ? HTML(502)
        : json({ services: [service("disabled", "openstack-rt stack openstack-rt/test: RT host prep")] });
    await assert.rejects(
      endMaintenance(session(), {
        phase: "end",
        hostName: "h1",
        stack: "openstack-rt/test",
        changeDigest: "d",
        disabledByStack: true,
      }),
      (e: Error) => e.message.includes("stays disabled") && e.message.includes(REENABLE),
    );
  });
});
