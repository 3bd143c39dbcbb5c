/**
 * lib/config/warnings.ts and lib/config/ip.ts: unpinned SSH targets and CIDRs that reach public addresses,
 * one list that `npm run plan` prints (text, JSON, Markdown) and the program logs once each.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it, mock } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { parse, stringify } from "yaml";
import { CONFIG_NAMESPACE, parseStackConfig } from "../../../lib/config/schema";
import { decideStack } from "../../../lib/desired/decide";
import { cidrReach, isIpAddress, parseCidr } from "../../../lib/config/ip";
import { planFromPulumiConfig } from "../../../lib/desired/from-pulumi";
import { stackWarnings } from "../../../lib/config/warnings";
import { renderPlan } from "../../../lib/render/plan-text";
import { renderPlanMarkdown } from "../../../lib/render/plan-markdown";
import { devRaw, PROJECT_DIR } from "../../support/dev-config";
import { setProgramMocks } from "../../support/mocks";

type Raw = ReturnType<typeof devRaw>;
const ssh = (raw: Raw, i: number) => raw.hosts[i].ssh as Record<string, unknown>;

function warningsOf(edit: (raw: Raw) => void) {
  const raw = devRaw();
  edit(raw);
  const parsed = parseStackConfig(raw);
  assert.ok(parsed.ok, JSON.stringify(parsed));
  return stackWarnings(parsed.config);
}

describe("cidrReach", () => {
  const cases: [string, ReturnType<typeof cidrReach>][] = [
    ["10.0.0.0/8", "private"],
    ["10.1.2.3/16", "private"],
    ["172.16.0.0/12", "private"],
    ["192.168.1.0/24", "private"],
    ["127.0.0.1/32", "private"],
    ["169.254.0.0/16", "private"],
    ["100.64.0.0/10", "private"],
    ["192.0.2.0/24", "private"],
    ["198.51.100.0/24", "private"],
    ["203.0.113.7/32", "private"],
    ["fd00::/8", "private"],
    ["fe80::/10", "private"],
    ["::1/128", "private"],
    ["2001:db8::/32", "private"],
    ["172.0.0.0/8", "public"],
    ["100.0.0.0/8", "public"],
    ["8.8.8.8/32", "public"],
    ["2001::/16", "public"],
    ["2a00:1450::/32", "public"],
    ["0.0.0.0/0", "anywhere"],
    ["0.0.0.0/1", "anywhere"],
    ["128.0.0.0/1", "anywhere"],
    ["10.0.0.0/7", "anywhere"],
    ["::/0", "anywhere"],
    ["2000::/3", "anywhere"],
    ["2001::/15", "anywhere"],
  ];
  for (const [cidr, reach] of cases) it(`${cidr}: ${reach}`, () => assert.equal(cidrReach(cidr), reach));

  it("parses strictly", () => {
    for (const bad of [
      "256.0.0.0/8",
      "10.0.0.0/33",
      "010.0.0.0/8",
      "10.0.0.0/08",
      ":::/64",
      "::1::/64",
      "2001:db8::/129",
      "10.0.0.0",
      "1.2.3/8",
    ])
      assert.equal(parseCidr(bad), null, bad);
    for (const bad of ["256.1.1.1", "1.2.3", ":::::", "fe80::1%$(id)", "fe80::1%", "::1%a%b"])
      assert.equal(isIpAddress(bad), false, bad);
    for (const good of ["192.0.2.1", "::", "::1", "fe80::1%eth0", "::ffff:192.0.2.1", "2001:db8:0:0:0:0:0:1"])
      assert.equal(isIpAddress(good), true, good);
  });
});

describe("stackWarnings", () => {
  it("has nothing to say about the dev stack: every target pinned, documentation ranges only", () => {
    assert.deepEqual(
      warningsOf(() => {}),
      { warnings: [], notes: [] },
    );
  });

  it("warns about every unpinned SSH target, saying what is at stake and how to pin it", () => {
    const { warnings, notes } = warningsOf((raw) => {
      delete ssh(raw, 0).hostKey;
      ssh(raw, 1).proxy = { host: "bastion.example.org", user: "jump" };
      delete (raw.controller as { ssh: Record<string, unknown> }).ssh.hostKey;
    });
    assert.deepEqual(notes, []);
    assert.deepEqual(
      warnings.map((w) => w.path),
      ["openstack-rt:hosts[0].ssh", "openstack-rt:hosts[1].ssh.proxy", "openstack-rt:controller.ssh"],
    );
    assert.match(
      warnings[0].message,
      /^no hostKey, so root@192\.0\.2\.11:22 is not authenticated: any machine answering at that address gets host prep's root commands/,
    );
    assert.match(warnings[0].message, /npm run discover -- --stack <stack> --host compute-rt-01/);
    assert.match(warnings[0].message, /ssh-keyscan -p 22 192\.0\.2\.11` after checking its fingerprint out of band/);
    assert.match(warnings[0].message, /or set insecureSkipHostKeyCheck: true to accept the risk$/);
    assert.match(warnings[1].message, /jump@bastion\.example\.org:22 .*taken for the bastion/);
    assert.match(warnings[2].message, /scheduler\.sh's root commands/);
  });

  it("warns about each unpinned scheduler of an HA control plane (controllers)", () => {
    const { warnings } = warningsOf((raw) => {
      const pinned = (raw.controller as { ssh: Record<string, unknown> }).ssh;
      raw.controller = false;
      raw.controllers = [{ ssh: pinned }, { ssh: { host: "192.0.2.6", user: "root" } }];
    });
    assert.deepEqual(
      warnings.map((w) => w.path),
      ["openstack-rt:controllers[1].ssh"],
    );
    assert.match(warnings[0].message, /scheduler\.sh's root commands/);
  });

  it("insecureSkipHostKeyCheck: true turns the warning into a one-line note", () => {
    const { warnings, notes } = warningsOf((raw) => {
      delete ssh(raw, 0).hostKey;
      ssh(raw, 0).insecureSkipHostKeyCheck = true;
    });
    assert.deepEqual(warnings, []);
    assert.deepEqual(notes, [
      {
        path: "openstack-rt:hosts[0].ssh",
        message: "root@192.0.2.11:22: host key not checked (insecureSkipHostKeyCheck: true)",
      },
    ]);
  });

  it("names each security-group CIDR that reaches public addresses", () => {
    const { warnings } = warningsOf((raw) => {
      raw.securityGroup = { name: "sg", sshCidr: "203.0.112.0/24", icmpCidr: "0.0.0.0/0" };
    });
    assert.deepEqual(
      warnings.map((w) => w.path),
      ["openstack-rt:securityGroup.sshCidr", "openstack-rt:securityGroup.icmpCidr"],
    );
    assert.match(
      warnings[0].message,
      /^"203\.0\.112\.0\/24" reaches public addresses: the RT servers' SSH \(22\/tcp\) is open to addresses outside private ranges/,
    );
    assert.match(
      warnings[1].message,
      /^"0\.0\.0\.0\/0" reaches \(nearly\) every address on the internet: the RT servers answer ICMP from the internet/,
    );
  });

  it("SSH from anywhere is a problem without allowSshFromAnywhere, and a warning with it", () => {
    const raw = devRaw();
    raw.securityGroup = { name: "sg", sshCidr: "0.0.0.0/1", icmpCidr: "10.0.0.0/8" };
    const refused = decideStack(raw, PROJECT_DIR);
    assert.ok(!refused.ok);
    assert.deepEqual(
      refused.problems.map((p) => p.path),
      ["openstack-rt:securityGroup.sshCidr"],
    );
    (raw.securityGroup as Record<string, unknown>).allowSshFromAnywhere = true;
    const allowed = decideStack(raw, PROJECT_DIR);
    assert.ok(allowed.ok);
    assert.deepEqual(
      allowed.warnings.map((w) => w.path),
      ["openstack-rt:securityGroup.sshCidr"],
    );
    assert.match(allowed.warnings[0].message, /open to the internet \(allowSshFromAnywhere is set\)/);
  });
});

describe("warnings in npm run plan and in the program", () => {
  const dir = mkdtempSync(join(tmpdir(), "warnings-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const doc = parse(readFileSync(join(PROJECT_DIR, "Pulumi.dev.yaml"), "utf8")) as {
    config: Record<string, { ssh: Record<string, unknown> }[]>;
  };
  delete doc.config["openstack-rt:hosts"][0].ssh.hostKey;
  delete doc.config["openstack-rt:hosts"][1].ssh.hostKey;
  doc.config["openstack-rt:hosts"][1].ssh.insecureSkipHostKeyCheck = true;
  const file = join(dir, "Pulumi.unpinned.yaml");
  writeFileSync(file, stringify(doc));
  const run = (...args: string[]) =>
    spawnSync(process.execPath, ["--import", "tsx", join(PROJECT_DIR, "cli", "plan.ts"), "--config", file, ...args], {
      encoding: "utf8",
      cwd: PROJECT_DIR,
    });

  it("text: the plan on stdout, the warnings loudly on stderr, the note in one line", () => {
    const r = run();
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^Plan of stack "unpinned"/);
    assert.equal(
      r.stderr
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => l.replace(/: no hostKey.*/, ": no hostKey ..."))
        .join("\n"),
      [
        "WARNING: 1 warning about the stack config:",
        "  ! openstack-rt:hosts[0].ssh: no hostKey ...",
        "note: openstack-rt:hosts[1].ssh: root@192.0.2.12:22: host key not checked (insecureSkipHostKeyCheck: true)",
      ].join("\n"),
    );
  });

  it("--json: warnings and notes beside the plan", () => {
    const r = run("--json");
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, "");
    const json = JSON.parse(r.stdout) as { warnings: { path: string }[]; notes: { path: string }[] };
    assert.deepEqual(
      json.warnings.map((w) => w.path),
      ["openstack-rt:hosts[0].ssh"],
    );
    assert.deepEqual(
      json.notes.map((w) => w.path),
      ["openstack-rt:hosts[1].ssh"],
    );
  });

  it("--markdown: a warning block before the folded plan", () => {
    const r = run("--markdown");
    assert.equal(r.status, 0, r.stderr);
    const head = r.stdout.slice(0, r.stdout.indexOf("<details>"));
    assert.match(
      head,
      /^### Stack `unpinned`\n\n> \[!WARNING\]\n> \*\*1 warning\*\* about the stack config:\n>\n> - `openstack-rt:hosts\[0\]\.ssh`: no hostKey, so root@192\.0\.2\.11:22 is not authenticated: /m,
    );
    assert.match(
      head,
      /\n_Note:_ `openstack-rt:hosts\[1\]\.ssh`: root@192\.0\.2\.12:22: host key not checked \(insecureSkipHostKeyCheck: true\)\n/,
    );
  });

  it("the program logs each warning once (pulumi.log.warn) and each note as info, in a preview", async () => {
    await setProgramMocks({ preview: true, state: () => ({}) });
    const config: Record<string, string> = {};
    for (const [k, v] of Object.entries(devRaw())) config[`${CONFIG_NAMESPACE}:${k}`] = JSON.stringify(v);
    config[`${CONFIG_NAMESPACE}:hosts`] = JSON.stringify(doc.config["openstack-rt:hosts"]);
    pulumi.runtime.setAllConfig(config);
    const warn = mock.method(pulumi.log, "warn", () => Promise.resolve());
    const info = mock.method(pulumi.log, "info", () => Promise.resolve());
    try {
      planFromPulumiConfig(new pulumi.Config());
      const warned = warn.mock.calls.map((c) => String(c.arguments[0]));
      assert.equal(warned.length, 1);
      assert.match(
        warned[0],
        /^openstack-rt:hosts\[0\]\.ssh: no hostKey, so root@192\.0\.2\.11:22 is not authenticated/,
      );
      assert.match(warned[0], /npm run discover -- --stack dev --host compute-rt-01/, "the real stack name");
      assert.deepEqual(
        info.mock.calls.map((c) => String(c.arguments[0])),
        ["openstack-rt:hosts[1].ssh: root@192.0.2.12:22: host key not checked (insecureSkipHostKeyCheck: true)"],
      );
    } finally {
      warn.mock.restore();
      info.mock.restore();
      await pulumi.runtime.disconnect();
    }
  });
});

