/**
 * `npm run bench` (program part): the whole program, index.ts with the real ComputeHost, host,
 * domain and guest checks and cloud objects, evaluated under the SDK's mocks for a generated stack:
 * the dev stack's two hosts repeated to 25, 100 and 400 hosts, one server per host (unpinned, so
 * every RT host is a candidate of every server). Each size runs in a fresh node started with
 * Pulumi.yaml's nodeargs, as the language host starts the program, after the program's modules
 * are loaded (the cold load is load-bench.ts's). Prints wall, CPU, peak RSS, the resources, the
 * bytes of their inputs (about half the state: the outputs repeat them) by type, the bytes of the
 * serialized `__provider` texts, the ratios 100/25 and 400/100, and the goals.
 */
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";
import * as pulumi from "@pulumi/pulumi";
import { CONFIG_NAMESPACE } from "../lib/config/schema";
import { unfoldPlainInputs } from "../lib/providers/plain-inputs";
import { devRaw, PROJECT_DIR } from "../test/support/dev-config";
import { onRegister } from "../test/support/mock-monitor";
import { computedState } from "../test/support/mock-state";
import { childEnv, nodeArgsOf, projectInfo } from "../test/support/pulumi-program";

const SIZES = [25, 100, 400] as const;
const GOALS = { cpuMs100: 5000, rssMb100: 400, linearRatio: 4.5, inputsMb100: 5 };

export interface ProgramFigures {
  hosts: number;
  servers: number;
  ms: number;
  cpuMs: number;
  peakRssMb: number;
  resources: number;
  inputBytes: number;
  byType: Record<string, { count: number; bytes: number }>;
  providerBytes: number;
  /** Dependency URNs the engine records with each resource (state `dependencies`), in all and by type. */
  dependencies: { urns: number; bytes: number; byType: Record<string, number> };
  /** The largest input of one resource, by type: what grows per resource. */
  largest: Record<string, number>;
}

