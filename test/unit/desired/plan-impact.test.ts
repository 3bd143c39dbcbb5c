/**
 * What applying a plan does, before it happens (`npm run plan -- --diff`, lib/desired/impact.ts
 * planImpact): derived from the hosts' steps of both sides, as the engine compares them.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { parse, stringify } from "yaml";
import { impactSide } from "../../../cli/plan";
import { decideStack } from "../../../lib/desired/decide";
import type { ImpactSide, PlanImpact, RolloutSettings } from "../../../lib/desired/impact";
import { planImpact } from "../../../lib/desired/impact";
import { diffPlans, formatImpact } from "../../../lib/render/plan-diff";
import { renderPlanMarkdown } from "../../../lib/render/plan-markdown";
import { PROJECT_DIR, devRaw } from "../../support/dev-config";

const tsx = join(PROJECT_DIR, "node_modules", ".bin", "tsx");
const plan = (...args: string[]) =>
  spawnSync(tsx, [join(PROJECT_DIR, "cli", "plan.ts"), ...args], { encoding: "utf8", cwd: tmpdir() });
const dir = mkdtempSync(join(tmpdir(), "plan-impact-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const SETTINGS: RolloutSettings = { maintenance: true, guests: "live-migrate" };

function side(raw: ReturnType<typeof devRaw>): ImpactSide {
  const d = decideStack(raw, PROJECT_DIR);
  if (!d.ok) throw new Error(JSON.stringify(d.problems));
  return impactSide(d.desired);
}

function impact(change: (raw: ReturnType<typeof devRaw>) => void, settings = SETTINGS): PlanImpact {
  const raw = devRaw();
  change(raw);
  return planImpact(side(devRaw()), side(raw), settings);
}

/** The dev stack file with one change, written where `--config` can read it. */
function devFileWith(name: string, change: (config: Record<string, unknown>) => void): string {
  const doc = parse(readFileSync(join(PROJECT_DIR, "Pulumi.dev.yaml"), "utf8")) as { config: Record<string, unknown> };
  change(doc.config);
  const file = join(dir, `Pulumi.${name}.yaml`);
  writeFileSync(file, stringify(doc));
  return file;
}

const secondHostHousekeeping = (c: Record<string, unknown>) => {
  (c["openstack-rt:hosts"] as Record<string, unknown>[])[1].housekeepingCpusPerNode = 1;
};

describe("npm run plan -- --diff: the impact", () => {
  it("a change of housekeepingCpusPerNode on one host reboots that host and restarts its nova-compute, and nothing else", () => {
    const r = plan(
      "--config",
      devFileWith("hk", secondHostHousekeeping),
      "--diff",
      join(PROJECT_DIR, "Pulumi.dev.yaml"),
    );
    assert.equal(r.status, 0, r.stderr);
    const impactText = r.stdout.slice(r.stdout.indexOf("Impact of applying this plan:"));
    assert.match(
      impactText,
      /host compute-rt-02: runs tuned, nova-compute, reboot\n {4}reboot: yes\n {4}nova-compute restart: yes/,
    );
    assert.doesNotMatch(impactText, /compute-rt-01/);
    assert.match(
      impactText,
      /Summary: 1 host reboots, 1 host restarts nova-compute, 0 flavor revisions, 0 servers replaced/,
    );
  });

  it("compares with a --json plan document as with the stack file it was made from", () => {
    const base = plan("--json");
    assert.equal(base.status, 0, base.stderr);
    const doc = JSON.parse(base.stdout) as {
      hostSteps: Record<string, { id: string; script: string }[]>;
      image: string;
    };
    assert.deepEqual(
      doc.hostSteps["compute-rt-01"].map((s) => s.id),
      ["facts", "packages", "tuned", "kernel-args", "nova-compute", "reboot"],
    );
    assert.match(doc.hostSteps["compute-rt-01"][0].script, /^[0-9a-f]{64}$/);
    assert.match(
      doc.image,
      /^url-sha256:[0-9a-f]{64}$/,
      "the URL itself (it may hold credentials) is not in the document",
    );
    const baseFile = join(dir, "base.json");
    writeFileSync(baseFile, base.stdout);
    const changed = devFileWith("hk2", secondHostHousekeeping);
    const fromDoc = plan("--config", changed, "--diff", baseFile, "--json");
    const fromFile = plan("--config", changed, "--diff", join(PROJECT_DIR, "Pulumi.dev.yaml"), "--json");
    assert.equal(fromDoc.status, 0, fromDoc.stderr);
    const impactOf = (out: string) => (JSON.parse(out) as { impact: PlanImpact }).impact;
    assert.deepEqual(impactOf(fromDoc.stdout), impactOf(fromFile.stdout));
    assert.deepEqual(
      impactOf(fromDoc.stdout).hosts.map((h) => [h.host, h.reboot, h.novaRestart]),
      [["compute-rt-02", "yes", "yes"]],
    );
  });

  it("says which hosts it cannot compare against a plan document without host steps (an older revision's)", () => {
    const doc = JSON.parse(plan("--json").stdout) as Record<string, unknown>;
    delete doc.hostSteps;
    const old = join(dir, "old.json");
    writeFileSync(old, JSON.stringify(doc));
    const r = plan("--diff", old);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /host compute-rt-01: not compared \(the other plan document lists no host steps/);
    assert.match(r.stdout, /hosts not compared: compute-rt-01, compute-rt-02/);
  });

  it("puts the summary and each host's impact in the pull-request comment", () => {
    const r = plan(
      "--config",
      devFileWith("hk3", secondHostHousekeeping),
      "--diff",
      join(PROJECT_DIR, "Pulumi.dev.yaml"),
      "--markdown",
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stdout,
      /\*\*Impact of `pulumi up`:\*\* 1 host reboots, 1 host restarts nova-compute, 0 flavor revisions, 0 servers replaced\./,
    );
    assert.match(
      r.stdout,
      /- host compute-rt-02: runs tuned, nova-compute, reboot\n {2}- reboot: yes\n {2}- nova-compute restart: yes/,
    );
  });
});

