import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parse, stringify } from "yaml";
import { PROJECT_DIR } from "../../support/dev-config";
import type { TestSshd } from "../../support/sshd";
import { startSshd } from "../../support/sshd";

const tsx = join(PROJECT_DIR, "node_modules", ".bin", "tsx");
const verify = (...args: string[]) =>
  spawnSync(tsx, [join(PROJECT_DIR, "cli", "verify.ts"), ...args], {
    encoding: "utf8",
    env: { ...process.env, SSH_AUTH_SOCK: "" },
  });
const domainFixture = (name: string) => join(PROJECT_DIR, "test", "fixtures", "domain", name);

let sshd: TestSshd;
let stackFile: string;
before(async () => {
  sshd = await startSshd();
  // The dev stack with its first host pointed at the throwaway sshd.
  const doc = parse(readFileSync(join(PROJECT_DIR, "Pulumi.dev.yaml"), "utf8")) as {
    config: Record<string, { ssh: object }[]>;
  };
  doc.config["openstack-rt:hosts"][0].ssh = {
    host: "127.0.0.1",
    port: sshd.port,
    user: sshd.user,
    hostKey: sshd.hostKeyPub,
  };
  stackFile = join(sshd.dir, "Pulumi.local.yaml");
  writeFileSync(stackFile, stringify(doc));
  writeFileSync(join(sshd.dir, "id"), sshd.userKey, { mode: 0o600 });
});
after(() => sshd.stop());

describe("npm run verify", () => {
  it("passes Nova's own XML for rt1.small against the dev plan (exit 0)", () => {
    const r = verify(
      "domain",
      "--xml",
      domainFixture("dev-plan-rt1.small.xml"),
      "--flavor",
      "rt1.small",
      "--stack",
      "dev",
    );
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /checks: (\d+) passed, 0 failed\n$/);
  });

  it("fails the seed's dump against the dev plan, naming the pCPU outside 4-11 (exit 1)", () => {
    const r = verify("domain", "--xml", domainFixture("seed-003.xml"), "--flavor", "rt1.small", "--json");
    assert.equal(r.status, 1);
    const doc = JSON.parse(r.stdout) as { ok: boolean; results: { ok: boolean; hint: string; observed: string }[] };
    assert.equal(doc.ok, false);
    assert.ok(doc.results.some((x) => !x.ok && /outside cpu_dedicated_set 4-11/.test(x.hint + x.observed)));
  });

  it("runs the host checks over SSH and exits 1 on a non-RT host", () => {
    const r = verify("host", "--config", stackFile, "--target", "compute-rt-01", "--identity", join(sshd.dir, "id"));
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /^host checks of compute-rt-01\n/);
    assert.match(r.stdout, /FAIL\s+RT kernel/);
    assert.doesNotMatch(r.stdout + r.stderr, /PRIVATE KEY/);
  });

  it("exits 2 on bad usage, naming what is missing", () => {
    assert.match(verify("host", "--stack", "dev").stderr, /--target is needed/);
    assert.equal(verify("host", "--stack", "dev").status, 2);
    assert.match(verify("domain", "--stack", "dev", "--target", "rt-server").stderr, /--server-id is needed/);
    assert.match(verify("host", "--target", "nope").stderr, /"nope" is not a host of this stack/);
    assert.equal(verify("bogus").status, 2);
  });

  it("names the check it did not understand, with the closest one", () => {
    const r = verify("hots", "--target", "compute-rt-01");
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown check "hots"; did you mean host\?/);
    const o = verify("host", "--taget", "compute-rt-01");
    assert.equal(o.status, 2);
    assert.match(o.stderr, /unknown option --taget; did you mean --target\?/);
  });

  it("says which stacks there are when --stack names none", () => {
    const r = verify("host", "--stack", "dve", "--target", "compute-rt-01");
    assert.equal(r.status, 2);
    assert.match(
      r.stderr,
      /--stack dve: there is no Pulumi\.dve\.yaml in .*; did you mean --stack dev\?\n {2}stacks there: dev\n/,
    );
    assert.match(r.stderr, /cp Pulumi\.dev\.yaml Pulumi\.dve\.yaml/);
  });

  it("a missing --identity file or no credentials at all is a clear usage error, not a stack trace", () => {
    const missing = verify(
      "host",
      "--config",
      stackFile,
      "--target",
      "compute-rt-01",
      "--identity",
      join(sshd.dir, "nope"),
    );
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /^cannot read --identity .*nope: ENOENT/);
    assert.doesNotMatch(missing.stderr, /\n\s+at /);
    const none = verify("host", "--config", stackFile, "--target", "compute-rt-01");
    assert.equal(none.status, 2);
    assert.match(none.stderr, /^no SSH credentials: give --identity <private key file>, or start an SSH agent/);
  });

  it("--help lists every option with an example", () => {
    const r = verify("--help");
    assert.equal(r.status, 0);
    for (const o of [
      "--stack",
      "--config",
      "--target",
      "--outputs",
      "--server-id",
      "--address",
      "--port",
      "--user",
      "--host-key",
      "--xml",
      "--identity",
      "--json",
    ])
      assert.ok(r.stdout.includes(`  ${o}`), o);
    assert.match(r.stdout, /Examples:\n {2}npm run verify -- host --stack dev --target compute-rt-01/);
  });
});

