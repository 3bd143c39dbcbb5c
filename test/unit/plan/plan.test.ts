import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { FlavorPlan, StackPlan } from "../../../lib/plan/stack";
import { planStack } from "../../../lib/plan/stack";
import type { HostPlan } from "../../../lib/plan/host";
import { pickHousekeeping } from "../../../lib/plan/housekeeping";
import { devRaw } from "../../support/dev-config";
import { renderPlan } from "../../../lib/render/plan-text";

function plan(raw: Record<string, unknown>): StackPlan {
  const r = planStack(raw);
  if (!r.ok) assert.fail(r.problems.map((p) => `${p.path}: ${p.message}`).join("\n"));
  return r.plan;
}

function problems(raw: Record<string, unknown>) {
  const r = planStack(raw);
  assert.equal(r.ok, false, "expected problems");
  return r.ok ? [] : r.problems;
}

const host = (p: StackPlan, name: string) => p.hosts.find((h) => h.name === name) as HostPlan;
const flavor = (p: StackPlan, name: string) => p.flavors.find((f) => f.name === name) as FlavorPlan;

describe("the dev stack's plan (the seed deployment)", () => {
  const p = plan(devRaw());

  it("isolates 4-11 with two housekeeping CPUs per node and 4 pages per node", () => {
    const h = host(p, "compute-rt-01");
    assert.equal(h.housekeeping, "0-3");
    assert.equal(h.isolated, "4-11");
    assert.equal(h.tuned.isolatedCores, "4-11");
    assert.equal(h.nova.cpuDedicatedSet, "4-11");
    assert.equal(h.nova.cpuSharedSet, null);
    assert.deepEqual(
      h.nodes.map((n) => [n.housekeeping, n.isolated]),
      [
        ["0,2", "4,6,8,10"],
        ["1,3", "5,7,9,11"],
      ],
    );
    assert.deepEqual(h.hugepages.sizes[0].perNode, [
      { node: 0, count: 4 },
      { node: 1, count: 4 },
    ]);
  });

  it("puts per-node hugepages on the command line of a 6.1 kernel, and a boot unit on RHEL 9's 5.14", () => {
    assert.deepEqual(host(p, "compute-rt-01").kernel.args, [
      "default_hugepagesz=1G",
      "hugepagesz=1G",
      "hugepages=0:4,1:4",
    ]);
    assert.equal(host(p, "compute-rt-02").hugepages.method, "boot-unit");
    assert.deepEqual(host(p, "compute-rt-02").kernel.args, ["default_hugepagesz=1G", "hugepagesz=1G"]);
  });

  it("expects TuneD's realtime-virtual-host arguments for the isolated cores", () => {
    assert.deepEqual(host(p, "compute-rt-01").kernel.tunedArgs, [
      "isolcpus=4-11",
      "nohz=on",
      "nohz_full=4-11",
      "rcu_nocbs=4-11",
      "irqaffinity=0-3",
      "intel_pstate=disable",
    ]);
  });

  it("gives rt1.small the seed's extra specs and 2 RT vCPUs", () => {
    const f = flavor(p, "rt1.small");
    assert.deepEqual(f.extraSpecs, {
      "aggregate_instance_extra_specs:realtime": "true",
      "hw:cpu_policy": "dedicated",
      "hw:cpu_realtime": "yes",
      "hw:cpu_realtime_mask": "^0-1",
      "hw:mem_page_size": "1GB",
      "hw:numa_nodes": "1",
      "hw:pmu": "false",
    });
    assert.equal(f.guest.realtimeVcpus, "2-3");
    assert.equal(f.guest.tunedIsolatedCores, "2-3");
    assert.equal(f.guest.housekeepingVcpus, "0-1");
    assert.deepEqual(f.hosts, [
      { host: "compute-rt-01", capacity: 2 },
      { host: "compute-rt-02", capacity: 2 },
    ]);
  });

  it("gives the pinned-only flavor no realtime keys and counts it by dedicated CPUs", () => {
    const f = flavor(p, "pin1.medium");
    assert.equal(f.extraSpecs["hw:cpu_thread_policy"], "isolate");
    assert.equal(f.extraSpecs["hw:cpu_realtime"], undefined);
    assert.equal(f.hosts[0].capacity, 4);
  });

  it("says where the server can go", () => {
    assert.deepEqual(p.servers, [
      { name: "rt-server", flavor: "rt1.small", candidates: ["compute-rt-01", "compute-rt-02"], pinnedHost: null },
    ]);
  });
});

