/**
 * Where host maintenance gets its OpenStack credentials (lib/transport/nova-api/credentials.ts), in the
 * openstack provider's order: the stack's `openstack:*` config, the `OS_*` environment, then
 * clouds.yaml; and that no error message carries a secret. The provider's `check` runs in
 * previews with every input unknown.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { resolveCredentials } from "../../../lib/transport/nova-api/credentials";
import { authenticate } from "../../../lib/transport/nova-api/client";
import { makeHostMaintenanceProvider } from "../../../lib/providers/host-maintenance";

const dir = mkdtempSync(join(tmpdir(), "clouds-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const clouds = join(dir, "clouds.yaml");
writeFileSync(
  clouds,
  [
    "clouds:",
    "  prod:",
    "    region_name: RegionTwo",
    "    auth:",
    "      auth_url: https://keystone.example:5000/v3",
    "      username: ops",
    "      password: cloud-secret-1",
    "      project_name: rt",
    "      user_domain_name: Default",
    "      project_domain_name: Default",
    "",
  ].join("\n"),
);
const none = () => undefined;

describe("OpenStack credentials for host maintenance", () => {
  it("stack config first, then OS_* variables, then the clouds.yaml entry", () => {
    const c = resolveCredentials(
      (k) => ({ cloud: "prod", password: "config-secret" })[k],
      { OS_USERNAME: "env-user" },
      [clouds],
    );
    assert.equal(c.password, "config-secret");
    assert.equal(c.userName, "env-user");
    assert.equal(c.authUrl, "https://keystone.example:5000/v3");
    assert.equal(c.projectName, "rt");
    assert.equal(c.region, "RegionTwo");
    const env = resolveCredentials(none, { OS_CLOUD: "prod" }, [clouds]);
    assert.equal(env.userName, "ops");
  });

  it("names the missing settings, never a value", () => {
    assert.throws(() => resolveCredentials(none, {}, []), /openstack:authUrl .* OS_AUTH_URL/);
    assert.throws(
      () => resolveCredentials(none, { OS_AUTH_URL: "https://k/v3", OS_USERNAME: "u" }, []),
      /no OpenStack credentials: set openstack:userName and openstack:password/,
    );
    assert.throws(() => resolveCredentials(none, { OS_CLOUD: "staging" }, [clouds]), /the cloud "staging"/);
  });

  it("a refused login names Keystone's answer, not the password", async () => {
    const fake: typeof fetch = () =>
      Promise.resolve(
        new Response(
          JSON.stringify({ error: { code: 401, message: "The request you have made requires authentication." } }),
          {
            status: 401,
          },
        ),
      );
    await assert.rejects(
      authenticate(resolveCredentials(none, { OS_CLOUD: "prod" }, [clouds]), { fetch: fake }),
      (e: Error) =>
        /Keystone authentication: POST \/v3\/auth\/tokens returned 401: The request you have made requires authentication/.test(
          e.message,
        ) && !e.message.includes("cloud-secret-1"),
    );
  });

  it("the provider's check takes unknown inputs (a preview) and names bad ones", async () => {
    const p = makeHostMaintenanceProvider();
    const unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
    const all = { phase: unknown, hostName: unknown, stack: unknown, changeDigest: unknown } as never;
    assert.deepEqual((await p.check!({} as never, all)).failures, undefined);
    const bad = await p.check!(
      {} as never,
      {
        phase: "start",
        hostName: "",
        stack: "s",
        changeDigest: "d",
        guests: "evacuate",
        migrationTimeoutSeconds: 0,
      } as never,
    );
    assert.deepEqual(bad.failures!.map((f) => f.property).sort(), ["guests", "hostName", "migrationTimeoutSeconds"]);
  });
});

describe("the host-maintenance provider's diff", () => {
  const p = makeHostMaintenanceProvider();
  const start = {
    phase: "start",
    hostName: "h1",
    stack: "p/s",
    changeDigest: "d1",
    guests: "refuse",
    migrationTimeoutSeconds: 600,
  } as const;

  it("runs the start again only for another step digest, host or stack, not for another guest policy", async () => {
    const diff = (news: object) => p.diff!("h1-start", start as never, { ...start, ...news });
    assert.equal((await diff({})).changes, false);
    assert.equal((await diff({ guests: "live-migrate", migrationTimeoutSeconds: 60 })).changes, false);
    assert.equal((await diff({ changeDigest: "d2" })).changes, true);
    assert.deepEqual((await diff({ hostName: "h2" })).replaces, ["hostName"]);
  });
});

describe("adopting prepared hosts", () => {
  it("a start created with adopt records the host and calls nothing (no credentials needed)", async () => {
    const p = makeHostMaintenanceProvider({ env: {} });
    const made = await p.create({
      phase: "start",
      hostName: "h1",
      stack: "p/s",
      changeDigest: "d1",
      guests: "refuse",
      migrationTimeoutSeconds: 600,
      adopt: true,
    });
    assert.equal((made.outs as { disabledByStack: boolean }).disabledByStack, false);
    assert.match((made.outs as { report: string[] }).report[0], /adopted h1 as it is/);
  });
});
