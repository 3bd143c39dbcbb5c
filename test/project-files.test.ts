import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { STACK_CONFIG_KEYS, stackConfigSchema } from "../lib/config";
import { projectDefaults } from "../lib/stack-files";
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
