/**
 * What the engine stores as a dynamic resource's `__provider`: a few small functions with the
 * provider module's name and the sha256 of its bundle, about 2 KB, not the provider's code. Pulumi's
 * closure serializer sees only those functions and strings, so the traps it has with ordinary
 * modules (module-level Set or Map, class identity, names used before their declaration) cannot
 * reach the provider's code.
 *
 * In the dynamic-provider host, on the first call, they load this file with tsx and call
 * loadBundled, which bundles the module from the project directory with `bundleSource`, the
 * function the program hashed it with, and runs that bundle. The engine starts the host in the
 * project directory (@pulumi/pulumi's pulumi-resource-pulumi-nodejs resolves its own script from
 * there); the bundle's `require` is the host's, which resolves ssh2 and yaml from the project's
 * node_modules.
 *
 * The sha256 keeps the state naming the code that runs: check, diff, create and update run only the
 * bundle the program planned with (the news' `__provider`, from this run). read and delete get the
 * `__provider` of the state, from whichever checkout last updated the resource; they run this
 * checkout's code, as any provider plugin does after an upgrade.
 */
import type * as pulumi from "@pulumi/pulumi";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { runInThisContext } from "node:vm";
import { buildSync } from "esbuild";

export type ProviderMethod = "configure" | "check" | "diff" | "create" | "read" | "update" | "delete";

type AnyProvider = Required<pulumi.dynamic.ResourceProvider>;

/**
 * The module's code as the provider host runs it: compact CommonJS, bundled by esbuild from
 * `root` (the project directory), with ssh2 and yaml left to the host's require. The bytes depend
 * only on the sources and the pinned esbuild, never on `root` or the time.
 */
export function bundleSource(root: string, module: string): string {
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

/** The bundles this provider host built, by module: each is built once per process. */
const built = new Map<string, { provider: AnyProvider; digest: string }>();

/**
 * In the provider host: the provider `exportName` of the module's bundle, built from the project
 * directory (the host's working directory). With `planned` (check, diff, create, update, which get
 * the news' `__provider`, from this run) the bundle must be the one the program hashed.
 */
export function loadBundled(module: string, exportName: string, digest: string, planned: boolean): AnyProvider {
  let entry = built.get(module);
  if (entry === undefined) {
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
    entry = { provider: m.exports[exportName] as AnyProvider, digest: bundleDigest(code) };
    built.set(module, entry);
  }
  if (planned && entry.digest !== digest)
    throw new Error(
      `openstack-rt: the ${module} provider of this checkout (bundle sha256 ${entry.digest}) is not the one ` +
        `the program planned with (${digest}): lib/providers/ or what it imports changed while pulumi ran. ` +
        `Run pulumi again.`,
    );
  return entry.provider;
}

/**
 * The serializable provider: `digest` is bundleDigest(bundleSource(project, module)) when the
 * program ran. Its methods load this file with tsx in the provider host and call loadBundled.
 */
export function providerFromSources(
  module: string,
  exportName: string,
  digest: string,
  methods: readonly ProviderMethod[],
): pulumi.dynamic.ResourceProvider {
  const host: { loader?: { loadBundled: typeof loadBundled } } = {};
  const load = (planned: boolean): AnyProvider => {
    if (host.loader === undefined) {
      const path = join(process.cwd(), "lib", "providers", "loader.ts");
      try {
        // Required when first called, in the provider host: the program never loads tsx's API.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const tsx = require("tsx/cjs/api") as {
          require(id: string, from: string): { loadBundled: typeof loadBundled };
        };
        host.loader = tsx.require(path, path);
      } catch (e) {
        throw new Error(
          `openstack-rt: the dynamic provider host cannot load ${path}: run pulumi from the openstack-rt ` +
            `project directory, with its node_modules installed (npm ci). ${(e as Error).message}`,
        );
      }
    }
    return host.loader.loadBundled(module, exportName, digest, planned);
  };
  const all: AnyProvider = {
    configure: (req) => load(false).configure(req),
    check: (olds, news) => load(true).check(olds, news),
    diff: (id, olds, news) => load(true).diff(id, olds, news),
    create: (inputs) => load(true).create(inputs),
    read: (id, props) => load(false).read(id, props),
    update: (id, olds, news) => load(true).update(id, olds, news),
    delete: (id, props) => load(false).delete(id, props),
  };
  // Only the methods the provider has: the engine treats a missing one (diff, read, ...) as "use the default".
  return Object.fromEntries(methods.map((m) => [m, all[m]])) as unknown as pulumi.dynamic.ResourceProvider;
}
