/**
 * The Pulumi CLI's checks on Pulumi.yaml and each stack file, which run before the program and
 * which no mock shows (lib/config/pulumi-cli.ts restates them from pulumi/pulumi v3.248.0). The
 * first block holds that restatement to Pulumi's own test cases (sdk/go/common/workspace/
 * config_project_test.go and project_test.go at that tag, messages verbatim); the rest applies
 * it to this repository's project and every stack file in it.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parse } from "yaml";
import {
  PULUMI_CLI_RULES_VERSION,
  projectConfigProblems,
  readPulumiProject,
  stackConfigRefusal,
  stackNameOf,
} from "../../../lib/config/pulumi-cli";
import type { PulumiProject } from "../../../lib/config/pulumi-cli";
import { readStackConfig } from "../../../lib/config/stack-files";
import { decideStack } from "../../../lib/desired/decide";
import { configValueFromText } from "../../../lib/desired/from-pulumi";
import { PROJECT_DIR } from "../../support/dev-config";

const project = (yaml: string): PulumiProject => parse(yaml) as PulumiProject;
const stack = (yaml: string): Record<string, unknown> =>
  (parse(yaml) as { config?: Record<string, unknown> } | null)?.config ?? {};
const refusal = (p: PulumiProject, s: Record<string, unknown>) => stackConfigRefusal(p, "dev", s)?.message ?? null;

describe(`the Pulumi CLI's rules (pulumi/pulumi v${PULUMI_CLI_RULES_VERSION}), on Pulumi's own cases`, () => {
  const arrayOfString = "config:\n  values:\n    type: array\n    items:\n      type: string\n";

  it("refuses a stack that misses a key with no default, naming one, two or three keys as Pulumi does", () => {
    assert.equal(
      refusal(project(`name: test\n${arrayOfString}`), {}),
      "Stack 'dev' is missing configuration value 'values'",
    );
    const two = project(`name: test\n${arrayOfString}  another:\n    type: string\n`);
    assert.equal(refusal(two, {}), "Stack 'dev' is missing configuration values 'another' and 'values'");
    const three = project(`name: test\n${arrayOfString}  hello:\n    type: integer\n  world:\n    type: string\n`);
    assert.equal(refusal(three, {}), "Stack 'dev' is missing configuration values 'hello', 'values' and 'world'");
  });

  it("type-checks an explicitly typed key, and leaves untyped keys and undeclared keys alone", () => {
    const withDefault = project(`name: test\n${arrayOfString}    default: [value]\n`);
    assert.equal(
      refusal(withDefault, stack("config:\n  test:values: someValue\n")),
      "Stack 'dev' with configuration key 'values' must be of type 'array<string>'",
    );
    assert.equal(refusal(withDefault, {}), null, "the default stands in for the missing value");
    const integer = project("name: test\nconfig:\n  importantNumber:\n    type: integer\n");
    assert.equal(refusal(integer, stack("config:\n  test:importantNumber: 20\n")), null);
    assert.equal(
      refusal(integer, stack("config:\n  test:importantNumber: hello\n")),
      "Stack 'dev' with configuration key 'importantNumber' must be of type 'integer'",
    );
    const untyped = project("name: test\nconfig:\n  values:\n    default: [1]\n");
    assert.equal(refusal(untyped, stack("config:\n  test:values: anything\n")), null);
    assert.equal(refusal(project("name: test\n"), stack("config:\n  test:hello: 21\n")), null);
  });

  it("refuses a secret key given in clear text, and takes it secure", () => {
    const secret = project("name: test\nconfig:\n  importantNumber:\n    type: integer\n    secret: true\n");
    assert.equal(
      refusal(secret, stack("config:\n  test:importantNumber: 20\n")),
      "Stack 'dev' with configuration key 'importantNumber' must be encrypted as it's secret",
    );
    assert.equal(refusal(secret, stack("config:\n  test:importantNumber:\n    secure: djE6abc=\n")), null);
  });

  it("checks objects as objects, and other namespaces not at all", () => {
    const obj = project("name: test\nconfig:\n  network:\n    type: object\n  aws:region:\n    value: x\n");
    assert.equal(refusal(obj, stack("config:\n  test:network:\n    name: n\n")), null);
    assert.equal(
      refusal(obj, stack("config:\n  test:network: provider-net\n")),
      "Stack 'dev' with configuration key 'network' must be of type 'object'",
    );
  });

  it("refuses project declarations Project.Validate refuses", () => {
    assert.deepEqual(
      projectConfigProblems(
        project(
          "name: test\nconfig:\n  a:\n    type: array\n  b:\n    type: integer\n    default: ten\n" +
            "  c:\n    default: 1\n    value: 2\n  aws:region:\n    type: string\n    default: x\n  d:\n    type: map\n",
        ),
      ),
      [
        "The configuration key 'a' declares an array but does not specify the underlying type via the 'items' attribute",
        "The default value specified for configuration key 'b' is not of the expected type 'integer'",
        "project config 'c' cannot have both a 'default' and 'value' attribute",
        "Configuration key 'aws:region' is not namespaced by the project and should not define a type",
        "Configuration key 'aws:region' is not namespaced by the project and should not define a default value",
        "Configuration key 'aws:region' is namespaced and must provide an attribute 'value'",
        "configuration key 'd': type 'map' is not one of string, integer, boolean, array, object",
      ],
    );
  });
});

/** Every stack file in the repository: the stacks, the e2e stack and the fixtures. */
const STACK_FILES = execFileSync("git", ["ls-files", "*Pulumi.*.yaml"], { cwd: PROJECT_DIR, encoding: "utf8" })
  .split("\n")
  .filter((f) => /(^|\/)Pulumi\.[^/]+\.yaml$/.test(f) && !f.startsWith("test/fixtures/pulumi-cli/"));

