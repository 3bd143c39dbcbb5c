/**
 * Reads a stack's config the way the Pulumi CLI hands it to the program: the project's
 * declared defaults from Pulumi.yaml, overlaid by `Pulumi.<stack>.yaml`, namespace stripped.
 * Used by `npm run plan` and the tests; the deployed program reads `pulumi.Config` instead, and
 * sorts its keys with the same sortConfigKeys.
 *
 * A stack file that is not one (not UTF-8, not a mapping, a misspelled `config:`, too big once
 * its YAML aliases are expanded) is one problem that names the file, not a list of knock-on
 * "required" errors.
 *
 * Size. Pulumi's Node.js language host hands the program its whole config as one environment
 * variable, PULUMI_CONFIG (JSON, each value as JSON text), and Linux refuses to start a process
 * with an environment string over 128 KiB (MAX_ARG_STRLEN): such a stack fails at `pulumi
 * preview` with "argument list too long". That is the real ceiling, and the plan checks it
 * (PULUMI_CONFIG_MAX_BYTES). A fleet of a few hundred hosts fits. Before anything is expanded,
 * the file may hold at most 1 MiB, and its YAML aliases may expand it to at most 1 MiB of JSON
 * (counted on the parsed document, each anchor once, so a "billion laughs" costs nothing to
 * refuse): eight times what can be deployed, so the guard never refuses a stack that could be.
 * YAML's own alias-count guard is off: it refuses a fleet that reuses one anchor 100 times.
 */
import { readFileSync, statSync } from "node:fs";
import { isUtf8 } from "node:buffer";
import type { Document, Node as YamlNode } from "yaml";
import { isAlias, isMap, isPair, isScalar, isSeq, parseDocument } from "yaml";
import { CONFIG_NAMESPACE, SECRET_KEYS, stackConfigSchema } from "./schema";
import { readPulumiProject, stackConfigRefusal, stackNameOf } from "./pulumi-cli";
import type { Problem } from "./problems";
import { editDistance } from "./problems";

export interface RawStackConfig {
  /** Values of the `openstack-rt:` keys, with the project's defaults filled in. */
  values: Record<string, unknown>;
  /** Secret keys that are set (as `secure:` values); their values are never read here. */
  secretsSet: string[];
  problems: Problem[];
  /**
   * False when the file itself is not a usable stack file (unreadable, not UTF-8, not a
   * mapping, no `config:`, too big): its problems then say why, and validating `values` would
   * only add knock-on errors.
   */
  usable: boolean;
}

/** The longest PULUMI_CONFIG value Linux passes: MAX_ARG_STRLEN (131072) less "PULUMI_CONFIG=" and the NUL. */
export const PULUMI_CONFIG_MAX_BYTES = 131072 - "PULUMI_CONFIG=".length - 1;
/** The most a stack file may hold, and the most its aliases may expand to. */
export const STACK_FILE_MAX_BYTES = 1 << 20;

/**
 * Namespaces a key of this stack may have: the project's own, its providers' (OpenStack for the
 * cloud, command for host prep) and the engine's (`pulumi:tags`, `pulumi:disable-default-providers`).
 * Any other namespace is read by nobody, so its setting would be silently lost.
 */
export const ALLOWED_NAMESPACES = [CONFIG_NAMESPACE, "openstack", "command", "pulumi"] as const;

/** The OpenStack provider's keys that only ever hold a secret: in clear text, each is refused like sshPrivateKey. */
export const PROVIDER_SECRET_KEYS = [
  "openstack:password",
  "openstack:token",
  "openstack:applicationCredentialSecret",
] as const;

/** Top-level keys of a Pulumi stack settings file. */
const STACK_FILE_KEYS = ["config", "environment", "secretsprovider", "encryptedkey", "encryptionsalt"] as const;

/** The `default:` of every key declared in Pulumi.yaml's `config:` section. */
export function projectDefaults(projectDir: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, decl] of Object.entries(readPulumiProject(projectDir).config ?? {})) {
    if (decl && typeof decl === "object" && "default" in decl) out[key] = decl.default;
  }
  return out;
}

