import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkDomain } from "../../../lib/checks/domain";
import { expectationFromPlan } from "../../../lib/checks/domain-expectation";
import { expectationFromCase } from "../../support/oracle-case";
import {
  assertAllPass,
  loadCase,
  mutate,
  only,
  readDomainFixture,
  seedExpect,
  seedXml,
} from "../../support/domain-fixtures";
import { devFlavor, devHost } from "../../support/dev-config";

describe("checkDomain on mutated Nova XML (seed case: vCPUs 0-3 -> 6,8,4,10, RT 2-3, emulator on 6,8)", () => {
  it("passes unmutated, so each mutation below is what fails", () => {
    assertAllPass(checkDomain(seedXml, seedExpect));
  });

  it("reports an unpinned vCPU as floating over all host CPUs", () => {
    const r = only(checkDomain(mutate(seedXml, '<vcpupin vcpu="2" cpuset="4"/>', ""), seedExpect), "vcpupin vCPU 2");
    assert.equal(r.ok, false);
    assert.equal(r.observed, "no <vcpupin>");
    assert.match(r.hint, /floats over every host CPU.*hw:cpu_policy=dedicated/);
  });

  it("reports two vCPUs on one pCPU", () => {
    const r = only(
      checkDomain(mutate(seedXml, '<vcpupin vcpu="3" cpuset="10"/>', '<vcpupin vcpu="3" cpuset="4"/>'), seedExpect),
      "pCPUs distinct",
    );
    assert.equal(r.ok, false);
    assert.equal(r.observed, "vCPUs 2,3 share pCPU 4");
  });

  it("reports a vCPU pinned to a housekeeping CPU with the cpu_dedicated_set hint", () => {
    const results = checkDomain(
      mutate(seedXml, '<vcpupin vcpu="3" cpuset="10"/>', '<vcpupin vcpu="3" cpuset="2"/>'),
      seedExpect,
    );
    assert.match(
      only(results, "vcpupin vCPU 3").hint,
      /^vCPU 3 is pinned to pCPU 2, outside cpu_dedicated_set 4-11: check \[compute\] cpu_dedicated_set/,
    );
  });

  it("reports a vCPU on another NUMA node than its memory", () => {
    const r = only(
      checkDomain(mutate(seedXml, '<vcpupin vcpu="3" cpuset="10"/>', '<vcpupin vcpu="3" cpuset="5"/>'), seedExpect),
      "NUMA locality",
    );
    assert.equal(r.ok, false);
    assert.equal(r.observed, "vCPU 3 -> pCPU 5 on node 1, memory on node 0");
    assert.match(r.hint, /NUMATopologyFilter/);
  });

  it("reports emulator threads on an RT vCPU's pCPU", () => {
    const results = checkDomain(
      mutate(seedXml, '<emulatorpin cpuset="6,8"/>', '<emulatorpin cpuset="4,6,8"/>'),
      seedExpect,
    );
    const r = only(results, "emulatorpin off RT pCPUs");
    assert.equal(r.ok, false);
    assert.equal(r.observed, "emulator threads may run on pCPU 4 (RT vCPU 2)");
    assert.match(r.hint, /hw:cpu_realtime_mask/);
    assert.equal(only(results, "emulatorpin").ok, false, "4,6,8 is not the non-RT vCPUs' pCPUs 6,8");
  });

  it("reports a missing vcpusched: the RT vCPUs are not real-time", () => {
    const r = only(
      checkDomain(mutate(seedXml, '<vcpusched vcpus="2-3" scheduler="fifo" priority="1"/>', ""), seedExpect),
      "vcpusched",
    );
    assert.equal(r.ok, false);
    assert.equal(r.observed, "no <vcpusched>");
    assert.match(r.hint, /RT vCPUs 2-3 run as normal SCHED_OTHER threads.*hw:cpu_realtime=yes/);
  });

  it("reports vcpusched on a housekeeping vCPU", () => {
    const r = only(
      checkDomain(mutate(seedXml, 'vcpus="2-3" scheduler="fifo"', 'vcpus="1-3" scheduler="fifo"'), seedExpect),
      "vcpusched",
    );
    assert.equal(r.ok, false);
    assert.match(r.hint, /^vCPU 1 is housekeeping in the plan but runs SCHED_FIFO/);
  });

  it("reports 2 MiB pages where the plan asks for 1 GiB", () => {
    const r = only(
      checkDomain(
        mutate(seedXml, '<page size="1048576" nodeset="0" unit="KiB"/>', '<page size="2048" nodeset="0" unit="KiB"/>'),
        seedExpect,
      ),
      "hugepages",
    );
    assert.equal(r.ok, false);
    assert.equal(r.observed, "2 MiB pages");
    assert.match(r.hint, /hw:mem_page_size=1GB/);
  });

  it("reads page sizes in libvirt's other units (G, default KiB)", () => {
    for (const page of ['<page size="1" nodeset="0" unit="G"/>', '<page size="1048576" nodeset="0"/>']) {
      assert.equal(
        only(
          checkDomain(mutate(seedXml, '<page size="1048576" nodeset="0" unit="KiB"/>', page), seedExpect),
          "hugepages",
        ).ok,
        true,
        page,
      );
    }
    const mib = mutate(
      seedXml,
      '<page size="1048576" nodeset="0" unit="KiB"/>',
      '<page size="2" nodeset="0" unit="M"/>',
    );
    assert.equal(only(checkDomain(mib, seedExpect), "hugepages").observed, "2 MiB pages");
  });

  it("reports realtime memory that is not locked", () => {
    const r = only(checkDomain(mutate(seedXml, "<locked/>", ""), seedExpect), "memory locked");
    assert.equal(r.ok, false);
    assert.equal(r.observed, "no <locked/>");
  });

  it("reports a memory mode other than strict", () => {
    const r = only(
      checkDomain(
        mutate(seedXml, '<memory mode="strict" nodeset="0"/>', '<memory mode="preferred" nodeset="0"/>'),
        seedExpect,
      ),
      "numatune mode",
    );
    assert.equal(r.ok, false);
    assert.equal(r.observed, "memory preferred, memnode 0 strict");
  });

  it("reports an isolated emulator pCPU that a vCPU also uses", () => {
    const xml = readDomainFixture("isolate_two_numa_nodes.xml");
    const expect = expectationFromCase(loadCase("isolate_two_numa_nodes"));
    const r = only(
      checkDomain(mutate(xml, '<emulatorpin cpuset="4"/>', '<emulatorpin cpuset="6"/>'), expect),
      "emulatorpin",
    );
    assert.equal(r.ok, false);
    assert.match(r.hint, /hw:emulator_threads_policy=isolate/);
  });
});