describe("this project under the Pulumi CLI's rules", () => {
  const ours = readPulumiProject(PROJECT_DIR);

  it("has a Pulumi.yaml the CLI accepts, every key typed that a Pulumi type can describe", () => {
    assert.deepEqual(projectConfigProblems(ours), []);
    // controller is false or an object: Pulumi's config types have no unions.
    const untyped = Object.entries(ours.config ?? {})
      .filter(([, d]) => (d as { type?: string }).type === undefined)
      .map(([k]) => k);
    assert.deepEqual(untyped, ["controller"]);
  });

  it("finds the stack files to check", () => {
    assert.ok(STACK_FILES.includes("Pulumi.dev.yaml"), STACK_FILES.join(", "));
    assert.ok(STACK_FILES.includes("test/e2e/Pulumi.e2e.yaml"), STACK_FILES.join(", "));
  });

  for (const file of STACK_FILES) {
    it(`lets ${file} through`, () => {
      const config = stack(readFileSync(join(PROJECT_DIR, file), "utf8"));
      assert.equal(stackConfigRefusal(ours, stackNameOf(file), config)?.message ?? null, null);
    });
  }

  it("fails the dev stack under the Pulumi.yaml of 1371905, whose nova had no default (the test's own test)", () => {
    const before = readPulumiProject(
      join(PROJECT_DIR, "test", "fixtures", "pulumi-cli"),
      "Pulumi.before-nova-default.yaml",
    );
    const config = stack(readFileSync(join(PROJECT_DIR, "Pulumi.dev.yaml"), "utf8"));
    assert.equal(refusal(before, config), "Stack 'dev' is missing configuration value 'nova'");
  });

  it("makes npm run plan refuse what the CLI refuses, naming the key and the fix", () => {
    const dir = mkdtempSync(join(tmpdir(), "pulumi-cli-"));
    try {
      copyFileSync(
        join(PROJECT_DIR, "test", "fixtures", "pulumi-cli", "Pulumi.before-nova-default.yaml"),
        join(dir, "Pulumi.yaml"),
      );
      copyFileSync(join(PROJECT_DIR, "Pulumi.dev.yaml"), join(dir, "Pulumi.dev.yaml"));
      const raw = readStackConfig(dir, join(dir, "Pulumi.dev.yaml"));
      assert.deepEqual(
        raw.problems.map((p) => p.message),
        [
          `the Pulumi CLI refuses this stack before the program runs ("Stack 'dev' is missing configuration value 'nova'"): ` +
            "set openstack-rt:nova in the stack file, or declare a default for it in Pulumi.yaml",
        ],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  for (const file of STACK_FILES.filter((f) => !f.includes("discover"))) {
    it(`plans ${file} the same whether or not the CLI passes Pulumi.yaml's defaults`, () => {
      const stackOnly = Object.fromEntries(
        Object.entries(stack(readFileSync(join(PROJECT_DIR, file), "utf8")))
          .filter(([k]) => k.startsWith("openstack-rt:"))
          .map(([k, v]) => [k.slice("openstack-rt:".length), v]),
      );
      // As PULUMI_CONFIG carries them: a scalar as its text, a structure as JSON (mergeConfig's createConfigValue).
      const withDefaults = Object.fromEntries(
        Object.entries(readStackConfig(PROJECT_DIR, join(PROJECT_DIR, file)).values).map(([k, v]) => [
          k,
          configValueFromText(typeof v === "object" && v !== null ? JSON.stringify(v) : String(v)),
        ]),
      );
      assert.ok(
        Object.keys(withDefaults).length > Object.keys(stackOnly).length,
        "the defaults add keys the stack does not set",
      );
      const a = decideStack(stackOnly, PROJECT_DIR);
      const b = decideStack(withDefaults, PROJECT_DIR);
      assert.equal(a.ok, b.ok);
      if (a.ok && b.ok) assert.deepEqual(JSON.parse(JSON.stringify(b.desired)), JSON.parse(JSON.stringify(a.desired)));
      if (!a.ok && !b.ok) assert.deepEqual(b.problems, a.problems);
    });
  }
});
