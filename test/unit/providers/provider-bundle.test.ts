/**
 * The `__provider` texts (lib/providers/bundle.ts, loader.ts): the same small text in every
 * process, naming the module and its bundle's sha256 and holding none of its code; a loader
 * that offers exactly the provider's methods, runs the bundle it builds from the project
 * directory, and refuses a bundle the program did not plan with.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import * as pulumi from "@pulumi/pulumi";
import { PROVIDER_EXPORTS, bundledProvider, providerDigest } from "../../../lib/providers/bundle";
import { hostCheckProvider } from "../../../lib/providers/host-check";
import { bundleDigest, bundleSource, providerFromSources } from "../../../lib/providers/loader";
import { sshHostKeyProvider } from "../../../lib/providers/ssh-host-key";
import { PROJECT_DIR } from "../../support/dev-config";

const MODULES = Object.keys(PROVIDER_EXPORTS) as (keyof typeof PROVIDER_EXPORTS)[];

const serialize = async (p: pulumi.dynamic.ResourceProvider) =>
  (await pulumi.runtime.serializeFunction(() => p, { allowSecrets: true })).text;

describe("provider texts", () => {
  it("are the same small text in another process: module, digest, no code, no path of this checkout", async () => {
    const script = `const b = require("./lib/providers/bundle"); process.stdout.write(JSON.stringify(${JSON.stringify(MODULES)}.map((m) => b.providerDigest(m))));`;
    const other = JSON.parse(
      execFileSync(process.execPath, ["--import", "tsx", "-e", script], { encoding: "utf8" }),
    ) as string[];
    assert.deepEqual(other, MODULES.map(providerDigest));
    const text = await serialize(bundledProvider("host-check", hostCheckProvider));
    assert.ok(text.includes(`"${providerDigest("host-check")}"`), text);
    assert.ok(text.includes(`"host-check"`), text);
    assert.ok(Buffer.byteLength(text) < 3 * 1024, `${Buffer.byteLength(text)} bytes`);
    assert.doesNotMatch(text, /checkHostFacts|runSsh|verifyHost/);
    assert.ok(!text.includes(process.cwd()), "this checkout's path");
  });

  it("digest the bundle the provider host builds, which holds no path of this checkout", () => {
    for (const m of MODULES) {
      const code = bundleSource(PROJECT_DIR, m);
      assert.equal(bundleDigest(code), providerDigest(m));
      assert.ok(!code.includes(PROJECT_DIR), `${m} holds ${PROJECT_DIR}`);
      assert.match(code, new RegExp(`\\b${PROVIDER_EXPORTS[m]}\\b`));
    }
  });

  it("offer the methods the provider has, and no other", () => {
    assert.deepEqual(
      Object.keys(bundledProvider("host-check", hostCheckProvider)).sort(),
      Object.keys(hostCheckProvider).sort(),
    );
    assert.deepEqual(
      Object.keys(bundledProvider("ssh-host-key", sshHostKeyProvider)).sort(),
      Object.keys(sshHostKeyProvider).sort(),
    );
  });

  it("run the bundled code: a check of bad inputs names them as the module's provider does", async () => {
    const loaded = bundledProvider("host-check", hostCheckProvider);
    const bad = { hostName: "", target: { host: "127.0.0.1", port: 0, user: "root" }, timeoutSeconds: -1 };
    assert.deepEqual(await loaded.check!({}, bad), await hostCheckProvider.check!({}, bad));
    const failures = (await loaded.check!({}, bad)).failures ?? [];
    assert.ok(
      failures.some((f) => f.property === "hostName"),
      JSON.stringify(failures),
    );
  });

  it("refuse a bundle other than the planned one for check, diff, create and update, not for configure, read and delete", async () => {
    const other = "0".repeat(64);
    const stale = providerFromSources("host-check", "hostCheckProvider", other, ["configure", "check", "read"]);
    const planned = new RegExp(
      `the host-check provider of this checkout \\(bundle sha256 ${providerDigest("host-check")}\\) is not the one the program planned with \\(${other}\\)`,
    );
    await assert.rejects(async () => stale.check!({}, {}), planned);
    // The state's __provider, from an earlier checkout: this checkout's code reads what it made
    // (here it fails further on, at the SSH target the empty state lacks).
    await stale.configure!({ config: { get: () => undefined, require: () => "" } });
    await assert.rejects(
      async () => stale.read!("id", {}),
      (e: Error) => !planned.test(e.message),
    );
  });

  it("outside the project directory, fail on first use with what to do, not when the program runs", () => {
    const script = `const { providerDigest, bundledProvider } = require(${JSON.stringify(`${PROJECT_DIR}/lib/providers/bundle.ts`)});
const p = require(${JSON.stringify(`${PROJECT_DIR}/lib/providers/host-check.ts`)});
Promise.resolve().then(() => bundledProvider("host-check", p.hostCheckProvider).check({}, {})).then(() => {}, (e) => { process.stdout.write(e.message); process.exitCode = 1; });`;
    let out = "";
    try {
      // tsx by its path: from / the name would not resolve.
      const tsx = pathToFileURL(require.resolve("tsx")).href;
      execFileSync(process.execPath, ["--import", tsx, "-e", script], { cwd: "/", encoding: "utf8" });
    } catch (e) {
      out = String((e as { stdout: string }).stdout);
    }
    assert.match(
      out,
      /^openstack-rt: the dynamic provider host cannot load \/lib\/providers\/loader\.ts: run pulumi from the openstack-rt project directory/,
    );
  });
});