/** The dev stack with its hosts repeated to `hosts` (distinct names and addresses) and one rt1.small server per host. */
export function fleetStack(hosts: number): Record<string, unknown> {
  const dev = devRaw();
  const fleet = Array.from({ length: hosts }, (_, i) => {
    const base = structuredClone(dev.hosts[i % dev.hosts.length]) as { ssh: Record<string, unknown> };
    return {
      ...base,
      name: `compute-rt-${String(i + 1).padStart(3, "0")}`,
      ssh: { ...base.ssh, host: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` },
    };
  });
  const servers = fleet.map((_, i) => ({ name: `rt-server-${String(i + 1).padStart(3, "0")}`, flavor: "rt1.small" }));
  return { ...dev, hosts: fleet, servers };
}

/** Evaluates index.ts for `raw` under mocks in this process; its modules must not be loaded yet. */
async function evaluate(raw: Record<string, unknown>): Promise<ProgramFigures> {
  const figures = { resources: 0, inputBytes: 0, providerBytes: 0 };
  const byType: ProgramFigures["byType"] = {};
  const largest: Record<string, number> = {};
  await pulumi.runtime.setMocks(
    {
      newResource: (a) => {
        const inputs = a.inputs as Record<string, unknown>;
        const bytes = Buffer.byteLength(JSON.stringify(inputs));
        const provider = typeof inputs.__provider === "string" ? Buffer.byteLength(inputs.__provider) : 0;
        figures.resources += 1;
        figures.inputBytes += bytes;
        figures.providerBytes += provider;
        const t = (byType[a.type] ??= { count: 0, bytes: 0 });
        t.count += 1;
        t.bytes += bytes;
        largest[a.type] = Math.max(largest[a.type] ?? 0, bytes);
        // Nova places server rt-server-N on host compute-rt-N (fleetStack's names).
        const placed = a.type.endsWith(":ServerHost")
          ? { host: a.name.replace(/^rt-server-(\d+)-.*/, "compute-rt-$1") }
          : {};
        const state = { ...unfoldPlainInputs(inputs), ...computedState(a.type, a.name, figures.resources), ...placed };
        return { id: `${a.name}-id`, state };
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
  const dependencies: ProgramFigures["dependencies"] = { urns: 0, bytes: 0, byType: {} };
  onRegister((req) => {
    const urns = req.getDependenciesList();
    dependencies.urns += urns.length;
    dependencies.bytes += urns.reduce((sum, u) => sum + Buffer.byteLength(u) + 3, 0);
    dependencies.byType[req.getType()] = (dependencies.byType[req.getType()] ?? 0) + urns.length;
  });
  pulumi.runtime.setAllConfig(
    Object.fromEntries(Object.entries(raw).map(([k, v]) => [`${CONFIG_NAMESPACE}:${k}`, JSON.stringify(v)])),
  );
  const load = createRequire(__filename);
  // Every module the program imports, loaded before the clock starts: this measures the evaluation.
  for (const m of ["../components/host/compute-host", "../components/cloud/rt-cloud", "../lib/desired/from-pulumi"])
    load(m);
  for (const m of ["../components/checks/domain-verification", "../components/checks/guest-verification"]) load(m);
  for (const m of ["../components/checks/host-verification", "../components/host/controller"]) load(m);
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  const program = load("../index") as Record<string, pulumi.Output<unknown>>;
  await Promise.all(Object.values(program).map((o) => new Promise((resolve) => o.apply(resolve))));
  await pulumi.runtime.disconnect();
  const ms = performance.now() - start;
  const cpu = process.cpuUsage(cpuBefore);
  const hosts = (raw.hosts as unknown[]).length;
  return {
    hosts,
    servers: (raw.servers as unknown[]).length,
    ms,
    cpuMs: (cpu.user + cpu.system) / 1000,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    ...figures,
    dependencies,
    byType,
    largest,
  };
}

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(2)} MB`;
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

function print(r: ProgramFigures): void {
  console.log(
    `program: ${r.hosts} hosts / ${r.servers} servers: ${r.resources} resources in ${r.ms.toFixed(0)} ms ` +
      `(cpu ${r.cpuMs.toFixed(0)} ms), peak rss ${r.peakRssMb.toFixed(0)} MB; resource inputs ${mb(r.inputBytes)}, ` +
      `of which __provider ${mb(r.providerBytes)}; dependency URNs ${r.dependencies.urns} (${mb(r.dependencies.bytes)} in state)`,
  );
  const deps = Object.entries(r.dependencies.byType).sort(([, a], [, b]) => b - a);
  console.log(
    `  dependency URNs by type: ${deps
      .slice(0, 3)
      .map(([t, n]) => `${t} ${n}`)
      .join(", ")}`,
  );
  const types = Object.entries(r.byType).sort(([, a], [, b]) => b.bytes - a.bytes);
  for (const [type, t] of types.slice(0, 8))
    console.log(
      `  ${type}: ${t.count} x ${kb(t.bytes / t.count)} average (${kb(r.largest[type])} largest) = ${mb(t.bytes)}`,
    );
}

function ratio(a: number, b: number): string {
  return `x${(a / b).toFixed(2)}`;
}

function main(): void {
  // Each size in a node started with Pulumi.yaml's nodeargs, as the language host starts the program.
  const nodeArgs = nodeArgsOf(projectInfo(PROJECT_DIR).runtimeOptions);
  const results = SIZES.map((hosts) => {
    const child = spawnSync(process.execPath, [...nodeArgs, __filename, "--hosts", String(hosts)], {
      encoding: "utf8",
      cwd: PROJECT_DIR,
      env: childEnv(),
      maxBuffer: 64 * 2 ** 20,
    });
    if (child.status !== 0) throw new Error(`program bench at ${hosts} hosts failed:\n${child.stderr}`);
    const r = JSON.parse(child.stdout.trim().split("\n").at(-1)!) as ProgramFigures;
    print(r);
    return r;
  });
  const [small, medium, large] = results;
  const line = (from: ProgramFigures, to: ProgramFigures) =>
    `${to.hosts}/${from.hosts}: time ${ratio(to.ms, from.ms)}, cpu ${ratio(to.cpuMs, from.cpuMs)}, ` +
    `peak rss ${ratio(to.peakRssMb, from.peakRssMb)}, resources ${ratio(to.resources, from.resources)}, ` +
    `inputs ${ratio(to.inputBytes, from.inputBytes)} (for x${to.hosts / from.hosts} hosts and servers)`;
  console.log(`growth ${line(small, medium)}`);
  console.log(`growth ${line(medium, large)}`);
  const goal = (ok: boolean) => (ok ? "met" : "NOT met");
  const linear = Math.max(large.cpuMs / medium.cpuMs, large.peakRssMb / medium.peakRssMb);
  console.log(
    `goals: 100/100 under ${GOALS.cpuMs100} ms cpu and ${GOALS.rssMb100} MB rss: ${goal(medium.cpuMs < GOALS.cpuMs100 && medium.peakRssMb < GOALS.rssMb100)}; ` +
      `400/400 within x${GOALS.linearRatio} of 100/100 (cpu, rss): ${goal(linear <= GOALS.linearRatio)} (x${linear.toFixed(2)}); ` +
      `inputs under ${GOALS.inputsMb100} MB at 100/100: ${goal(medium.inputBytes < GOALS.inputsMb100 * 2 ** 20)}; ` +
      `inputs O(hosts + servers), 400/100 at most x4.4: ${goal(large.inputBytes / medium.inputBytes <= 4.4)}`,
  );
}

const hostsArg = process.argv.indexOf("--hosts");
if (hostsArg > 0)
  void evaluate(fleetStack(Number(process.argv[hostsArg + 1]))).then((r) => console.log(JSON.stringify(r)));
else if (require.main === module) main();