/**
 * What `pulumi preview` refuses before the program runs (lib/config/pulumi-cli.ts), with the fix.
 * A missing key that the schema requires anyway is left to the schema, which names it better.
 */
function pulumiCliProblems(projectDir: string, stackFile: string, entries: [string, unknown][]): Problem[] {
  const refusal = stackConfigRefusal(
    readPulumiProject(projectDir),
    stackNameOf(stackFile),
    Object.fromEntries(entries),
  );
  if (refusal === null) return [];
  const required = (key: string) =>
    key in stackConfigSchema.shape &&
    !stackConfigSchema.shape[key as keyof typeof stackConfigSchema.shape].safeParse(undefined).success;
  if ("missing" in refusal) {
    const left = refusal.missing.filter((k) => !required(k));
    if (left.length === 0) return [];
    return [
      {
        path: stackFile,
        message: `the Pulumi CLI refuses this stack before the program runs ("${refusal.message}"): set ${left.map((k) => `${CONFIG_NAMESPACE}:${k}`).join(", ")} in the stack file, or declare a default for it in Pulumi.yaml`,
      },
    ];
  }
  return [
    {
      path: `${CONFIG_NAMESPACE}:${refusal.key}`,
      message: `the Pulumi CLI refuses this stack before the program runs ("${refusal.message}"): ${refusal.fix}`,
    },
  ];
}

/** The known word `word` is most likely a typo of, if any is close. */
export function closest(word: string, known: readonly string[]): string | undefined {
  if (word.length > 64) return undefined;
  const lower = word.toLowerCase();
  const scored = known.map((k) => ({ k, d: editDistance(lower, k.toLowerCase()) })).sort((x, y) => x.d - y.d);
  const best = scored[0];
  return best && best.d <= Math.max(1, Math.min(3, Math.floor(best.k.length / 3))) ? best.k : undefined;
}

const shortKey = (key: string) => (key.length > 80 ? `${key.slice(0, 77)}...` : key);

/**
 * Sorts a stack's config keys (`<namespace>:<key>`, or `<key>` for the project's) as the program
 * sees them: the project's keys (namespace stripped) into `values`, secrets that are set into
 * `secretsSet`, and problems for a key in an unknown namespace and for a secret in clear text.
 * `where` names the config in messages ("Pulumi.dev.yaml", "the stack's config").
 */
export function sortConfigKeys(
  entries: Iterable<[string, unknown]>,
  isSecure: (fullKey: string, value: unknown) => boolean,
  where: string,
): { values: Record<string, unknown>; secretsSet: string[]; problems: Problem[] } {
  const values: Record<string, unknown> = {};
  const secretsSet: string[] = [];
  const problems: Problem[] = [];
  for (const [fullKey, value] of entries) {
    const [ns, key] = fullKey.includes(":") ? fullKey.split(/:(.*)/s, 2) : [CONFIG_NAMESPACE, fullKey];
    if (!(ALLOWED_NAMESPACES as readonly string[]).includes(ns)) {
      const guess = closest(ns, ALLOWED_NAMESPACES);
      problems.push({
        path: shortKey(fullKey),
        message:
          `unknown namespace "${shortKey(ns)}"${guess ? `; did you mean "${guess}:${shortKey(key)}"?` : ";"} ` +
          `a key here is read by nobody, so its setting would be lost. This stack reads ${CONFIG_NAMESPACE}: (this project), ` +
          "openstack: and command: (its providers) and pulumi: (the engine)",
      });
      continue;
    }
    if ((PROVIDER_SECRET_KEYS as readonly string[]).includes(fullKey)) {
      if (!isSecure(fullKey, value))
        problems.push({
          path: fullKey,
          message: `is in clear text in ${where}, and it is only ever a secret: it would sit readable in the stack file and in every copy of it; remove it and set it with \`pulumi config set --secret ${fullKey}\``,
        });
      continue;
    }
    if (ns !== CONFIG_NAMESPACE) continue; // provider settings such as openstack:authUrl
    if ((SECRET_KEYS as readonly string[]).includes(key)) {
      if (!isSecure(fullKey, value)) {
        problems.push({
          path: `${CONFIG_NAMESPACE}:${key}`,
          message: `is in clear text in ${where}; remove it and set it with \`pulumi config set --secret ${key}\``,
        });
      }
      secretsSet.push(key);
      continue;
    }
    values[key] = value;
  }
  return { values, secretsSet, problems };
}

