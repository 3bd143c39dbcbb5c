/**
 * Flavor extra specs as Nova's API checks them (lib/plan/nova/extra-specs.ts): the same verdict as
 * Nova's own validators on every case of test/fixtures/nova/extra-specs-cases.json (written by
 * test/fixtures/nova/extra_specs.py from Debian's python3-nova), and the planner reporting a
 * refused key at the setting it came from.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { extraSpecError, LINEAR_EQUIVALENTS } from "../../../lib/plan/nova/extra-specs";
import { planStack } from "../../../lib/plan/stack";
import type { Problem } from "../../../lib/config/problems";
import { devRaw } from "../../support/dev-config";

interface NovaCase {
  name: string;
  value: string;
  valid: boolean;
  error?: string;
}

const cases = JSON.parse(
  readFileSync(join(__dirname, "..", "..", "fixtures", "nova", "extra-specs-cases.json"), "utf8"),
) as NovaCase[];

describe("Nova's extra-spec validators", () => {
  it("cover accepted and refused keys of every kind", () => {
    assert.ok(
      cases.filter((c) => c.valid).length >= 20 && cases.filter((c) => !c.valid).length >= 20,
      "enough of both",
    );
    for (const ns of [
      "hw:",
      "hw_rng:",
      "hw_video:",
      "os:",
      "resources",
      "trait",
      "aggregate_instance_extra_specs:",
      "custom:",
    ]) {
      assert.ok(
        cases.some((c) => c.name.startsWith(ns)),
        `a case in ${ns}`,
      );
    }
  });

  for (const c of cases) {
    it(`${c.name}=${JSON.stringify(c.value)}: ${c.valid ? "accepted" : "refused"}, as Nova does`, () => {
      const error = extraSpecError(c.name, c.value);
      if (c.valid) assert.equal(error, null);
      else assert.ok(error !== null, `Nova refuses it: ${c.error}`);
    });
  }

  it("says what Nova takes, and the key meant when one is misspelt", () => {
    assert.equal(
      extraSpecError("hw:cpu_polcy", "dedicated"),
      'Nova knows no such key in its "hw:" namespace, where it refuses unknown keys; did you mean "hw:cpu_policy"?',
    );
    assert.equal(
      extraSpecError("hw:cpu_policy", "Dedicated"),
      "Nova takes one of dedicated, shared, mixed (case matters)",
    );
    assert.equal(extraSpecError("os:monitors", "9"), "Nova takes an integer >= 1 <= 8");
    assert.match(
      extraSpecError("hw:pmu", "maybe")!,
      /^Nova takes a boolean: one of 1, t, true, on, y, yes, 0, f, false, off, n, no/,
    );
    assert.match(
      extraSpecError("trait:NOT_A_TRAIT", "required")!,
      /no such key in its "trait:" namespace.*check the key/,
    );
  });
});

describe("Nova's patterns, matched in linear time", () => {
  // Nova's own patterns, as the validators would match them without the rewrite.
  const nova = (p: string) => new RegExp(`^(?:${p})$`);
  const linear = (p: string) => new RegExp(`^(?:${LINEAR_EQUIVALENTS[p]})$`);

  for (const pattern of Object.keys(LINEAR_EQUIVALENTS)) {
    it(`take the same strings as ${pattern}`, () => {
      // Short strings over the characters the patterns care about: the originals stay fast there.
      const text = fc.string({ unit: fc.constantFrom("0", "1", "9", "-", ",", "^", "a", "_", " "), maxLength: 12 });
      fc.assert(
        fc.property(text, (s) => nova(pattern).test(s) === linear(pattern).test(s)),
        { numRuns: 5000 },
      );
    });
  }

  it("answer at once on a value that makes Nova's patterns backtrack for minutes", () => {
    const start = performance.now();
    assert.notEqual(extraSpecError("hw:cpu_realtime_mask", `0${",1-2".repeat(60)} `), null);
    assert.notEqual(extraSpecError("hw:pmem", `${"a".repeat(200)}!`), null);
    assert.ok(performance.now() - start < 200, `${performance.now() - start} ms`);
  });
});

describe("the planner checks a flavor's extra specs as Nova's API does", () => {
  function problems(edit: (raw: ReturnType<typeof devRaw>) => void): Problem[] {
    const raw = devRaw();
    edit(raw);
    const r = planStack(raw);
    return r.ok ? [] : r.problems;
  }

  it("accepts keys Nova validates and takes, and keys of namespaces it does not validate", () => {
    const r = problems((raw) => {
      raw.flavors[0].extraSpecs = {
        "trait:HW_CPU_X86_AVX2": "required",
        "hw_rng:allowed": "True",
        "hw:watchdog_action": "reset",
        "quota:cpu_shares": "100",
        "aggregate_instance_extra_specs:ssd": "true",
        "resources1:CUSTOM_FPGA": "1",
        "custom:anything": "x",
      };
    });
    assert.deepEqual(r, []);
  });

  it("refuses unknown keys in validated namespaces and bad values, at flavors[i].extraSpecs, naming key, value and fix", () => {
    const r = problems((raw) => {
      raw.flavors[1].extraSpecs = {
        "hw:cpu_polcy": "dedicated",
        "hw_rng:rate_bytes": "-1",
        "os:secure_boot": "yes",
        "resources:VCPUS": "2",
        "trait:HW_CPU_X86_AVX3": "required",
      };
    });
    assert.deepEqual(r, [
      {
        path: "openstack-rt:flavors[1].extraSpecs",
        message: `got "hw:cpu_polcy": "dedicated", which Nova's API refuses: Nova knows no such key in its "hw:" namespace, where it refuses unknown keys; did you mean "hw:cpu_policy"?`,
      },
      {
        path: "openstack-rt:flavors[1].extraSpecs",
        message: `got "hw_rng:rate_bytes": "-1", which Nova's API refuses: Nova takes an integer >= 0`,
      },
      {
        path: "openstack-rt:flavors[1].extraSpecs",
        message: `got "os:secure_boot": "yes", which Nova's API refuses: Nova takes one of disabled, required (case matters)`,
      },
      {
        path: "openstack-rt:flavors[1].extraSpecs",
        message: `got "resources:VCPUS": "2", which Nova's API refuses: Nova knows no such key in its "resources:" namespace, where it refuses unknown keys; did you mean "resources:VCPU"?`,
      },
      {
        path: "openstack-rt:flavors[1].extraSpecs",
        message: `got "trait:HW_CPU_X86_AVX3": "required", which Nova's API refuses: Nova knows no such key in its "trait:" namespace, where it refuses unknown keys; did you mean "trait:HW_CPU_X86_AVX"?`,
      },
    ]);
  });

  it("puts a realtime mask Nova refuses at realtime.mask, also when no host can be planned", () => {
    const r = problems((raw) => {
      raw.flavors[0].realtime = { mask: "^0, 1" };
      for (const h of raw.hosts) h.housekeepingCpusPerNode = 6;
    });
    assert.deepEqual(
      r.map((p) => p.path),
      [
        "openstack-rt:hosts[0].housekeepingCpusPerNode",
        "openstack-rt:hosts[1].housekeepingCpusPerNode",
        "openstack-rt:flavors[0].realtime.mask",
      ],
    );
    assert.match(
      r[2].message,
      /^got "\^0, 1", which Nova's API refuses as hw:cpu_realtime_mask: .*; write it without blanks, such as "\^0-1"/,
    );
  });
});
