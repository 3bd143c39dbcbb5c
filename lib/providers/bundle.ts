/**
 * The `__provider` of each dynamic resource: a few lines for @pulumi/pulumi's dynamic-provider
 * host, which evaluates the text as a module and calls its `handler()` for the provider
 * (cmd/dynamic-provider/index.ts, getProvider: `requireFromString(providerString).handler()`).
 * The text names the provider module and the sha256 of its bundle; the handler loads
 * lib/providers/loader.ts with tsx from the project directory, which builds the bundle again and
 * runs it (hostedProvider). Every resource of a kind carries the same text, under 1 KB, and the
 * state holds no provider code. The SDK's own closure serialization would load TypeScript and an
 * inspector session on each run (about 0.8 s) and store about 2.5 KB per resource.
 */
import { join } from "node:path";
import type { ProviderModule } from "./loader";
import { bundleDigest, bundleSource } from "./loader";

/** The project directory: the provider host's working directory, where the engine starts it. */
export const PROJECT_ROOT = join(__dirname, "..", "..");

const digests: Partial<Record<ProviderModule, string>> = {};

/** sha256 of the module's bundle, as the provider host will build it. Built once per program run. */
export function providerDigest(module: ProviderModule): string {
  digests[module] ??= bundleDigest(bundleSource(PROJECT_ROOT, module));
  return digests[module];
}

/** The `__provider` text of `module`'s resources: the same in every run of an unchanged checkout. */
export function providerText(module: ProviderModule): string {
  return `exports.handler = () => {
  const path = require("path").join(process.cwd(), "lib", "providers", "loader.ts");
  let loader;
  try {
    loader = require("tsx/cjs/api").require(path, path);
  } catch (e) {
    throw new Error("openstack-rt: the dynamic provider host cannot load " + path + ": run pulumi from the openstack-rt project directory, with its node_modules installed (npm ci). " + e.message);
  }
  return loader.hostedProvider(${JSON.stringify(module)}, ${JSON.stringify(providerDigest(module))});
};
`;
}
