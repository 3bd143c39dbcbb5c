/**
 * `npm run discover` against a throwaway sshd on 127.0.0.1, which runs facts.sh on this machine:
 * it must write this machine's real topology (as lscpu and sysfs show it, read here) and the
 * sshd's host key into a copy of a stack file, keep the rest of the file, and the file must
 * then plan. Then the pure parts: the declared form, fingerprints, the YAML edit and the diff.
 */
import assert from "node:assert/strict";
import type { SpawnSyncReturns } from "node:child_process";
import { execFileSync, spawnSync } from "node:child_process";
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parse } from "yaml";
import {
  declaredTopology,
  editStackFile,
  hostKeyLine,
  keyFingerprint,
  parseFacts,
  sameTopology,
  unifiedDiff,
} from "../../../lib/discover/discover";
import { topologyFromText } from "../../../lib/cpu/topology";
import { discoveryReport, fingerprintLines, writeStackFile } from "../../../cli/discover";
import type { TestSshd } from "../../support/sshd";
import { startSshd } from "../../support/sshd";
import { PROJECT_DIR } from "../../support/dev-config";

const FIXTURE = join(__dirname, "..", "..", "fixtures", "stacks", "Pulumi.discover.yaml");

function run(script: "discover" | "plan", args: string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, ["--import", "tsx", join(PROJECT_DIR, "cli", `${script}.ts`), ...args], {
    cwd: PROJECT_DIR,
    encoding: "utf8",
    env: { ...process.env, SSH_AUTH_SOCK: "" },
    timeout: 120_000,
  });
}

