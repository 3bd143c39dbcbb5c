/**
 * The `__provider` bundles (lib/providers/bundle.ts): the same bytes in every process, so an
 * unchanged checkout previews no diff, and a loader that offers exactly the provider's methods
 * and runs the bundled code, not the module this process imported.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, it } from "node:test";
import { gunzipSync } from "node:zlib";
import { PROVIDER_EXPORTS, bundledProvider, providerBundle } from "../../../lib/providers/bundle";
import { hostCheckProvider } from "../../../lib/providers/host-check";
import { providerFromBundle } from "../../../lib/providers/loader";
import { sshHostKeyProvider } from "../../../lib/providers/ssh-host-key";

const MODULES = Object.keys(PROVIDER_EXPORTS) as (keyof typeof PROVIDER_EXPORTS)[];

describe("provider bundles", () => {
  it("are the same bytes in another process and hold no path of this checkout", () => {
    const script = `const b = require("./lib/providers/bundle"); process.stdout.write(JSON.stringify(${JSON.stringify(MODULES)}.map((m) => b.providerBundle(m))));`;
    const other = JSON.parse(
      execFileSync(process.execPath, ["--import", "tsx", "-e", script], { encoding: "utf8" }),
    ) as string[];
    assert.deepEqual(other, MODULES.map(providerBundle));
    for (const m of MODULES) {
      const code = gunzipSync(Buffer.from(providerBundle(m), "base64")).toString("utf8");
      assert.ok(!code.includes(process.cwd()), `${m} holds ${process.cwd()}`);
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

  it("a bundle that is not the module's fails on first use, not when the program runs", async () => {
    const broken = providerFromBundle(Buffer.from("not gzip").toString("base64"), "hostCheckProvider", ["check"]);
    await assert.rejects(async () => broken.check!({}, {}), /incorrect header check/);
  });
});
