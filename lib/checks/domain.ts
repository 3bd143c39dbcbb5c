/**
 * Verifies a running guest's libvirt domain XML (`virsh dumpxml <instance uuid>` on its compute
 * host) against the plan: CPU pinning and NUMA placement here, the real-time settings in
 * domain-rt.ts. Sets are compared, never orders: Nova's vCPU -> pCPU order comes from Python set
 * hashing (seed: 6,8,4,10), so "vCPU i on the i-th dedicated CPU" would be a false alarm.
 */
import type { CpuSet } from "../cpu/cpuset";
import { cpuSet, difference, formatCpuList, isSubset, sameSet } from "../cpu/cpuset";
import type { DomainExpectation, PlannedSets } from "./domain-expectation";
import { plannedSets } from "./domain-expectation";
import { REBOOT, checkEmulatorpin, checkMemoryBacking, checkPmu, checkVcpusched } from "./domain-rt";
import type { DomainFacts } from "./domain-xml";
import { pcpusOf, readDomain, singlePcpu } from "./domain-xml";
import type { CheckResult } from "./result";
import { excerpt, fail, pass, verdict } from "./result";

export type { DomainExpectation } from "./domain-expectation";

function checkVcpuCount(f: DomainFacts, e: DomainExpectation): CheckResult {
  return verdict(
    "vCPU count",
    f.vcpus === e.vcpus,
    `${e.vcpus}`,
    f.vcpus === null ? "no readable <vcpu>" : `${f.vcpus}`,
    "the instance does not run the planned flavor (resized, or the wrong UUID was dumped): compare `openstack server show <id> -c flavor` with the plan",
  );
}

function checkDedicatedPin(f: DomainFacts, v: number, s: PlannedSets, e: DomainExpectation): CheckResult {
  const check = `vcpupin vCPU ${v}`;
  const expected = `one pCPU in cpu_dedicated_set ${e.dedicatedSet}`;
  const pins = f.vcpupins.filter((p) => p.vcpu === v);
  if (pins.length === 0) {
    return fail(
      check,
      expected,
      "no <vcpupin>",
      `vCPU ${v} floats over every host CPU, housekeeping ones included: its flavor needs hw:cpu_policy=dedicated (check \`openstack flavor show\`); if it has it, ${REBOOT}`,
    );
  }
  if (pins.length > 1) {
    return fail(
      check,
      expected,
      `${pins.length} <vcpupin> entries`,
      "libvirt writes one <vcpupin> per vCPU, so this XML did not come from libvirt: dump it again with `virsh dumpxml <instance uuid>`",
    );
  }
  const set = pins[0].cpuset.set;
  if (set === null)
    return fail(
      check,
      expected,
      `cpuset=${excerpt(pins[0].cpuset.raw)}`,
      "the cpuset is not a CPU list: dump the XML again with `virsh dumpxml`",
    );
  const observed = set.length === 1 ? `pCPU ${set[0]}` : `pCPUs ${formatCpuList(set)}`;
  if (set.length > 1) {
    return fail(
      check,
      expected,
      observed,
      `vCPU ${v} may run on any of pCPUs ${formatCpuList(set)} instead of one dedicated pCPU: the instance was booted without hw:cpu_policy=dedicated or re-pinned with \`virsh vcpupin\`; check the flavor and ${REBOOT}`,
    );
  }
  if (!s.dedicated.includes(set[0])) {
    return fail(
      check,
      expected,
      observed,
      `vCPU ${v} is pinned to pCPU ${set[0]}, outside cpu_dedicated_set ${e.dedicatedSet}: check [compute] cpu_dedicated_set on the host and that NUMATopologyFilter is enabled`,
    );
  }
  return pass(check, expected, observed);
}

