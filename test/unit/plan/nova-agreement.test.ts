/**
 * The planner's Nova model against Nova's own verdicts (test/fixtures/nova/cases, made with
 * ../shared/nova-oracle by test/fixtures/nova/generate.py): same outcome, same stage, same RT
 * vCPUs, same host cells, same emulator-thread placement.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { novaVerdict } from "../../../lib/plan/nova/model";
import type { OracleOutput } from "../../support/oracle-case";
import { loadCases, oracleOutcome, toNovaFlavor, toNovaHost } from "../../support/oracle-case";

function oracleStage(nova: OracleOutput): string | null {
  if (!nova.extra_specs_valid) return "extra-specs";
  if (!nova.constraints_ok) return "api";
  if (!nova.fits) return nova.error?.startsWith("placement") ? "placement" : "numa";
  return null;
}

const cases = loadCases();

describe("agreement with Nova", () => {
  it("covers the required ground", () => {
    assert.ok(cases.length >= 25, `${cases.length} cases`);
    const outcomes = new Set(cases.map((c) => oracleOutcome(c.nova)));
    for (const o of ["fits", "no-fit", "rejected", "spawn-error"])
      assert.ok(outcomes.has(o as never), `no case where Nova says ${o}`);
    const nodeCounts = new Set(cases.map((c) => c.input.host.cells.length));
    for (const n of [1, 2, 3, 4]) assert.ok(nodeCounts.has(n), `no host with ${n} NUMA nodes`);
    assert.ok(
      cases.some((c) => c.input.host.cells.some((cell) => (cell.siblings ?? []).some((s) => s.length > 1))),
      "no SMT host",
    );
    for (const policy of ["isolate", "share"]) {
      assert.ok(
        cases.some((c) => c.input.flavor.extra_specs["hw:emulator_threads_policy"] === policy),
        `no emulator ${policy}`,
      );
    }
    for (const policy of ["prefer", "isolate", "require"]) {
      assert.ok(
        cases.some((c) => c.input.flavor.extra_specs["hw:cpu_thread_policy"] === policy),
        `no thread policy ${policy}`,
      );
    }
  });

  for (const c of cases) {
    it(`${c.name}: ${c.description}`, () => {
      const v = novaVerdict(toNovaFlavor(c.input), toNovaHost(c.input), c.input.image_props ?? {});
      const want = oracleOutcome(c.nova);
      const why = v.outcome === "rejected" ? v.errors : v.outcome === "no-fit" ? v.reasons : [];
      assert.equal(
        v.outcome,
        want,
        `model says ${v.outcome} (${why.join("; ")}), Nova says ${want} (${c.nova.error ?? ""} ${c.nova.constraint_error ?? ""})`,
      );
      if (v.outcome === "rejected" || v.outcome === "no-fit") assert.equal(v.stage, oracleStage(c.nova));
      if (v.outcome !== "fits" && v.outcome !== "spawn-error") return;
      assert.deepEqual([...v.request.realtimeVcpus], c.nova.realtime_vcpus ?? []);
      const np = c.nova.placement;
      if (!np) return assert.equal(v.placement, null);
      const p = v.placement!;
      assert.deepEqual(
        p.cells.map((x) => x.hostCell),
        np.cells.map((x) => x.host_cell),
        "host cells",
      );
      assert.deepEqual(
        p.cells.map((x) => x.reserved.length),
        np.cells.map((x) => x.cpuset_reserved.length),
        "isolate's extra pCPU",
      );
      assert.deepEqual(
        p.cells.map((x) => x.pageSizeKb),
        np.cells.map((x) => x.pagesize_kb ?? 4),
        "page size",
      );
      if (v.request.emulatorPolicy === "share" && v.outcome === "fits")
        assert.deepEqual([...p.emulatorPcpus], np.emulator_pcpus);
      else assert.equal(p.emulatorPcpus.length, np.emulator_pcpus.length, "emulatorpin size");
      // Nova's pin order comes from set hashing; what must agree is that every dedicated vCPU
      // has its own pCPU inside the host cell Nova chose.
      for (const [i, cell] of p.cells.entries()) {
        const dedicated: readonly number[] = v.request.cells![i].pcpuset;
        const novaPins = dedicated.map((vcpu) => np.cells[i].cpu_pinning[String(vcpu)]);
        assert.ok(
          novaPins.every((x) => typeof x === "number"),
          "Nova pins each dedicated vCPU to one pCPU",
        );
        assert.deepEqual(Object.keys(cell.pinning).map(Number), [...dedicated]);
        assert.equal(new Set(Object.values(cell.pinning)).size, dedicated.length);
        const hostCpus = c.input.host.cells.find((h) => h.id === cell.hostCell)!.cpus;
        assert.ok(Object.values(cell.pinning).every((pcpu) => hostCpus.includes(pcpu)));
      }
    });
  }
});
