/**
 * The `__provider` of each dynamic resource, built when the program runs: the provider's module
 * bundled by esbuild (tree-shaken, so only the code it runs, and compacted), gzipped and wrapped in
 * the loader of lib/providers/loader.ts. The bytes depend only on the sources and the esbuild
 * version, never on the checkout's path or the time, so an unchanged checkout previews no diff.
 */
import type * as pulumi from "@pulumi/pulumi";
import { buildSync } from "esbuild";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import type { ProviderMethod } from "./loader";
import { providerFromBundle } from "./loader";

/** The provider modules under lib/providers/ and the export that is each one's ResourceProvider. */
export const PROVIDER_EXPORTS = {
  "host-check": "hostCheckProvider",
  "domain-check": "domainCheckProvider",
  "guest-check": "guestCheckProvider",
  "reboot-wait": "rebootWaiterProvider",
  "ssh-host-key": "sshHostKeyProvider",
  "host-maintenance": "hostMaintenanceProvider",
  "server-host": "serverHostProvider",
} as const;
export type ProviderModule = keyof typeof PROVIDER_EXPORTS;

const METHODS: readonly ProviderMethod[] = ["configure", "check", "diff", "create", "read", "update", "delete"];

/** The module's code as the provider host gets it: compact CommonJS, ssh2 and yaml left to the host's require. */
export function bundleSource(module: ProviderModule): string {
  const result = buildSync({
    entryPoints: [join(__dirname, `${module}.ts`)],
    bundle: true,
    platform: "node",
    target: "node20",
    format: "cjs",
    // Whitespace and syntax only: names stay, so stack traces and the state read as the source does.
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: "none",
    // Packages of this project's node_modules, which the provider host's require finds.
    external: ["ssh2", "yaml"],
    write: false,
    logLevel: "silent",
  });
  return result.outputFiles[0].text;
}

const built: Partial<Record<ProviderModule, string>> = {};

/** gzip + base64 of bundleSource: what `__provider` carries. Built once per program run. */
export function providerBundle(module: ProviderModule): string {
  built[module] ??= gzipSync(bundleSource(module), { level: 9 }).toString("base64");
  return built[module];
}

const providers: Partial<Record<ProviderModule, pulumi.dynamic.ResourceProvider>> = {};

/**
 * The serializable provider for a module. `provider` is the same module's export, imported as
 * usual: it says which methods the loader must offer. One object per module and program run:
 * the SDK serializes a provider once per object, so every resource of a kind reuses that text.
 */
export function bundledProvider<I, O>(
  module: ProviderModule,
  provider: pulumi.dynamic.ResourceProvider<I, O>,
): pulumi.dynamic.ResourceProvider<I, O> {
  const methods = METHODS.filter((m) => typeof provider[m] === "function");
  providers[module] ??= providerFromBundle(providerBundle(module), PROVIDER_EXPORTS[module], methods);
  return providers[module] as pulumi.dynamic.ResourceProvider<I, O>;
}
