/**
 * The `__provider` texts (lib/providers/bundle.ts) and what they load in the provider host
 * (lib/providers/loader.ts): the same small text in every process, naming the module and its
 * bundle's sha256 and holding none of its code; a provider that offers exactly the module's
 * methods, runs the bundle built from the project directory, and refuses a bundle the program did
 * not plan with. The text is evaluated as the host does: a module whose `handler()` gives the provider.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import type * as pulumi from "@pulumi/pulumi";
import { providerDigest, providerText } from "../../../lib/providers/bundle";
import { hostCheckProvider } from "../../../lib/providers/host-check";
import type { ProviderModule } from "../../../lib/providers/loader";
import { PROVIDER_EXPORTS, bundleDigest, bundleSource } from "../../../lib/providers/loader";
import { sshHostKeyProvider } from "../../../lib/providers/ssh-host-key";
import { PROJECT_DIR } from "../../support/dev-config";

const MODULES = Object.keys(PROVIDER_EXPORTS) as ProviderModule[];

/** The SDK's own `require-from-string`, which cmd/dynamic-provider's getProvider calls. */
const REQUIRE_FROM_STRING = createRequire(require.resolve("@pulumi/pulumi/package.json")).resolve(
  "require-from-string",
);
const requireFromString = createRequire(__filename)(REQUIRE_FROM_STRING) as (code: string) => {
  handler: () => pulumi.dynamic.ResourceProvider;
};

/** As cmd/dynamic-provider's getProvider: `requireFromString(text).handler()`. */
const hosted = (text: string) => requireFromString(text).handler();

/** runs `script` with tsx in a fresh node whose working directory is `cwd`; what it printed. */
function runElsewhere(script: string, cwd: string): string {
  // tsx by its path: from another directory the name would not resolve.
  const tsx = pathToFileURL(require.resolve("tsx")).href;
  return execFileSync(process.execPath, ["--import", tsx, "-e", script], { cwd, encoding: "utf8" });
}

describe("provider texts", () => {
  it("are the same small text in another process: module and digest, no code, no path of this checkout", () => {
    const script = `const b = require("./lib/providers/bundle"); process.stdout.write(JSON.stringify(${JSON.stringify(MODULES)}.map((m) => b.providerText(m))));`;
    assert.deepEqual(JSON.parse(runElsewhere(script, PROJECT_DIR)), MODULES.map(providerText));
    for (const m of MODULES) {
      const text = providerText(m);
      assert.ok(text.includes(`hostedProvider("${m}", "${providerDigest(m)}")`), text);
      assert.ok(Buffer.byteLength(text) < 1024, `${m}: ${Buffer.byteLength(text)} bytes`);
      assert.doesNotMatch(text, /checkHostFacts|runSsh|verifyHost/);
      assert.ok(!text.includes(PROJECT_DIR), "this checkout's path");
    }
  });

  it("digest the bundle the provider host builds, which holds no path of this checkout", () => {
    for (const m of MODULES) {
      const code = bundleSource(PROJECT_DIR, m);
      assert.equal(bundleDigest(code), providerDigest(m));
      assert.ok(!code.includes(PROJECT_DIR), `${m} holds ${PROJECT_DIR}`);
      assert.match(code, new RegExp(`\\b${PROVIDER_EXPORTS[m]}\\b`));
    }
  });

  it("give the methods the module's provider has, and no other", () => {
    assert.deepEqual(Object.keys(hosted(providerText("host-check"))).sort(), Object.keys(hostCheckProvider).sort());
    assert.deepEqual(Object.keys(hosted(providerText("ssh-host-key"))).sort(), Object.keys(sshHostKeyProvider).sort());
  });

  it("run the bundled code: a check of bad inputs names them as the module's provider does", async () => {
    const loaded = hosted(providerText("host-check"));
    const bad = { hostName: "", target: { host: "127.0.0.1", port: 0, user: "root" }, timeoutSeconds: -1 };
    assert.deepEqual(await loaded.check!({}, bad), await hostCheckProvider.check!({}, bad));
    const failures = (await loaded.check!({}, bad)).failures ?? [];
    assert.ok(
      failures.some((f) => f.property === "hostName"),
      JSON.stringify(failures),
    );
  });

  it("refuse a bundle other than the planned one for check, diff, create and update, not for configure and read", async () => {
    const other = "0".repeat(64);
    const stale = hosted(providerText("host-check").replace(providerDigest("host-check"), other));
    const planned = new RegExp(
      `the host-check provider of this checkout \\(bundle sha256 ${providerDigest("host-check")}\\) is not the one the program planned with \\(${other}\\)`,
    );
    await assert.rejects(async () => stale.check!({}, {}), planned);
    await assert.rejects(async () => stale.diff!("id", {}, {}), planned);
    await assert.rejects(async () => stale.create({}), planned);
    await assert.rejects(async () => stale.update!("id", {}, {}), planned);
    // The state's __provider, from an earlier checkout: this checkout's code reads what it made
    // (here it fails further on, at the SSH target the empty state lacks).
    await stale.configure!({ config: { get: () => undefined, require: () => "" } });
    await assert.rejects(
      async () => stale.read!("id", {}),
      (e: Error) => !planned.test(e.message),
    );
  });

  it("outside the project directory, fail on first use with what to do, not when the program runs", () => {
    const script = `const { providerText } = require(${JSON.stringify(`${PROJECT_DIR}/lib/providers/bundle.ts`)});
const requireFromString = require(${JSON.stringify(REQUIRE_FROM_STRING)});
try { requireFromString(providerText("host-check")).handler(); } catch (e) { process.stdout.write(e.message); }`;
    assert.match(
      runElsewhere(script, "/"),
      /^openstack-rt: the dynamic provider host cannot load \/lib\/providers\/loader\.ts: run pulumi from the openstack-rt project directory/,
    );
  });
});
