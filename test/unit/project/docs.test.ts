/**
 * README.md and docs/ kept true: every config key of the schema and of Pulumi.yaml is in the
 * configuration reference, every link, anchor and repository path they name exists, the
 * README stays one screen, its example stack plans, and the consumer example imports a file
 * that exports what it uses. Each check is a function of the files, also run on broken copies.
 */
import assert from "node:assert/strict";
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { after, describe, it } from "node:test";
import { parse } from "yaml";
import { z } from "zod";
import { SECRET_KEYS, stackConfigSchema } from "../../../lib/config/schema";
import { readStackConfig } from "../../../lib/config/stack-files";
import { decideStack } from "../../../lib/desired/decide";
import { STACK_OUTPUT_NAMES } from "../../../lib/render/outputs";
import { PROJECT_DIR } from "../../support/dev-config";

const README_MAX_LINES = 200;
const CONFIGURATION_MD = join("docs", "configuration.md");

const scratch = mkdtempSync(join(tmpdir(), "docs-test-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** The schema inside its wrappers (default, optional, nullable, catch, readonly, ...) and a pipe's input side. */
function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  for (;;) {
    const def = s._zod.def as { type: string; innerType?: z.ZodType; in?: z.ZodType };
    if (def.innerType) s = def.innerType;
    else if (def.type === "pipe" && def.in) s = def.in;
    else return s;
  }
}

/** Every key the schema accepts, nested ones included, as `hosts[].ssh.proxy.port`; each union branch is walked. */
export function schemaKeyPaths(schema: z.ZodType, prefix = ""): string[] {
  const s = unwrap(schema);
  if (s instanceof z.ZodObject)
    return Object.entries(s.shape as Record<string, z.ZodType>).flatMap(([key, value]) => {
      const path = prefix ? `${prefix}.${key}` : key;
      return [path, ...schemaKeyPaths(value, path)];
    });
  if (s instanceof z.ZodArray) return schemaKeyPaths(s.element as z.ZodType, `${prefix}[]`);
  if (s instanceof z.ZodUnion)
    return [...new Set((s.options as z.ZodType[]).flatMap((o) => schemaKeyPaths(o, prefix)))];
  return [];
}

/** Markdown without its fenced code blocks (their lines blanked, so line numbers stay). */
function withoutFences(markdown: string): string {
  let fenced = false;
  return markdown
    .split("\n")
    .map((line) => {
      if (/^\s*```/.test(line)) {
        fenced = !fenced;
        return "";
      }
      return fenced ? "" : line;
    })
    .join("\n");
}

/** The contents of the inline code spans, outside fenced blocks (a span's fence may be several backticks). */
function codeSpans(markdown: string): string[] {
  return [...withoutFences(markdown).matchAll(/(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)/g)].map((m) => m[2].trim());
}

/** The fenced code blocks of one language. */
function fencedBlocks(markdown: string, lang: string): string[] {
  return [...markdown.matchAll(new RegExp("^```" + lang + "\\n([\\s\\S]*?)^```", "gm"))].map((m) => m[1]);
}

/** The keys a stack may set: the schema's, Pulumi.yaml's `config:` and the secret keys. */
function configKeys(projectDir: string): string[] {
  const project = parse(readFileSync(join(projectDir, "Pulumi.yaml"), "utf8")) as { config: Record<string, unknown> };
  return [...new Set([...schemaKeyPaths(stackConfigSchema), ...Object.keys(project.config), ...SECRET_KEYS])];
}

/** The config keys that docs/configuration.md does not name in a code span. */
function undocumentedKeys(projectDir: string): string[] {
  const spans = new Set(codeSpans(readFileSync(join(projectDir, CONFIGURATION_MD), "utf8")));
  return configKeys(projectDir).filter((k) => !spans.has(k));
}

/** Keys in the first column of docs/configuration.md's tables that no schema or Pulumi.yaml has (stale rows). */
function unknownDocumentedKeys(projectDir: string): string[] {
  const known = new Set(configKeys(projectDir));
  const text = withoutFences(readFileSync(join(projectDir, CONFIGURATION_MD), "utf8"));
  const firstCells = [...text.matchAll(/^\| ([^|]+) \|/gm)].map((m) => m[1]);
  return firstCells.flatMap((cell) => codeSpans(cell)).filter((k) => !known.has(k));
}

/** GitHub's anchor of each heading: markup dropped, lower case, punctuation removed, spaces to '-', repeats numbered. */
export function headingAnchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const m of withoutFences(markdown).matchAll(/^#{1,6} +(.+?) *#* *$/gm)) {
    const text = m[1].replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1").replace(/[`*_]/g, (c) => (c === "_" ? c : ""));
    const base = text
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\p{M} _-]/gu, "")
      .replace(/ /g, "-");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/**
 * A code span that names a file of this repository (`hostprep/x.sh`, `lib/...`, `test/...`,
 * `Pulumi.yaml`); other stack files (`Pulumi.prod.yaml`) are the operator's, not the repository's.
 */
const REPO_PATH =
  /^(?:(?:lib|test|hostprep|components|cli|bench|docs|\.ci|\.github)\/[A-Za-z0-9_.*/-]*|(?:Pulumi(?:\.dev)?\.yaml|index\.ts|package\.json|tsconfig\.json|README\.md))$/;

/** Does `path` (repository-relative, maybe with `*` in any of its parts) name something that exists? */
function repoPathExists(projectDir: string, path: string): boolean {
  const matches = (dir: string, parts: string[]): boolean => {
    if (parts.length === 0) return true;
    const [part, ...rest] = parts;
    if (!part.includes("*")) return existsSync(join(dir, part)) && matches(join(dir, part), rest);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) return false;
    const name = new RegExp(`^${part.replace(/\./g, "\\.").replace(/\*/g, ".*")}$`);
    return readdirSync(dir).some((f) => name.test(f) && matches(join(dir, f), rest));
  };
  return matches(
    projectDir,
    path.split("/").filter((p) => p !== ""),
  );
}

