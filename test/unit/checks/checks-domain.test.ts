/*
 * Fixtures: test/fixtures/domain/<case>.xml are the Nova oracle's examples/out/*.domain.xml (Nova
 * Zed's libvirt driver on fakelibvirt), checked against test/fixtures/nova/cases/<case>.json;
 * test/fixtures/nova/domain/ holds the fixture generator's XML for more cases; seed-003.xml is the
 * `virsh dumpxml` printed in seeds/003 (Nova 15.0.4, 2017).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { DomainExpectation } from "../../../lib/checks/domain";
import { checkDomain } from "../../../lib/checks/domain";
import { expectationFromPlan } from "../../../lib/checks/domain-expectation";
import {
  NOVA_DOMAIN_DIR,
  assertAllPass,
  mutate,
  novaDomains,
  only,
  readDomainFixture,
  seedXml,
} from "../../support/domain-fixtures";
import { devFlavor, devHost } from "../../support/dev-config";

describe("checkDomain on Nova's own domain XML", () => {
  const domains = novaDomains();

  it("has the oracle's examples to check", () => {
    assert.ok(domains.length >= 7, `found only ${domains.map((d) => d.name).join(", ")}`);
  });

  for (const d of domains) {
    it(`passes ${d.name} against the expectation from its case input`, () => {
      const results = checkDomain(d.xml, d.expectation);
      assertAllPass(results);
      for (let v = 0; v < d.expectation.vcpus; v++) only(results, `vcpupin vCPU ${v}`);
      for (const check of ["emulatorpin", "vcpusched", "hugepages", "NUMA locality", "numatune mode", "pCPUs distinct"])
        only(results, check);
    });
  }

  it("passes the seed guest against the dev plan's rt1.small only once the PMU is off, which the dev flavor asks for", () => {
    const expect = expectationFromPlan(devHost(), devFlavor("rt1.small"));
    assert.match(only(checkDomain(seedXml, expect), "PMU off").hint, /hw:pmu=false/);
    assertAllPass(checkDomain(mutate(seedXml, "<vmcoreinfo/>", '<vmcoreinfo/><pmu state="off"/>'), expect));
  });
});

// dev-plan-<flavor>.xml: Nova's XML (oracle, nova_domain_xml.py) for dev-plan-<flavor>.input.json,
// the dev plan's extra specs on the dev host.
describe("checkDomain on Nova's XML for the dev plan's flavors", () => {
  it("passes rt1.small against the plan, PMU off included", () => {
    const results = checkDomain(
      readDomainFixture("dev-plan-rt1.small.xml"),
      expectationFromPlan(devHost(), devFlavor("rt1.small")),
    );
    assertAllPass(results);
    assert.equal(only(results, "PMU off").observed, '<pmu state="off"/>');
  });

  it("passes pin1.medium (pinned, not real-time): emulator on both pCPUs, no vcpusched, small pages", () => {
    const results = checkDomain(
      readDomainFixture("dev-plan-pin1.medium.xml"),
      expectationFromPlan(devHost(), devFlavor("pin1.medium")),
    );
    assertAllPass(results);
    assert.equal(only(results, "emulatorpin").observed, "6,8");
    assert.equal(only(results, "vcpusched").expected, "none (not a real-time guest)");
    assert.equal(only(results, "hugepages").observed, "no <hugepages> (small pages)");
    assert.equal(
      results.some((r) => r.check === "memory locked" || r.check === "emulatorpin off RT pCPUs"),
      false,
    );
  });

  it("expects the plan's 1 GiB pages for hw:mem_page_size=any, and small pages when the memory is no whole number of them", () => {
    const rt1 = devFlavor("rt1.small");
    const any = (ramMb: number) => ({ ...rt1, ramMb, extraSpecs: { ...rt1.extraSpecs, "hw:mem_page_size": "any" } });
    assert.equal(expectationFromPlan(devHost(), any(4096)).pageSizeKb, 1048576);
    assert.equal(expectationFromPlan(devHost(), any(4608)).pageSizeKb, null);
    const xml = readFileSync(join(NOVA_DOMAIN_DIR, "pagesize_any_falls_back_to_small.xml"), "utf8");
    assertAllPass(
      checkDomain(mutate(xml, "<features>", '<features><pmu state="off"/>'), expectationFromPlan(devHost(), any(4608))),
    );
  });

  it("fails pin1.medium when a vCPU is made SCHED_FIFO", () => {
    const xml = mutate(
      readDomainFixture("dev-plan-pin1.medium.xml"),
      "</cputune>",
      '<vcpusched vcpus="1" scheduler="fifo" priority="1"/></cputune>',
    );
    const r = only(checkDomain(xml, expectationFromPlan(devHost(), devFlavor("pin1.medium"))), "vcpusched");
    assert.equal(r.ok, false);
    assert.match(r.hint, /^vCPU 1 is housekeeping in the plan but runs SCHED_FIFO/);
  });
});

describe("checkDomain on the seed's 2017 virsh dumpxml (seeds/003)", () => {
  const xml = readDomainFixture("seed-003.xml");
  // That host pinned the guest to CPUs 0-3 on node 0 and gave it small pages.
  const ownHost: DomainExpectation = {
    dedicatedSet: "0-3",
    sharedSet: null,
    nodeCpus: { 0: "0-7" },
    vcpus: 4,
    realtimeVcpus: "2-3",
    emulatorPolicy: null,
    pageSizeKb: null,
    pmuOff: false,
  };

  it("passes against a plan whose dedicated set holds its pCPUs", () => {
    const results = checkDomain(xml, ownHost);
    assertAllPass(results);
    assert.equal(only(results, "emulatorpin").observed, "0-1");
    assert.equal(only(results, "vcpusched").observed, "fifo on vCPUs 2-3 prio 1");
  });

  it("fails against the dev plan (dedicated 4-11): every vCPU is outside cpu_dedicated_set", () => {
    const results = checkDomain(xml, expectationFromPlan(devHost(), devFlavor("rt1.small")));
    assert.equal(
      only(results, "vcpupin vCPU 0").hint,
      "vCPU 0 is pinned to pCPU 0, outside cpu_dedicated_set 4-11: check [compute] cpu_dedicated_set on the host and that NUMATopologyFilter is enabled",
    );
    for (const v of [1, 2, 3])
      assert.match(only(results, `vcpupin vCPU ${v}`).hint, new RegExp(`pCPU ${v}, outside cpu_dedicated_set 4-11`));
    assert.equal(only(results, "hugepages").ok, false, "the 2017 guest has no 1 GiB pages");
    assert.match(only(results, "NUMA locality").observed, /vCPU 1 -> pCPU 1 on node 1, memory on node 0/);
  });
});