/** The offset of the first byte that is not part of a well-formed UTF-8 sequence. */
function firstBadUtf8Byte(b: Buffer): number {
  for (let i = 0; i < b.length;) {
    const c = b[i];
    const n = c < 0x80 ? 0 : c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : -1;
    if (n < 0) return i;
    for (let k = 1; k <= n; k++) if ((b[i + k] ?? 0) >> 6 !== 0b10) return i;
    const c1 = b[i + 1];
    if (
      (c === 0xe0 && c1 < 0xa0) ||
      (c === 0xed && c1 >= 0xa0) ||
      (c === 0xf0 && c1 < 0x90) ||
      (c === 0xf4 && c1 >= 0x90)
    )
      return i;
    i += n + 1;
  }
  return 0;
}

/**
 * The most entries (mapping keys plus list items, aliases expanded) a stack file may hold: a
 * thousand hosts take about 30,000, and PULUMI_CONFIG carries a few hundred.
 */
export const STACK_FILE_MAX_ENTRIES = 32_768;
/** The deepest a stack file may nest mappings and lists: the schema's own depth is under 10. */
export const STACK_FILE_MAX_DEPTH = 32;

export interface DocumentMeasure {
  /** Bytes of its JSON once every alias is expanded; Infinity for an alias inside its own anchor. */
  bytes: number;
  /** Mapping keys plus list items, aliases expanded. */
  entries: number;
  /** How deeply mappings and lists nest (a scalar is 0). */
  depth: number;
  /** The first key that a mapping holds twice, and its line. */
  duplicate?: { key: string; line: number };
}

/**
 * Measures the document without expanding it: each anchored node is measured once, so a
 * "billion laughs" costs nothing. Keys are compared through a Set per mapping (YAML's own
 * uniqueKeys check compares every pair: 40,000 keys took minutes). Stops descending below
 * STACK_FILE_MAX_DEPTH, so no input can exhaust the stack.
 */
export function measureDocument(doc: Document, text: string): DocumentMeasure {
  type M = { bytes: number; entries: number; depth: number };
  const memo = new Map<YamlNode, M>();
  const open = new Set<YamlNode>();
  let duplicate: DocumentMeasure["duplicate"];
  const leaf = (bytes: number): M => ({ bytes, entries: 0, depth: 0 });
  const measure = (node: unknown, level: number): M => {
    if (node === null || node === undefined) return leaf(4);
    if (isAlias(node)) {
      const target = node.resolve(doc);
      return target ? measure(target, level) : leaf(4);
    }
    if (isScalar(node)) return leaf((JSON.stringify(node.value) ?? "null").length);
    if (!isMap(node) && !isSeq(node)) return leaf(4);
    const cached = memo.get(node);
    if (cached !== undefined) return cached;
    if (open.has(node)) return { bytes: Infinity, entries: Infinity, depth: Infinity };
    if (level > STACK_FILE_MAX_DEPTH) return { bytes: 2, entries: 0, depth: Infinity };
    open.add(node);
    const items = node.items as unknown[];
    const total: M = { bytes: 2 + Math.max(0, items.length - 1), entries: items.length, depth: 1 };
    const keys = isMap(node) ? new Set<string>() : undefined;
    for (const item of items) {
      const parts = isPair(item) ? [item.key, item.value] : [item];
      if (isPair(item)) total.bytes += 1;
      if (keys && isPair(item) && duplicate === undefined) {
        const key = isScalar(item.key) ? String(item.key.value) : JSON.stringify(String(item.key));
        if (key !== "<<" && keys.has(key)) {
          const offset = isScalar(item.key) ? (item.key.range?.[0] ?? 0) : 0;
          duplicate = { key, line: text.slice(0, offset).split("\n").length };
        }
        keys.add(key);
      }
      for (const part of parts) {
        const m = measure(part, level + 1);
        total.bytes += m.bytes;
        total.entries += m.entries;
        total.depth = Math.max(total.depth, m.depth + 1);
      }
    }
    open.delete(node);
    memo.set(node, total);
    return total;
  };
  const m = measure(doc.contents, 0);
  return { ...m, duplicate };
}

