/**
 * What the engine stores as a dynamic resource's `__provider`: this small loader and the
 * provider's own module, bundled (lib/providers/bundle.ts). Pulumi's closure serializer sees only
 * these few functions and a string, so the traps it has with ordinary modules (module-level Set or
 * Map, class identity, names used before their declaration) cannot reach the provider's code, and
 * the state holds the code the provider runs and nothing else.
 *
 * The bundle is evaluated once per provider process, on the first call. Its `require` is the
 * dynamic-provider host's, which resolves packages (ssh2) from the project's node_modules.
 */
import type * as pulumi from "@pulumi/pulumi";
import { runInThisContext } from "node:vm";
import { gunzipSync } from "node:zlib";

export type ProviderMethod = "configure" | "check" | "diff" | "create" | "read" | "update" | "delete";

type AnyProvider = Required<pulumi.dynamic.ResourceProvider>;

export function providerFromBundle(
  bundle: string,
  exportName: string,
  methods: readonly ProviderMethod[],
): pulumi.dynamic.ResourceProvider {
  const loaded: { provider?: AnyProvider } = {};
  const load = (): AnyProvider => {
    if (loaded.provider === undefined) {
      const code = gunzipSync(Buffer.from(bundle, "base64")).toString("utf8");
      const module = { exports: {} as Record<string, unknown> };
      // As Node's own module loader runs a file: the code wrapped in a function of its module variables.
      const run = runInThisContext(`(function (module, exports, require) {${code}\n})`, {
        filename: `openstack-rt:${exportName}.js`,
      }) as (m: typeof module, e: typeof module.exports, r: NodeJS.Require) => void;
      run(module, module.exports, require);
      loaded.provider = module.exports[exportName] as AnyProvider;
    }
    return loaded.provider;
  };
  const all: AnyProvider = {
    configure: (req) => load().configure(req),
    check: (olds, news) => load().check(olds, news),
    diff: (id, olds, news) => load().diff(id, olds, news),
    create: (inputs) => load().create(inputs),
    read: (id, props) => load().read(id, props),
    update: (id, olds, news) => load().update(id, olds, news),
    delete: (id, props) => load().delete(id, props),
  };
  // Only the methods the provider has: the engine treats a missing one (diff, read, ...) as "use the default".
  return Object.fromEntries(methods.map((m) => [m, all[m]])) as unknown as pulumi.dynamic.ResourceProvider;
}