describe("warnings an RT operator expects (lib/plan/rt-warnings.ts)", () => {
  function decided(edit: (raw: Raw) => void, stack = "lab") {
    const raw = devRaw();
    edit(raw);
    const d = decideStack(raw, PROJECT_DIR, stack);
    assert.ok(d.ok, JSON.stringify(d.ok ? [] : d.problems));
    return d;
  }
  /** compute-rt-01 with two threads per core: node 0 cores (0,1) (2,3) ..., node 1 cores (12,13) ... */
  const smtTopology = {
    nodes: [
      { id: 0, cpus: "0-11", memoryMb: 16384, threadSiblings: ["0,1", "2,3", "4,5", "6,7", "8,9", "10,11"] },
      { id: 1, cpus: "12-23", memoryMb: 16384, threadSiblings: ["12,13", "14,15", "16,17", "18,19", "20,21", "22,23"] },
    ],
  };

  it("the dev stack: no RT warning; the plan says plainly that other flavors can land on the RT hosts", () => {
    const d = decided(() => {});
    assert.deepEqual([d.warnings, d.notes], [[], []]);
    const text = renderPlan("lab", d.plan);
    assert.match(text, /\nRT hosts: flavors of the rest of the cloud can land on these hosts/);
    assert.match(text, /trait:CUSTOM_<NAME>=required .*enable_isolated_aggregate_filtering = true/);
    assert.match(
      renderPlanMarkdown("lab", d.plan),
      /_RT hosts:_ flavors of the rest of the cloud can land on these hosts/,
    );
  });

  it("SMT on an RT host: Nova's advice, what each RT flavor's thread policy does about it, and the fix with the real stack", () => {
    const d = decided((raw) => {
      raw.hosts[0].topology = smtTopology;
      raw.flavors.push({
        name: "rt1.pair",
        vcpus: 4,
        ramMb: 2048,
        diskGb: 20,
        realtime: { housekeepingVcpus: 2 },
        threadPolicy: "require",
      });
      raw.flavors = raw.flavors.filter((f) => f.name !== "pin1.medium");
    });
    const smt = d.warnings.filter((w) => /SMT on/.test(w.message));
    assert.deepEqual(
      smt.map((w) => w.path),
      ["openstack-rt:hosts[0].topology"],
    );
    const m = smt[0].message;
    assert.match(m, /^host compute-rt-01 has SMT on, and Nova's real-time guide advises turning it off on RT hosts/);
    assert.match(
      m,
      /"rt1\.small" \(threadPolicy prefer, Nova's default\) may put an RT vCPU on a core whose other thread runs another vCPU/,
    );
    assert.match(m, /"rt1\.pair" \(threadPolicy require\) takes whole cores/);
    assert.match(m, /npm run discover -- --stack lab --host compute-rt-01\)$/);
  });

  it("a flavor without a page size that Nova would place past the small-page memory", () => {
    // 2 x 16 GiB, 12 GiB of each node in 1 GiB pages, 4 GiB reserved: 4 GiB of small pages for guests.
    const d = decided((raw) => {
      for (const h of raw.hosts) h.hugepages1gPerNode = 12;
      raw.flavors = raw.flavors.filter((f) => f.name === "pin1.medium");
      raw.servers = [];
    });
    const plan = d.plan.flavors[0].hosts[0];
    assert.ok(plan.capacity * 2048 > 4096, `Nova places ${plan.capacity} of 2 GiB`);
    const w = d.warnings.filter((x) => x.path === "openstack-rt:flavors[0].pageSize");
    assert.equal(w.length, 1, JSON.stringify(d.warnings));
    assert.match(w[0].message, /flavor "pin1\.medium" sets no pageSize, so its guests use small pages/);
    assert.match(
      w[0].message,
      new RegExp(`compute-rt-01: Nova places ${plan.capacity} \\(${plan.capacity * 2048} MiB\\), 4096 MiB hold 2`),
    );
    assert.match(w[0].message, /Set pageSize: small \(hw:mem_page_size=small/);
    // The fix the warning names: Nova then counts small pages, and the warning is gone.
    const fixed = decided((raw) => {
      for (const h of raw.hosts) h.hugepages1gPerNode = 12;
      raw.flavors = raw.flavors.filter((f) => f.name === "pin1.medium");
      raw.flavors[0].pageSize = "small";
      raw.servers = [];
    });
    assert.deepEqual(fixed.warnings, []);
  });

  it("two hosts, or a host and the controller, on one SSH address", () => {
    const { warnings } = warningsOf((raw) => {
      ssh(raw, 1).host = "192.0.2.11";
      (raw.controller as { ssh: Record<string, unknown> }).ssh.host = "192.0.2.11";
    });
    assert.deepEqual(
      warnings.map((w) => w.path),
      ["openstack-rt:hosts[1].ssh.host", "openstack-rt:controller.ssh.host"],
    );
    assert.match(
      warnings[0].message,
      /^host compute-rt-02 and host compute-rt-01 \(openstack-rt:hosts\[0\]\) are reached at one address, 192\.0\.2\.11:22: one machine, whose nova\.conf both edit/,
    );
    assert.match(warnings[0].message, /Give each host its own ssh\.host/);
    assert.match(
      warnings[1].message,
      /^the controller and host compute-rt-01 .*Fine for an all-in-one controller that is also a compute host/,
    );
    const otherPort = warningsOf((raw) => {
      ssh(raw, 1).host = "192.0.2.11";
      ssh(raw, 1).port = 2222;
    });
    assert.deepEqual(otherPort.warnings, [], "another port is another sshd");
  });
});