/** README.md and docs/*.md. */
function docFiles(projectDir: string): string[] {
  const docs = readdirSync(join(projectDir, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => join("docs", f));
  return ["README.md", ...docs];
}

/**
 * Every relative link (its file and its #anchor) and every repository path in a code span of
 * README.md and docs/*.md that does not resolve: "file: reference (why)".
 */
function brokenReferences(projectDir: string): string[] {
  const broken: string[] = [];
  const anchorsOf = (file: string) => headingAnchors(readFileSync(join(projectDir, file), "utf8"));
  for (const file of docFiles(projectDir)) {
    const text = readFileSync(join(projectDir, file), "utf8");
    for (const m of withoutFences(text).matchAll(/\[[^\]]*\]\(([^)\s]+)\)/g)) {
      const target = m[1];
      if (/^[a-z]+:/i.test(target)) continue;
      const [pathPart, anchor] = target.split("#", 2);
      const linked = pathPart === "" ? file : relative(projectDir, join(projectDir, dirname(file), pathPart));
      if (linked.startsWith("..") || !existsSync(join(projectDir, linked))) {
        broken.push(`${file}: ${target} (no such file)`);
        continue;
      }
      if (anchor !== undefined) {
        if (!linked.endsWith(".md")) broken.push(`${file}: ${target} (an anchor into a file that is not Markdown)`);
        else if (!anchorsOf(linked).has(anchor)) broken.push(`${file}: ${target} (no such heading in ${linked})`);
      }
    }
    for (const span of codeSpans(text))
      if (REPO_PATH.test(span) && !repoPathExists(projectDir, span)) broken.push(`${file}: ${span} (no such path)`);
  }
  return broken;
}

/** A copy of the project's docs (README.md, docs/) beside links to everything else, to break on purpose. */
function docsCopy(name: string): string {
  const dir = join(scratch, name);
  cpSync(join(PROJECT_DIR, "docs"), join(dir, "docs"), { recursive: true });
  cpSync(join(PROJECT_DIR, "README.md"), join(dir, "README.md"));
  for (const entry of readdirSync(PROJECT_DIR))
    if (!["docs", "README.md", "node_modules", ".git"].includes(entry))
      symlinkSync(join(PROJECT_DIR, entry), join(dir, entry));
  return dir;
}

