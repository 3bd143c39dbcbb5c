import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { STACK_CONFIG_KEYS, stackConfigSchema } from "../lib/config/schema";
import { projectDefaults } from "../lib/config/stack-files";
import { PROJECT_DIR } from "./support/dev-config";

describe("Pulumi.yaml", () => {
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
    assert.deepEqual(Object.keys(project.config).sort(), [...STACK_CONFIG_KEYS].sort());
    for (const [key, decl] of Object.entries(project.config)) assert.ok(decl.description, `${key} has no description`);
  });

  it("declares the same defaults as the schema", () => {
    const defaults = projectDefaults(PROJECT_DIR);
    for (const key of STACK_CONFIG_KEYS) {
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

/** The project-relative files a module imports by relative path. */
function relativeImports(file: string): string[] {
  const text = readFileSync(join(PROJECT_DIR, file), "utf8");
  return [...text.matchAll(/\bfrom\s+"(\.{1,2}\/[^"]+)"/g)].map((m) => join(dirname(file), m[1]));
}

describe("the layout", () => {
  it("points one way: lib/ imports neither components/ nor cli/, components/ never cli/", () => {
    const wrong: string[] = [];
    for (const [dir, forbidden] of [
      ["lib", /^(components|cli)\//],
      ["components", /^cli\//],
    ] as const) {
      for (const f of tsFiles(dir))
        for (const i of relativeImports(f)) if (forbidden.test(i)) wrong.push(`${f} -> ${i}`);
    }
    assert.deepEqual(wrong, []);
  });

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
