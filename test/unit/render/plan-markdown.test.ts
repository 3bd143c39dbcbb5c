/**
 * lib/render/plan-diff.ts and lib/render/plan-markdown.ts, and `npm run plan -- --markdown / --diff`: the
 * pull-request comment of a stack and the comparison of two plans.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { parse, stringify } from "yaml";
import type { StackPlan } from "../../../lib/plan/stack";
import { planStack } from "../../../lib/plan/stack";
import { diffPlans, flatten, formatPlanDiff, planFromDocument } from "../../../lib/render/plan-diff";
import { code, renderPlanMarkdown, renderProblemsMarkdown } from "../../../lib/render/plan-markdown";
import { devRaw, PROJECT_DIR } from "../../support/dev-config";

type Raw = ReturnType<typeof devRaw>;

function planOf(edit: (raw: Raw) => void = () => {}): StackPlan {
  const raw = devRaw();
  edit(raw);
  const r = planStack(raw);
  if (!r.ok) assert.fail(r.problems.map((p) => `${p.path}: ${p.message}`).join("\n"));
  return r.plan;
}

const dev = planOf();

describe("diffPlans", () => {
  it("finds nothing between a plan and itself", () => {
    assert.deepEqual(diffPlans(dev, planOf()), []);
  });

  it("names each setting a flavor change moves: the mask, the RT vCPUs and the guest's isolated_cores", () => {
    const after = planOf((raw) => {
      raw.flavors[0].realtime = { housekeepingVcpus: 1 };
    });
    assert.deepEqual(diffPlans(dev, after), [
      {
        section: "flavor",
        name: "rt1.small",
        kind: "changed",
        fields: [
          { path: "extraSpecs.hw:cpu_realtime_mask", before: "^0-1", after: "^0" },
          { path: "guest.realtimeVcpus", before: "2-3", after: "1-3" },
          { path: "guest.housekeepingVcpus", before: "0-1", after: "0" },
          { path: "guest.tunedIsolatedCores", before: "2-3", after: "1-3" },
        ],
      },
    ]);
  });

  it("keys NUMA nodes and per-host capacities by what names them, and lists added and removed entries", () => {
    const after = planOf((raw) => {
      raw.hosts[0].housekeepingCpusPerNode = 4;
      raw.servers.push({ name: "rt-server-2", flavor: "rt1.small" });
      raw.flavors.splice(1, 1);
    });
    const changes = diffPlans(dev, after);
    assert.deepEqual(
      changes.map((c) => [c.section, c.name, c.kind]),
      [
        ["host", "compute-rt-01", "changed"],
        ["flavor", "rt1.small", "changed"],
        ["flavor", "pin1.medium", "removed"],
        ["server", "rt-server", "changed"],
        ["server", "rt-server-2", "added"],
      ],
    );
    const host = changes[0].fields;
    assert.deepEqual(
      host.find((f) => f.path === "nodes[0].isolated"),
      { path: "nodes[0].isolated", before: "4,6,8,10", after: "8,10" },
    );
    assert.deepEqual(
      host.find((f) => f.path === "kernel.tunedArgs"),
      {
        path: "kernel.tunedArgs",
        before: "isolcpus=4-11 nohz=on nohz_full=4-11 rcu_nocbs=4-11 irqaffinity=0-3 intel_pstate=disable",
        after: "isolcpus=8-11 nohz=on nohz_full=8-11 rcu_nocbs=8-11 irqaffinity=0-7 intel_pstate=disable",
      },
    );
    // Two dedicated CPUs per node on compute-rt-01 are too few for rt1.small's four.
    const [capacity, reason] = changes[1].fields;
    assert.deepEqual(capacity, { path: "hosts[compute-rt-01].capacity", before: "2", after: "0" });
    assert.equal(reason.path, "hosts[compute-rt-01].reason");
    assert.equal(reason.before, null);
    assert.match(reason.after ?? "", /Not enough host cell CPUs/);
    assert.equal(changes[1].fields.length, 2);
    assert.deepEqual(changes[3].fields, [
      { path: "candidates", before: "compute-rt-01 compute-rt-02", after: "compute-rt-02" },
    ]);
  });

  it("flattens lists of values into one setting and lists of objects by their key", () => {
    assert.deepEqual(
      [
        ...flatten({
          args: ["a", "b"],
          none: [],
          nodes: [{ id: 3, cpus: "0-1" }],
          perNode: [{ node: 1, count: 4 }],
          x: { y: null, z: undefined },
        }),
      ],
      [
        ["args", "a b"],
        ["none", ""],
        ["nodes[3].id", "3"],
        ["nodes[3].cpus", "0-1"],
        ["perNode[1].node", "1"],
        ["perNode[1].count", "4"],
        ["x.y", "null"],
      ],
    );
  });

  it("prints for the terminal", () => {
    const after = planOf((raw) => {
      raw.servers = [];
    });
    assert.equal(
      formatPlanDiff(diffPlans(dev, after), "main"),
      "1 change against main:\n- server rt-server (removed)\n",
    );
    assert.equal(formatPlanDiff([], "main"), "No changes against main.\n");
  });
});

describe("planFromDocument", () => {
  it("takes back what npm run plan -- --json printed", () => {
    const doc = JSON.parse(JSON.stringify({ stack: "dev", valid: true, ...dev })) as unknown;
    const r = planFromDocument(doc, "base.json");
    assert.ok(r.ok);
    assert.deepEqual(diffPlans(dev, r.plan), []);
  });

  it("refuses an invalid plan or something else, saying which", () => {
    const invalid = planFromDocument(
      { stack: "dev", valid: false, problems: [{ path: "openstack-rt:hosts", message: "bad" }] },
      "base.json",
    );
    assert.deepEqual(invalid, { ok: false, problems: [{ path: "base.json: openstack-rt:hosts", message: "bad" }] });
    const other = planFromDocument({ hosts: [], flavors: "x", servers: [] }, "base.json");
    assert.ok(!other.ok);
    assert.match(other.problems[0].message, /"flavors" is not a list of named entries/);
  });
});

describe("renderPlanMarkdown", () => {
  it("renders the dev plan: summary, full plan folded away, every table row", () => {
    const md = renderPlanMarkdown("dev", dev);
    const lines = md.split("\n");
    assert.equal(lines[0], "### Stack `dev`");
    assert.equal(lines[2], "2 hosts, 2 flavors, 1 server.");
    assert.ok(md.includes("<details><summary>Full plan</summary>"));
    assert.ok(md.trimEnd().endsWith("</details>"));
    assert.ok(
      lines.includes(
        "| `compute-rt-01` | debian-12 | off | `0-3` | `4-11` | `default_hugepagesz=1G hugepagesz=1G hugepages=0:4,1:4` | 1G: node0 4, node1 4 | `4-11` |   |",
      ),
    );
    assert.ok(
      lines.includes(
        "| `compute-rt-02` | rhel-9 | off | `0-3` | `4-11` | `default_hugepagesz=1G hugepagesz=1G` | 1G: node0 4, node1 4 (boot unit) | `4-11` |   |",
      ),
    );
    const rt = lines.find((l) => l.startsWith("| `rt1.small` |"));
    assert.ok(rt?.includes("| `2-3` | `compute-rt-01`: 2, `compute-rt-02`: 2 |"));
    assert.ok(rt?.includes("`hw:cpu_realtime_mask=^0-1`"));
    assert.ok(lines.includes("| `rt-server` | `rt1.small` | `compute-rt-01`, `compute-rt-02` |"));
    // Every table row has as many cells as its header.
    let width = 0;
    for (const l of lines.filter((x) => x.startsWith("|"))) {
      const cells = l.replace(/\\\|/g, "").split("|").length;
      if (/^\| (host|flavor|server|setting) \|/.test(l)) width = cells;
      else assert.equal(cells, width, l);
    }
  });

  it("puts the changes against the base first", () => {
    const after = planOf((raw) => {
      raw.flavors[0].realtime = { housekeepingVcpus: 1 };
      raw.servers.push({ name: "rt-server-2", flavor: "rt1.small", host: "compute-rt-02" });
    });
    const md = renderPlanMarkdown("dev", after, { label: "main", before: dev, changes: diffPlans(dev, after) });
    const head = md.slice(0, md.indexOf("<details>"));
    assert.equal(
      head,
      [
        "### Stack `dev`",
        "",
        "2 hosts, 2 flavors, 2 servers. **2 changes** against `main`:",
        "",
        "- changed **flavor `rt1.small`**",
        "",
        "  | setting | before | after |",
        "  | --- | --- | --- |",
        "  | `extraSpecs.hw:cpu_realtime_mask` | `^0-1` | `^0` |",
        "  | `guest.realtimeVcpus` | `2-3` | `1-3` |",
        "  | `guest.housekeepingVcpus` | `0-1` | `0` |",
        "  | `guest.tunedIsolatedCores` | `2-3` | `1-3` |",
        "",
        "- added **server `rt-server-2`**: flavor `rt1.small`, pinned to `compute-rt-02`",
        "",
        "",
      ].join("\n"),
    );
    assert.match(
      renderPlanMarkdown("dev", dev, { label: "main", before: dev, changes: [] }),
      /\*\*No changes\*\* against `main`\./,
    );
  });

  it("keeps table cells intact whatever a value holds", () => {
    assert.equal(code("a|b"), "`a\\|b`");
    assert.equal(code("a`b"), "`` a`b ``");
    assert.equal(code("two\nlines"), "`two lines`");
    const md = renderProblemsMarkdown("dev", [
      { path: "openstack-rt:flavors[0].extraSpecs", message: 'got "<b>|x`"; use *one*' },
    ]);
    assert.equal(
      md,
      '### Stack `dev`\n\n**The config does not plan**: 1 problem.\n\n- `openstack-rt:flavors[0].extraSpecs`: got "\\<b\\>\\|x\\`"; use \\*one\\*\n',
    );
  });
});

describe("npm run plan -- --markdown / --diff", () => {
  const tsx = join(PROJECT_DIR, "node_modules", ".bin", "tsx");
  const run = (...args: string[]) =>
    spawnSync(tsx, [join(PROJECT_DIR, "cli", "plan.ts"), ...args], { encoding: "utf8", cwd: tmpdir() });
  const dir = mkdtempSync(join(tmpdir(), "plan-diff-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const devFile = join(PROJECT_DIR, "Pulumi.dev.yaml");
  const changed = (() => {
    const doc = parse(readFileSync(devFile, "utf8")) as { config: Record<string, Record<string, unknown>[]> };
    doc.config["openstack-rt:flavors"][0].realtime = { housekeepingVcpus: 1 };
    const file = join(dir, "Pulumi.changed.yaml");
    writeFileSync(file, stringify(doc));
    return file;
  })();

  it("--markdown prints the comment", () => {
    const r = run("--markdown");
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, renderPlanMarkdown("dev", dev));
  });

  it("--diff compares with another stack config, as text, Markdown or JSON", () => {
    const text = run("--config", changed, "--diff", devFile, "--diff-label", "main");
    assert.equal(text.status, 0, text.stderr);
    assert.match(
      text.stdout,
      /^1 change against main:\n~ flavor rt1\.small\n {4}extraSpecs\.hw:cpu_realtime_mask: \^0-1 -> \^0\n/,
    );
    const md = run("--config", changed, "--markdown", "--diff", devFile);
    assert.match(md.stdout, /\*\*1 change\*\* against `Pulumi\.dev\.yaml`:/);
    const json = JSON.parse(run("--config", changed, "--json", "--diff", devFile).stdout) as {
      valid: boolean;
      changes: { name: string }[];
    };
    assert.equal(json.valid, true);
    assert.deepEqual(
      json.changes.map((c) => c.name),
      ["rt1.small"],
    );
  });

  it("--diff takes a --json plan document, as CI saves the base branch's", () => {
    const base = join(dir, "base.json");
    writeFileSync(base, run("--json").stdout);
    const r = run("--config", changed, "--diff", base, "--diff-label", "main");
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^1 change against main:/);
  });

  it("an invalid config prints its problems as Markdown and exits 1", () => {
    const doc = parse(readFileSync(devFile, "utf8")) as { config: Record<string, Record<string, unknown>[]> };
    doc.config["openstack-rt:flavors"][0].vcpus = 12;
    const bad = join(dir, "Pulumi.bad.yaml");
    writeFileSync(bad, stringify(doc));
    const r = run("--config", bad, "--markdown");
    assert.equal(r.status, 1);
    assert.match(
      r.stdout,
      /\*\*The config does not plan\*\*: 1 problem\.\n\n- `openstack-rt:flavors\[0\]`: flavor "rt1\.small" fits on no RT host/,
    );
    const other = run("--diff", bad);
    assert.equal(other.status, 1);
    assert.match(other.stderr, /the plan to compare with \(--diff .*Pulumi\.bad\.yaml\) is not valid/);
  });

  it("exits 2 on bad usage", () => {
    assert.equal(run("--json", "--markdown").status, 2);
    assert.equal(run("--diff-label", "main").status, 2);
    assert.equal(run("--diff").status, 2);
  });
});