const kib = (n: number) =>
  n === Infinity
    ? "an endless amount"
    : n >= 10 << 20
      ? `${Math.round(n / (1 << 20))} MiB`
      : `${Math.ceil(n / 1024)} KiB`;
const what = (v: unknown) =>
  v === null
    ? "null"
    : Array.isArray(v)
      ? "a list"
      : typeof v === "object"
        ? "a mapping"
        : `a ${typeof v} (${JSON.stringify(v).slice(0, 40)})`;

/**
 * The config as PULUMI_CONFIG carries it (each value as JSON text) and its size in bytes; the
 * biggest keys, to name in a problem.
 */
export function pulumiConfigSize(config: Record<string, unknown>): { bytes: number; biggest: string[] } {
  const text = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v));
  const sizes = Object.entries(config).map(([k, v]) => [k, Buffer.byteLength(JSON.stringify(text(v)))] as const);
  const bytes = Buffer.byteLength(
    JSON.stringify(Object.fromEntries(Object.entries(config).map(([k, v]) => [k, text(v)]))),
  );
  return {
    bytes,
    biggest: sizes
      .sort((a, b) => b[1] - a[1])
      .slice(0, 3)
      .map(([k, n]) => `${k} (${kib(n)})`),
  };
}

export function readStackConfig(projectDir: string, stackFile: string): RawStackConfig {
  const defaults = projectDefaults(projectDir);
  const refuse = (message: string): RawStackConfig => ({
    values: { ...defaults },
    secretsSet: [],
    problems: [{ path: stackFile, message }],
    usable: false,
  });

  let bytes: Buffer;
  try {
    const size = statSync(stackFile).size;
    if (size > STACK_FILE_MAX_BYTES) {
      return refuse(
        `is ${kib(size)}, more than a stack file may hold (${kib(STACK_FILE_MAX_BYTES)}); Pulumi hands a program at most ${kib(PULUMI_CONFIG_MAX_BYTES)} of config. Look for a value pasted by mistake`,
      );
    }
    bytes = readFileSync(stackFile);
  } catch (e) {
    const why = e instanceof Error ? e.message.split("\n")[0] : String(e);
    return refuse(`cannot read the stack file: ${why}`);
  }
  if (!isUtf8(bytes)) {
    const at = firstBadUtf8Byte(bytes);
    const line = bytes.subarray(0, at).toString("latin1").split("\n").length;
    const utf16 = (bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff);
    return refuse(
      `is not UTF-8 text: byte 0x${bytes[at].toString(16).padStart(2, "0")} at line ${line} (offset ${at}) is not part of a UTF-8 character` +
        `${utf16 ? " (the file is UTF-16)" : ""}; save the file as UTF-8`,
    );
  }
  const text = bytes.toString("utf8");
  // Merge keys (<<: *anchor) as Pulumi's own YAML reader takes them; duplicate keys are found by measureDocument.
  const doc = parseDocument(text, { uniqueKeys: false, merge: true });
  if (doc.errors.length > 0) {
    const why = doc.errors[0].message.split("\n")[0];
    return refuse(
      /Maximum call stack/.test(why)
        ? `nests lists or mappings more deeply than a stack file may (${STACK_FILE_MAX_DEPTH} levels) ${why.replace(/^.*?(at line \d+, column \d+).*$/, "$1")}`
        : `cannot read the stack file: ${why}`,
    );
  }
  const measured = measureDocument(doc, text);
  if (measured.depth > STACK_FILE_MAX_DEPTH && measured.bytes !== Infinity)
    return refuse(
      `nests lists or mappings more deeply than a stack file may (${STACK_FILE_MAX_DEPTH} levels); the settings nest fewer than 10 deep. Look for a value pasted by mistake`,
    );
  if (measured.entries > STACK_FILE_MAX_ENTRIES && measured.bytes <= STACK_FILE_MAX_BYTES)
    return refuse(
      `holds ${measured.entries} keys and list items, more than the ${STACK_FILE_MAX_ENTRIES} a stack file may hold (a fleet of a thousand hosts needs about 30,000); look for a value pasted or generated by mistake`,
    );
  if (measured.duplicate)
    return refuse(
      `cannot read the stack file: Map keys must be unique: "${shortKey(measured.duplicate.key)}" appears again at line ${measured.duplicate.line}; keep one of them`,
    );
  const expanded = measured.bytes;
  if (expanded > STACK_FILE_MAX_BYTES) {
    return refuse(
      `expands to ${kib(expanded)} of config through its YAML aliases (*name), more than the ${kib(STACK_FILE_MAX_BYTES)} a stack file may hold; ` +
        `Pulumi hands a program at most ${kib(PULUMI_CONFIG_MAX_BYTES)} of config. Write the values out, or reuse anchors less deeply`,
    );
  }
  const top: unknown = doc.toJS({ maxAliasCount: -1 });
  if (top === null || top === undefined) return { values: { ...defaults }, secretsSet: [], problems: [], usable: true };
  if (typeof top !== "object" || Array.isArray(top)) {
    return refuse(
      `is ${what(top)}, not a stack file: a stack file is a mapping with a config: key whose keys are the settings (openstack-rt:hosts: ...)`,
    );
  }
  const problems: Problem[] = [];
  const topKeys = Object.keys(top);
  for (const key of topKeys.filter((k) => !(STACK_FILE_KEYS as readonly string[]).includes(k))) {
    const guess = closest(key, STACK_FILE_KEYS);
    problems.push({
      path: stackFile,
      message: `has the top-level key "${shortKey(key)}:", which a stack file does not have${guess ? `; did you mean "${guess}:"?` : ""} (a stack file has ${STACK_FILE_KEYS.map((k) => `${k}:`).join(", ")}; the settings go under config:)`,
    });
  }
  const config = (top as Record<string, unknown>).config;
  if (config === undefined && problems.length > 0)
    return { values: { ...defaults }, secretsSet: [], problems, usable: false };
  if (config !== undefined && config !== null && (typeof config !== "object" || Array.isArray(config))) {
    return refuse(
      `config: is ${what(config)}; it must be a mapping of settings (openstack-rt:hosts: ..., openstack-rt:flavors: ...)`,
    );
  }
  const entries = Object.entries((config ?? {}) as Record<string, unknown>);
  const isSecure = (_key: string, value: unknown) => typeof value === "object" && value !== null && "secure" in value;
  const sorted = sortConfigKeys(entries, isSecure, stackFile);
  problems.push(...sorted.problems);
  problems.push(...pulumiCliProblems(projectDir, stackFile, entries));

  // What PULUMI_CONFIG would carry: the project's defaults under the stack's settings.
  const passed: Record<string, unknown> = Object.fromEntries(
    Object.entries(defaults).map(([k, v]) => [`${CONFIG_NAMESPACE}:${k}`, v]),
  );
  for (const [k, v] of entries)
    passed[k.includes(":") ? k : `${CONFIG_NAMESPACE}:${k}`] =
      typeof v === "object" && v !== null && "secure" in v ? v.secure : v;
  const size = pulumiConfigSize(passed);
  if (size.bytes > PULUMI_CONFIG_MAX_BYTES) {
    problems.push({
      path: stackFile,
      message:
        `its config is ${kib(size.bytes)} as Pulumi hands it to the program (the PULUMI_CONFIG environment variable), and Linux starts no process with a variable over ${kib(PULUMI_CONFIG_MAX_BYTES)}: ` +
        `the preview would fail with "argument list too long". The biggest: ${size.biggest.join(", ")}. Split the fleet into several stacks`,
    });
  }
  return { values: { ...defaults, ...sorted.values }, secretsSet: sorted.secretsSet, problems, usable: true };
}