describe("npm run verify with the stack's outputs (--outputs)", () => {
  /** `pulumi stack output --json --show-secrets` of a stack whose server is this machine's sshd. */
  function outputsFile(name: string, server: Record<string, unknown>): string {
    const file = join(sshd.dir, name);
    writeFileSync(file, JSON.stringify({ servers: { "rt-server": server } }));
    return file;
  }
  const guest = (...args: string[]) =>
    verify(
      "guest",
      "--config",
      stackFile,
      "--target",
      "rt-server",
      "--identity",
      join(sshd.dir, "id"),
      "--port",
      String(sshd.port),
      "--user",
      sshd.user,
      ...args,
    );

  it("guest: the address and the pinned host key come from the outputs; the guest is checked", () => {
    const file = outputsFile("out-good.json", {
      id: "x",
      accessIpV4: "127.0.0.1",
      floatingIp: null,
      loginUser: sshd.user,
      hostKey: sshd.hostKeyPub,
    });
    const r = guest("--outputs", file);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /^guest checks of rt-server\n/);
    assert.doesNotMatch(r.stdout, /host key|no credentials/);
    assert.doesNotMatch(r.stderr, /WARNING/);
  });

  it("guest: a host key that is not the guest's stops the check before anything runs", () => {
    const other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJmLMDzsXv6Fx8Sw0Lue6LH45zNKPzEe5Sehxmp2dyp6";
    const file = outputsFile("out-other.json", {
      id: "x",
      accessIpV4: "127.0.0.1",
      floatingIp: null,
      loginUser: sshd.user,
      hostKey: other,
    });
    const r = guest("--outputs", file);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /does not match the pinned hostKey/);
    const flag = guest("--address", "127.0.0.1", "--host-key", other);
    assert.match(flag.stdout, /does not match the pinned hostKey/, "--host-key pins it too");
  });

  it("guest: without a host key it warns that the guest is not authenticated", () => {
    const r = guest("--address", "127.0.0.1");
    assert.match(
      r.stderr,
      /WARNING: the guest's SSH host key is not pinned, so 127\.0\.0\.1 is not authenticated: .*--outputs <file>.*--host-key/,
    );
    assert.match(r.stdout, /^guest checks of rt-server\n/);
  });

  it("domain: the server id comes from the outputs", () => {
    const file = outputsFile("out-domain.json", {
      id: "0b7f6c1e-2a3d-4e5f-8a9b-0c1d2e3f4a5b",
      accessIpV4: "127.0.0.1",
      floatingIp: null,
      loginUser: "debian",
      hostKey: sshd.hostKeyPub,
    });
    const r = verify(
      "domain",
      "--config",
      stackFile,
      "--target",
      "rt-server",
      "--outputs",
      file,
      "--identity",
      join(sshd.dir, "id"),
    );
    assert.match(
      r.stdout,
      /^domain checks of rt-server \(0b7f6c1e-2a3d-4e5f-8a9b-0c1d2e3f4a5b\) on no host\n/,
      r.stderr,
    );
  });

  it("refuses an outputs file that is not the stack's, naming how to make it", () => {
    const noServers = join(sshd.dir, "out-none.json");
    writeFileSync(noServers, JSON.stringify({ hostPlans: [] }));
    const r = guest("--outputs", noServers);
    assert.equal(r.status, 2);
    assert.match(
      r.stderr,
      /has no "servers" output: it is not this stack's `pulumi stack output --json --show-secrets`/,
    );
    const secret = outputsFile("out-secret.json", { id: "x", accessIpV4: "127.0.0.1", hostKey: "[secret]" });
    assert.match(guest("--outputs", secret).stderr, /holds "\[secret\]" values: make it with --show-secrets/);
    const other = join(sshd.dir, "out-other-server.json");
    writeFileSync(other, JSON.stringify({ servers: { "web-1": {} } }));
    assert.match(guest("--outputs", other).stderr, /has no server "rt-server": it lists web-1/);
    assert.match(
      guest("--outputs", join(sshd.dir, "missing.json")).stderr,
      /cannot read --outputs .*missing\.json: ENOENT/,
    );
  });
});