/** A vCPU of a mixed-policy guest that Nova leaves floating over the shared CPUs. */
function checkFloatingPin(f: DomainFacts, v: number, s: PlannedSets, e: DomainExpectation): CheckResult {
  const check = `vcpupin vCPU ${v}`;
  const expected = `pCPUs within cpu_shared_set ${e.sharedSet ?? "(unset)"}`;
  const pcpus = pcpusOf(f, v);
  const ok = s.shared !== null && pcpus.length > 0 && isSubset(pcpus, s.shared);
  return verdict(
    check,
    ok,
    expected,
    pcpus.length ? `pCPUs ${formatCpuList(pcpus)}` : "no readable <vcpupin>",
    `the shared vCPU ${v} of this mixed-policy guest should float over [compute] cpu_shared_set only: check cpu_shared_set in the host's nova.conf against the plan and ${REBOOT}`,
  );
}

function checkStrayPins(f: DomainFacts, e: DomainExpectation): CheckResult[] {
  const stray = [
    ...f.vcpupins.filter((p) => p.vcpu >= e.vcpus).map((p) => `<vcpupin vcpu="${p.vcpu}">`),
    ...f.badVcpupins,
  ];
  if (stray.length === 0) return [];
  return [
    fail(
      "vcpupin entries",
      `only vCPUs 0-${e.vcpus - 1}`,
      stray.join(", "),
      "the XML pins vCPUs the guest does not have: it belongs to another flavor or was edited by hand; dump the right instance with `virsh dumpxml <uuid>`",
    ),
  ];
}

function checkDistinct(f: DomainFacts, e: DomainExpectation, s: PlannedSets): CheckResult {
  const byPcpu = new Map<number, number[]>();
  for (let v = 0; v < e.vcpus; v++) {
    const p = s.floating.includes(v) ? null : singlePcpu(f, v);
    if (p !== null) byPcpu.set(p, [...(byPcpu.get(p) ?? []), v]);
  }
  const shared = [...byPcpu].filter(([, vs]) => vs.length > 1);
  const observed = shared.length
    ? shared.map(([p, vs]) => `vCPUs ${vs.join(",")} share pCPU ${p}`).join("; ")
    : `${byPcpu.size} distinct pCPUs ${formatCpuList(cpuSet(byPcpu.keys()))}`;
  return verdict(
    "pCPUs distinct",
    shared.length === 0,
    "each pinned vCPU on a pCPU of its own",
    observed,
    `two vCPUs time-share one pCPU, so neither has a dedicated core; Nova never pins a guest like this: the pinning was changed with \`virsh vcpupin\`/\`virsh edit\`; ${REBOOT}`,
  );
}

function checkNumatuneMode(f: DomainFacts): CheckResult {
  const modes = [
    ...(f.numatuneMemory ? [`memory ${f.numatuneMemory.mode}`] : []),
    ...f.memnodes.map((m) => `memnode ${m.cellid} ${m.mode}`),
  ];
  const ok =
    f.numatuneMemory !== null && f.numatuneMemory.mode === "strict" && f.memnodes.every((m) => m.mode === "strict");
  return verdict(
    "numatune mode",
    ok,
    "strict",
    modes.length ? modes.join(", ") : "no <numatune>",
    "without strict <numatune> the guest's memory may come from a remote node: Nova writes it for every guest with a NUMA topology (hw:cpu_policy=dedicated, hw:mem_page_size or hw:numa_nodes); check the flavor",
  );
}

/** Host nodes the guest cell holding `vcpu` takes its memory from (memnode first, then <memory>). */
function memoryNodes(f: DomainFacts, vcpu: number): CpuSet | null {
  const cell = f.guestCells.find((c) => c.cpus.set?.includes(vcpu));
  const memnode = cell ? f.memnodes.find((m) => m.cellid === cell.id) : undefined;
  return memnode?.nodeset.set ?? f.numatuneMemory?.nodeset.set ?? null;
}

