/**
 * The real-time settings of a domain XML: where QEMU's emulator threads run, which vCPUs are
 * SCHED_FIFO, how guest memory is backed, and the PMU switch. Expectations follow what Nova's
 * libvirt driver writes (checked with the Nova oracle, see test/fixtures/domain).
 */
import type { CpuSet } from "../cpu/cpuset";
import { difference, formatCpuList, intersection, sameSet, union } from "../cpu/cpuset";
import { PAGE_4K } from "../plan/nova/model";
import type { DomainExpectation, PlannedSets } from "./domain-expectation";
import type { DomainFacts } from "./domain-xml";
import { pcpusOf } from "./domain-xml";
import type { CheckResult } from "./result";
import { excerpt, fail, pass, verdict } from "./result";

/** The fix for XML that Nova did not write (edited, or defined outside Nova). */
export const REBOOT = "hard-reboot the instance (`openstack server reboot --hard`) so Nova rewrites its XML";

function pcpusOfAll(f: DomainFacts, vcpus: CpuSet): CpuSet {
  return union(...vcpus.map((v) => pcpusOf(f, v)));
}

function emulatorExpectation(
  f: DomainFacts,
  e: DomainExpectation,
  s: PlannedSets,
  nonRt: CpuSet,
): { expected: string; ok: (got: CpuSet) => boolean; hint: string } {
  if (e.emulatorPolicy === "share") {
    const shared = s.shared;
    return {
      expected: `cpu_shared_set ${e.sharedSet ?? "(unset)"}`,
      ok: (got) => shared !== null && sameSet(got, shared),
      hint:
        shared === null
          ? "hw:emulator_threads_policy=share needs [compute] cpu_shared_set on the host (Nova fails a realtime spawn without it): set it in the plan"
          : `with hw:emulator_threads_policy=share Nova pins emulator threads to the whole cpu_shared_set: check [compute] cpu_shared_set in the host's nova.conf equals ${e.sharedSet}, restart nova-compute and ${REBOOT}`,
    };
  }
  if (e.emulatorPolicy === "isolate") {
    const used = pcpusOfAll(
      f,
      Array.from({ length: e.vcpus }, (_, v) => v),
    );
    return {
      expected: `one pCPU of cpu_dedicated_set ${e.dedicatedSet} that no vCPU uses`,
      ok: (got) => got.length === 1 && s.dedicated.includes(got[0]) && !used.includes(got[0]),
      hint: `with hw:emulator_threads_policy=isolate Nova reserves one extra dedicated pCPU for the emulator threads: the flavor's policy differs from the plan, or the XML was edited; check \`openstack flavor show\` and ${REBOOT}`,
    };
  }
  const want = pcpusOfAll(f, nonRt);
  return {
    expected: `the non-RT vCPUs' pCPUs ${formatCpuList(want) || "(none)"}`,
    ok: (got) => want.length > 0 && sameSet(got, want),
    hint: "with no hw:emulator_threads_policy Nova runs emulator threads on the pCPUs of the non-RT vCPUs: a different set means the RT mask differs from the plan (check hw:cpu_realtime_mask and the image's hw_cpu_realtime_mask, which overrides it)",
  };
}

