/**
 * .github/workflows: only well-known actions, every `run:` script clean under shellcheck, the
 * plan comment built with the npm scripts and plan options that exist, and the Pulumi steps
 * doing what the workflows promise (preview --diff on pull requests, up on main, a nightly
 * preview --refresh --expect-no-changes).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { parse } from "yaml";
import { PROJECT_DIR } from "../../support/dev-config";

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  with?: Record<string, unknown>;
}
interface Job {
  if?: string;
  needs?: string | string[];
  environment?: string;
  permissions?: Record<string, string>;
  steps: Step[];
}
interface Workflow {
  on: Record<string, unknown>;
  permissions: Record<string, string>;
  jobs: Record<string, Job>;
}

const DIR = join(PROJECT_DIR, ".github", "workflows");
const workflows = Object.fromEntries(
  readdirSync(DIR).map((f) => [f, parse(readFileSync(join(DIR, f), "utf8")) as Workflow]),
);
const steps = (w: Workflow) => Object.values(w.jobs).flatMap((j) => j.steps);
const scratch = mkdtempSync(join(tmpdir(), "workflows-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

describe("the workflows", () => {
  it("are ci.yml and drift.yml, readable as YAML, with read-only default permissions", () => {
    assert.deepEqual(Object.keys(workflows).sort(), ["ci.yml", "drift.yml"]);
    for (const w of Object.values(workflows)) assert.deepEqual(w.permissions, { contents: "read" });
  });

  it("use only actions/checkout, actions/setup-node and pulumi/actions, at a major version", () => {
    for (const [file, w] of Object.entries(workflows)) {
      for (const s of steps(w).filter((x) => x.uses)) {
        assert.match(s.uses!, /^(actions\/checkout|actions\/setup-node|pulumi\/actions)@v\d+$/, `${file}: ${s.uses}`);
      }
    }
  });

  it("run only scripts that shellcheck finds nothing in", () => {
    for (const [file, w] of Object.entries(workflows)) {
      steps(w).forEach((s, i) => {
        if (!s.run) return;
        // Expressions are substituted before the shell runs; a plain word stands in for them.
        const script = `#!/bin/bash\nset -eo pipefail\n${s.run.replace(/\$\{\{[^}]*\}\}/g, "EXPR")}`;
        const f = join(scratch, `${file}-${i}.sh`);
        writeFileSync(f, script);
        const r = spawnSync("shellcheck", ["--shell=bash", f], { encoding: "utf8" });
        assert.equal(r.status, 0, `${file} step ${s.name ?? i}:\n${r.stdout}`);
        assert.doesNotMatch(
          s.run,
          /\$\{\{\s*(matrix|needs|github\.event|steps)\./,
          `${file}: expressions go through env, not into the script text`,
        );
      });
    }
  });

  it("build the plan comment with npm scripts and plan options that exist", () => {
    const pkg = JSON.parse(readFileSync(join(PROJECT_DIR, "package.json"), "utf8")) as {
      scripts: Record<string, string>;
    };
    const cli = readFileSync(join(PROJECT_DIR, "cli", "plan.ts"), "utf8");
    const runs = steps(workflows["ci.yml"])
      .map((s) => s.run ?? "")
      .join("\n");
    for (const m of runs.matchAll(/npm run -s (\S+)/g)) assert.ok(m[1] in pkg.scripts, `npm script ${m[1]}`);
    for (const m of runs.matchAll(/npm run -s plan -- (.*)$/gm)) {
      for (const opt of m[1].matchAll(/--([a-z-]+)/g))
        assert.match(cli, new RegExp(`"?${opt[1]}"?: \\{ type:`), `plan option --${opt[1]}`);
    }
  });

  it("preview pull requests with --diff and a comment, update main, and check drift nightly", () => {
    const ci = workflows["ci.yml"];
    assert.deepEqual(Object.keys(ci.on).sort(), ["pull_request", "push"]);
    const pulumi = (w: Workflow, job: string) =>
      w.jobs[job].steps.find((s) => s.uses?.startsWith("pulumi/actions@"))?.with ?? {};
    assert.equal(ci.jobs.preview.if, "github.event_name == 'pull_request'");
    assert.deepEqual(
      [pulumi(ci, "preview").command, pulumi(ci, "preview").diff, pulumi(ci, "preview")["comment-on-pr"]],
      ["preview", true, true],
    );
    assert.equal(ci.jobs.up.if, "github.event_name == 'push' && github.ref == 'refs/heads/main'");
    assert.equal(pulumi(ci, "up").command, "up");
    assert.deepEqual(ci.jobs.up.needs, ["test", "stacks"]);
    assert.equal(ci.jobs.plan.environment, undefined, "the offline plan needs no credentials");
    const drift = workflows["drift.yml"];
    assert.ok("schedule" in drift.on);
    assert.deepEqual(
      [pulumi(drift, "drift").command, pulumi(drift, "drift").refresh, pulumi(drift, "drift")["expect-no-changes"]],
      ["preview", true, true],
    );
  });
});
