/**
 * Stable identities: the dev stack's URNs, as the program registers them when Pulumi's own runner
 * loads it, must equal the committed list. A moved file, a renamed component or a new parent
 * changes a URN, and Pulumi would then delete and recreate the resource (a host's prep steps, a
 * server): such a change needs an alias, or is deliberate and updates the list with
 * `UPDATE_URNS=1 node --import tsx --test test/unit/components/urns.test.ts`.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { it } from "node:test";
import { devRaw } from "../../support/dev-config";
import { loadProgram } from "../../support/pulumi-program";

const LIST = join(__dirname, "..", "..", "fixtures", "urns", "dev.txt");

it("the dev stack registers exactly the committed URNs", async () => {
  const loaded = await loadProgram({ stack: "dev", config: devRaw() });
  assert.ok(loaded.ok, loaded.ok ? "" : loaded.error);
  const urns = [...new Set(loaded.resources.map((r) => r.urn))].sort();
  if (process.env.UPDATE_URNS === "1") writeFileSync(LIST, `${urns.join("\n")}\n`);
  const committed = readFileSync(LIST, "utf8")
    .split("\n")
    .filter((l) => l !== "");
  const gone = committed.filter((u) => !urns.includes(u));
  const added = urns.filter((u) => !committed.includes(u));
  assert.deepEqual(
    { gone, added },
    { gone: [], added: [] },
    "a changed URN replaces its resource: add an alias, or update the list on purpose (see the header)",
  );
});