/** `<emulatorpin>` as the policy says, and (for realtime guests) never on an RT vCPU's pCPU. */
export function checkEmulatorpin(f: DomainFacts, e: DomainExpectation, s: PlannedSets, nonRt: CpuSet): CheckResult[] {
  const want = emulatorExpectation(f, e, s, nonRt);
  const pin = f.emulatorpin;
  const got = pin?.set ?? null;
  const observed = pin === null ? "no <emulatorpin>" : got === null ? `cpuset=${excerpt(pin.raw)}` : formatCpuList(got);
  const results = [
    got === null
      ? fail(
          "emulatorpin",
          want.expected,
          observed,
          "without a readable <emulatorpin> QEMU's emulator threads may run on every host CPU, the RT ones included; Nova writes it for every pinned guest, so this domain was defined outside Nova or edited: " +
            REBOOT,
        )
      : verdict("emulatorpin", want.ok(got), want.expected, observed, want.hint),
  ];
  if (s.realtime.length === 0) return results;
  const rtPcpus = pcpusOfAll(f, s.realtime);
  const overlap = got === null ? rtPcpus : intersection(got, rtPcpus);
  const owners = overlap.map(
    (p) => `pCPU ${p} (RT vCPU ${s.realtime.filter((v) => pcpusOf(f, v).includes(p)).join(",")})`,
  );
  results.push(
    verdict(
      "emulatorpin off RT pCPUs",
      overlap.length === 0,
      `no overlap with the RT vCPUs' pCPUs ${formatCpuList(rtPcpus)}`,
      overlap.length === 0 ? `emulatorpin ${observed}` : `emulator threads may run on ${owners.join(", ")}`,
      "QEMU's emulator threads share a pCPU with a SCHED_FIFO vCPU, so either the RT vCPU is preempted or the emulator starves behind it: leave housekeeping vCPUs with hw:cpu_realtime_mask (e.g. ^0-1) or set hw:emulator_threads_policy",
    ),
  );
  return results;
}

function vcpusAre(vcpus: CpuSet): string {
  return vcpus.length === 1 ? `vCPU ${vcpus[0]} is` : `vCPUs ${formatCpuList(vcpus)} are`;
}

/** `<vcpusched scheduler="fifo">` on exactly the RT vCPUs, and nothing real-time on a non-realtime guest. */
export function checkVcpusched(f: DomainFacts, e: DomainExpectation, s: PlannedSets): CheckResult {
  const rt = s.realtime;
  const expected = rt.length ? `fifo on vCPUs ${e.realtimeVcpus} only` : "none (not a real-time guest)";
  const observed = f.vcpuscheds.length
    ? f.vcpuscheds
        .map(
          (x) =>
            `${x.scheduler || "?"} on vCPUs ${x.vcpus.set ? formatCpuList(x.vcpus.set) : excerpt(x.vcpus.raw)}${x.priority ? ` prio ${x.priority}` : ""}`,
        )
        .join("; ")
    : "no <vcpusched>";
  const fifo = union(...f.vcpuscheds.filter((x) => x.scheduler === "fifo").map((x) => x.vcpus.set ?? []));
  const missing = difference(rt, fifo);
  const extra = difference(fifo, rt);
  const problems: string[] = [];
  if (f.vcpuscheds.some((x) => x.vcpus.set === null))
    problems.push("a <vcpusched vcpus> is not a CPU list: dump the XML again");
  if (fifo.length === 0 && rt.length > 0) {
    problems.push(
      `RT vCPUs ${e.realtimeVcpus} run as normal SCHED_OTHER threads, so the guest is not real-time: its flavor lacks hw:cpu_realtime=yes or changed after boot (check \`openstack flavor show\`, then rebuild)`,
    );
  } else if (missing.length > 0) {
    problems.push(
      `RT ${vcpusAre(missing)} not SCHED_FIFO: hw:cpu_realtime_mask, or the image's hw_cpu_realtime_mask (which overrides it), leaves them out`,
    );
  }
  if (extra.length > 0) {
    problems.push(
      `${vcpusAre(extra)} housekeeping in the plan but run${extra.length === 1 ? "s" : ""} SCHED_FIFO, where a busy loop starves the emulator threads and guest housekeeping: make hw:cpu_realtime_mask exclude them (e.g. ^0-1) and check the image's hw_cpu_realtime_mask`,
    );
  }
  const others = f.vcpuscheds.filter((x) => x.scheduler !== "fifo");
  if (others.length > 0)
    problems.push(
      `scheduler ${others.map((x) => x.scheduler || "?").join(",")} is not what Nova writes (fifo): the XML was edited outside Nova; ${REBOOT}`,
    );
  return problems.length
    ? fail("vcpusched", expected, observed, problems.join("; "))
    : pass("vcpusched", expected, observed);
}

