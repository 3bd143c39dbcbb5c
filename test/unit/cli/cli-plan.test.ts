import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { parse, stringify } from "yaml";
import { decideStack } from "../../../lib/desired/decide";
import { formatProblems } from "../../../lib/config/problems";
import { readStackConfig } from "../../../lib/config/stack-files";
import { PROJECT_DIR } from "../../support/dev-config";

const tsx = join(PROJECT_DIR, "node_modules", ".bin", "tsx");
const run = (...args: string[]) =>
  spawnSync(tsx, [join(PROJECT_DIR, "cli", "plan.ts"), ...args], { encoding: "utf8", cwd: tmpdir() });
const dir = mkdtempSync(join(tmpdir(), "plan-cli-"));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("npm run plan", () => {
  it("prints the dev stack's plan from any directory", () => {
    const r = run();
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /Host compute-rt-01 \(debian-12, SMT off\)/);
    assert.match(r.stdout, /TuneD realtime-virtual-host: isolated_cores=4-11/);
    assert.match(r.stdout, /kernel arguments: default_hugepagesz=1G hugepagesz=1G hugepages=0:4,1:4/);
    assert.match(r.stdout, /nova-compute: \[compute\] cpu_dedicated_set=4-11/);
    assert.match(r.stdout, /hw:cpu_realtime_mask=\^0-1/);
    assert.match(
      r.stdout,
      /on a host running only this flavor \(flavors share a host: do not add these up\):\n {4}compute-rt-01: 2 instances/,
    );
    assert.match(r.stdout, /Server rt-server: flavor rt1.small, can go to compute-rt-01, compute-rt-02/);
  });

  it("prints the documented JSON document with --json", () => {
    const r = run("--stack", "dev", "--json");
    assert.equal(r.status, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as {
      stack: string;
      valid: boolean;
      hosts: { name: string; isolated: string }[];
      flavors: { name: string }[];
      servers: unknown[];
    };
    assert.equal(doc.stack, "dev");
    assert.equal(doc.valid, true);
    assert.deepEqual(
      doc.hosts.map((h) => [h.name, h.isolated]),
      [
        ["compute-rt-01", "4-11"],
        ["compute-rt-02", "4-11"],
      ],
    );
    assert.deepEqual(Object.keys(doc).sort(), [
      "flavors",
      "hostSteps",
      "hosts",
      "image",
      "notes",
      "servers",
      "stack",
      "valid",
      "warnings",
    ]);
  });

  it("is deterministic: two runs print the same bytes", () => {
    assert.equal(run("--json").stdout, run("--json").stdout);
  });

  it("lists every problem and exits 1 for a bad config", () => {
    const doc = parse(readFileSync(join(PROJECT_DIR, "Pulumi.dev.yaml"), "utf8")) as {
      config: Record<string, { vcpus?: number; housekeepingCpusPerNode?: number }[]>;
    };
    doc.config["openstack-rt:flavors"][0].vcpus = 12;
    doc.config["openstack-rt:hosts"][0].housekeepingCpusPerNode = 0;
    const file = join(dir, "Pulumi.bad.yaml");
    writeFileSync(file, stringify(doc));
    const r = run("--config", file);
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      /1 problem in the stack config:\n {2}- openstack-rt:hosts\[0\]\.housekeepingCpusPerNode: got 0/,
    );
    const json = run("--config", file, "--json");
    assert.equal(json.status, 1);
    assert.equal((JSON.parse(json.stdout) as { valid: boolean }).valid, false);
  });

  it("decides the stack as the program does: a missing image file is a problem, read from the project directory", () => {
    const doc = parse(readFileSync(join(PROJECT_DIR, "Pulumi.dev.yaml"), "utf8")) as {
      config: Record<string, unknown>;
    };
    doc.config["openstack-rt:image"] = {
      name: "debian-12-rt",
      file: "images/does-not-exist.qcow2",
      loginUser: "debian",
    };
    const file = join(dir, "Pulumi.noimage.yaml");
    writeFileSync(file, stringify(doc));
    const r = run("--config", file);
    assert.equal(r.status, 1);
    // The same problem, in the same words, as the program's RunError.
    const decided = decideStack(readStackConfig(PROJECT_DIR, file).values, PROJECT_DIR);
    assert.ok(!decided.ok);
    assert.equal(r.stderr, `${formatProblems(decided.problems)}\n`);
    assert.equal(
      r.stderr,
      `1 problem in the stack config:\n  - openstack-rt:image.file: got "images/does-not-exist.qcow2" (${join(PROJECT_DIR, "images", "does-not-exist.qcow2")}), which does not exist; ` +
        "give the path of the image file, relative to the project directory or absolute\n",
    );
    const json = run("--config", file, "--json");
    assert.equal(json.status, 1);
    assert.deepEqual(JSON.parse(json.stdout), {
      stack: "noimage", // the stack the file's name gives (Pulumi.noimage.yaml)
      valid: false,
      problems: decided.problems,
      warnings: [],
      notes: [],
    });
    const markdown = run("--config", file, "--markdown");
    assert.equal(markdown.status, 1);
    assert.match(markdown.stdout, /openstack-rt:image\.file/);
    // --diff decides the other stack file the same way.
    const diff = run("--diff", file);
    assert.equal(diff.status, 1);
    assert.match(
      diff.stderr,
      /^the plan to compare with \(--diff .*Pulumi\.noimage\.yaml\) is not valid:\n1 problem in the stack config:\n {2}- openstack-rt:image\.file: /,
    );

    // The file there, the stack plans clean; its checksum is the program's business only.
    const image = join(dir, "guest.qcow2");
    writeFileSync(image, "an image");
    doc.config["openstack-rt:image"] = { name: "debian-12-rt", file: image, loginUser: "debian" };
    writeFileSync(file, stringify(doc));
    assert.equal(run("--config", file).status, 0);
  });

  it("refuses a secret in clear text", () => {
    const text =
      readFileSync(join(PROJECT_DIR, "Pulumi.dev.yaml"), "utf8") + "  openstack-rt:sshPrivateKey: not-a-real-key\n";
    const file = join(dir, "Pulumi.leak.yaml");
    writeFileSync(file, text);
    const r = run("--config", file);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /openstack-rt:sshPrivateKey: is in clear text/);
    assert.doesNotMatch(r.stderr, /not-a-real-key/);
  });

  it("exits 2 on bad usage", () => {
    assert.equal(run("--bogus").status, 2);
    assert.equal(run("--stack", "../etc").status, 2);
  });

  it("answers a mistyped option, format or config key with the closest one", () => {
    const option = run("--markdwn");
    assert.equal(option.status, 2);
    assert.match(option.stderr, /^unknown option --markdwn; did you mean --markdown\?/);
    assert.match(run("--format", "kola").stderr, /did you mean --format kolla\?/);
    assert.doesNotMatch(run("--frobnicate").stderr, /did you mean/, "no suggestion when nothing is close");
    const text = readFileSync(join(PROJECT_DIR, "Pulumi.dev.yaml"), "utf8").replace(
      "housekeepingCpusPerNode: 2",
      "housekepingCpusPerNode: 2",
    );
    const file = join(dir, "Pulumi.typo.yaml");
    writeFileSync(file, text);
    const key = run("--config", file);
    assert.equal(key.status, 1);
    assert.match(key.stderr, /unknown setting "housekepingCpusPerNode" \(did you mean "housekeepingCpusPerNode"\?\)/);
  });

  it("a --stack without a stack file lists the stacks there are and how to make it from the dev stack", () => {
    const r = run("--stack", "prod");
    assert.equal(r.status, 2);
    assert.match(
      r.stderr,
      /^--stack prod: there is no Pulumi\.prod\.yaml in .*\n {2}stacks there: dev\n {2}to make it from the dev stack: cp Pulumi\.dev\.yaml Pulumi\.prod\.yaml, .*pulumi stack init prod\n/,
    );
  });

  it("--help lists every option and an example of each use", () => {
    const r = run("--help");
    assert.equal(r.status, 0);
    for (const o of ["--stack", "--config", "--format", "--json", "--diff", "--diff-label", "-h, --help"])
      assert.ok(r.stdout.includes(`  ${o}`), o);
    assert.match(r.stdout, /Examples:\n {2}npm run plan {2,}/);
    assert.match(r.stdout, /npm run plan -- --diff base\.json/);
  });
});
