import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, it } from "node:test";
import fc from "fast-check";
import { bashStdinCommand, shellQuote } from "../../../lib/transport/shell";

describe("shell quoting", () => {
  it("leaves plain words alone and quotes the rest", () => {
    assert.equal(shellQuote("4-11"), "4-11");
    assert.equal(shellQuote("a b"), "'a b'");
    assert.equal(shellQuote("it's"), "'it'\\''s'");
    assert.equal(shellQuote(""), "''");
  });

  it("refuses NUL and newlines", () => {
    assert.throws(() => shellQuote("a\nreboot"), /newline/);
  });

  it("bash receives every argument exactly as given (property, real bash)", () => {
    const arg = fc.string({ unit: "binary", maxLength: 12 }).filter((s) => !/[\0\n\r]/.test(s));
    fc.assert(
      fc.property(fc.array(arg, { maxLength: 4 }), (args) => {
        const script = 'for a in "$@"; do printf "%s\\0" "$a"; done';
        const out = execFileSync("bash", ["-c", `${bashStdinCommand(args)}`], { input: script, encoding: "utf8" });
        assert.deepEqual(out === "" ? [] : out.slice(0, -1).split("\0"), args);
      }),
      { numRuns: 60 },
    );
  });
});
