/**
 * `npm run test:openstack`: the program against a real OpenStack (stack.ts: Debian's Keystone,
 * Placement, Glance and Nova on 127.0.0.1, nova-compute with libvirt and QEMU on this machine as
 * the stack's one RT host). The program runs under the SDK's mocks with the provider stand-in
 * (provider-standin.ts) applying its cloud objects for real; its nova-compute and scheduler steps
 * write the services' config over SSH (a throwaway sshd); its domain check and host maintenance
 * run through Pulumi's dynamic-provider host with the program's own serialized providers.
 * Needs root (libvirt, hugepages) and the packages `.ci/run` installs.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { planStack } from "../../lib/plan/stack";
import { formatProblems } from "../../lib/config/problems";
import { parseStackConfig } from "../../lib/config/schema";
import { flavorExtraSpecs } from "../../lib/plan/flavor";
import type { ProviderHost } from "../support/provider-host";
import { startProviderHost } from "../support/provider-host";
import type { TestSshd } from "../support/sshd";
import { startSshd } from "../support/sshd";
import { PROJECT_DIR } from "../support/dev-config";
import { runSsh } from "../../lib/transport/ssh";
import { controllerSteps } from "../../lib/desired/host-steps";
import { hostprepCopyName, remoteCommand } from "../../lib/desired/step-connection";
import { HOSTPREP_COPY_PATH } from "../../lib/hostprep/scripts";
import type { OpenStackCloud } from "./stack";
import { missingPackages, startOpenStack } from "./stack";
import type { ProgramRun } from "./program";
import { runProgram } from "./program";
import { ProviderStandIn } from "./provider-standin";

const HOST = "compute-rt-local";
const SERVER = "rt-local";
const FLAVOR = "rt1.local";
const ZONE = "rt-local-zone";
/** 2 MiB pages host prep would have made (the kernel-args step; not run here); 16 of them reserved for the host. */
const PAGES_2M = 256;
const RESERVED_2M = 16;
const say = (line: string) => process.stdout.write(`# [openstack] ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** This machine's NUMA nodes as the stack declares them (what `npm run discover` reads). */
function localTopology() {
  const base = "/sys/devices/system/node";
  return readdirSync(base)
    .filter((d) => /^node\d+$/.test(d))
    .map((d) => {
      const kb = Number(/MemTotal:\s+(\d+) kB/.exec(readFileSync(join(base, d, "meminfo"), "utf8"))![1]);
      return {
        id: Number(d.slice(4)),
        cpus: readFileSync(join(base, d, "cpulist"), "utf8").trim(),
        memoryMb: Math.floor(kb / 1024),
      };
    });
}

function stackConfig(cloud: OpenStackCloud, sshd: TestSshd, imageFile: string) {
  const ssh = { host: "127.0.0.1", port: sshd.port, user: sshd.user, hostKey: sshd.hostKeyPub };
  return {
    hosts: [
      {
        name: HOST,
        ssh,
        os: "debian-12",
        topology: { nodes: localTopology() },
        housekeepingCpusPerNode: 1,
        cpuSharedSet: "housekeeping",
        hugepages1gPerNode: 0,
        hugepages2mPerNode: PAGES_2M,
        reservedHugepages2mPerNode: RESERVED_2M,
        reservedHostMemoryMb: 1024,
        nova: { configPath: cloud.computeConf, restartCommand: cloud.computeRestart },
      },
    ],
    controller: { ssh, nova: { configPath: cloud.schedulerConf, restartCommand: cloud.schedulerRestart } },
    flavors: [
      // 2 vCPUs: vCPU 0 floats on the shared (housekeeping) CPU, vCPU 1 is pinned and realtime.
      { name: FLAVOR, vcpus: 2, ramMb: 128, diskGb: 1, cpuPolicy: "mixed", pageSize: "2MB", realtime: { mask: "^0" } },
    ],
    aggregate: { name: "rt-local", zone: ZONE, metadata: { realtime: "true" } },
    image: { name: "boot-sector", file: imageFile, diskFormat: "raw", containerFormat: "bare" },
    network: { name: "none" },
    securityGroup: { name: "rt-local", sshCidr: "192.0.2.0/24", icmpCidr: "192.0.2.0/24" },
    keypair: { name: "rt-local", publicKey: sshd.userKeyPub },
    servers: [{ name: SERVER, flavor: FLAVOR }],
    latency: { host: { hwlatdetect: { enabled: false } } },
    deployment: { protect: false, guests: "refuse" },
  };
}

/** A disk whose boot sector prints one line on the serial port and halts: all a guest has to do here. */
function bootSector(): Buffer {
  const msg = Buffer.from("openstack-rt guest up\r\n");
  // mov si,msg; mov dx,0x3f8; lodsb; test al,al; jz halt; out dx,al; jmp lodsb; halt: cli; hlt; jmp halt
  const code = Buffer.from([
    0xbe, 0x00, 0x00, 0xba, 0xf8, 0x03, 0xac, 0x84, 0xc0, 0x74, 0x03, 0xee, 0xeb, 0xf8, 0xfa, 0xf4, 0xeb, 0xfc,
  ]);
  const sector = Buffer.alloc(1 << 20);
  code.copy(sector, 0);
  const msgAt = code.length;
  sector.writeUInt16LE(0x7c00 + msgAt, 1);
  msg.copy(sector, msgAt);
  sector[510] = 0x55;
  sector[511] = 0xaa;
  return sector;
}

let cloud: OpenStackCloud | undefined;
let sshd: TestSshd | undefined;
let standIn: ProviderStandIn;
let run: ProgramRun;
let raw: ReturnType<typeof stackConfig>;
let providerHost: ProviderHost | undefined;
let failed = false;
/** Where the steps, run on this machine's own root, keep their records (pending actions, the settings stamp). */
const HOST_PREP_RECORDS = "/var/lib/openstack-rt";
const hadHostPrepRecords = existsSync(HOST_PREP_RECORDS);
/** Where the hostprep/ copy lands: the test sshd's user is this process's user, so this home. */
const HOSTPREP_COPY = join(homedir(), HOSTPREP_COPY_PATH);
const hadHostprepCopy = existsSync(HOSTPREP_COPY);

interface HostPlanOut {
  name: string;
  nova: { cpuDedicatedSet: string | null; cpuSharedSet: string | null; reservedHostMemoryMb: number };
}
interface NumaTopology {
  "nova_object.data": {
    cells: {
      "nova_object.data": {
        id: number;
        pcpuset: number[];
        mempages: { "nova_object.data": { size_kb: number; total: number; reserved: number; used: number } }[];
      };
    }[];
  };
}
interface ServerShow {
  status: string;
  "OS-EXT-SRV-ATTR:host": string;
  "OS-EXT-AZ:availability_zone": string;
}
interface Observed {
  check: string;
  ok: boolean;
  expected: string;
  observed: string;
  hint: string;
}
const summary = (observed: unknown) =>
  (observed as Observed[])
    .map((o) => `${o.ok ? "ok" : "FAIL"} ${o.check}${o.ok ? "" : ` (${o.observed}; ${o.hint})`}`)
    .join("; ");

/** The number of CPUs in a CPU list such as 1 or 0-3,6. */
function cpuCount(list: string): number {
  return list.split(",").reduce((n, r) => {
    const [a, b] = r.split("-").map(Number);
    return n + (b === undefined ? 1 : b - a + 1);
  }, 0);
}
const serverId = () => String((run.outputs!.servers as Record<string, { id: string }>)[SERVER].id);
/** A dynamic resource the program registered, with the inputs the provider host's check returns: what the engine stores and creates with. */
async function dynamicResource(name: string) {
  const r = run.dynamic.get(name);
  assert.ok(r, `the program registered ${name}: ${[...run.dynamic.keys()].join(", ")}`);
  const urn = `urn:pulumi:openstack::openstack-rt::${r.type}::${name}`;
  return { urn, inputs: await providerHost!.checked(urn, r.inputs) };
}
/** A host step the program registered, run again over SSH as @pulumi/command runs it: its `create` text (the copy of hostprep/ is on the host). */
async function runStepAgain(name: string, create?: string) {
  const step = run.inputs.get(`command:remote:Command ${name}`)!;
  const c = step.connection as { host: string; port: number; user: string; hostKey: string; privateKey: string };
  return runSsh(
    { host: c.host, port: c.port, user: c.user, hostKey: c.hostKey },
    { privateKey: c.privateKey },
    create ?? String(step.create),
    { commandTimeoutMs: 300_000 },
  );
}

/** The stack config the engine hands a dynamic provider: the openstack provider's settings. */
function engineConfig(): Record<string, string> {
  return {
    "openstack:authUrl": cloud!.authUrl,
    "openstack:userName": cloud!.user,
    "openstack:password": cloud!.password,
    "openstack:tenantName": cloud!.project,
    "openstack:userDomainName": "Default",
    "openstack:projectDomainName": "Default",
    "openstack:region": cloud!.region,
  };
}
async function computeService(): Promise<{ status: string; disabled_reason: string | null }> {
  const { services } = await nova<{
    services: { host: string; binary: string; status: string; disabled_reason: string | null }[];
  }>("GET", "/os-services?binary=nova-compute");
  const s = services.find((x) => x.host === HOST)!;
  say(`nova-compute on ${HOST}: ${s.status}${s.disabled_reason ? ` (${s.disabled_reason})` : ""}`);
  return s;
}

async function nova<T>(method: string, path: string, body?: unknown): Promise<T> {
  return standIn.call<T>(cloud!.computeUrl, method, path, body, { "OpenStack-API-Version": "compute 2.53" });
}
async function placement<T>(path: string): Promise<T> {
  return standIn.call<T>(cloud!.placementUrl, "GET", path, undefined, { "OpenStack-API-Version": "placement 1.26" });
}

type Inventory = Record<string, { total: number; reserved: number }>;
async function hostInventory(): Promise<Inventory | null> {
  const { resource_providers } = await placement<{ resource_providers: { uuid: string; name: string }[] }>(
    "/resource_providers",
  );
  if (resource_providers.length !== 1) return null;
  const inv = await placement<{ inventories: Inventory }>(
    `/resource_providers/${resource_providers[0].uuid}/inventories`,
  );
  return inv.inventories;
}

/** Waits until nova-compute reported `want` PCPU (it reports at start and every minute), and maps the host to its cell. */
async function waitForInventory(
  wantPcpu: number,
  timeoutMs = 240_000,
  done: (inv: Inventory) => boolean = (inv) => (inv.PCPU?.total ?? 0) === wantPcpu,
): Promise<Inventory> {
  const started = Date.now();
  for (;;) {
    const inv = await hostInventory().catch(() => null);
    if (inv && done(inv)) {
      await cloud!.novaManage("cell_v2", "discover_hosts");
      return inv;
    }
    if (Date.now() - started > timeoutMs)
      throw new Error(
        `Placement did not get PCPU=${wantPcpu} from nova-compute within ${timeoutMs / 1000} s: ${JSON.stringify(inv)}`,
      );
    await sleep(2000);
  }
}

/** Nova's NUMA topology of the host, as nova-compute last reported it. */
async function hostTopology(): Promise<NumaTopology> {
  return JSON.parse(
    await cloud!.sql(`SELECT numa_topology FROM nova.compute_nodes WHERE host='${HOST}'`),
  ) as NumaTopology;
}
/** Waits until the restarted nova-compute reported these dedicated CPUs (the totals alone would not change). */
async function waitForPcpus(want: number[], timeoutMs = 240_000): Promise<void> {
  const started = Date.now();
  for (;;) {
    const cells = (await hostTopology())["nova_object.data"].cells;
    const pcpus = cells.flatMap((c) => c["nova_object.data"].pcpuset).sort();
    if (JSON.stringify(pcpus) === JSON.stringify(want)) return;
    if (Date.now() - started > timeoutMs)
      throw new Error(
        `nova-compute did not report dedicated CPUs ${want.join(",")} within ${timeoutMs / 1000} s: ${pcpus.join(",")}`,
      );
    await sleep(2000);
  }
}

function virsh(...args: string[]): string {
  return execFileSync("virsh", ["--connect", "qemu:///system", ...args], { encoding: "utf8", timeout: 30_000 });
}
const element = (xml: string, tag: string) =>
  new RegExp(`<${tag}[\\s>][\\s\\S]*?</${tag}>|<${tag}[^>]*/>`).exec(xml)?.[0] ?? "(none)";

before(async () => {
  const missing = missingPackages();
  if (missing) throw new Error(missing);
  if (process.getuid?.() !== 0)
    throw new Error("test:openstack runs libvirtd and sets the 2 MiB page pool: run it as root");
  const started = Date.now();
  sshd = await startSshd();
  cloud = await startOpenStack({ computeHost: HOST, hugepages2m: PAGES_2M });
  say(`control plane answering after ${((Date.now() - started) / 1000).toFixed(0)} s (${cloud.dir})`);
  const imageFile = join(cloud.dir, "boot-sector.raw");
  writeFileSync(imageFile, bootSector());
  raw = stackConfig(cloud, sshd, imageFile);
  standIn = new ProviderStandIn({
    authUrl: cloud.authUrl,
    user: cloud.user,
    password: cloud.password,
    project: cloud.project,
    computeUrl: cloud.computeUrl,
    imageUrl: cloud.imageUrl,
    networkUrl: cloud.network.url,
    projectDir: PROJECT_DIR,
  });
  // A compute host of a running cloud: registered with Placement and mapped to its cell, before
  // the stack prepares it.
  await waitForInventory(0, 240_000, () => true);
  say(`nova-compute registered after ${((Date.now() - started) / 1000).toFixed(0)} s`);
  const plan = planStack(raw);
  assert.ok(plan.ok, plan.ok ? "" : formatProblems(plan.problems));
  const dedicated = plan.plan.hosts[0].nova.cpuDedicatedSet;
  const pcpus = cpuCount(dedicated);
  run = await runProgram(raw, { sshPrivateKey: sshd.userKey }, standIn, async () => {
    const inv = await waitForInventory(pcpus);
    say(`nova-compute reported to Placement: ${JSON.stringify(inv)}`);
  });
  if (run.error) {
    failed = true;
    throw run.error instanceof Error ? run.error : new Error(JSON.stringify(run.error));
  }
  say(`program applied after ${((Date.now() - started) / 1000).toFixed(0)} s`);
});

/** A test whose failure keeps the cloud's logs for the reader. */
function step(name: string, fn: () => Promise<void> | void): void {
  it(name, async () => {
    try {
      await fn();
    } catch (e) {
      failed = true;
      throw e;
    }
  });
}

after(async () => {
  await providerHost?.stop();
  if (standIn) await standIn.destroy();
  await cloud?.stop(failed);
  await sshd?.stop();
  if (!hadHostPrepRecords) rmSync(HOST_PREP_RECORDS, { recursive: true, force: true });
  if (!hadHostprepCopy) rmSync(HOSTPREP_COPY, { recursive: true, force: true });
});

describe("the program on a real OpenStack", () => {
  step("its steps wrote nova-compute's and nova-scheduler's config and restarted them", () => {
    for (const s of run.steps) say(`step ${s.name}: ${(s.stdout + s.stderr).trim().replace(/\n/g, " | ")}`);
    assert.deepEqual(run.steps.map((s) => s.name).sort(), [`${HOST}-nova-compute`, "controller-scheduler"]);
    // Each setting reported on its own line, naming the file (a real run once showed "...conf0").
    const report = run.steps.find((s) => s.name === `${HOST}-nova-compute`)!.stdout;
    for (const line of ["cpu_dedicated_set = 1", "cpu_shared_set = 0"])
      assert.ok(report.split("\n").includes(`set [compute] ${line} in ${cloud!.computeConf}`), report);
    const conf = readFileSync(cloud!.computeConf, "utf8");
    assert.match(conf, /^cpu_dedicated_set = 1$/m);
    assert.match(conf, /^cpu_shared_set = 0$/m);
    assert.match(conf, /^reserved_huge_pages = node:0,size:2MB,count:16$/m);
    assert.match(
      readFileSync(cloud!.schedulerConf, "utf8"),
      /^enabled_filters = .*NUMATopologyFilter,AggregateInstanceExtraSpecsFilter$/m,
    );
  });

  step("Placement's inventory of the host and Nova's reserved pages are the plan's", async () => {
    const host = (run.outputs!.hostPlans as HostPlanOut[]).find((h) => h.name === HOST)!;
    const inv = (await hostInventory())!;
    say(`inventory: ${JSON.stringify(inv)}`);
    assert.equal(inv.PCPU.total, cpuCount(host.nova.cpuDedicatedSet!));
    assert.equal(inv.VCPU.total, cpuCount(host.nova.cpuSharedSet!));
    assert.equal(inv.MEMORY_MB.reserved, host.nova.reservedHostMemoryMb);
    // Nova keeps huge pages out of Placement: its NUMA topology of the host has them.
    const topo = JSON.parse(
      await cloud!.sql(`SELECT numa_topology FROM nova.compute_nodes WHERE host='${HOST}'`),
    ) as NumaTopology;
    const pages = topo["nova_object.data"].cells.flatMap((c) =>
      c["nova_object.data"].mempages.map((p) => ({ node: c["nova_object.data"].id, ...p["nova_object.data"] })),
    );
    const twoMb = pages.filter((p) => p.size_kb === 2048);
    say(`2 MiB pages Nova sees: ${JSON.stringify(twoMb)}`);
    assert.deepEqual(
      twoMb.map((p) => [p.node, p.total, p.reserved]),
      [[0, PAGES_2M, RESERVED_2M]],
    );
  });

  step(
    "the RT server is ACTIVE on the RT host, in the aggregate's zone, with the domain libvirt built from the flavor",
    async () => {
      const id = serverId();
      const s = (await nova<{ server: ServerShow }>("GET", `/servers/${id}`)).server;
      say(`server ${SERVER}: ${s.status} on ${s["OS-EXT-SRV-ATTR:host"]} in ${s["OS-EXT-AZ:availability_zone"]}`);
      assert.equal(s.status, "ACTIVE");
      assert.equal(s["OS-EXT-SRV-ATTR:host"], HOST);
      assert.equal(s["OS-EXT-AZ:availability_zone"], ZONE);
      const xml = virsh("dumpxml", id);
      for (const tag of ["cputune", "numatune", "memoryBacking"])
        say(`domain <${tag}>: ${element(xml, tag).replace(/\s+/g, " ")}`);
      assert.match(xml, /<vcpusched vcpus='1' scheduler='fifo' priority='1'\/>/);
      assert.match(xml, /<vcpupin vcpu='1' cpuset='1'\/>/);
      assert.match(xml, /<page size='2048' unit='KiB'/);
      assert.match(xml, /<locked\/>/);
    },
  );

  step("a flavor the planner says does not fit gets NoValidHost from the real scheduler", async () => {
    const big = { name: "rt2.local", vcpus: 2, ramMb: 128, diskGb: 1, pageSize: "2MB", realtime: { mask: "^0" } };
    const planned = planStack({ ...raw, flavors: [...raw.flavors, big], servers: [] });
    assert.ok(!planned.ok);
    const problem = formatProblems(planned.problems);
    say(`the planner: ${problem.replace(/\n\s*/g, " ")}`);
    assert.match(problem, /flavor "rt2.local" fits on no RT host/);
    // The same flavor, with the extra specs the planner gives it, created and booted as the program would.
    const parsed = parseStackConfig({ ...raw, flavors: [big] });
    assert.ok(parsed.ok);
    const { specs, problems } = flavorExtraSpecs(parsed.config.flavors[0], parsed.config.aggregate, "flavors[0]");
    assert.deepEqual(problems, []);
    say(`its extra specs: ${JSON.stringify(specs)}`);
    const registered = [...run.inputs].find(([k]) => k.startsWith("openstack:compute/flavor:Flavor "))![1];
    const flavor = await standIn.create("openstack:compute/flavor:Flavor", {
      ...registered,
      name: big.name,
      vcpus: big.vcpus,
      extraSpecs: specs,
    });
    const instance = run.inputs.get(`openstack:compute/instance:Instance openstack-rt-${SERVER}-instance`)!;
    await assert.rejects(
      standIn.create("openstack:compute/instance:Instance", { ...instance, name: "rt2-server", flavorId: flavor.id }),
      (e: Error) => {
        say(`the scheduler: ${e.message}`);
        return /No valid host was found/.test(e.message);
      },
    );
  });

  step(
    "the domain check, run by Pulumi's dynamic-provider host with the program's provider, passes on the real domain",
    async () => {
      providerHost = await startProviderHost({ env: { SSH_AUTH_SOCK: "" } });
      await providerHost.configure({ ...engineConfig(), "openstack-rt:sshPrivateKey": sshd!.userKey });
      const check = await dynamicResource(`${SERVER}-domain-verification`);
      assert.equal(check.inputs.serverId, serverId());
      const { properties } = await providerHost.create(check.urn, check.inputs);
      say(`domain check: passed=${String(properties.passed)} ${summary(properties.observed)}`);
      assert.equal(properties.passed, true);
    },
  );

  step(
    "host maintenance disables the real nova-compute, `refuse` stops on the running server, and the end enables it again",
    async () => {
      const start = await dynamicResource(`${HOST}-maintenance`);
      await assert.rejects(providerHost!.create(start.urn, start.inputs), (e: Error) => {
        say(`maintenance start (refuse): ${e.message}`);
        return e.message.includes(serverId()) || e.message.includes(SERVER);
      });
      assert.equal((await computeService()).status, "disabled");
      const end = await dynamicResource(`${HOST}-maintenance-end`);
      const { properties } = await providerHost!.create(end.urn, { ...end.inputs, disabledByStack: true });
      say(`maintenance end: ${JSON.stringify(properties.report)}`);
      assert.equal((await computeService()).status, "enabled");
    },
  );

  step(
    "the domain check fails with its hint on a server booted after cpu_dedicated_set was changed behind the stack's back",
    async () => {
      // The running guest goes first: nova-compute stops accounting a host whose guest is pinned
      // outside its dedicated set (CPUPinningUnknown on every resource update), so the scheduler
      // would never see the changed set.
      await standIn.delete("openstack:compute/instance:Instance", serverId());
      const conf = readFileSync(cloud!.computeConf, "utf8");
      writeFileSync(
        cloud!.computeConf,
        conf
          .replace(/^cpu_dedicated_set = 1$/m, "cpu_dedicated_set = 0")
          .replace(/^cpu_shared_set = 0$/m, "cpu_shared_set = 1"),
      );
      const [restart, ...restartArgs] = cloud!.computeRestart.split(" ");
      execFileSync(restart, restartArgs);
      let moved: { id: string } | undefined;
      try {
        await waitForPcpus([0]);
        const instance = run.inputs.get(`openstack:compute/instance:Instance openstack-rt-${SERVER}-instance`)!;
        moved = await standIn.create("openstack:compute/instance:Instance", { ...instance, name: "rt-moved" });
        const xml = virsh("dumpxml", moved.id);
        say(`domain booted under the changed set: ${element(xml, "cputune").replace(/\s+/g, " ")}`);
        const check = await dynamicResource(`${SERVER}-domain-verification`);
        // A failed check fails the resource: the engine shows the operator this table and hints.
        await assert.rejects(providerHost!.create(check.urn, { ...check.inputs, serverId: moved.id }), (e: Error) => {
          say(`domain check through the provider host:\n${e.message.replace(/^/gm, "#   ")}`);
          return (
            /vCPU 1 is pinned to pCPU 0, outside cpu_dedicated_set 1: check \[compute\] cpu_dedicated_set/.test(
              e.message,
            ) && /NOT OK/.test(e.message)
          );
        });
      } finally {
        if (moved) await standIn.delete("openstack:compute/instance:Instance", moved.id);
        // Put back as the stack has it: the program's own step, run again, writes and restarts.
        const again = await runStepAgain(`${HOST}-nova-compute`);
        const said = (again.stdout + again.stderr).trim();
        say(`nova-compute step run again: ${said.replace(/\n/g, " | ")}`);
        assert.equal(again.code, 0, said);
        assert.match(said, /set \[compute\] cpu_dedicated_set = 1/);
        await waitForPcpus([1]);
      }
    },
  );

  step(
    "scheduler filters taken out behind the stack's back: the verify-mode step names them, the edit-mode step puts them back",
    async () => {
      const conf = readFileSync(cloud!.schedulerConf, "utf8");
      writeFileSync(cloud!.schedulerConf, conf.replace(/,NUMATopologyFilter,AggregateInstanceExtraSpecsFilter$/m, ""));
      // What the program runs with nova.configMode verify (a deployment tool owns the file).
      const [verify] = controllerSteps({
        ssh: { host: "127.0.0.1", port: sshd!.port, user: sshd!.user, hostKey: sshd!.hostKeyPub },
        nova: { configMode: "verify", configPath: cloud!.schedulerConf },
      });
      const checked = await runStepAgain("controller-scheduler", remoteCommand(verify, hostprepCopyName("controller")));
      const said = (checked.stdout + checked.stderr).trim();
      say(`scheduler step, verify mode: exit ${checked.code}: ${said}`);
      assert.notEqual(checked.code, 0);
      assert.match(said, /enabled_filters in \S+ lacks NUMATopologyFilter AggregateInstanceExtraSpecsFilter/);
      const fixed = await runStepAgain("controller-scheduler");
      const fixedSaid = (fixed.stdout + fixed.stderr).trim();
      say(`scheduler step, edit mode: ${fixedSaid.replace(/\n/g, " | ")}`);
      assert.equal(fixed.code, 0, fixedSaid);
      assert.match(fixedSaid, /added NUMATopologyFilter AggregateInstanceExtraSpecsFilter/);
      assert.match(fixedSaid, /restarted: pid \d+ -> \d+/);
    },
  );
  step(
    "nova-compute not restarted after its settings changed: the host check, through the provider host, says so",
    async () => {
      const check = await dynamicResource(`${HOST}-verification`);
      // On this machine other rows fail (no RT kernel, no TuneD profile): only this row is read.
      const row = async () => {
        const text = await providerHost!.create(check.urn, check.inputs).then(
          (r) => summary(r.properties.observed),
          (e: Error) => e.message,
        );
        return { text, line: (text.split("\n").find((l) => l.includes("nova-compute runs nova.conf")) ?? "").trim() };
      };
      const ran = await row();
      say(`host check: ${ran.line}`);
      assert.match(ran.line, /^(PASS|ok)\s+nova-compute runs nova\.conf/);
      // The nova-compute step cut off between its edit and its restart: a new reservation written,
      // a restart that does nothing.
      const step = run.inputs.get(`command:remote:Command ${HOST}-nova-compute`)!;
      const cut = String(step.create)
        .replace(cloud!.computeRestart, "/bin/true")
        .replace(/(--reserved-host-memory-mb'? '?)1024\b/, "$11025");
      assert.ok(cut.includes("/bin/true") && cut.includes("1025"), cut);
      await sleep(1100); // the check compares times to the second
      const edited = await runStepAgain(`${HOST}-nova-compute`, cut);
      assert.equal(edited.code, 0, edited.stdout + edited.stderr);
      const stale = await row();
      say(`host check after the cut-off step: ${stale.line}`);
      assert.match(stale.line, /^(FAIL|FAIL\S*)\s+nova-compute runs nova\.conf/);
      assert.match(stale.text, /restart nova-compute \(.*\) so that it reads nova\.conf/);
      // The program's step, run again, writes the planned value back and restarts nova-compute.
      const again = await runStepAgain(`${HOST}-nova-compute`);
      assert.equal(again.code, 0, again.stdout + again.stderr);
      assert.match(again.stdout + again.stderr, /restarted: pid \d+ -> \d+/);
      const fixed = await row();
      say(`host check after the step ran again: ${fixed.line}`);
      assert.match(fixed.line, /^(PASS|ok)\s+nova-compute runs nova\.conf/);
    },
  );
});
