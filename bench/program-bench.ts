/**
 * `npm run bench` (program part): evaluates the whole program under the SDK's mocks, the way
 * index.ts runs it (config -> decideStack -> RtCloud, every resource registered), for a generated stack
 * of 100 hosts, 20 flavors and 100 servers, and at a quarter and half of that to show how it
 * grows, each size in its own process. Every server waits for the readiness of the hosts it may land on, as with host prep
 * wired in. Prints wall time and memory. Target: under 10 s at full size, linear in size.
 */
import { spawnSync } from "node:child_process";
import { performance } from "node:perf_hooks";
import * as pulumi from "@pulumi/pulumi";
import type { HostReadiness } from "../components/cloud/rt-cloud";
import { RtCloud } from "../components/cloud/rt-cloud";
import { CONFIG_NAMESPACE } from "../lib/config/schema";
import { planFromPulumiConfig } from "../lib/desired/from-pulumi";
import { devRaw } from "../test/support/dev-config";

/** Stands in for a host's prep and checks. */
class HostReady extends pulumi.CustomResource {
  constructor(name: string) {
    super("bench:host:Ready", name, {});
  }
}

// Two NUMA nodes of 16 cores (SMT off) and 64 GiB, 2 housekeeping CPUs and 24 pages of 1 GiB per node.
function host(i: number) {
  const node = (id: number) => ({ id, cpus: `${id * 16}-${id * 16 + 15}`, memoryMb: 65536 });
  return {
    name: `compute-${String(i).padStart(3, "0")}`,
    ssh: { host: `10.0.${i >> 8}.${i & 255}` },
    os: i % 2 ? "debian-12" : "rhel-9",
    topology: { nodes: [node(0), node(1)] },
    hugepages1gPerNode: 24,
  };
}

function flavor(i: number) {
  const vcpus = [2, 3, 4, 6][i % 4];
  return {
    name: `rt${i}.bench`,
    vcpus,
    ramMb: 1024 * (1 + (i % 3)),
    realtime: { housekeepingVcpus: 1 },
    isPublic: i % 5 !== 0,
  };
}

function stack(hosts: number, flavors: number, servers: number): Record<string, unknown> {
  return {
    ...devRaw(),
    hosts: Array.from({ length: hosts }, (_, i) => host(i)),
    flavors: Array.from({ length: flavors }, (_, i) => flavor(i)),
    // Every fourth server pinned to a host, every tenth with a floating IP.
    servers: Array.from({ length: servers }, (_, i) => ({
      name: `rt-${i}`,
      flavor: `rt${i % flavors}.bench`,
      ...(i % 4 === 0 ? { host: host(i % hosts).name } : {}),
      ...(i % 10 === 0 ? { floatingIpPool: "public" } : {}),
    })),
  };
}

async function run(
  hosts: number,
  flavors: number,
  servers: number,
): Promise<{ ms: number; cpuMs: number; resources: number; heapMb: number }> {
  let resources = 0;
  await pulumi.runtime.setMocks(
    {
      newResource: (a) => {
        resources += 1;
        return {
          id: `${a.name}-id`,
          state: {
            ...(a.inputs as Record<string, unknown>),
            accessIpV4: "10.0.0.1",
            address: "203.0.113.1",
            fingerprint: "SHA256:bench",
          },
        };
      },
      call: (a) =>
        a.token === "openstack:identity/getAuthScope:getAuthScope"
          ? { projectId: "bench" }
          : (a.inputs as Record<string, unknown>),
    },
    "openstack-rt",
    "bench",
    false,
  );
  const raw = stack(hosts, flavors, servers);
  pulumi.runtime.setAllConfig(
    Object.fromEntries(Object.entries(raw).map(([k, v]) => [`${CONFIG_NAMESPACE}:${k}`, JSON.stringify(v)])),
  );
  const heapBefore = process.memoryUsage().heapUsed;
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  const { config, plan, cloud: decisions } = planFromPulumiConfig(new pulumi.Config());
  const hostReadiness: Record<string, HostReadiness> = {};
  for (const h of config.hosts) {
    const ready = new HostReady(`ready-${h.name}`);
    hostReadiness[h.name] = { resources: [ready], aggregateHost: ready.id.apply(() => h.name) };
  }
  const cloud = new RtCloud("openstack-rt", { config, plan, decisions, hostReadiness });
  await new Promise((resolve) => pulumi.output(cloud.outputs).apply(resolve));
  await pulumi.runtime.disconnect();
  const ms = performance.now() - start;
  const cpu = process.cpuUsage(cpuBefore);
  return {
    ms,
    cpuMs: (cpu.user + cpu.system) / 1000,
    resources,
    heapMb: (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20,
  };
}

/** One size, measured in this process after a warm-up: prints one JSON line. */
async function measure(scale: number): Promise<void> {
  await run(8, 4, 8); // warm-up: JIT and module loading are not what is measured
  const [hosts, flavors, servers] = [100 * scale, 20 * scale, 100 * scale];
  const r = await run(hosts, flavors, servers);
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  console.log(JSON.stringify({ hosts, flavors, servers, ...r, peakRssMb }));
}

/** Each size in a fresh process, so that one size's garbage does not bill the next. */
function main(): void {
  const results = [0.25, 0.5, 1].map((scale) => {
    const child = spawnSync(process.execPath, [...process.execArgv, __filename, "--scale", String(scale)], {
      encoding: "utf8",
    });
    if (child.status !== 0) throw new Error(`bench at scale ${scale} failed:\n${child.stderr}`);
    const r = JSON.parse(child.stdout.trim().split("\n").at(-1)!) as {
      hosts: number;
      flavors: number;
      servers: number;
      ms: number;
      cpuMs: number;
      resources: number;
      heapMb: number;
      peakRssMb: number;
    };
    // CPU time next to wall time: on a busy machine the wall time also counts other processes.
    console.log(
      `program: ${r.hosts} hosts x ${r.flavors} flavors x ${r.servers} servers: ${r.resources} resources in ${r.ms.toFixed(0)} ms ` +
        `(cpu ${r.cpuMs.toFixed(0)} ms), heap +${r.heapMb.toFixed(0)} MB, peak rss ${r.peakRssMb.toFixed(0)} MB`,
    );
    return r;
  });
  const [quarter, , full] = results;
  console.log(
    `growth 25 -> 100 hosts: x${(full.ms / quarter.ms).toFixed(1)} the time, x${(full.cpuMs / quarter.cpuMs).toFixed(1)} the cpu, for x4 the size ` +
      "(target: < 10000 ms at 100 hosts, linear)",
  );
}

const scaleArg = process.argv.indexOf("--scale");
if (scaleArg > 0) void measure(Number(process.argv[scaleArg + 1]));
else main();
