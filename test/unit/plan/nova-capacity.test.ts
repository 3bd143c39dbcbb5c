/**
 * The Nova model when servers pile up: capacity() and the server booking (novaVerdict + consume,
 * as the planner books servers one after another) against Nova itself, booting servers of the
 * flavor on one empty host until Nova refuses one (../shared/nova-oracle/nova_capacity.py: Nova's
 * functional stack, Zed 26.2.2). The fixtures are committed; regenerate them with
 * `/usr/bin/python3 test/fixtures/nova/capacity/generate.py` (see its header).
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { NovaFlavor } from "../../../lib/plan/nova/model";
import { capacity, consume, emptyUsage, novaVerdict } from "../../../lib/plan/nova/model";
import { planStack } from "../../../lib/plan/stack";
import { devRaw } from "../../support/dev-config";
import type { OracleInput } from "../../support/oracle-case";
import { toNovaHost } from "../../support/oracle-case";

interface CapacityCase {
  name: string;
  description: string;
  input: OracleInput;
  nova: {
    capacity: number;
    stop_reason: string;
    servers: { host_cells: number[]; pagesize_kb: (number | null)[]; pinning: Record<string, number> }[];
  };
}

const DIR = join(__dirname, "..", "..", "fixtures", "nova", "capacity", "cases");
const cases: CapacityCase[] = readdirSync(DIR)
  .filter((f) => f.endsWith(".json"))
  .sort()
  .map((f) => JSON.parse(readFileSync(join(DIR, f), "utf8")) as CapacityCase);

const flavorOf = (c: CapacityCase): NovaFlavor => ({
  vcpus: c.input.flavor.vcpus,
  ramMb: c.input.flavor.ram_mb,
  extraSpecs: c.input.flavor.extra_specs,
});

describe("Nova capacity fixtures", () => {
  it("cover what the issue asks for: at least 15 cases, SMT, thread and emulator policies, page sizes, 2 nodes, reserved pages", () => {
    assert.ok(cases.length >= 15, `${cases.length} cases`);
    const specs = cases.map((c) => c.input.flavor.extra_specs);
    const has = (k: string, v?: string) => specs.some((s) => (v === undefined ? k in s : s[k] === v));
    assert.ok(cases.some((c) => c.input.host.cells.some((cell) => (cell.siblings ?? []).length > 0)));
    for (const p of ["isolate", "require"]) assert.ok(has("hw:cpu_thread_policy", p), p);
    for (const p of ["isolate", "share"]) assert.ok(has("hw:emulator_threads_policy", p), p);
    for (const p of ["1GB", "2MB", "large"]) assert.ok(has("hw:mem_page_size", p), p);
    assert.ok(has("hw:numa_nodes", "2"));
    assert.ok(cases.some((c) => (c.input.nova_conf?.DEFAULT?.reserved_huge_pages ?? []).length > 0));
    assert.ok(cases.some((c) => c.input.host.cpu_dedicated_set === null && has("hw:cpu_thread_policy", "isolate")));
    assert.ok(
      cases.every((c) => c.nova.capacity > 0 && c.nova.capacity < 40),
      "every case stops before the limit",
    );
  });

  for (const c of cases) {
    it(`${c.name}: ${c.description}`, () => {
      const host = toNovaHost(c.input);
      const flavor = flavorOf(c);
      const props = c.input.image_props ?? {};
      assert.equal(capacity(flavor, host, props), c.nova.capacity, "capacity()");
      // The booking: one server after another, each where Nova would still take it.
      const usage = emptyUsage();
      const cells: number[][] = [];
      for (;;) {
        const v = novaVerdict(flavor, host, props, usage);
        if (v.outcome !== "fits" || cells.length > 64) break;
        consume(usage, v.request, v.placement, host);
        cells.push((v.placement?.cells ?? []).map((x) => x.hostCell));
      }
      assert.equal(cells.length, c.nova.capacity, "servers booked");
      assert.deepEqual(
        cells.map((x) => [...x].sort()),
        c.nova.servers.map((s) => [...s.host_cells].sort()),
        "each server's host cells",
      );
    });
  }
});

describe("booking with thread policy isolate", () => {
  it("marks the whole core of each pinned CPU and of the emulator CPU as used (pin_cpus_with_siblings)", () => {
    const c = cases.find((x) => x.name === "smt_isolate_legacy_emulator")!;
    const host = toNovaHost(c.input);
    const usage = emptyUsage();
    const v = novaVerdict(flavorOf(c), host, {}, usage);
    assert.equal(v.outcome, "fits");
    if (v.outcome !== "fits" || !v.placement) return;
    consume(usage, v.request, v.placement, host);
    const cell = v.placement.cells[0];
    const used = [...Object.values(cell.pinning), ...cell.reserved];
    const cores = host.cells.flatMap((x) => x.siblings).filter((core) => core.some((cpu) => used.includes(cpu)));
    assert.equal(cores.length, 3, "two pinned vCPUs and the emulator CPU, each on its own core");
    assert.deepEqual(
      [...usage.pinned].sort((a, b) => a - b),
      cores.flat().sort((a, b) => a - b),
    );
    // A later prefer guest gets none of those cores' sibling threads.
    const prefer = { vcpus: 2, ramMb: 1024, extraSpecs: { "hw:cpu_policy": "dedicated", "hw:mem_page_size": "1GB" } };
    const next = novaVerdict(prefer, host, {}, usage);
    assert.equal(next.outcome, "fits");
    if (next.outcome !== "fits" || !next.placement) return;
    for (const p of Object.values(next.placement.cells[0].pinning)) assert.ok(!usage.pinned.has(p), `CPU ${p}`);
  });
});

describe("a planned host with 2 MiB pages beside its 1 GiB pages, as Nova sees it", () => {
  // The fixture was generated with the values this plan writes: reserved_huge_pages in the
  // plan's own spelling (size:2MB), so it also shows that Nova parses that spelling.
  const c = cases.find((x) => x.name === "dev_2m_beside_1g")!;
  const raw = devRaw();
  for (const h of raw.hosts)
    Object.assign(h, { hugepages2mPerNode: 256, reservedHugepages2mPerNode: 64, reservedHostMemoryMb: 512 });
  raw.flavors.push({ name: "pin2m.tiny", vcpus: 1, ramMb: 128, realtime: false, pageSize: "2MB" });
  const r = planStack(raw);
  if (!r.ok) throw new Error(r.problems.map((p) => `${p.path}: ${p.message}`).join("\n"));
  const host = r.plan.hosts.find((h) => h.name === "compute-rt-01")!;

  it("writes the reserved pages as the fixture gave them to Nova", () => {
    assert.deepEqual(
      host.nova.reservedHugePages,
      (c.input.nova_conf?.DEFAULT?.reserved_huge_pages ?? []).map(
        (p) => `node:${p.node},size:${p.size},count:${p.count}`,
      ),
    );
  });

  it("plans the flavor's extra specs and the capacity Nova reached", () => {
    const flavor = r.plan.flavors.find((f) => f.name === "pin2m.tiny")!;
    // The aggregate key is for the scheduler's aggregate filter; Nova's NUMA fitting reads the rest.
    const { "aggregate_instance_extra_specs:realtime": aggregate, ...specs } = flavor.extraSpecs;
    assert.equal(aggregate, "true");
    assert.deepEqual(specs, c.input.flavor.extra_specs);
    assert.equal(flavor.hosts.find((h) => h.host === host.name)!.capacity, c.nova.capacity);
    assert.deepEqual(
      host.nodes.map((n) => [n.hugepages1g, n.hugepages2m]),
      c.input.host.cells.map((cell) => [cell.hugepages_1g, cell.hugepages_2m]),
    );
  });
});
