/** hostprep/facts.sh: what it reports must be what lib/cpu/topology.ts and the later steps read. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { parseStackConfig } from "../../../lib/config/schema";
import { parseLscpu, parseNodeMeminfo, topologyFromConfig, topologyFromFacts } from "../../../lib/cpu/topology";
import type { ScriptResult, TestRoot } from "../../support/debian-root";
import {
  RT_KERNEL,
  RT_VERSION,
  STOCK_CMDLINE,
  STOCK_KERNEL,
  buildDebianRoot,
  runScript,
  show,
  snapshotDiff,
} from "../../support/debian-root";
import { devRaw } from "../../support/dev-config";

/** The text between two marker lines of the output. */
function section(r: ScriptResult, name: string): string {
  const start = r.lines.indexOf(`--- ${name} ---`);
  assert.ok(start >= 0, `no "--- ${name} ---" marker\n${show(r)}`);
  const end = r.lines.findIndex((l, i) => i > start && /^--- .* ---$/.test(l));
  assert.ok(end > start, `"--- ${name} ---" is not closed\n${show(r)}`);
  return r.lines.slice(start + 1, end).join("\n");
}

describe("facts.sh against a Debian 12 root laid out like the dev stack's first host", () => {
  let root: TestRoot;
  before(() => {
    root = buildDebianRoot();
  });
  after(() => root.remove());

  it("reports the distribution, kernel, boot and topology, and changes nothing", () => {
    const snap = root.snapshot();
    const r = runScript("facts.sh", ["--root", root.dir]);
    assert.equal(r.status, 0, show(r));
    assert.deepEqual(r.tripped, []);
    assert.equal(r.last, "unchanged");
    assert.equal(r.values.get("os_id"), "debian");
    assert.equal(r.values.get("os_version_id"), "12");
    assert.equal(r.values.get("os_family"), "debian-12");
    assert.equal(r.values.get("kernel"), STOCK_KERNEL);
    assert.equal(r.values.get("kernel_rt"), "no");
    assert.equal(r.values.get("boot_id"), "5b0d3f0e-3c55-4a4c-8f47-3d1d0f9b2a61");
    assert.equal(r.values.get("cmdline"), STOCK_CMDLINE);
    assert.deepEqual(r.lines.slice(-2), ["--- end ---", "unchanged"]);

    // lscpu (run with --sysroot on the root's /sys) and the node meminfo lines give back
    // exactly the topology declared in Pulumi.dev.yaml.
    const topology = topologyFromFacts(parseLscpu(section(r, "lscpu")), parseNodeMeminfo(section(r, "meminfo")));
    const parsed = parseStackConfig(devRaw());
    assert.ok(parsed.ok);
    assert.deepEqual(topology, topologyFromConfig(parsed.config.hosts[0].topology.nodes));
    assert.deepEqual(snapshotDiff(snap, root.snapshot()), []);
  });

  it("says kernel_rt=yes for a PREEMPT_RT kernel, in either spelling of uname -v", () => {
    for (const version of [RT_VERSION, "#1 SMP PREEMPT RT Sun Jan 01 00:00:00 UTC 2017"]) {
      root.setKernel(RT_KERNEL, version, STOCK_CMDLINE);
      const r = runScript("facts.sh", ["--root", root.dir]);
      assert.equal(r.status, 0, show(r));
      assert.equal(r.values.get("kernel"), RT_KERNEL);
      assert.equal(r.values.get("kernel_rt"), "yes", version);
    }
  });

  it("reports a kernel without NUMA support as one node 0 holding all memory", () => {
    const fresh = buildDebianRoot();
    try {
      rmSync(fresh.path("/sys/devices/system/node"), { recursive: true });
      const r = runScript("facts.sh", ["--root", fresh.dir]);
      assert.equal(r.status, 0, show(r));
      assert.deepEqual([...parseNodeMeminfo(section(r, "meminfo"))], [[0, 2 * 16384]]);
    } finally {
      fresh.remove();
    }
  });

  it("fails with a message when os-release is missing", () => {
    const fresh = buildDebianRoot();
    try {
      rmSync(fresh.path("/etc/os-release"));
      rmSync(fresh.path("/usr/lib/os-release"));
      const r = runScript("facts.sh", ["--root", fresh.dir]);
      assert.equal(r.status, 1, show(r));
      assert.match(r.stderr, /cannot read .*\/etc\/os-release/);
    } finally {
      fresh.remove();
    }
  });
});

describe("facts.sh on this machine (read-only)", () => {
  it("matches uname, /proc and lscpu, in a shape lib/cpu/topology.ts parses", () => {
    const r = runScript("facts.sh", []);
    assert.equal(r.status, 0, show(r));
    assert.deepEqual(r.tripped, []);
    assert.equal(r.last, "unchanged");
    assert.equal(r.values.get("kernel"), execFileSync("uname", ["-r"], { encoding: "utf8" }).trim());
    const rt = /PREEMPT_RT|PREEMPT RT/.test(execFileSync("uname", ["-v"], { encoding: "utf8" }));
    assert.equal(r.values.get("kernel_rt"), rt ? "yes" : "no");
    assert.equal(r.values.get("boot_id"), readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim());
    assert.equal(r.values.get("cmdline"), readFileSync("/proc/cmdline", "utf8").trim());
    const osRelease = readFileSync("/etc/os-release", "utf8");
    assert.equal(r.values.get("os_id"), /^ID="?([^"\n]*)"?$/m.exec(osRelease)?.[1]);
    const topology = topologyFromFacts(parseLscpu(section(r, "lscpu")), parseNodeMeminfo(section(r, "meminfo")));
    const cpus = topology.nodes.flatMap((n) => n.cpus);
    assert.equal(cpus.length, Number(execFileSync("nproc", ["--all"], { encoding: "utf8" }).trim()));
  });
});