export function sizeName(kb: number): string {
  if (kb >= 1048576 && kb % 1048576 === 0) return `${kb / 1048576} GiB`;
  if (kb >= 1024 && kb % 1024 === 0) return `${kb / 1024} MiB`;
  return `${kb} KiB`;
}

/** The size as hw:mem_page_size spells it. */
function specName(kb: number): string {
  return kb % 1048576 === 0 ? `${kb / 1048576}GB` : kb % 1024 === 0 ? `${kb / 1024}MB` : `${kb}KB`;
}

function checkHugepages(f: DomainFacts, e: DomainExpectation): CheckResult {
  const pages = f.hugepages;
  const observed =
    pages === null
      ? "no <hugepages> (small pages)"
      : pages.map((p) => (p.sizeKb === null ? p.raw : `${sizeName(p.sizeKb)} pages`)).join(", ");
  // 4 KiB is the small page: Nova writes no <hugepages> for it (hw:mem_page_size=small, or any/4KB).
  if (e.pageSizeKb === null || e.pageSizeKb === PAGE_4K) {
    return verdict(
      "hugepages",
      pages === null,
      "no <hugepages> (small pages)",
      observed,
      "the guest uses huge pages the plan does not ask for: the flavor's hw:mem_page_size differs from the plan",
    );
  }
  const want = sizeName(e.pageSizeKb);
  const ok = pages !== null && pages.length > 0 && pages.every((p) => p.sizeKb === e.pageSizeKb);
  const hint =
    pages === null
      ? `guest memory is in small 4 KiB pages, which the host may swap and which cost TLB misses: set hw:mem_page_size=${specName(e.pageSizeKb)} on the flavor and rebuild`
      : `guest memory is backed by ${observed}, the plan asks for ${want} pages: set hw:mem_page_size=${specName(e.pageSizeKb)} on the flavor ("large" takes whatever the host has free) and check the host has free ${want} pages on the node (grep . /sys/devices/system/node/node*/hugepages/hugepages-*/free_hugepages)`;
  return verdict("hugepages", ok, `${want} pages`, observed, hint);
}

/** Page size, and for realtime guests `<locked/>` and `<nosharepages/>` (Nova always adds both). */
export function checkMemoryBacking(f: DomainFacts, e: DomainExpectation, realtime: boolean): CheckResult[] {
  const results = [checkHugepages(f, e)];
  if (!realtime) return results;
  results.push(
    verdict(
      "memory locked",
      f.locked,
      "<locked/>",
      f.locked ? "<locked/>" : "no <locked/>",
      "Nova locks the memory of every realtime guest, so this guest was not started from a hw:cpu_realtime=yes flavor, or its XML was edited: without it guest memory can be swapped out; check the flavor and " +
        REBOOT,
    ),
    verdict(
      "no shared pages",
      f.nosharepages,
      "<nosharepages/>",
      f.nosharepages ? "<nosharepages/>" : "no <nosharepages/>",
      "Nova adds <nosharepages/> to every realtime guest: without it KSM may merge guest pages and a later write takes a copy-on-write fault; check the flavor has hw:cpu_realtime=yes and " +
        REBOOT,
    ),
  );
  return results;
}

export function checkPmu(f: DomainFacts): CheckResult {
  return verdict(
    "PMU off",
    f.pmu === "off",
    '<pmu state="off"/>',
    f.pmu === null ? "no <pmu> (libvirt default: on)" : `<pmu state="${f.pmu}"/>`,
    "set hw:pmu=false on the flavor and rebuild: Nova does not switch the guest PMU off for realtime guests by itself, and libvirt's realtime guidance asks for it off",
  );
}