describe("checkDomain on output that is not a domain", () => {
  const dev = expectationFromPlan(devHost(), devFlavor("rt1.small"));
  const cases: [string, string, RegExp][] = [
    ["empty output", "", /empty/],
    ["a dump cut off mid-way", seedXml.slice(0, Math.floor(seedXml.length / 2)), /never closed|cut-off/],
    [
      "a dump cut off between two elements",
      seedXml.slice(0, seedXml.indexOf("</cputune>") + 10),
      /<domain> opened on line 1 is never closed/,
    ],
    ["a dump cut off inside a tag", seedXml.slice(0, seedXml.indexOf("<vcpupin") + 12), /cut-off tag/],
    ["virsh's error text", "error: failed to get domain 'instance-0000000a'\n", /text outside the root element/],
    ["binary garbage", "\u0000\u0001PK\u0003\u0004<<>>&&", /not well-formed/],
    ["well-formed XML of another kind", "<capabilities><host/></capabilities>", /<capabilities>, not <domain>/],
    ["mismatched tags", "<domain><cputune></domain></cputune>", /does not match/],
  ];
  for (const [what, input, why] of cases) {
    it(`gives one failed result for ${what}`, () => {
      const results = checkDomain(input, dev);
      assert.equal(results.length, 1);
      assert.equal(results[0].ok, false);
      assert.equal(results[0].check, "domain XML");
      assert.match(results[0].observed, why);
      assert.match(results[0].hint, /virsh dumpxml/);
    });
  }

  it("reads an XML declaration, comments, CDATA and entities around the domain", () => {
    const decorated = mutate(
      `<?xml version="1.0" encoding="UTF-8"?>\n<!-- virsh dumpxml -->\n${seedXml}`,
      "<name>instance-00000001</name>",
      "<name>instance&#45;00000001 &amp; <![CDATA[<raw>]]></name><!-- a comment with <vcpupin vcpu='9'/> -->",
    );
    assertAllPass(checkDomain(decorated, seedExpect));
    assert.match(
      checkDomain(`${seedXml}<!-- cut`, seedExpect)[0].observed,
      /a comment starting on line \d+ is never closed/,
    );
    assert.match(
      checkDomain(mutate(seedXml, "<name>instance-00000001</name>", "<name>a & b</name>"), seedExpect)[0].observed,
      /a bare "&"/,
    );
  });

  it("fails a cpuset that is not a CPU list without throwing", () => {
    const r = only(
      checkDomain(mutate(seedXml, '<vcpupin vcpu="0" cpuset="6"/>', '<vcpupin vcpu="0" cpuset="six"/>'), seedExpect),
      "vcpupin vCPU 0",
    );
    assert.equal(r.ok, false);
    assert.equal(r.observed, 'cpuset="six"');
  });
});
