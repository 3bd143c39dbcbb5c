/**
 * `npm run test:cloud`: the host-maintenance provider (lib/providers/host-maintenance.ts) and
 * its Nova client (lib/transport/nova-api/) against real OpenStack code on 127.0.0.1: Keystone for the
 * token, Nova's API with two fake-libvirt NUMA computes (test/cloud/servers.ts), and servers
 * booted on them. Each scenario prints what Nova's API reported: the nova-compute services'
 * status and the servers on each host, before and after.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { NovaSession } from "../../lib/transport/nova-api/client";
import { authenticate, computeServices } from "../../lib/transport/nova-api/client";
import { resolveCredentials } from "../../lib/transport/nova-api/credentials";
import type { MaintenanceInputs, MaintenanceStartState } from "../../lib/providers/host-maintenance";
import { makeHostMaintenanceProvider } from "../../lib/providers/host-maintenance";
import { decideStack } from "../../lib/desired/decide";
import { flavorRevisionName, maintenanceNotice } from "../../lib/desired/rollout";
import { PROJECT_DIR, devRaw } from "../support/dev-config";
import type { TestCloud } from "./servers";
import { missingPackages, startTestCloud } from "./servers";

const STACK = "openstack-rt/cloud-test";
const say = (line: string) => process.stdout.write(`# [cloud] ${line}\n`);

let cloud: TestCloud;
let admin: NovaSession;
let provider: ReturnType<typeof makeHostMaintenanceProvider>;

/** The stack config the engine would pass to `configure`: the openstack provider's settings. */
function engineConfig(c: TestCloud) {
  const values: Record<string, string> = {
    "openstack:authUrl": c.authUrl,
    "openstack:userName": "admin",
    "openstack:password": c.password,
    "openstack:tenantName": "admin",
    "openstack:userDomainName": "Default",
    "openstack:projectDomainName": "Default",
  };
  return { get: (k: string) => values[k] };
}

