/**
 * Text from hosts and files reaches the terminal escaped: terminalText itself, and the
 * boundaries that use it (problems and warnings, value quotes, check reports), on real input.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { formatProblems, formatWarnings, show } from "../../../lib/config/problems";
import { excerpt, fail, formatReport } from "../../../lib/checks/result";
import { terminalText } from "../../../lib/terminal-text";
import { PROJECT_DIR } from "../../support/dev-config";

// eslint-disable-next-line no-control-regex -- what a terminal acts on
const ACTS_ON = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u2028\u2029]/;
const HOSTILE = "ok\u001b]0;owned\u0007\u001b[2J\rhidden\u009b31m\u202eevil\u2028x\bz\u0000";

describe("terminalText", () => {
  it("escapes ESC, OSC, BEL, CR, C1, bidi overrides and line separators, readably", () => {
    const out = terminalText(HOSTILE);
    assert.doesNotMatch(out, ACTS_ON);
    assert.doesNotMatch(out, /\n/);
    assert.equal(out, "ok\\e]0;owned\\a\\e[2J\\rhidden\\x9b31m\\u202eevil\\u2028x\\x08z\\x00");
  });

  it("keeps newlines and tabs only when asked, and leaves printable text alone", () => {
    assert.equal(terminalText("a\n\tb\u001b"), "a\\n\\tb\\e");
    assert.equal(terminalText("a\n\tb\u001b", { multiline: true }), "a\n\tb\\e");
    const plain = 'openstack-rt:hosts[0].name: got "rt-1"; µs ≥ 20 — ünïcode';
    assert.equal(terminalText(plain), plain);
  });
});

describe("every boundary uses it", () => {
  it("problems, warnings and quoted values", () => {
    const problems = formatProblems([{ path: `ns${HOSTILE}:k`, message: `value ${HOSTILE}` }]);
    assert.doesNotMatch(problems, ACTS_ON);
    assert.doesNotMatch(
      formatWarnings([{ path: HOSTILE, message: HOSTILE }], [{ path: HOSTILE, message: HOSTILE }]),
      ACTS_ON,
    );
    assert.doesNotMatch(show(HOSTILE), ACTS_ON);
    assert.doesNotMatch(show({ [HOSTILE]: 1 }), ACTS_ON);
  });

  it("check reports and excerpts of host output", () => {
    const report = formatReport([fail(`check ${HOSTILE}`, "expected", `observed ${HOSTILE}`, `hint ${HOSTILE}`)]);
    assert.doesNotMatch(report.replaceAll("\n", ""), ACTS_ON);
    assert.match(report, /observed ok\\e\]0;owned\\a/);
    assert.doesNotMatch(excerpt(HOSTILE), ACTS_ON);
  });

  it("npm run plan on a stack file whose key and value hold escape sequences prints them escaped", () => {
    const dir = mkdtempSync(join(tmpdir(), "terminal-text-"));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, "Pulumi.hostile.yaml");
    const dev = readFileSync(join(PROJECT_DIR, "Pulumi.dev.yaml"), "utf8");
    writeFileSync(file, `${dev}  "ns\\e]0;owned\\a:key": 1\n  "openstack-rt:x\\u009b2J\\u202e": "\\e[31mred\\r"\n`);
    const env = { ...process.env };
    delete env.NODE_TEST_CONTEXT;
    const r = spawnSync(process.execPath, ["--import", "tsx", join(PROJECT_DIR, "cli", "plan.ts"), "--config", file], {
      cwd: PROJECT_DIR,
      env,
      encoding: "utf8",
    });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /unknown namespace "ns\\e\]0;owned\\a"/);
    assert.match(r.stderr, /unknown setting "x\\x9b2J\\u202e"/);
    assert.doesNotMatch(r.stdout + r.stderr.replaceAll("\n", ""), ACTS_ON);
  });
});
