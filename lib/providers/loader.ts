/**
 * The dynamic providers as the provider host runs them. A resource's `__provider`
 * (lib/providers/bundle.ts) loads this file with tsx and asks `hostedProvider` for its module's
 * provider: the module bundled by esbuild from the project directory (the host's working
 * directory: the engine starts it there, and @pulumi/pulumi's pulumi-resource-pulumi-nodejs
 * resolves its own script from there) and run as Node runs a file. The bundle's `require` is this
 * file's, which resolves ssh2 and yaml from the project's node_modules.
 *
 * Bundling keeps the provider's code apart from Pulumi's closure serializer and its traps
 * (module-level Set or Map, class identity, names used before their declaration), and its sha256
 * is what the state records: check, diff, create and update, which get the news' `__provider`
 * (from this run), run only the bundle the program planned with. read and delete get the state's
 * `__provider`, from whichever checkout last updated the resource; they run this checkout's code,
 * as any provider plugin does after an upgrade.
 */
import type * as pulumi from "@pulumi/pulumi";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { runInThisContext } from "node:vm";
import { buildSync } from "esbuild";
import { unfoldPlainInputs } from "./plain-inputs";

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

type ProviderMethod = keyof pulumi.dynamic.ResourceProvider;
type AnyMethod = (...args: unknown[]) => Promise<unknown>;

/** The methods that get the news' `__provider`, from the run that planned them. */
const PLANNED_METHODS: ReadonlySet<ProviderMethod> = new Set(["check", "diff", "create", "update"]);

/**
 * The module's code as the provider host runs it: compact CommonJS, bundled by esbuild from
 * `root` (the project directory), with ssh2 and yaml left to the host's require. The bytes depend
 * only on the sources and the pinned esbuild, never on `root` or the time.
 */
export function bundleSource(root: string, module: ProviderModule): string {
  const result = buildSync({
    entryPoints: [join(root, "lib", "providers", `${module}.ts`)],
    absWorkingDir: root,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "cjs",
    // Whitespace and syntax only: names stay, so stack traces read as the source does.
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

export function bundleDigest(code: string): string {
  return createHash("sha256").update(code).digest("hex");
}

/**
 * In the provider host: the provider of `module`, built from the working directory. Its methods
 * in PLANNED_METHODS refuse to run unless the bundle's sha256 is `digest`, the one the program
 * planned with; the others run it whatever it is.
 */
export function hostedProvider(module: ProviderModule, digest: string): pulumi.dynamic.ResourceProvider {
  const root = process.cwd();
  let code: string;
  try {
    code = bundleSource(root, module);
  } catch (e) {
    throw new Error(
      `openstack-rt: the ${module} provider cannot be built from lib/providers/${module}.ts under the ` +
        `provider host's directory ${JSON.stringify(root)}: run pulumi from the openstack-rt project ` +
        `directory, with its node_modules installed (npm ci). ${(e as Error).message}`,
    );
  }
  const m = { exports: {} as Record<string, unknown> };
  // As Node's own module loader runs a file: the code wrapped in a function of its module variables.
  const run = runInThisContext(`(function (module, exports, require) {${code}\n})`, {
    filename: `openstack-rt:${module}.js`,
  }) as (mod: typeof m, e: typeof m.exports, r: NodeJS.Require) => void;
  run(m, m.exports, require);
  const provider = m.exports[PROVIDER_EXPORTS[module]] as Record<ProviderMethod, AnyMethod | undefined>;
  const built = bundleDigest(code);
  const mismatch = new Error(
    `openstack-rt: the ${module} provider of this checkout (bundle sha256 ${built}) is not the one the ` +
      `program planned with (${digest}): lib/providers/ or what it imports changed while pulumi ran. Run pulumi again.`,
  );
  // check spreads the program's folded plain inputs (plain-inputs.ts) before the provider sees
  // them; what it returns is what the engine stores, so every other method gets them flat.
  const check = provider.check;
  const unfoldingCheck: AnyMethod = async (olds, news) => {
    const flat = unfoldPlainInputs(news as Record<string, unknown>);
    return check ? check.call(provider, olds, flat) : { inputs: flat };
  };
  // Only the methods the provider has, and check: the engine treats a missing one (diff, read, ...) as "use the default".
  const methods = Object.entries({ ...provider, check: unfoldingCheck }).filter(
    (e): e is [ProviderMethod, AnyMethod] => typeof e[1] === "function",
  );
  return Object.fromEntries(
    methods.map(([name, method]) => [
      name,
      (...args: unknown[]) =>
        PLANNED_METHODS.has(name) && built !== digest ? Promise.reject(mismatch) : method.apply(provider, args),
    ]),
  ) as unknown as pulumi.dynamic.ResourceProvider;
}