const show = (r: SpawnSyncReturns<string>) => `exit ${r.status}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;

/** MemTotal per node in MiB, as sysfs says now. */
function nodeMemoryMb(): Record<number, number> {
  const dir = "/sys/devices/system/node";
  return Object.fromEntries(
    readdirSync(dir)
      .filter((d) => /^node\d+$/.test(d))
      .map((d) => [
        Number(d.slice(4)),
        Math.floor(
          Number(/^Node \d+ MemTotal:\s+(\d+) kB$/m.exec(readFileSync(join(dir, d, "meminfo"), "utf8"))![1]) / 1024,
        ),
      ]),
  );
}

let sshd: TestSshd;
let dir: string;
let identity: string;
let stackText: string;

before(async () => {
  sshd = await startSshd();
  dir = mkdtempSync(join(tmpdir(), "openstack-rt-discover-"));
  identity = join(dir, "id_ed25519");
  writeFileSync(identity, sshd.userKey, { mode: 0o600 });
  stackText = readFileSync(FIXTURE, "utf8").replace("        port: 22\n", `        port: ${sshd.port}\n`);
  assert.ok(stackText.includes(`port: ${sshd.port}`));
});
after(async () => {
  await sshd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function stackCopy(name: string, text = stackText): string {
  const file = join(dir, `Pulumi.${name}.yaml`);
  writeFileSync(file, text);
  return file;
}

describe("npm run discover against this machine", () => {
  it("shows the fingerprint and the diff, writes nothing without --yes, writes this machine's topology and the host key with it, and the file plans", () => {
    const file = stackCopy("local");
    const dry = run("discover", ["--config", file, "--host", "compute-local", "--identity", identity]);
    assert.equal(dry.status, 0, show(dry));
    // The fingerprint as ssh-keygen -lf prints it for the sshd's ed25519 key.
    const fingerprint = execFileSync("ssh-keygen", ["-lf", join(sshd.dir, "host.pub")], { encoding: "utf8" }).split(
      " ",
    )[1];
    assert.match(dry.stdout, new RegExp(`fingerprint: ${fingerprint.replace(/[+/]/g, "\\$&")} \\(ED25519\\)`));
    assert.match(dry.stdout, /^--- .*Pulumi\.local\.yaml\n\+\+\+ .*Pulumi\.local\.yaml \(discovered\)\n@@ /m);
    assert.match(dry.stdout, /^- {6}topology: discover # written by `npm run discover`$/m);
    assert.match(dry.stdout, /^\+ {8}hostKey: ssh-ed25519 AAAA/m);
    assert.match(dry.stdout, /Not written\. .*\n {2}npm run discover -- --config .* --yes\n/);
    // The fingerprint comes after everything the host sent and the diff: nothing printed later can hide it.
    assert.ok(
      dry.stdout.indexOf("Host key fingerprint: ") > dry.stdout.lastIndexOf("hostKey: ssh-ed25519"),
      dry.stdout,
    );
    assert.equal(readFileSync(file, "utf8"), stackText, "nothing is written without --yes");

    const memBefore = nodeMemoryMb();
    const written = run("discover", ["--config", file, "--host", "compute-local", "--identity", identity, "--yes"]);
    const memAfter = nodeMemoryMb();
    assert.equal(written.status, 0, show(written));
    assert.match(
      written.stdout,
      /Wrote openstack-rt:hosts\[0\]\.topology and openstack-rt:hosts\[0\]\.ssh\.hostKey to /,
    );

    const text = readFileSync(file, "utf8");
    const host = (
      parse(text) as {
        config: Record<string, { topology: { nodes: Record<string, unknown>[] }; ssh: Record<string, unknown> }[]>;
      }
    ).config["openstack-rt:hosts"][0];
    // This machine's topology, as lscpu and sysfs show it here.
    const lscpu = execFileSync("lscpu", ["-p=CPU,CORE,SOCKET,NODE"], { encoding: "utf8" });
    const expected = declaredTopology(
      topologyFromText(
        lscpu,
        Object.entries(memBefore)
          .map(([n, mb]) => `Node ${n} MemTotal: ${mb * 1024} kB`)
          .join("\n"),
      ),
    );
    const withoutMemory = (nodes: Record<string, unknown>[]) =>
      nodes.map((n) => Object.fromEntries(Object.entries(n).filter(([k]) => k !== "memoryMb")));
    assert.deepEqual(
      withoutMemory(host.topology.nodes),
      withoutMemory(expected.nodes as unknown as Record<string, unknown>[]),
    );
    for (const n of host.topology.nodes) {
      const id = n.id as number;
      // Memory can be hot-plugged on a VM while discover runs: its value lies between the reads around it.
      assert.ok(
        (n.memoryMb as number) >= Math.min(memBefore[id], memAfter[id]) &&
          (n.memoryMb as number) <= Math.max(memBefore[id], memAfter[id]),
        `node ${id}: ${String(n.memoryMb)} MiB`,
      );
    }
    assert.equal(host.ssh.hostKey, sshd.hostKeyPub.split(" ").slice(0, 2).join(" "));
    // CPU lists stay strings (a single CPU would read as a number otherwise); comments and the rest stay.
    assert.match(text, /^ {12}cpus: "[0-9,-]+"$/m);
    assert.match(text, /^ {4}# This host is where the test's sshd runs\.$/m);
    assert.match(text, /^ {8}host: 127\.0\.0\.1 # loopback only$/m);
    const rest = (t: string) => t.slice(t.indexOf("  openstack-rt:flavors:"));
    assert.equal(rest(text), rest(stackText));
    assert.equal(text.slice(0, text.indexOf("config:")), stackText.slice(0, stackText.indexOf("config:")));

    const plan = run("plan", ["--config", file]);
    assert.equal(plan.status, 0, show(plan));
    assert.match(plan.stdout, /Host compute-local \(debian-12/);

    const again = run("discover", ["--config", file, "--host", "compute-local", "--identity", identity]);
    assert.equal(again.status, 0, show(again));
    assert.match(again.stdout, /the key pinned in the stack file/);
    if (
      Object.entries(memAfter).every(([n, mb]) => host.topology.nodes.find((x) => x.id === Number(n))?.memoryMb === mb)
    ) {
      assert.match(again.stdout, /already declares this topology and host key: nothing to write/);
    }
  });

  it("refuses a host that presents another key than the pinned one, and writes nothing", () => {
    const wrong = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJmLMDzsXv6Fx8Sw0Lue6LH45zNKPzEe5Sehxmp2dyp6";
    const text = stackText.replace(`port: ${sshd.port}\n`, `port: ${sshd.port}\n        hostKey: ${wrong}\n`);
    const file = stackCopy("pinned-wrong", text);
    const r = run("discover", ["--config", file, "--host", "compute-local", "--identity", identity, "--yes"]);
    assert.equal(r.status, 1, show(r));
    assert.match(
      r.stderr,
      /^openstack-rt:hosts\[0\]\.ssh\.hostKey: ssh root@127\.0\.0\.1:\d+: the server's host key does not match the pinned hostKey/,
    );
    assert.match(r.stderr, /remove hostKey from the stack file and run discover again/);
    assert.doesNotMatch(r.stdout, /Discovered/);
    assert.equal(readFileSync(file, "utf8"), text);
  });

  it("refuses a pinned RSA key, as the plan does, and leaves the file alone", () => {
    const text = stackText.replace(
      `port: ${sshd.port}\n`,
      `port: ${sshd.port}\n        hostKey: ${sshd.otherHostKeys.rsa.split(" ").slice(0, 2).join(" ")}\n`,
    );
    const file = stackCopy("pinned-rsa", text);
    const r = run("discover", ["--config", file, "--host", "compute-local", "--identity", identity, "--yes"]);
    assert.equal(r.status, 1, show(r));
    assert.match(r.stderr, /hostKey: is an RSA key.*pin the host's ed25519 or ECDSA key instead/);
    assert.equal(readFileSync(file, "utf8"), text);
  });

  it("writes through a symlinked stack file to its target, and the link stays", () => {
    const real = join(dir, "real");
    mkdirSync(real);
    const target = join(real, "Pulumi.linked.yaml");
    writeFileSync(target, stackText);
    const link = join(dir, "Pulumi.linked.yaml");
    symlinkSync(target, link);
    const r = run("discover", ["--config", link, "--host", "compute-local", "--identity", identity, "--yes"]);
    assert.equal(r.status, 0, show(r));
    assert.ok(lstatSync(link).isSymbolicLink(), "the link is not replaced by a file");
    assert.match(readFileSync(target, "utf8"), /hostKey: ssh-ed25519 /);
    assert.match(r.stdout, /\(a link to .*real\/Pulumi\.linked\.yaml, which is written\)/);
    assert.deepEqual(readdirSync(real), ["Pulumi.linked.yaml"], "no temporary file is left");
  });

  it("--help shows the options and examples; a stack without a file lists the stacks there are", () => {
    const help = run("discover", ["--help"]);
    assert.equal(help.status, 0, show(help));
    assert.match(
      help.stdout,
      /--host <name>.*\n[\s\S]*Examples:\n {2}npm run discover -- --stack dev --host compute-rt-01\n/,
    );
    const missing = run("discover", ["--stack", "nope", "--host", "x", "--identity", identity]);
    assert.equal(missing.status, 2, show(missing));
    assert.match(missing.stderr, /--stack nope: there is no Pulumi\.nope\.yaml in .*\n {2}stacks there: dev\n/);
    const typo = run("discover", ["--hots", "x"]);
    assert.equal(typo.status, 2, show(typo));
    assert.match(typo.stderr, /unknown option --hots; did you mean --host\?/);
  });

  it("exits 2 on bad usage and names what is wrong", () => {
    const file = stackCopy("usage");
    const noHost = run("discover", ["--config", file, "--identity", identity]);
    assert.equal(noHost.status, 2, show(noHost));
    assert.match(noHost.stderr, /--host is needed/);
    const unknown = run("discover", ["--config", file, "--host", "compute-elsewhere", "--identity", identity]);
    assert.equal(unknown.status, 2, show(unknown));
    assert.match(unknown.stderr, /"compute-elsewhere" is not a host of .*: its hosts are compute-local/);
    const noKey = run("discover", ["--config", file, "--host", "compute-local"]);
    assert.equal(noKey.status, 2, show(noKey));
    assert.match(noKey.stderr, /give --identity <private key file>, or start an SSH agent/);
    assert.equal(readFileSync(file, "utf8"), stackText);
  });

  it("exits 1 naming the setting when the host cannot be reached or the stack file not read", () => {
    const closed = stackCopy("closed", stackText.replace(`port: ${sshd.port}\n`, "port: 1\n"));
    const r = run("discover", ["--config", closed, "--host", "compute-local", "--identity", identity]);
    assert.equal(r.status, 1, show(r));
    assert.match(
      r.stderr,
      /^openstack-rt:hosts\[0\]\.ssh\.host: ssh root@127\.0\.0\.1:1: cannot connect \(ECONNREFUSED\)/,
    );
    const missing = run("discover", [
      "--config",
      join(dir, "Pulumi.none.yaml"),
      "--host",
      "compute-local",
      "--identity",
      identity,
    ]);
    assert.equal(missing.status, 1, show(missing));
    assert.match(missing.stderr, /cannot read the stack file/);
  });
});

describe("discover's parts", () => {
  it("writes the stack file only if it is still the text the edit was made from", () => {
    const sub = mkdtempSync(join(tmpdir(), "discover-write-"));
    try {
      const file = join(sub, "Pulumi.x.yaml");
      writeFileSync(file, "config: {}\n# changed by an editor meanwhile\n");
      assert.throws(
        () => writeStackFile(file, "config: {}\n", "config: {a: 1}\n"),
        /changed while discover ran .*nothing was written: run discover again/,
      );
      assert.equal(readFileSync(file, "utf8"), "config: {}\n# changed by an editor meanwhile\n");
      assert.deepEqual(readdirSync(sub), ["Pulumi.x.yaml"], "the temporary file is removed");
      assert.equal(writeStackFile(file, readFileSync(file, "utf8"), "config: {a: 1}\n"), file);
      assert.equal(readFileSync(file, "utf8"), "config: {a: 1}\n");
    } finally {
      rmSync(sub, { recursive: true, force: true });
    }
  });

  it("prints what the host sent escaped, and the fingerprint from the key alone", () => {
    const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJmLMDzsXv6Fx8Sw0Lue6LH45zNKPzEe5Sehxmp2dyp6";
    const d = {
      osFamily: "debian-12\u001b[2K\r\u001b]0;owned\u0007",
      declared: { nodes: [{ id: 0, cpus: "0-3", memoryMb: 1024 }] },
      hostKey: key,
      fingerprint: keyFingerprint(key),
    };
    const lines = discoveryReport("h1", { host: "192.0.2.1", port: 22, user: "root" }, d as never);
    const text = [...lines, ...fingerprintLines(d, false)].join("\n");
    // eslint-disable-next-line no-control-regex -- no raw control character may reach the terminal
    assert.doesNotMatch(text, /[\u0000-\u0009\u000b-\u001f]/);
    assert.match(lines[0], /debian-12\\e\[2K\\r\\e\]0;owned\\a/);
    assert.match(
      text,
      new RegExp(`Host key fingerprint: ${keyFingerprint(key).replace(/[+/]/g, "\\$&")} \\(ED25519\\)`),
    );
  });

  it("prints each key type's fingerprint as ssh-keygen -lf does", () => {
    for (const pub of ["host.pub", "host-rsa.pub", "host-ecdsa.pub"]) {
      const line = readFileSync(join(sshd.dir, pub), "utf8").trim();
      const expected = execFileSync("ssh-keygen", ["-lf", join(sshd.dir, pub)], { encoding: "utf8" }).split(" ")[1];
      assert.equal(keyFingerprint(line), expected, pub);
      const blob = Buffer.from(line.split(" ")[1], "base64");
      assert.equal(hostKeyLine(blob), line.split(" ").slice(0, 2).join(" "));
      assert.equal(keyFingerprint(blob), expected);
    }
  });

  it("declares thread groups only with SMT, and reads facts.sh's sections", () => {
    const smt = "0,0,0,0\n1,1,0,0\n2,0,0,0\n3,1,0,0\n4,2,1,1\n5,2,1,1\n";
    const out = `os_family=debian-12\n--- lscpu ---\n# CPU,Core,Socket,Node\n${smt}--- meminfo ---\nNode 0 MemTotal: 8388608 kB\nNode 1 MemTotal: 4194304 kB\n--- end ---\nunchanged\n`;
    const facts = parseFacts(out);
    assert.equal(facts.osFamily, "debian-12");
    assert.deepEqual(declaredTopology(facts.topology), {
      nodes: [
        { id: 0, cpus: "0-3", memoryMb: 8192, threadSiblings: ["0,2", "1,3"] },
        { id: 1, cpus: "4-5", memoryMb: 4096, threadSiblings: ["4-5"] },
      ],
    });
    assert.deepEqual(declaredTopology(topologyFromText("0,0,0,0\n1,1,0,0\n", "Node 0 MemTotal: 2097152 kB")), {
      nodes: [{ id: 0, cpus: "0-1", memoryMb: 2048 }],
    });
    assert.throws(
      () => parseFacts("os_family=debian-12\n--- lscpu ---\n0,0,0,0\n"),
      /no complete "--- lscpu ---" section/,
    );
  });

  it("compares declared topologies by meaning, not spelling", () => {
    const d = { nodes: [{ id: 0, cpus: "0-3", memoryMb: 8192, threadSiblings: ["0,2", "1,3"] }] };
    assert.equal(
      sameTopology({ nodes: [{ id: 0, cpus: "0,1,2,3", memoryMb: 8192, threadSiblings: ["1,3", "2,0"] }] }, d),
      true,
    );
    assert.equal(
      sameTopology({ nodes: [{ id: 0, cpus: "0-3", memoryMb: 8191, threadSiblings: ["0,2", "1,3"] }] }, d),
      false,
    );
    assert.equal(sameTopology("discover", d), false);
    assert.equal(
      sameTopology(
        { nodes: [{ id: 0, cpus: "0-3", memoryMb: 8192 }] },
        { nodes: [{ id: 0, cpus: "0-3", memoryMb: 8192 }] },
      ),
      true,
    );
  });

  const discovered = {
    declared: {
      nodes: [
        { id: 0, cpus: "4", memoryMb: 4096 },
        { id: 1, cpus: "5-7", memoryMb: 4096, threadSiblings: ["5,7"] },
      ],
    },
    hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJmLMDzsXv6Fx8Sw0Lue6LH45zNKPzEe5Sehxmp2dyp6",
  };

  it("edits only the host's topology and host key, quoting CPU lists and keeping comments, anchors and order", () => {
    const text = [
      "# a stack",
      "config:",
      "  openstack-rt:hosts:",
      "    - name: a",
      "      ssh: &ssh-a",
      "        host: 192.0.2.1 # the address",
      "        port: 2222",
      "        proxy:",
      "          host: 192.0.2.9",
      "      topology: discover",
      "    - name: b # the other host",
      "      ssh: {host: 192.0.2.2}",
      "      topology: discover",
      "  openstack-rt:network: {name: net}",
      "",
    ].join("\n");
    const edit = editStackFile(text, "a", discovered);
    assert.ok(edit.ok, JSON.stringify(edit));
    assert.deepEqual(edit.changed, ["openstack-rt:hosts[0].topology", "openstack-rt:hosts[0].ssh.hostKey"]);
    assert.deepEqual(edit.notes, []);
    assert.equal(
      edit.text,
      [
        "# a stack",
        "config:",
        "  openstack-rt:hosts:",
        "    - name: a",
        "      ssh: &ssh-a",
        "        host: 192.0.2.1 # the address",
        "        port: 2222",
        `        hostKey: ${discovered.hostKey}`,
        "        proxy:",
        "          host: 192.0.2.9",
        "      topology:",
        "        nodes:",
        "          - id: 0",
        '            cpus: "4"',
        "            memoryMb: 4096",
        "          - id: 1",
        '            cpus: "5-7"',
        "            memoryMb: 4096",
        '            threadSiblings: ["5,7"]',
        "    - name: b # the other host",
        "      ssh: {host: 192.0.2.2}",
        "      topology: discover",
        "  openstack-rt:network: {name: net}",
        "",
      ].join("\n"),
    );
    // The written values read back as the schema wants them.
    const host = (parse(edit.text) as { config: Record<string, { topology: unknown }[]> }).config[
      "openstack-rt:hosts"
    ][0];
    assert.deepEqual(host.topology, discovered.declared);
    // Once written, nothing changes.
    const again = editStackFile(edit.text, "a", discovered);
    assert.ok(again.ok);
    assert.deepEqual(again.changed, []);
    assert.equal(again.text, edit.text);
  });

  it("refuses to edit what YAML aliases share with other entries, and names the host's setting", () => {
    const shared = [
      "config:",
      "  openstack-rt:hosts:",
      "    - name: a",
      "      ssh: &s {host: 192.0.2.1}",
      "      topology: &t {nodes: [{id: 0, cpus: '0', memoryMb: 2048}]}",
      "    - name: b",
      "      ssh: *s",
      "      topology: *t",
      "",
    ].join("\n");
    const a = editStackFile(shared, "a", discovered);
    assert.deepEqual(a.ok ? null : a.path, "openstack-rt:hosts[0].topology");
    assert.match(a.ok ? "" : a.message, /the anchor &t, which 1 alias\(es\) reuse/);
    const b = editStackFile(shared, "b", {
      ...discovered,
      declared: { nodes: [{ id: 0, cpus: "0", memoryMb: 2048 }] },
    });
    assert.deepEqual(b.ok ? null : [b.path, b.message], [
      "openstack-rt:hosts[1].ssh",
      "is the alias *s; write this host's ssh settings out, then run discover again",
    ]);
    const missing = editStackFile(shared, "c", discovered);
    assert.deepEqual(missing.ok ? null : missing.message, 'has no host named "c"');
  });

  it("gives a host that merges another's settings (<<: *anchor) a topology of its own, and refuses to edit merged ssh settings", () => {
    const merged = (ssh: string) =>
      [
        "config:",
        "  openstack-rt:hosts:",
        "    - &base",
        "      name: a",
        `      ssh: ${ssh}`,
        "      topology: discover",
        "    - <<: *base",
        "      name: b",
        "",
      ].join("\n");
    const pinned = merged(`{host: 192.0.2.1, hostKey: ${discovered.hostKey}}`);
    const b = editStackFile(pinned, "b", discovered);
    assert.ok(b.ok, JSON.stringify(b));
    assert.deepEqual(b.changed, ["openstack-rt:hosts[1].topology"]);
    const hosts = (parse(b.text, { merge: true }) as { config: Record<string, { topology: unknown }[]> }).config[
      "openstack-rt:hosts"
    ];
    assert.deepEqual([hosts[0].topology, hosts[1].topology], ["discover", discovered.declared]);
    const a = editStackFile(pinned, "a", discovered);
    assert.deepEqual(a.ok ? null : a.path, "openstack-rt:hosts[0]");
    assert.match(a.ok ? "" : a.message, /the anchor &base, which 1 alias\(es\) reuse/);
    const unpinned = editStackFile(merged("{host: 192.0.2.1}"), "b", discovered);
    assert.deepEqual(unpinned.ok ? null : [unpinned.path, unpinned.message], [
      "openstack-rt:hosts[1].ssh",
      "is not in this entry (merged from an anchor); write this host's ssh settings out, then run discover again",
    ]);
  });

  it("diffs like diff -u", () => {
    const a = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n";
    const b = "1\n2\n3\n4\nfive\n6\n7\n8\n9\n10\n11\n";
    assert.equal(unifiedDiff(a, a, { before: "a", after: "b" }), "");
    const mine = unifiedDiff(a, b, { before: "a", after: "b" });
    writeFileSync(join(dir, "a"), a);
    writeFileSync(join(dir, "b"), b);
    const real = spawnSync("diff", ["-u", "--label", "a", "--label", "b", join(dir, "a"), join(dir, "b")], {
      encoding: "utf8",
    });
    if (real.error === undefined) assert.equal(mine, real.stdout);
    assert.equal(mine, "--- a\n+++ b\n@@ -2,9 +2,10 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n 9\n 10\n+11\n");
  });
});
