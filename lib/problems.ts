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

export function formatProblems(problems: readonly Problem[]): string {
  const n = problems.length;
  const lines = problems.map((p) => `  - ${p.path}: ${p.message}`);
  return [`${n} problem${n === 1 ? "" : "s"} in the stack config:`, ...lines].join("\n");
}

/** Renders a value for an error message: short, single-line, never a secret (callers never pass one). */
export function show(value: unknown): string {
  const text = typeof value === "string" ? JSON.stringify(value) : JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
