/** `npm run plan`: --help, the stack label, npm's swallowed options, --format for the tools that own nova.conf, fix hints. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { npmSwallowedOptions, stackOfFile } from "../../../cli/plan";
import { planStack } from "../../../lib/plan/stack";
import { ENABLED_FILTERS, renderForTool } from "../../../lib/render/tool-formats";
import { PROJECT_DIR, devRaw, devStackPlan } from "../../support/dev-config";

const tsx = join(PROJECT_DIR, "node_modules", ".bin", "tsx");
/** Runs a CLI with a clean npm environment (the test runner may itself run under npm). */
const cli = (name: string, args: string[], env: Record<string, string> = {}) => {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("npm_")));
  return spawnSync(tsx, [join(PROJECT_DIR, "cli", `${name}.ts`), ...args], {
    encoding: "utf8",
    cwd: tmpdir(),
    env: { ...base, ...env },
  });
};
const dir = mkdtempSync(join(tmpdir(), "plan-formats-"));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("plan and verify --help", () => {
  it("plan --help prints the usage and every option, exit 0", () => {
    const r = cli("plan", ["--help"]);
    assert.equal(r.status, 0, r.stderr);
    for (const o of ["--stack", "--config", "--format", "--json", "--markdown", "--diff", "tripleo", "juju"])
      assert.ok(r.stdout.includes(o), o);
    assert.equal(cli("plan", ["-h"]).status, 0);
  });
  it("verify --help prints the usage, exit 0", () => {
    const r = cli("verify", ["--help"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /npm run verify -- host --stack dev --target compute-rt-01/);
  });
});

describe("plan's stack label and stack files", () => {
  it("labels a --config file with the stack its name gives", () => {
    const file = join(dir, "Pulumi.prod.yaml");
    copyFileSync(join(PROJECT_DIR, "Pulumi.dev.yaml"), file);
    const text = cli("plan", ["--config", file]);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /^Plan of stack "prod"/);
    const json = cli("plan", ["--config", file, "--json"]);
    assert.equal((JSON.parse(json.stdout) as { stack: string }).stack, "prod");
    assert.match(cli("plan", ["--config", file, "--stack", "staging"]).stdout, /^Plan of stack "staging"/);
    assert.equal(stackOfFile("/x/Pulumi.eu-west.yml"), "eu-west");
    assert.equal(stackOfFile("/x/stack.yaml"), "stack.yaml");
  });
  it("a missing stack file is one usage error naming the stacks there are, not a list of knock-on errors", () => {
    const r = cli("plan", ["--stack", "nosuchstack"]);
    assert.equal(r.status, 2);
    assert.match(
      r.stderr,
      /^--stack nosuchstack: there is no Pulumi\.nosuchstack\.yaml in .*\n {2}stacks there: dev\n/,
    );
    assert.doesNotMatch(r.stderr, /problem/);
    const file = cli("plan", ["--config", join(dir, "Pulumi.nosuchfile.yaml")]);
    assert.equal(file.status, 1);
    assert.match(
      file.stderr,
      /^1 problem in the stack config:\n {2}- .*Pulumi\.nosuchfile\.yaml: cannot read the stack file/,
    );
  });
});

describe("options npm takes for itself (npm run plan --json, without --)", () => {
  it("honours npm_config_json and npm_config_markdown", () => {
    const r = cli("plan", [], { npm_lifecycle_event: "plan", npm_config_json: "true" });
    assert.equal(r.status, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { valid: boolean }).valid, true);
    const md = cli("plan", [], { npm_lifecycle_event: "plan", npm_config_markdown: "true" });
    assert.match(md.stdout, /^#|\|/);
  });
  it("fails clearly on an option with a value, naming the fix", () => {
    const r = cli("plan", ["prod"], { npm_lifecycle_event: "plan", npm_config_stack: "true" });
    assert.equal(r.status, 2);
    assert.match(
      r.stderr,
      /npm took --stack for itself .*put `--` before the plan's options: npm run plan -- --stack <value>/,
    );
  });
  it("ignores npm_config_* outside `npm run plan`", () => {
    assert.deepEqual(npmSwallowedOptions({ npm_lifecycle_event: "test", npm_config_json: "true" }), {
      ok: true,
      json: false,
      markdown: false,
      help: false,
    });
  });
  it("refuses two formats at once", () => {
    assert.equal(cli("plan", ["--json", "--format", "kolla"]).status, 2);
    assert.equal(cli("plan", ["--format", "ansible"]).status, 2);
  });
});

