import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parse, stringify } from "yaml";
import { PROJECT_DIR } from "./support/dev-config";
import type { TestSshd } from "./support/sshd";
import { startSshd } from "./support/sshd";

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
});
