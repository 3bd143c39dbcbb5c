/** A validation problem: the setting's path and a message that says what was found and what is allowed. */
export interface Problem {
  path: string;
  message: string;
}

/** Thrown when a stack's config cannot be planned; carries every problem found, not just the first. */
export class PlanError extends Error {
  constructor(readonly problems: readonly Problem[]) {
    super(formatProblems(problems));
    this.name = "PlanError";
  }
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
