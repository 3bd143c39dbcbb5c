/** The dev stack's raw config (Pulumi.yaml defaults + Pulumi.dev.yaml), fresh for each caller to mutate. */
import { join } from "node:path";
import { readStackConfig } from "../../lib/config/stack-files";

export const PROJECT_DIR = join(__dirname, "..", "..");

export function devRaw(): Record<string, unknown> & {
  hosts: Record<string, unknown>[];
  flavors: Record<string, unknown>[];
  servers: Record<string, unknown>[];
} {
  const raw = readStackConfig(PROJECT_DIR, join(PROJECT_DIR, "Pulumi.dev.yaml"));
  if (raw.problems.length) throw new Error(JSON.stringify(raw.problems));
  return structuredClone(raw.values) as ReturnType<typeof devRaw>;
}
