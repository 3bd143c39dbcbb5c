import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { checkDomain } from "../../../lib/checks/domain";
import type { CheckResult } from "../../../lib/checks/result";
import { excerpt, fail, formatReport, pass, summarize } from "../../../lib/checks/result";
import type { OracleCase } from "../../support/oracle-case";
import { CASES_DIR, expectationFromCase } from "../../support/oracle-case";

const results: CheckResult[] = [
  pass("RT kernel", "PREEMPT_RT in uname -v", "#1 SMP PREEMPT_RT Debian 6.1.135-1"),
  fail("cmdline isolcpus", "isolcpus=4-11", "absent", "set isolated_cores=4-11\nand reboot"),
  pass("sysfs isolated", "4-11", "4-11"),
];

describe("formatReport", () => {
  const lines = formatReport(results).split("\n");

  it("aligns the expected and observed columns of every row", () => {
    const rows = [lines[0], lines[1], lines[2], lines[4]];
    const col = (word: string) => lines[0].indexOf(word);
    for (const row of rows.slice(1)) {
      assert.equal(row[col("EXPECTED") - 1], " ", row);
      assert.notEqual(row[col("EXPECTED")], " ", row);
      assert.notEqual(row[col("OBSERVED")], " ", row);
    }
    assert.ok(lines[2].startsWith("FAIL  cmdline isolcpus"), lines[2]);
  });

  it("puts a failure's hint on one line under it, and ends with the summary", () => {
    assert.equal(lines[3], "      -> set isolated_cores=4-11 and reboot");
    assert.equal(lines[lines.length - 1], "3 checks: 2 passed, 1 failed - NOT OK");
    assert.equal(
      formatReport(results.filter((r) => r.ok))
        .split("\n")
        .pop(),
      "2 checks: 2 passed, 0 failed",
    );
  });

  it("does not call an empty report a pass", () => {
    assert.equal(formatReport([]), "      CHECK  EXPECTED  OBSERVED\nno checks ran: nothing was verified");
    assert.deepEqual(summarize([]), { ok: false, total: 0, passed: 0, failed: 0 });
  });
});

describe("results as JSON", () => {
  it("survive a JSON round trip unchanged, real domain results included", () => {
    const seed = JSON.parse(readFileSync(join(CASES_DIR, "seed.json"), "utf8")) as OracleCase;
    const xml = readFileSync(join(__dirname, "..", "..", "fixtures", "domain", "seed.xml"), "utf8");
    const domain = checkDomain(xml, expectationFromCase(seed));
    assert.deepEqual(JSON.parse(JSON.stringify(domain)), domain);
    assert.deepEqual(summarize(domain), { ok: true, total: domain.length, passed: domain.length, failed: 0 });
  });

  it("quote unreadable input short and on one line", () => {
    assert.equal(excerpt(""), "(empty)");
    assert.equal(excerpt("a\n  b"), '"a b"');
    assert.equal(excerpt("x".repeat(100), 10), '"xxxxxxx..."');
  });
});