describe("planImpact", () => {
  it("a first pulumi up: every host's steps run, flavors and servers are created (npm run plan without --diff)", () => {
    const r = plan();
    assert.equal(r.status, 0, r.stderr);
    const first = r.stdout.slice(r.stdout.indexOf("A first `pulumi up`"));
    assert.match(
      first,
      /host compute-rt-01 \(new\): runs packages, tuned, kernel-args, nova-compute, reboot\n {4}reboot: only if the running kernel lacks what is planned/,
    );
    assert.match(first, /flavor rt1\.small: new, created as rt1\.small\.r[0-9a-f]{8}/);
    assert.match(
      first,
      /Summary: 0 hosts reboot, 0 hosts restart nova-compute, 2 hosts may reboot, 0 flavor revisions, 2 flavors created, 0 servers replaced, 1 server created\n$/,
    );
  });

  it("nothing when nothing changed", () => {
    const i = impact(() => {});
    assert.deepEqual([i.hosts, i.flavors, i.servers, i.unknownHosts], [[], [], [], []]);
    assert.match(formatImpact(i), /no host step runs again/);
  });

  it("a flavor's new revision replaces its servers, one flavor revision", () => {
    const i = impact((raw) => {
      raw.flavors[0].ramMb = 2048;
    });
    assert.deepEqual(
      i.flavors.map((f) => [f.flavor, f.kind]),
      [["rt1.small", "revised"]],
    );
    assert.match(i.flavors[0].after!, /^rt1\.small\.r[0-9a-f]{8}$/);
    assert.deepEqual(i.servers, [{ server: "rt-server", kind: "replaced", reason: "flavor rt1.small revised" }]);
    assert.deepEqual(i.hosts, [], "a flavor runs no host step");
    assert.equal(i.summary, "0 hosts reboot, 0 hosts restart nova-compute, 1 flavor revision, 1 server replaced");
  });

  it("another image replaces every server", () => {
    const i = impact((raw) => {
      (raw.image as Record<string, unknown>).url = "https://example.org/other.qcow2";
    });
    assert.deepEqual(i.servers, [{ server: "rt-server", kind: "replaced", reason: "another image" }]);
  });

  it("reserved host memory restarts nova-compute without a reboot", () => {
    const i = impact((raw) => {
      raw.hosts[0].reservedHostMemoryMb = 8192;
    });
    assert.deepEqual(
      i.hosts.map((h) => [h.host, h.steps, h.reboot, h.novaRestart]),
      [["compute-rt-01", ["nova-compute"], "no", "yes"]],
    );
  });

  it("a kernel argument added reboots; one dropped only re-checks (the running command line still has it)", () => {
    const withArg = devRaw();
    withArg.hosts[0].extraKernelArgs = ["mitigations=off"];
    const added = planImpact(side(devRaw()), side(withArg), SETTINGS);
    assert.deepEqual(
      added.hosts.map((h) => [h.host, h.reboot]),
      [["compute-rt-01", "yes"]],
    );
    const dropped = planImpact(side(withArg), side(devRaw()), SETTINGS);
    assert.deepEqual(
      dropped.hosts.map((h) => [h.host, h.reboot]),
      [["compute-rt-01", "maybe"]],
    );
  });

  it("a changed script re-runs its step everywhere, with the restart or reboot only if the host differs", () => {
    const now = side(devRaw());
    const before = structuredClone(now);
    for (const steps of Object.values(before.steps!)) steps.find((s) => s.id === "reboot")!.script = "0".repeat(64);
    const i = planImpact(before, now, SETTINGS);
    assert.deepEqual(
      i.hosts.map((h) => [h.host, h.steps, h.reboot, h.novaRestart]),
      [
        ["compute-rt-01", ["reboot"], "maybe", "maybe"],
        ["compute-rt-02", ["reboot"], "maybe", "maybe"],
      ],
    );
    assert.match(i.summary, /2 hosts may reboot/);
  });

  it("names the guests it touches: servers pinned there, servers that may be there, others unknown offline", () => {
    const raw = devRaw();
    raw.servers.push({ name: "pinned-one", flavor: "rt1.small", host: "compute-rt-01" });
    raw.hosts[0].reservedHostMemoryMb = 8192;
    const i = planImpact(side(devRaw()), side(raw), SETTINGS);
    assert.deepEqual(i.hosts[0].pinnedServers, ["pinned-one"]);
    assert.deepEqual(i.hosts[0].candidateServers, ["rt-server"]);
    const text = formatImpact(i);
    assert.match(
      text,
      /nova-compute disabled during the change, re-enabled after the host checks; its guests are live-migrated away first/,
    );
    assert.match(
      text,
      /1 server of this stack pinned there \(pinned-one\); 1 server of this stack may be there \(rt-server\); other guests: unknown offline/,
    );
    assert.match(text, /server pinned-one: created/);
    const off = planImpact(side(devRaw()), side(raw), { maintenance: false, guests: "refuse" });
    assert.match(formatImpact(off), /nova-compute stays enabled \(deployment.maintenance false\)/);
  });

  it("a host owned by a deployment tool (configMode verify) does not restart nova-compute for a nova.conf change", () => {
    const i = impact((raw) => {
      raw.hosts[0].reservedHostMemoryMb = 8192;
      raw.hosts[0].nova = { configMode: "verify", configPath: "/etc/kolla/nova-compute/nova.conf" };
    });
    assert.equal(i.hosts[0].novaVerifyOnly, true);
    assert.equal(i.hosts[0].novaRestart, "no");
    assert.match(formatImpact(i), /configMode verify: nova.conf is checked; the deployment tool restarts nova-compute/);
  });

  it("a new host runs every step and may reboot; a removed host is left as it is", () => {
    const raw = devRaw();
    const third = structuredClone(raw.hosts[1]);
    third.name = "compute-rt-03";
    (third.ssh as Record<string, unknown>).host = "192.0.2.13";
    raw.hosts.push(third);
    const added = planImpact(side(devRaw()), side(raw), SETTINGS);
    assert.deepEqual(
      added.hosts.map((h) => [h.host, h.kind, h.steps.length, h.reboot]),
      [["compute-rt-03", "added", 5, "maybe"]],
    );
    const removed = planImpact(side(raw), side(devRaw()), SETTINGS);
    assert.deepEqual(
      removed.hosts.map((h) => [h.host, h.kind]),
      [["compute-rt-03", "removed"]],
    );
    assert.match(formatImpact(removed), /nothing on it is undone, it leaves the RT aggregate/);
  });

  it("markdown: the impact is shown even when no plan value changed (a script did)", () => {
    const now = side(devRaw());
    const before = structuredClone(now);
    before.steps!["compute-rt-01"].find((s) => s.id === "tuned")!.script = "0".repeat(64);
    const i = planImpact(before, now, SETTINGS);
    const md = renderPlanMarkdown("dev", now.plan, {
      label: "base",
      before: before.plan,
      changes: diffPlans(before.plan, now.plan),
      impact: i,
    });
    assert.match(md, /- host compute-rt-01: runs tuned/);
    assert.match(md, /\*\*No changes\*\* against `base`/);
  });
});