describe("housekeeping keeps SMT siblings together", () => {
  it("rounds up to whole cores", () => {
    assert.deepEqual(
      pickHousekeeping(
        [
          [0, 24],
          [1, 25],
          [2, 26],
        ],
        1,
      ),
      [0, 24],
    );
    assert.deepEqual(
      pickHousekeeping(
        [
          [0, 24],
          [1, 25],
          [2, 26],
        ],
        3,
      ),
      [0, 1, 24, 25],
    );
  });

  it("plans an SMT host with a shared set for emulator threads", () => {
    const raw = devRaw();
    raw.hosts[0].topology = {
      nodes: [{ id: 0, cpus: "0-7", memoryMb: 32768, threadSiblings: ["0,4", "1,5", "2,6", "3,7"] }],
    };
    raw.hosts[0].cpuSharedSet = "housekeeping";
    raw.hosts[0].housekeepingCpusPerNode = 1;
    raw.flavors = [
      { name: "rt.share", vcpus: 2, ramMb: 2048, realtime: { housekeepingVcpus: 1 }, emulatorThreadsPolicy: "share" },
    ];
    raw.servers = [];
    const p = plan(raw);
    const h = host(p, "compute-rt-01");
    assert.equal(h.housekeeping, "0,4");
    assert.equal(h.nova.cpuSharedSet, "0,4");
    assert.equal(h.isolated, "1-3,5-7");
    // 6 dedicated CPUs would take 3 guests; the 4 pages of 1 GiB take 2.
    assert.equal(flavor(p, "rt.share").hosts[0].capacity, 2);
  });
});

