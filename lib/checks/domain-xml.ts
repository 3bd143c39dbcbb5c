/**
 * The real-time parts of a libvirt domain XML, read into plain values: `<vcpu>`, `<cputune>`,
 * `<numatune>`, `<memoryBacking>`, the guest NUMA cells and the PMU switch. A cpuset that is
 * not a cpulist is kept as its raw text (set: null) so the check can quote it back.
 */
import type { CpuSet } from "../cpu/cpuset";
import { isCpuSpecError, parseCpuList, union } from "../cpu/cpuset";
import type { XmlElement } from "./xml";
import { childrenNamed, firstChild, parseXml } from "./xml";

export interface CpusetAttr {
  raw: string;
  set: CpuSet | null;
}

export interface DomainFacts {
  /** `<vcpu>`'s count, or null when missing or not a number. */
  vcpus: number | null;
  vcpupins: { vcpu: number; cpuset: CpusetAttr }[];
  /** Entries whose vcpu attribute is not a vCPU number. */
  badVcpupins: string[];
  emulatorpin: CpusetAttr | null;
  vcpuscheds: { vcpus: CpusetAttr; scheduler: string; priority: string | null }[];
  /** Null when `<memoryBacking>` has no `<hugepages>`; a page with size null means the host default. */
  hugepages: { sizeKb: number | null; raw: string }[] | null;
  locked: boolean;
  nosharepages: boolean;
  numatuneMemory: { mode: string; nodeset: CpusetAttr } | null;
  memnodes: { cellid: number; mode: string; nodeset: CpusetAttr }[];
  guestCells: { id: number; cpus: CpusetAttr }[];
  /** `<features><pmu state=.../>`: "on", "off", or null when libvirt's default applies. */
  pmu: string | null;
}

export type DomainRead = { ok: true; facts: DomainFacts } | { ok: false; error: string };

function cpuset(raw: string | undefined): CpusetAttr {
  const text = raw ?? "";
  try {
    return { raw: text, set: text.trim() === "" ? null : parseCpuList(text) };
  } catch (e) {
    if (isCpuSpecError(e)) return { raw: text, set: null };
    throw e;
  }
}

// libvirt's scaled-integer units (docs: formatdomain "Memory Allocation"); the default is KiB.
const UNIT_BYTES: Record<string, number> = {
  b: 1,
  bytes: 1,
  kb: 1e3,
  k: 1024,
  kib: 1024,
  mb: 1e6,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  gb: 1e9,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  tb: 1e12,
  t: 1024 ** 4,
  tib: 1024 ** 4,
};

/** A `<page size unit>` in KiB, or null when size or unit is unreadable. */
export function pageSizeKb(size: string, unit: string | undefined): number | null {
  const bytes = UNIT_BYTES[(unit ?? "KiB").toLowerCase()];
  if (!/^\s*\d+\s*$/.test(size) || bytes === undefined) return null;
  return (Number(size) * bytes) / 1024;
}

function integer(text: string | undefined): number | null {
  return text !== undefined && /^\s*\d+\s*$/.test(text) ? Number(text) : null;
}

function readFacts(domain: XmlElement): DomainFacts {
  const cputune = firstChild(domain, "cputune");
  const backing = firstChild(domain, "memoryBacking");
  const hugepages = firstChild(backing, "hugepages");
  const numatune = firstChild(domain, "numatune");
  const memory = firstChild(numatune, "memory");
  const facts: DomainFacts = {
    vcpus: integer(firstChild(domain, "vcpu")?.text),
    vcpupins: [],
    badVcpupins: [],
    emulatorpin: null,
    vcpuscheds: childrenNamed(cputune, "vcpusched").map((s) => ({
      vcpus: cpuset(s.attrs.vcpus),
      scheduler: s.attrs.scheduler ?? "",
      priority: s.attrs.priority ?? null,
    })),
    hugepages: hugepages
      ? childrenNamed(hugepages, "page").map((p) => ({
          sizeKb: pageSizeKb(p.attrs.size ?? "", p.attrs.unit),
          raw: `${p.attrs.size ?? "?"} ${p.attrs.unit ?? "KiB"}`,
        }))
      : null,
    locked: firstChild(backing, "locked") !== undefined,
    nosharepages: firstChild(backing, "nosharepages") !== undefined,
    numatuneMemory: memory ? { mode: memory.attrs.mode ?? "strict", nodeset: cpuset(memory.attrs.nodeset) } : null,
    memnodes: [],
    guestCells: [],
    pmu: firstChild(firstChild(domain, "features"), "pmu")?.attrs.state ?? null,
  };
  if (hugepages && facts.hugepages?.length === 0)
    facts.hugepages = [{ sizeKb: null, raw: "host default size (no <page>)" }];
  for (const pin of childrenNamed(cputune, "vcpupin")) {
    const vcpu = integer(pin.attrs.vcpu);
    if (vcpu === null) facts.badVcpupins.push(`<vcpupin vcpu="${pin.attrs.vcpu ?? ""}">`);
    else facts.vcpupins.push({ vcpu, cpuset: cpuset(pin.attrs.cpuset) });
  }
  const emulatorpin = firstChild(cputune, "emulatorpin");
  if (emulatorpin) facts.emulatorpin = cpuset(emulatorpin.attrs.cpuset);
  for (const node of childrenNamed(numatune, "memnode")) {
    const cellid = integer(node.attrs.cellid);
    // libvirt's default memnode mode is strict, as for <memory>.
    if (cellid !== null)
      facts.memnodes.push({ cellid, mode: node.attrs.mode ?? "strict", nodeset: cpuset(node.attrs.nodeset) });
  }
  for (const cell of childrenNamed(firstChild(firstChild(domain, "cpu"), "numa"), "cell")) {
    const id = integer(cell.attrs.id);
    if (id !== null) facts.guestCells.push({ id, cpus: cpuset(cell.attrs.cpus) });
  }
  return facts;
}

/** The one pCPU a dedicated vCPU is pinned to, or null when it is not pinned to exactly one. */
export function singlePcpu(f: DomainFacts, vcpu: number): number | null {
  const pins = f.vcpupins.filter((p) => p.vcpu === vcpu);
  return pins.length === 1 && pins[0].cpuset.set?.length === 1 ? pins[0].cpuset.set[0] : null;
}

/** Every pCPU a vCPU may run on, as its `<vcpupin>` says (empty when unpinned or unreadable). */
export function pcpusOf(f: DomainFacts, vcpu: number): CpuSet {
  return union(...f.vcpupins.filter((p) => p.vcpu === vcpu).map((p) => p.cpuset.set ?? []));
}

/** Parses `virsh dumpxml` output; anything that is not a well-formed `<domain>` is an error. */
export function readDomain(xml: string): DomainRead {
  if (xml.trim() === "") return { ok: false, error: "the output is empty" };
  const parsed = parseXml(xml);
  if (!parsed.ok) return { ok: false, error: `not well-formed XML: ${parsed.error}` };
  if (parsed.root.name !== "domain")
    return { ok: false, error: `the root element is <${parsed.root.name}>, not <domain>` };
  return { ok: true, facts: readFacts(parsed.root) };
}
