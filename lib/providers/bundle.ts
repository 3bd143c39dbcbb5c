/**
 * The `__provider` of each dynamic resource: the loader of lib/providers/loader.ts with the
 * provider module's name and the sha256 of its bundle, computed when the program runs. The
 * provider host bundles the same module again from the project directory and runs it only if
 * the sha256 matches, so the code is stored nowhere in the state and every resource of a kind
 * carries the same small text.
 */
import type * as pulumi from "@pulumi/pulumi";
import { join } from "node:path";
import type { ProviderMethod } from "./loader";
import { bundleDigest, bundleSource, providerFromSources } from "./loader";

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

/** The project directory: the provider host's working directory, where the engine starts it. */
export const PROJECT_ROOT = join(__dirname, "..", "..");

const METHODS: readonly ProviderMethod[] = ["configure", "check", "diff", "create", "read", "update", "delete"];

const digests: Partial<Record<ProviderModule, string>> = {};

/** sha256 of the module's bundle, as the provider host will build it. Built once per program run. */
export function providerDigest(module: ProviderModule): string {
  digests[module] ??= bundleDigest(bundleSource(PROJECT_ROOT, module));
  return digests[module];
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
  providers[module] ??= providerFromSources(module, PROVIDER_EXPORTS[module], providerDigest(module), methods);
  return providers[module] as pulumi.dynamic.ResourceProvider<I, O>;
}