describe("bad input is an error at plan time, naming the setting", () => {
  it("a flavor that fits no host", () => {
    const raw = devRaw();
    raw.flavors[0].vcpus = 6;
    const [p] = problems(raw);
    assert.equal(p.path, "openstack-rt:flavors[0]");
    assert.match(
      p.message,
      /flavor "rt1.small" fits on no RT host \(compute-rt-01: .*Not enough host cell CPUs.*required: 6.*actual: 4/,
    );
    assert.match(p.message, /spread it with numaNodes/);
  });

  it("the same flavor spread over two nodes fits", () => {
    const raw = devRaw();
    raw.flavors[0].vcpus = 6;
    raw.flavors[0].numaNodes = 2;
    assert.equal(flavor(plan(raw), "rt1.small").hosts[0].capacity, 1);
  });

  it("a mask that makes every vCPU RT without an emulator policy", () => {
    const raw = devRaw();
    raw.flavors[0].realtime = { mask: "0-3" };
    const [p] = problems(raw);
    assert.match(p.message, /Nova rejects flavor "rt1.small".*RealtimeMaskNotFoundOrInvalid/);
  });

  it("emulator threads shared on hosts without a shared set", () => {
    const raw = devRaw();
    raw.flavors[0].emulatorThreadsPolicy = "share";
    const [p] = problems(raw);
    assert.match(p.message, /fits on no RT host.*needs \[compute\] cpu_shared_set/);
  });

  it("thread policy require on hosts with SMT off", () => {
    const raw = devRaw();
    raw.flavors[1].threadPolicy = "require";
    const [p] = problems(raw);
    assert.equal(p.path, "openstack-rt:flavors[1]");
    assert.match(p.message, /required trait HW_CPU_HYPERTHREADING missing/);
  });

  it("too many hugepages for a node's memory", () => {
    const raw = devRaw();
    raw.hosts[0].hugepages1gPerNode = [4, 16];
    const [p] = problems(raw);
    assert.equal(p.path, "openstack-rt:hosts[0].hugepages1gPerNode");
    assert.match(p.message, /got 16 pages of 1 GiB on NUMA node 1, which has 16384 MiB; at most 15 fit/);
  });

  it("a count list that does not match the nodes", () => {
    const raw = devRaw();
    raw.hosts[0].hugepages1gPerNode = [4];
    assert.match(problems(raw)[0].message, /got 1 counts for 2 NUMA nodes/);
  });

  it("housekeeping that leaves nothing to isolate", () => {
    const raw = devRaw();
    raw.hosts[0].housekeepingCpusPerNode = 6;
    const ps = problems(raw);
    assert.ok(
      ps.some(
        (p) =>
          p.path === "openstack-rt:hosts[0].housekeepingCpusPerNode" && /leaves no CPU of the host/.test(p.message),
      ),
    );
  });

  it("a server of an unknown flavor, on an unknown host", () => {
    const raw = devRaw();
    raw.servers = [
      { name: "a", flavor: "rt9.huge" },
      { name: "b", flavor: "rt1.small", host: "compute-rt-09" },
    ];
    assert.deepEqual(
      problems(raw).map((p) => p.path),
      ["openstack-rt:servers[0].flavor", "openstack-rt:servers[1].host"],
    );
  });

  it("more servers than the hosts take", () => {
    const raw = devRaw();
    raw.servers = Array.from({ length: 5 }, (_, i) => ({ name: `rt-${i}`, flavor: "rt1.small" }));
    const ps = problems(raw);
    assert.deepEqual(
      ps.map((p) => p.path),
      ["openstack-rt:servers[4]"],
    );
    assert.match(ps[0].message, /no RT host has room left for "rt-4"/);
  });

  it("a planner key overridden in extraSpecs, duplicate names, SSH open to the world", () => {
    const raw = devRaw();
    raw.flavors[0].extraSpecs = { "hw:cpu_policy": "shared" };
    raw.flavors[1].name = "rt1.small";
    (raw.securityGroup as Record<string, unknown>).sshCidr = "0.0.0.0/0";
    const ps = problems(raw);
    assert.ok(ps.some((p) => p.path === "openstack-rt:flavors[0].extraSpecs" && /set by the planner/.test(p.message)));
    assert.ok(ps.some((p) => p.path === "openstack-rt:flavors" && /"rt1.small" is used twice/.test(p.message)));
    assert.ok(
      ps.some((p) => p.path === "openstack-rt:securityGroup.sshCidr" && /allowSshFromAnywhere/.test(p.message)),
    );
  });

  it("an image with neither file nor url", () => {
    const raw = devRaw();
    delete (raw.image as Record<string, unknown>).url;
    assert.match(problems(raw)[0].message, /give exactly one of them/);
  });
});

describe("topology", () => {
  it('is declared for every host: "discover" plans nothing and points to npm run discover', () => {
    const raw = devRaw();
    raw.hosts[1].topology = "discover";
    raw.flavors[0].vcpus = 0;
    const found = problems(raw);
    assert.deepEqual(found.map((p) => p.path).sort(), [
      "openstack-rt:flavors[0].vcpus",
      "openstack-rt:hosts[1].topology",
    ]);
    assert.match(
      found.find((p) => p.path.endsWith("topology"))!.message,
      /`npm run discover -- --stack <stack> --host compute-rt-02`/,
    );
  });

  it("plans each node's SMT thread groups as declared, for the host check to compare", () => {
    const raw = devRaw();
    raw.hosts[0].topology = { nodes: [{ id: 0, cpus: "0-7", memoryMb: 32768, threadSiblings: ["4,0", "1,5"] }] };
    raw.hosts[0].hugepages1gPerNode = 8;
    assert.deepEqual(host(plan(raw), "compute-rt-01").nodes[0].threadSiblings, ["0,4", "1,5"]);
    assert.deepEqual(
      host(plan(devRaw()), "compute-rt-01").nodes.map((n) => n.threadSiblings),
      [[], []],
    );
  });

  it("names the fix of an inconsistent declaration: the nodes, or discover", () => {
    const raw = devRaw();
    (raw.hosts[0].topology as { nodes: Record<string, unknown>[] }).nodes[1].cpus = "1,3,5,7,9,10";
    const [p] = problems(raw);
    assert.equal(p.path, "openstack-rt:hosts[0].topology");
    assert.match(
      p.message,
      /CPU 10 is in node 0 and node 1; fix the declared nodes, or write them from the host with `npm run discover -- --stack <stack> --host compute-rt-01`/,
    );
  });
});

describe("small-page memory in the text plan", () => {
  it("shows each host's small-page memory and bounds a flavor without a page size by it, saying what Nova would place", () => {
    const raw = devRaw();
    for (const h of raw.hosts) h.hugepages1gPerNode = 12;
    raw.flavors = raw.flavors.filter((f) => f.name === "pin1.medium");
    raw.servers = [];
    const p = plan(raw);
    const nova = flavor(p, "pin1.medium").hosts[0].capacity;
    assert.ok(nova > 2, `Nova places ${nova}`);
    const text = renderPlan("dev", p);
    // 2 x (16384 - 12 x 1024) - 4096 reserved
    assert.match(
      text,
      /small-page memory for guests: 4096 MiB \(outside the huge page pools, less reserved_host_memory_mb\)/,
    );
    assert.match(
      text,
      new RegExp(
        `compute-rt-01: 2 instances \\(small pages; Nova would place ${nova}, counting the huge page pools' memory too\\)`,
      ),
    );
    assert.doesNotMatch(renderPlan("dev", plan(devRaw())), /Nova would place/, "the dev stack's pages leave room");
  });
});