describe("--format for the tool that owns nova.conf (dev stack)", () => {
  const plan = devStackPlan();
  const filters = ENABLED_FILTERS.join(",");
  it("tripleo: the documented heat parameters and EDPM variables", () => {
    const out = renderForTool("tripleo", "dev", plan);
    assert.match(out, /^parameter_defaults:$/m);
    assert.match(out, /^ {2}NovaSchedulerEnabledFilters: ".*NUMATopologyFilter,AggregateInstanceExtraSpecsFilter"$/m);
    assert.match(out, /^ {2}ComputeRealTimeParameters:$/m);
    assert.match(out, /^ {4}NovaComputeCpuDedicatedSet: "4-11"$/m);
    assert.match(out, /^ {4}NovaReservedHostMemory: 4096$/m);
    assert.match(out, /^ {4}NovaReservedHugePages: \[\]$/m);
    assert.match(out, /^ {4}KernelArgs: "default_hugepagesz=1G hugepagesz=1G hugepages=0:4,1:4"$/m);
    // compute-rt-02's kernel (5.14) takes no per-node counts: the total, spread evenly, which matches 4+4.
    assert.match(out, /^ {4}KernelArgs: "default_hugepagesz=1G hugepagesz=1G hugepages=8"$/m);
    assert.match(out, /^ {4}IsolCpusList: "4-11"$/m);
    assert.match(out, /^ {4}TunedProfileName: "realtime-virtual-host"$/m);
    assert.match(out, /edpm_kernel_args: "default_hugepagesz=1G hugepagesz=1G hugepages=0:4,1:4"/);
    assert.match(out, /edpm_tuned_profile: "realtime-virtual-host"/);
    assert.match(out, /edpm_tuned_isolated_cores: "4-11"/);
    assert.match(out, /25-nova-extra\.conf/);
  });
  it("kolla: per-host nova.conf overrides and the scheduler's", () => {
    const out = renderForTool("kolla", "dev", plan);
    for (const h of ["compute-rt-01", "compute-rt-02"])
      assert.match(
        out,
        new RegExp(
          `# --- /etc/kolla/config/nova/${h}/nova.conf\\n\\[DEFAULT\\]\\nreserved_host_memory_mb = 4096\\n\\n\\[compute\\]\\ncpu_dedicated_set = 4-11\\n`,
        ),
      );
    assert.match(
      out,
      /# --- \/etc\/kolla\/config\/nova\/nova-scheduler.conf\n# MERGE, do not replace: .*\n\[filter_scheduler\]\nenabled_filters = (.*)$/m,
    );
    assert.ok(out.includes(`enabled_filters = ${filters}`));
    assert.match(out, /kernel arguments: default_hugepagesz=1G hugepagesz=1G hugepages=0:4,1:4/);
  });
  it("osa: nova_nova_conf_overrides per host and nova_scheduler_default_filters", () => {
    const out = renderForTool("osa", "dev", plan);
    assert.match(
      out,
      /^# MERGE, do not replace: .*\nnova_scheduler_default_filters:\n(?: {2}- \w+\n)*? {2}- NUMATopologyFilter\n {2}- AggregateInstanceExtraSpecsFilter$/m,
    );
    assert.match(
      out,
      /# --- \/etc\/openstack_deploy\/host_vars\/compute-rt-01.yml\nnova_nova_conf_overrides:\n {2}DEFAULT:\n {4}reserved_host_memory_mb: 4096\n {2}compute:\n {4}cpu_dedicated_set: "4-11"\n/,
    );
    assert.match(out, /kernel arguments: default_hugepagesz=1G hugepagesz=1G hugepages=0:4,1:4/);
  });
  it("juju: juju config with the charms' option names", () => {
    const out = renderForTool("juju", "dev", plan);
    assert.match(
      out,
      /^juju config nova-compute-rt cpu-dedicated-set='4-11' cpu-shared-set='' reserved-host-memory=4096 reserved-huge-pages=''$/m,
    );
    assert.ok(out.includes(`juju config nova-cloud-controller scheduler-default-filters='${filters}'`));
    assert.match(out, /kernel arguments: default_hugepagesz=1G hugepagesz=1G hugepages=0:4,1:4/);
  });
  it("every format says to merge the filter list with the deployment's own, right above it", () => {
    for (const format of ["tripleo", "kolla", "osa", "juju"] as const) {
      const lines = renderForTool(format, "dev", plan).split("\n");
      const lists = lines
        .map((l, i) => [l, i] as const)
        .filter(([l]) =>
          /NovaSchedulerEnabledFilters|enabled_filters =|nova_scheduler_default_filters:|scheduler-default-filters=/.test(
            l,
          ),
        );
      assert.ok(lists.length > 0, format);
      for (const [, i] of lists) {
        const above =
          lines[i - 1] === "#   [filter_scheduler]" || lines[i - 1] === "[filter_scheduler]"
            ? lines[i - 2]
            : lines[i - 1];
        assert.match(above, /MERGE, do not replace: .*keep them and add only the RT ones/, `${format}: ${lines[i]}`);
      }
    }
  });
  it("the CLI prints the same as the renderer", () => {
    const r = cli("plan", ["--format", "juju"]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, renderForTool("juju", "dev", plan));
  });
});

describe("fix hints", () => {
  it("isolate on an SMT host suggests require or prefer", () => {
    const raw = devRaw();
    const node = (id: number, cpus: number[]) => ({
      id,
      cpus: cpus.join(","),
      memoryMb: 16384,
      threadSiblings: [0, 2, 4].map((i) => `${cpus[i]},${cpus[i + 1]}`),
    });
    for (const h of raw.hosts) h.topology = { nodes: [node(0, [0, 1, 2, 3, 4, 5]), node(1, [6, 7, 8, 9, 10, 11])] };
    raw.flavors = [raw.flavors[1]]; // pin1.medium: threadPolicy isolate
    raw.servers = [];
    const r = planStack(raw);
    assert.ok(!r.ok);
    const p = r.problems.find((x) => x.path === "openstack-rt:flavors[0]");
    assert.match(
      p?.message ?? "",
      /threadPolicy isolate needs hosts with SMT off.*use threadPolicy: require .* or prefer/,
    );
  });
  it("a 2 MiB flavor on hosts without 2 MiB pages says so", () => {
    const raw = devRaw();
    raw.flavors[0].pageSize = "2MB";
    const r = planStack(raw);
    assert.ok(!r.ok);
    const p = r.problems.find((x) => x.path === "openstack-rt:flavors[0]");
    assert.match(p?.message ?? "", /pageSize 2MB needs 2 MiB pages on the hosts, and no RT host has any/);
  });
});
