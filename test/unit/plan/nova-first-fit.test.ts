/**
 * firstFit (lib/plan/nova/numa-fit.ts), the search numaFit and the capacity counting use for the
 * host cells of a guest, against the straightforward way numa_fit_instance_to_host goes: every
 * permutation in itertools order, each tried guest cell by guest cell until one does not fit.
 * Same assignment, and the same pairs asked in the same order (numaFit logs each misfit once).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { firstFit } from "../../../lib/plan/nova/numa-fit";

function* permutations<T>(items: T[], k: number): Generator<T[]> {
  if (k === 0) {
    yield [];
    return;
  }
  for (let i = 0; i < items.length; i++) {
    const rest = [...items.slice(0, i), ...items.slice(i + 1)];
    for (const p of permutations(rest, k - 1)) yield [items[i], ...p];
  }
}

/** The permutation loop numaFit ran before firstFit: a misfit is remembered, a fit asked again. */
function byPermutations(cells: number[], slots: number, fits: (cell: number, slot: number) => boolean) {
  const failed = new Set<string>();
  for (const perm of permutations(cells, slots)) {
    let placed = 0;
    for (; placed < slots; placed++) {
      const key = `${perm[placed]}:${placed}`;
      if (failed.has(key)) break;
      if (!fits(perm[placed], placed)) {
        failed.add(key);
        break;
      }
    }
    if (placed === slots) return perm;
  }
  return null;
}

const caseArb = fc
  .record({ cells: fc.integer({ min: 1, max: 6 }), slots: fc.integer({ min: 1, max: 4 }) })
  .filter(({ cells, slots }) => slots <= cells)
  .chain(({ cells, slots }) =>
    fc.record({
      cells: fc.constant(cells),
      slots: fc.constant(slots),
      // Whether host cell c takes guest cell s; mostly yes, so that long searches happen.
      fits: fc.array(fc.array(fc.boolean(), { minLength: slots, maxLength: slots }), {
        minLength: cells,
        maxLength: cells,
      }),
    }),
  );

describe("firstFit", () => {
  it("finds the permutation the straightforward loop finds, asking new pairs in the same order", () => {
    let found = 0;
    fc.assert(
      fc.property(caseArb, ({ cells, slots, fits }) => {
        const hostCells = Array.from({ length: cells }, (_, c) => c);
        const loopAsked: string[] = [];
        const expected = byPermutations(hostCells, slots, (c, s) => {
          if (!loopAsked.includes(`${c}:${s}`)) loopAsked.push(`${c}:${s}`);
          return fits[c][s];
        });
        const asked: string[] = [];
        const got = firstFit(hostCells, slots, (c, s) => {
          asked.push(`${c}:${s}`);
          return fits[c][s] ? c : null;
        });
        assert.deepEqual(got, expected);
        assert.deepEqual(asked, loopAsked, "each pair asked once, in the loop's order");
        if (got) found++;
      }),
      { numRuns: 2000, seed: 11 },
    );
    assert.ok(found > 500, `${found} cases with an assignment`);
  });
});
