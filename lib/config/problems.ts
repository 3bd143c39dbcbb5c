/**
 * How a stack config's problems are told: a problem names the setting and says what was found and
 * what is allowed; values quoted in messages are short and escaped for the terminal.
 */
import { terminalText } from "../terminal-text";

/** A validation problem: the setting's path and a message that says what was found and what is allowed. */
export interface Problem {
  path: string;
  message: string;
}

/** The most problems printed; a file with thousands of bad keys would otherwise bury the first. */
export const MAX_PROBLEMS_SHOWN = 50;

export function formatProblems(problems: readonly Problem[]): string {
  const n = problems.length;
  // Paths and messages quote keys and values from the stack file: escaped for the terminal.
  const lines = problems
    .slice(0, MAX_PROBLEMS_SHOWN)
    .map((p) => `  - ${terminalText(p.path)}: ${terminalText(p.message, { multiline: true })}`);
  if (n > MAX_PROBLEMS_SHOWN) lines.push(`  ... and ${n - MAX_PROBLEMS_SHOWN} more (fix these first)`);
  return [`${n} problem${n === 1 ? "" : "s"} in the stack config:`, ...lines].join("\n");
}

/** Renders a value for an error message: short, single-line, terminal-safe, never a secret (callers never pass one). */
export function show(value: unknown): string {
  const json = typeof value === "string" ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  const text = terminalText(json);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Warnings and notes (lib/config/warnings.ts) for a terminal: loud warnings, one line per note; "" when there are none. */
export function formatWarnings(warnings: readonly Problem[], notes: readonly Problem[]): string {
  const lines: string[] = [];
  if (warnings.length > 0) {
    lines.push(`WARNING: ${warnings.length} warning${warnings.length === 1 ? "" : "s"} about the stack config:`);
    lines.push(...warnings.map((w) => `  ! ${terminalText(w.path)}: ${terminalText(w.message)}`));
  }
  lines.push(...notes.map((n) => `note: ${terminalText(n.path)}: ${terminalText(n.message)}`));
  return lines.length > 0 ? `${lines.join("\n")}\n` : "";
}

/**
 * The candidate a mistyped name most likely meant ("did you mean"), or undefined when none is
 * close: at most 2 edits (insert, delete, substitute, swap of neighbours) and fewer than a third
 * of the name, case ignored. Names over 64 characters are no typo of a short one: not compared.
 */
export function closestName(word: string, candidates: readonly string[]): string | undefined {
  if (word.length > 64) return undefined;
  const w = word.toLowerCase();
  let best: { name: string; d: number } | undefined;
  for (const name of candidates) {
    if (name.length > 64 || name === word) continue;
    const d = editDistance(w, name.toLowerCase());
    if (d <= 2 && d < Math.max(w.length, 3) / 3 + 1 && (best === undefined || d < best.d)) best = { name, d };
  }
  return best?.name;
}

/** Optimal-string-alignment distance: edits, a swap of two neighbours counting as one. */
export function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) rows[0][j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2][j - 2] + 1);
      rows[i][j] = d;
    }
  return rows[a.length][b.length];
}
