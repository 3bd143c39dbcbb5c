import { terminalText } from "../render/terminal-text";

/** A validation problem: the setting's path and a message that says what was found and what is allowed. */
export interface Problem {
  path: string;
  message: string;
}

/** The problems without repeats: two checks may find the same one (same path, same message). */
export function uniqueProblems(problems: readonly Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = JSON.stringify([p.path, p.message]);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
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
