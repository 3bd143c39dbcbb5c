/** The project's files against each other: Pulumi.yaml and the schema, the dev stack file, the import layers, the documented layout. */
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { stackConfigSchema } from "../../../lib/config/schema";
import { projectDefaults } from "../../../lib/config/stack-files";
import { PROJECT_DIR } from "../../support/dev-config";

describe("Pulumi.yaml", () => {
  const settings = Object.keys(stackConfigSchema.shape) as (keyof typeof stackConfigSchema.shape)[];
  const project = parse(readFileSync(join(PROJECT_DIR, "Pulumi.yaml"), "utf8")) as {
    name: string;
    runtime: { name: string };
    config: Record<string, { description?: string; default?: unknown }>;
  };

  it("is the nodejs project openstack-rt", () => {
    assert.equal(project.name, "openstack-rt");
    assert.equal(project.runtime.name, "nodejs");
  });

  it("declares every setting of the schema, each with a description, and nothing else", () => {
    assert.deepEqual(Object.keys(project.config).sort(), [...settings].sort());
    for (const [key, decl] of Object.entries(project.config)) assert.ok(decl.description, `${key} has no description`);
  });

  it("declares the same defaults as the schema", () => {
    const defaults = projectDefaults(PROJECT_DIR);
    for (const key of settings) {
      const field = stackConfigSchema.shape[key];
      const fromSchema = field.safeParse(undefined);
      if (fromSchema.success) assert.deepEqual(defaults[key], fromSchema.data, `default of ${key}`);
      else assert.equal(key in defaults, false, `${key} is required by the schema but has a default`);
    }
  });
});

describe("Pulumi.dev.yaml", () => {
  it("holds no secret in clear text", () => {
    const text = readFileSync(join(PROJECT_DIR, "Pulumi.dev.yaml"), "utf8");
    assert.doesNotMatch(text, /PRIVATE KEY|password\s*:/i);
  });
});

/** Every .ts file under `dir`, relative to the project. */
function tsFiles(dir: string): string[] {
  return readdirSync(join(PROJECT_DIR, dir), { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts"))
    .map((f) => join(dir, f));
}

/** The project-relative modules a file imports, re-exports or requires by relative path. */
function relativeImports(file: string): string[] {
  const text = readFileSync(join(PROJECT_DIR, file), "utf8");
  const specifiers = /(?:\bfrom\s+|^import\s+|\bimport\s*\(\s*|\brequire\s*\(\s*)"(\.{1,2}\/[^"]+)"/gm;
  return [...text.matchAll(specifiers)].map((m) => join(dirname(file), m[1]));
}

/**
 * The layers, bottom first. A layer may import itself and any layer below it except those in
 * `not`; so an import that runs upward, and with it a cycle between layers, is always a violation.
 */
const LAYERS: readonly { layer: string; not?: readonly string[] }[] = [
  { layer: "lib/errors" },
  { layer: "lib/terminal-text" },
  { layer: "lib/cpu" },
  { layer: "lib/transport" },
  { layer: "lib/hostprep", not: ["lib/transport"] },
  // Config, plan and checks are pure: they reach no host.
  { layer: "lib/config", not: ["lib/transport"] },
  { layer: "lib/plan", not: ["lib/transport"] },
  { layer: "lib/checks", not: ["lib/transport"] },
  { layer: "lib/desired" },
  { layer: "lib/render", not: ["lib/transport"] },
  { layer: "lib/discover" },
  { layer: "lib/providers", not: ["lib/discover"] },
  { layer: "components", not: ["lib/discover"] },
  // The npm run scripts build no Pulumi resources.
  { layer: "cli", not: ["components"] },
  { layer: "index.ts", not: ["lib/discover", "cli"] },
  { layer: "test/support" },
  { layer: "bench" },
];

/** The layer of a project file: `lib/<dir>` (or `lib/<file>` for a file at lib/'s top), test/support, else its top directory. */
function layerOf(file: string): string {
  const [top, second] = file.split("/");
  if (top === "lib") return `lib/${second.replace(/\.ts$/, "")}`;
  return top === "test" && second === "support" ? "test/support" : top;
}

/** What `file` imports against the layer table: one line per import that breaks it. */
function layerViolations(file: string): string[] {
  const from = layerOf(file);
  const at = LAYERS.findIndex((l) => l.layer === from);
  if (at < 0) return [`${file}: its layer ${from} is not in the layer table`];
  const allowed = new Set(LAYERS.slice(0, at + 1).map((l) => l.layer));
  for (const n of LAYERS[at].not ?? []) allowed.delete(n);
  return relativeImports(file)
    .filter((i) => !allowed.has(layerOf(i)))
    .map((i) => `${file} -> ${i}: ${from} may not import ${layerOf(i)}`);
}

describe("the layers", () => {
  const files = [...["lib", "components", "cli", "test/support", "bench"].flatMap(tsFiles), "index.ts"];

  it("name in `not` only layers below them", () => {
    LAYERS.forEach(({ layer, not = [] }, at) => {
      const below = LAYERS.slice(0, at).map((l) => l.layer);
      for (const n of not) assert.ok(below.includes(n), `${layer} excludes ${n}, which is not below it`);
    });
  });

  it("are each a part of the tree", () => {
    const present = new Set(files.map(layerOf));
    assert.deepEqual(
      LAYERS.filter((l) => !present.has(l.layer)).map((l) => l.layer),
      [],
      "layers in the table without a file",
    );
  });

  it("are kept: every import goes to the file's own layer or one it may use below it", () => {
    assert.ok(files.length > 100, `only ${files.length} files found`);
    assert.deepEqual(files.flatMap(layerViolations), []);
  });
});

describe("the layout", () => {
  it("is the one docs/development.md's Layout section describes", () => {
    const doc = readFileSync(join(PROJECT_DIR, "docs", "development.md"), "utf8");
    const start = doc.indexOf("## Layout");
    const section = doc.slice(start, doc.indexOf("\n## ", start + 1));
    const dirs = [...section.matchAll(/^\| `([^`]+\/)`/gm)].map((m) => m[1]);
    assert.ok(dirs.length >= 8, `the layout table names ${dirs.length} directories`);
    for (const d of dirs)
      assert.ok(existsSync(join(PROJECT_DIR, d)), `the layout table names ${d}, which does not exist`);
    for (const d of readdirSync(join(PROJECT_DIR, "lib"))) {
      if (statSync(join(PROJECT_DIR, "lib", d)).isDirectory())
        assert.ok(section.includes(`\`lib/${d}/\``), `lib/${d}/ is not in the layout table`);
    }
  });
});