function edit(file: string, change: (text: string) => string): void {
  const before = readFileSync(file, "utf8");
  const after = change(before);
  assert.notEqual(after, before, `the edit of ${file} changed nothing`);
  writeFileSync(file, after);
}

describe("the configuration reference (docs/configuration.md)", () => {
  it("names every key of the schema, nested ones included, of Pulumi.yaml and the secret keys", () => {
    const keys = configKeys(PROJECT_DIR);
    for (const k of ["hosts[].ssh.proxy", "hosts[].ssh.proxy.hostKey", "controllers[].nova.restartCommand"])
      assert.ok(keys.includes(k), `the schema walk misses ${k}`);
    assert.ok(keys.length > 130, `only ${keys.length} keys found`);
    assert.deepEqual(undocumentedKeys(PROJECT_DIR), []);
  });

  it("walks objects inside defaults, optionals, catches, pipes, lists and unions", () => {
    const schema = z.strictObject({
      a: z.object({ b: z.string() }).optional().default({ b: "x" }),
      c: z.array(z.union([z.literal(false), z.strictObject({ d: z.number().catch(1) })])),
      e: z.strictObject({ f: z.boolean() }).readonly().nullable(),
      g: z.string().transform((s) => s.length),
      h: z.record(z.string(), z.strictObject({ i: z.string() })),
    });
    assert.deepEqual(schemaKeyPaths(schema), ["a", "a.b", "c", "c[].d", "e", "e.f", "g", "h"]);
  });

  it("names no key that does not exist", () => {
    assert.deepEqual(unknownDocumentedKeys(PROJECT_DIR), []);
  });

  it("fails for a copy that lacks a key, a nested key or a key Pulumi.yaml declares, and for a stale row", () => {
    const dir = docsCopy("config-keys");
    edit(join(dir, CONFIGURATION_MD), (t) =>
      t
        .split("\n")
        .filter((line) => !line.startsWith("| `hosts[].tunedProfile` |"))
        .join("\n")
        .replace("`hosts[].ssh.proxy.port`, ", "")
        .replace("| `aggregate.zone` |", "| `aggregate.zones` |"),
    );
    rmSync(join(dir, "Pulumi.yaml"));
    writeFileSync(
      join(dir, "Pulumi.yaml"),
      readFileSync(join(PROJECT_DIR, "Pulumi.yaml"), "utf8") + "  undocumentedKnob:\n    type: string\n",
    );
    assert.deepEqual(undocumentedKeys(dir), [
      "hosts[].ssh.proxy.port",
      "hosts[].tunedProfile",
      "aggregate.zone",
      "undocumentedKnob",
    ]);
    assert.deepEqual(unknownDocumentedKeys(dir), ["aggregate.zones"]);
  });
});

describe("links and paths in README.md and docs/", () => {
  it("resolve: files, directories, globs and #anchors", () => {
    assert.ok(docFiles(PROJECT_DIR).length >= 9);
    assert.deepEqual(brokenReferences(PROJECT_DIR), []);
  });

  it("fail for a missing file, a missing heading, a path in backticks and a link out of the repository", () => {
    const dir = docsCopy("links");
    edit(join(dir, "README.md"), (t) =>
      t.replace(
        "## Where to read on\n",
        "## Where to read on\n\n[gone](docs/gone.md), [no heading](docs/limits.md#no-such-heading), " +
          "[here](#where-to-read-on), [out](../outside.md), `hostprep/gone.sh`, `test/fixtures/nova/cases/*.none`\n",
      ),
    );
    edit(join(dir, "docs", "limits.md"), (t) => t.replace("(configuration.md)", "(configuration.md#deployments)"));
    assert.deepEqual(brokenReferences(dir), [
      "README.md: docs/gone.md (no such file)",
      "README.md: docs/limits.md#no-such-heading (no such heading in docs/limits.md)",
      "README.md: ../outside.md (no such file)",
      "README.md: hostprep/gone.sh (no such path)",
      "README.md: test/fixtures/nova/cases/*.none (no such path)",
      "docs/limits.md: configuration.md#deployments (no such heading in docs/configuration.md)",
    ]);
  });

  it("anchors are GitHub's: markup dropped, punctuation removed, repeats numbered", () => {
    const anchors = headingAnchors(
      "# T\n## Who owns nova.conf (`nova:`)\n## More than one scheduler (`controllers: [...]`)\n" +
        "## End-to-end run (`npm run test:e2e`)\n## a_b\n## Dup\n## Dup\n```sh\n# not a heading\n```\n",
    );
    assert.deepEqual(
      [...anchors],
      [
        "t",
        "who-owns-novaconf-nova",
        "more-than-one-scheduler-controllers-",
        "end-to-end-run-npm-run-teste2e",
        "a_b",
        "dup",
        "dup-1",
      ],
    );
  });
});

