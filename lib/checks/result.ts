/**
 * The outcome of one verification check, and the report an operator reads. Results are plain
 * JSON values so the same list can be printed as a table or written out for CI.
 */
import { terminalText } from "../terminal-text";

export interface CheckResult {
  /** What was checked, short: "vcpupin vCPU 2", "kernel isolcpus". */
  check: string;
  expected: string;
  observed: string;
  ok: boolean;
  /** What to look at or change when the check fails; empty when it passed. */
  hint: string;
}

export interface ReportSummary {
  ok: boolean;
  total: number;
  passed: number;
  failed: number;
}

export function pass(check: string, expected: string, observed: string): CheckResult {
  return { check, expected, observed, ok: true, hint: "" };
}

export function fail(check: string, expected: string, observed: string, hint: string): CheckResult {
  return { check, expected, observed, ok: false, hint };
}

/** A passing or failing result from a condition, for checks whose hint is fixed. */
export function verdict(check: string, ok: boolean, expected: string, observed: string, hint: string): CheckResult {
  return ok ? pass(check, expected, observed) : fail(check, expected, observed, hint);
}

/**
 * A short, single-line quote of unparseable input: enough for the operator to recognise what
 * came back (an error page, an empty file) without flooding the report.
 */
export function excerpt(text: string, max = 60): string {
  const flat = text.replace(/\s+/g, " ").trim();
  if (flat === "") return "(empty)";
  return terminalText(JSON.stringify(flat.length > max ? `${flat.slice(0, max - 3)}...` : flat));
}

export function summarize(results: readonly CheckResult[]): ReportSummary {
  const failed = results.filter((r) => !r.ok).length;
  // An empty result list proves nothing, so it does not count as a pass.
  return { ok: failed === 0 && results.length > 0, total: results.length, passed: results.length - failed, failed };
}

/** One line of the report: what the host sent is in it, so every control character is escaped. */
function oneLine(text: string): string {
  return terminalText(text.replace(/\s*\n\s*/g, " "));
}

/** An aligned table (status, check, expected, observed), each failure's hint under it, and a summary line. */
export function formatReport(results: readonly CheckResult[]): string {
  const rows = results.map((r) => [r.ok ? "PASS" : "FAIL", r.check, r.expected, r.observed].map(oneLine));
  const header = ["", "CHECK", "EXPECTED", "OBSERVED"];
  // The status column is always "PASS"/"FAIL" wide, rows or not.
  const widths = header.map((h, i) => Math.max(i === 0 ? 4 : h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  const out = [line(header)];
  results.forEach((r, i) => {
    out.push(line(rows[i]));
    if (!r.ok && r.hint) out.push(`      -> ${oneLine(r.hint)}`);
  });
  const s = summarize(results);
  out.push(
    s.total === 0
      ? "no checks ran: nothing was verified"
      : `${s.total} check${s.total === 1 ? "" : "s"}: ${s.passed} passed, ${s.failed} failed${s.ok ? "" : " - NOT OK"}`,
  );
  return out.join("\n");
}