function checkLocality(f: DomainFacts, e: DomainExpectation, s: PlannedSets): CheckResult {
  const check = "NUMA locality";
  const expected = "each vCPU's pCPUs on the host node(s) its memory is bound to";
  const offenders: string[] = [];
  const nodesUsed = new Set<number>();
  for (let v = 0; v < e.vcpus; v++) {
    const pcpus = pcpusOf(f, v);
    const mem = memoryNodes(f, v);
    if (pcpus.length === 0) continue; // an unpinned vCPU is already reported by its vcpupin check
    if (mem === null) {
      offenders.push(`vCPU ${v}: no readable numatune nodeset`);
      continue;
    }
    for (const p of pcpus) {
      const node = s.nodeOf.get(p);
      if (node === undefined) offenders.push(`vCPU ${v} -> pCPU ${p}, on no NUMA node of the planned host`);
      else if (!mem.includes(node))
        offenders.push(`vCPU ${v} -> pCPU ${p} on node ${node}, memory on node ${formatCpuList(mem)}`);
      else nodesUsed.add(node);
    }
  }
  if (offenders.length === 0)
    return pass(check, expected, `all pinned vCPUs on their memory node(s) ${formatCpuList(cpuSet(nodesUsed))}`);
  return fail(
    check,
    expected,
    offenders.join("; "),
    "a vCPU away from its memory pays remote-memory latency on every cache miss, and a pCPU on no planned node means the host is not the planned one: Nova keeps them together only with NUMATopologyFilter in [filter_scheduler] enabled_filters; check it and the host's topology, then rebuild the instance",
  );
}

function checkHostCells(f: DomainFacts, planned: number[]): CheckResult {
  const observed = f.numatuneMemory?.nodeset.set ?? null;
  return verdict(
    "numatune host nodes",
    observed !== null && sameSet(observed, cpuSet(planned)),
    formatCpuList(cpuSet(planned)),
    observed === null ? "no readable <numatune><memory nodeset>" : formatCpuList(observed),
    "the guest's memory is bound to other host NUMA nodes than planned: the host's free pages or dedicated CPUs per node differ from the plan; compare `grep . /sys/devices/system/node/node*/hugepages/*/free_hugepages` with it",
  );
}

/** Checks a domain XML against the plan; never throws on bad input, which becomes a failed result. */
export function checkDomain(xml: string, expect: DomainExpectation): CheckResult[] {
  const read = readDomain(xml);
  if (!read.ok) {
    return [
      fail(
        "domain XML",
        "a libvirt <domain> document",
        `${read.error} (${xml.length} bytes, starting ${excerpt(xml, 40)})`,
        "capture the full output of `virsh dumpxml <instance uuid>` on the instance's compute host (the libvirt domain UUID is the Nova server id); a cut-off dump means the command or the SSH session ended early",
      ),
    ];
  }
  const planned = plannedSets(expect);
  if (!planned.ok)
    return [
      fail(
        "plan",
        "CPU sets in cpulist notation",
        planned.error,
        "the expectation handed to checkDomain is malformed: a bug in the caller",
      ),
    ];
  const f = read.facts;
  const s = planned.sets;
  const vcpus = Array.from({ length: Math.max(0, expect.vcpus) }, (_, v) => v);
  const realtime = s.realtime.length > 0;
  return [
    checkVcpuCount(f, expect),
    ...vcpus.map((v) =>
      s.floating.includes(v) ? checkFloatingPin(f, v, s, expect) : checkDedicatedPin(f, v, s, expect),
    ),
    ...checkStrayPins(f, expect),
    checkDistinct(f, expect, s),
    checkNumatuneMode(f),
    checkLocality(f, expect, s),
    ...(expect.hostCellsPlanned ? [checkHostCells(f, expect.hostCellsPlanned)] : []),
    ...checkEmulatorpin(f, expect, s, difference(vcpus, s.realtime)),
    checkVcpusched(f, expect, s),
    ...checkMemoryBacking(f, expect, realtime),
    ...(expect.pmuOff ? [checkPmu(f)] : []),
  ];
}