describe("README.md", () => {
  const readme = readFileSync(join(PROJECT_DIR, "README.md"), "utf8");

  it(`is one screen: at most ${README_MAX_LINES} lines`, () => {
    const lines = readme.split("\n").length - (readme.endsWith("\n") ? 1 : 0);
    assert.ok(lines <= README_MAX_LINES, `README.md has ${lines} lines`);
  });

  it("starts with the two commands of a fresh machine: the offline plan, then the tests", () => {
    const [first] = fencedBlocks(readme, "sh");
    assert.ok(readme.startsWith("# openstack-rt\n\n```sh\n"), "the commands are not the first lines");
    const lines = first.split("\n");
    assert.match(lines[0], /^npm ci && npm run plan\b/);
    assert.match(lines[1], /^npm ci && npm test\b/);
  });

  it("has an example stack that plans clean, with the split its text describes", () => {
    const section = readme.slice(readme.indexOf("## An example stack"));
    const [example] = fencedBlocks(section, "yaml");
    const dir = join(scratch, "example");
    cpSync(join(PROJECT_DIR, "Pulumi.yaml"), join(dir, "Pulumi.yaml"));
    writeFileSync(join(dir, "Pulumi.prod.yaml"), example);
    const raw = readStackConfig(dir, join(dir, "Pulumi.prod.yaml"));
    assert.deepEqual(raw.problems, []);
    const decided = decideStack(raw.values, dir);
    assert.ok(decided.ok, JSON.stringify(decided.ok ? [] : decided.problems));
    assert.deepEqual(decided.warnings, []);
    assert.ok(example.split("\n").length <= 25, "the example is longer than a screen's share");
    const [host] = decided.plan.hosts;
    assert.equal(host.housekeeping, "0-1,8-9");
    assert.match(section, /CPUs 0-1 \(node 0\) and 8-9 \(node 1\) for the host; the other 12 CPUs are isolated/);
    assert.equal(host.isolated, "2-7,10-15");
  });
});

describe("stack outputs (docs/stack-outputs.md)", () => {
  const text = readFileSync(join(PROJECT_DIR, "docs", "stack-outputs.md"), "utf8");

  it("lists every output the program exports, and no other", () => {
    const listed = [...withoutFences(text).matchAll(/^\| `([A-Za-z]+)` \|/gm)].map((m) => m[1]);
    assert.deepEqual([...listed].sort(), [...STACK_OUTPUT_NAMES].sort());
  });

  it("has a consumer example whose import of this repository names a file that exports what it imports", async () => {
    const [example] = fencedBlocks(text, "ts");
    const imports = [...example.matchAll(/import \{([^}]+)\} from "\.\/openstack-rt\/([^"]+)"/g)];
    assert.equal(imports.length, 1, "the example imports nothing from a checkout of openstack-rt");
    for (const [, names, path] of imports) {
      assert.ok(existsSync(join(PROJECT_DIR, `${path}.ts`)), `${path}.ts does not exist`);
      const module = (await import(join(PROJECT_DIR, path))) as Record<string, unknown>;
      for (const name of names.split(",").map((n) => n.trim()))
        assert.equal(typeof module[name], "function", `${path} does not export ${name}`);
    }
  });
});