async function nova<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${admin.computeUrl}${path}`, {
    method,
    headers: {
      "X-Auth-Token": admin.token,
      "OpenStack-API-Version": "compute 2.74",
      "Content-Type": "application/json",
      Accept: "application/json",
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return (text ? JSON.parse(text) : {}) as T;
}

interface Server {
  id: string;
  name: string;
  status: string;
  "OS-EXT-SRV-ATTR:host": string | null;
  flavor: { original_name: string };
  fault?: { message: string };
}

async function waitFor(id: string, done: (s: Server) => boolean, what: string): Promise<Server> {
  for (let i = 0; i < 240; i++) {
    const s = (await nova<{ server: Server }>("GET", `/servers/${id}`)).server;
    if (done(s)) return s;
    if (s.status === "ERROR") throw new Error(`${s.name} went to ERROR while ${what}: ${s.fault?.message}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${id}: not ${what} within 60 s`);
}

async function boot(name: string, flavorId: string, host: string): Promise<Server> {
  const { server } = await nova<{ server: { id: string } }>("POST", "/servers", {
    server: { name, flavorRef: flavorId, imageRef: cloud.imageId, networks: "none", host },
  });
  return waitFor(server.id, (s) => s.status === "ACTIVE", "booting");
}

async function createFlavor(
  name: string,
  plan: { vcpus: number; ramMb: number; diskGb: number; extraSpecs: Record<string, string> },
) {
  const { flavor } = await nova<{ flavor: { id: string } }>("POST", "/flavors", {
    flavor: { name, vcpus: plan.vcpus, ram: plan.ramMb, disk: plan.diskGb },
  });
  // AggregateInstanceExtraSpecsFilter is not enabled in the test cloud; the scoped key is kept anyway.
  await nova("POST", `/flavors/${flavor.id}/os-extra_specs`, { extra_specs: plan.extraSpecs });
  return flavor.id;
}

async function serversByHost(): Promise<Record<string, string[]>> {
  const { servers } = await nova<{ servers: Server[] }>("GET", "/servers/detail?all_tenants=1");
  const out: Record<string, string[]> = Object.fromEntries(cloud.computes.map((c) => [c, [] as string[]]));
  for (const s of servers)
    (out[s["OS-EXT-SRV-ATTR:host"] ?? "none"] ??= []).push(`${s.name}(${s.flavor.original_name})`);
  for (const v of Object.values(out)) v.sort();
  return out;
}

async function services(): Promise<string> {
  const rows = await Promise.all(cloud.computes.map((c) => computeServices(admin, c)));
  return rows
    .flat()
    .map((s) => `${s.host}=${s.status}${s.disabledReason ? ` ("${s.disabledReason}")` : ""}`)
    .join(", ");
}

async function report(label: string): Promise<void> {
  say(`${label}: services ${await services()}`);
  say(`${label}: servers per host ${JSON.stringify(await serversByHost())}`);
}

function start(host: string, guests: "refuse" | "live-migrate" | "ignore", digest: string): MaintenanceInputs {
  return { phase: "start", hostName: host, stack: STACK, changeDigest: digest, guests, migrationTimeoutSeconds: 120 };
}

async function serviceOf(host: string) {
  return (await computeServices(admin, host))[0];
}

describe("host maintenance against Keystone and Nova's API on 127.0.0.1", { timeout: 900_000 }, () => {
  let flavorId: string;
  before(async () => {
    const missing = missingPackages();
    if (missing !== null) throw new Error(missing);
    const t0 = Date.now();
    cloud = await startTestCloud();
    say(
      `Keystone ${cloud.authUrl} and Nova ${cloud.computeUrl} (${cloud.computes.join(", ")}) up in ${Math.round((Date.now() - t0) / 1000)} s`,
    );
    const config = engineConfig(cloud);
    admin = await authenticate(resolveCredentials((k) => config.get(`openstack:${k}`), {}, []));
    provider = makeHostMaintenanceProvider({
      env: {},
      clock: {
        now: () => Date.now(),
        sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
        intervalMs: 250,
        progress: (line) => say(`  progress: ${line}`),
      },
    });
    await provider.configure!({ config } as never);
    const plan = decideStack(devRaw(), PROJECT_DIR);
    assert.ok(plan.ok);
    const f = plan.plan.flavors[0];
    flavorId = await createFlavor(flavorRevisionName(f), f);
  });
  after(() => cloud?.stop());

  it("the client authenticates with Keystone and finds Nova in the catalog", () => {
    assert.equal(admin.computeUrl, cloud.computeUrl);
  });

  it("refuse: a host with guests stops with their list, and stays disabled", async () => {
    await boot("guest-a", flavorId, "compute1");
    await report("refuse, before");
    await assert.rejects(provider.create(start("compute1", "refuse", "d1")), (e: Error) => {
      say(`refuse: error: ${e.message}`);
      return (
        /host compute1 runs 1 guest\(s\), and deployment.guests is "refuse": guest-a \([0-9a-f-]+, project [0-9a-f]+, ACTIVE\)/.test(
          e.message,
        ) && /openstack compute service set --enable compute1 nova-compute/.test(e.message)
      );
    });
    await report("refuse, after");
    const s = await serviceOf("compute1");
    assert.equal(s.status, "disabled");
    assert.match(s.disabledReason ?? "", /^openstack-rt stack openstack-rt\/cloud-test: /);
    assert.deepEqual((await serversByHost()).compute1.length, 1, "the guest was not touched");
  });

  it("live-migrate: the guests end up on the other host; disabled during prep, enabled after the checks", async () => {
    await report("live-migrate, before");
    const made = await provider.create(start("compute1", "live-migrate", "d1"));
    const outs = made.outs as MaintenanceStartState;
    say(`live-migrate: report: ${outs.report.join(" | ")}`);
    assert.equal(outs.disabledByStack, true);
    const during = await serversByHost();
    await report("live-migrate, during prep (after the start)");
    assert.deepEqual(during.compute1, []);
    assert.deepEqual(during.compute2, [`guest-a(${flavorRevisionName(decidedFlavor())})`]);
    assert.equal((await serviceOf("compute1")).status, "disabled", "disabled during prep");
    // ... host prep and the host checks run here ...
    await provider.create({
      phase: "end",
      hostName: "compute1",
      stack: STACK,
      changeDigest: "d1",
      disabledByStack: true,
    });
    await report("live-migrate, after the checks");
    assert.equal((await serviceOf("compute1")).status, "enabled");
  });

  it("a failed step leaves the service disabled, with the message that says how to re-enable it", async () => {
    const made = await provider.create(start("compute1", "refuse", "d2"));
    assert.equal((made.outs as MaintenanceStartState).disabledByStack, true);
    // A step fails: the engine stops the host's chain, so the end never runs.
    const notice = maintenanceNotice("compute1", STACK);
    say(`failed step: the program's warning: ${notice}`);
    await report("failed step, after the failure");
    const s = await serviceOf("compute1");
    assert.equal(s.status, "disabled");
    assert.match(
      notice,
      /stays disabled: fix the cause and run `pulumi up` again .*openstack compute service set --enable compute1 nova-compute/,
    );
    // The next run: the start recognizes its own disable, and the end enables it after the checks.
    const again = await provider.update!("compute1-start", made.outs as never, start("compute1", "refuse", "d2"));
    say(`failed step, next run: ${(again.outs as MaintenanceStartState).report.join(" | ")}`);
    assert.match((again.outs as MaintenanceStartState).report.join("\n"), /stays disabled \(a previous run/);
    await provider.create({
      phase: "end",
      hostName: "compute1",
      stack: STACK,
      changeDigest: "d2",
      disabledByStack: true,
    });
    await report("failed step, next run after the checks");
    assert.equal((await serviceOf("compute1")).status, "enabled");
  });

  it("an operator's own disable is left alone, and ignore goes on loudly", async () => {
    const svc = await serviceOf("compute2");
    await nova("PUT", `/os-services/${svc.id}`, { status: "disabled", disabled_reason: "RAM test by ops" });
    const made = await provider.create(start("compute2", "ignore", "d3"));
    const outs = made.outs as MaintenanceStartState;
    say(`ignore: warning: ${outs.warning}`);
    assert.equal(outs.disabledByStack, false);
    assert.match(outs.warning, /"ignore": host compute2 is changed .* under 1 running guest\(s\): guest-a/);
    await provider.create({
      phase: "end",
      hostName: "compute2",
      stack: STACK,
      changeDigest: "d3",
      disabledByStack: false,
    });
    const after2 = await serviceOf("compute2");
    await report("ignore, after");
    assert.deepEqual([after2.status, after2.disabledReason], ["disabled", "RAM test by ops"]);
    await nova("PUT", `/os-services/${svc.id}`, { status: "enabled" });
  });

  it("a flavor change moves the servers one at a time to the new revision; the old goes when unused", async () => {
    const oldPlan = decidedFlavor();
    const raw = devRaw();
    raw.flavors[0].pmu = true;
    const changed = decideStack(raw, PROJECT_DIR);
    assert.ok(changed.ok);
    const newPlan = changed.plan.flavors[0];
    const [oldName, newName] = [flavorRevisionName(oldPlan), flavorRevisionName(newPlan)];
    assert.notEqual(oldName, newName);
    // Fill both hosts: two RT servers per host (one per NUMA node) of the old revision.
    const names = ["rt-b", "rt-c", "rt-d"];
    await boot("rt-b", flavorId, "compute1");
    await boot("rt-c", flavorId, "compute1");
    await boot("rt-d", flavorId, "compute2");
    await report("flavor change, before");
    const newId = await createFlavor(newName, newPlan);
    say(`flavor change: ${oldName} -> ${newName} (both exist now)`);
    // Create-before-delete would need a free NUMA node; the hosts are full.
    const { server: extra } = await nova<{ server: { id: string } }>("POST", "/servers", {
      server: { name: "rt-b-new", flavorRef: newId, imageRef: cloud.imageId, networks: "none" },
    });
    const failed = await waitFor(extra.id, (s) => s.status === "ERROR" || s.status === "ACTIVE", "scheduling").catch(
      (e: Error) => ({ status: "ERROR", fault: { message: e.message } }) as Server,
    );
    say(
      `flavor change: a server of the new revision next to the old ones: ${failed.status} (${failed.fault?.message ?? ""})`,
    );
    assert.equal(failed.status, "ERROR", "full hosts: create-before-delete cannot work");
    await nova("DELETE", `/servers/${extra.id}`);
    // The stack's order (RtCloud chains the servers): each server is deleted, then created
    // with the new flavor, before the next one is touched.
    for (const name of ["guest-a", ...names]) {
      const { servers } = await nova<{ servers: Server[] }>("GET", `/servers/detail?all_tenants=1&name=^${name}$`);
      const old = servers[0];
      const host = old["OS-EXT-SRV-ATTR:host"]!;
      await nova("DELETE", `/servers/${old.id}`);
      await waitFor(old.id, () => false, "deleted").catch(() => undefined);
      const replaced = await boot(name, newId, host);
      const now = await serversByHost();
      const all = Object.values(now).flat();
      say(`flavor change: replaced ${name} on ${replaced["OS-EXT-SRV-ATTR:host"]}: ${JSON.stringify(now)}`);
      assert.equal(all.length, 4, "never more than one server missing: each is back before the next goes");
    }
    const { servers: onOld } = await nova<{ servers: Server[] }>(
      "GET",
      `/servers/detail?all_tenants=1&flavor=${flavorId}`,
    );
    assert.deepEqual(onOld, []);
    await nova("DELETE", `/flavors/${flavorId}`);
    const { flavors } = await nova<{ flavors: { name: string }[] }>("GET", "/flavors");
    say(`flavor change: flavors now ${flavors.map((f) => f.name).join(", ")}`);
    assert.ok(flavors.some((f) => f.name === newName) && !flavors.some((f) => f.name === oldName));
    await report("flavor change, after");
  });
});

function decidedFlavor() {
  const d = decideStack(devRaw(), PROJECT_DIR);
  assert.ok(d.ok);
  return d.plan.flavors[0];
}
