/** Domain XML fixtures and assertion helpers shared by the checkDomain tests. */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { DomainExpectation } from "../../lib/checks/domain";
import type { CheckResult } from "../../lib/checks/result";
import { formatReport } from "../../lib/checks/result";
import { guestRequest } from "../../lib/plan/nova/model";
import type { OracleCase } from "./oracle-case";
import { CASES_DIR, expectationFromCase, toNovaFlavor } from "./oracle-case";

export const DOMAIN_DIR = join(__dirname, "..", "fixtures", "domain");
/** Written by the Nova-oracle fixture generator (test/fixtures/nova/generate.py --domain). */
export const NOVA_DOMAIN_DIR = join(__dirname, "..", "fixtures", "nova", "domain");

export const readDomainFixture = (name: string) => readFileSync(join(DOMAIN_DIR, name), "utf8");
export const loadCase = (name: string) =>
  JSON.parse(readFileSync(join(CASES_DIR, `${name}.json`), "utf8")) as OracleCase;

/** Nova-generated XML with its oracle case, for every pinned (dedicated or mixed) case that has both. */
export function novaDomains(): { name: string; xml: string; expectation: DomainExpectation }[] {
  const files = [DOMAIN_DIR, NOVA_DOMAIN_DIR]
    .filter((dir) => existsSync(dir))
    .flatMap((dir) =>
      readdirSync(dir)
        .filter((f) => f.endsWith(".xml"))
        .map((f) => ({ dir, name: f.slice(0, -4) })),
    )
    .filter(({ name }) => existsSync(join(CASES_DIR, `${name}.json`)));
  return files.flatMap(({ dir, name }) => {
    const c = loadCase(name);
    const policy = guestRequest(toNovaFlavor(c.input), c.input.image_props ?? {}).cpuPolicy;
    if (policy !== "dedicated" && policy !== "mixed") return []; // an unpinned guest is not what these checks verify
    return [
      {
        name: `${dir === DOMAIN_DIR ? "" : "nova/"}${name}`,
        xml: readFileSync(join(dir, `${name}.xml`), "utf8"),
        expectation: expectationFromCase(c),
      },
    ];
  });
}

function failures(results: CheckResult[]): CheckResult[] {
  return results.filter((r) => !r.ok);
}

export function only(results: CheckResult[], check: string): CheckResult {
  const r = results.find((x) => x.check === check);
  assert.ok(r, `no "${check}" result in:\n${formatReport(results)}`);
  return r;
}

export function assertAllPass(results: CheckResult[]) {
  assert.deepEqual(failures(results), [], formatReport(results));
}

/** Replaces exactly one occurrence, so a mutation that misses its target fails the test instead of testing nothing. */
export function mutate(xml: string, from: string, to: string): string {
  assert.equal(xml.split(from).length, 2, `"${from}" should occur exactly once`);
  return xml.replace(from, to);
}

export const seedXml = readDomainFixture("seed.xml");
export const seedExpect = expectationFromCase(loadCase("seed"));
