/**
 * IP addresses and CIDRs as the stack config uses them: strict parsing (what Node's `net` takes,
 * nothing inet_aton would also read, such as "010.1.1.1", "1.2.3" or "0x7f000001"), and how far a
 * CIDR reaches: private or special-purpose space only, public space, or "anywhere".
 *
 * "Anywhere" is a public range wider than any one organization holds. For IPv4 that is a prefix
 * shorter than /8: the largest blocks ever assigned to one holder are legacy /8s, and no
 * private or special range is wider than a /8, so a /7 or wider always spans several
 * organizations' networks. `0.0.0.0/1` (half the internet) is as open as `0.0.0.0/0`. For IPv6
 * it is a prefix shorter than /16: a /16 is 65,536 of the /32s a provider (LIR) gets by default,
 * wider than the largest single allocations, and only the registries' own /12 blocks are wider.
 * Pure.
 */
import { isIPv4, isIPv6 } from "node:net";

export type IpVersion = 4 | 6;

export interface Cidr {
  version: IpVersion;
  /** The network's first address (host bits cleared), as a number of 32 or 128 bits. */
  first: bigint;
  last: bigint;
  prefix: number;
}

/** A dotted-quad IPv4 address: four parts 0-255, no leading zeros. */
export function parseIPv4(s: string): bigint | null {
  if (!/^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/.test(s) || !isIPv4(s)) return null;
  return s.split(".").reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

/** An IPv6 address (RFC 4291 text forms, an embedded IPv4 tail included; no zone). */
export function parseIPv6(s: string): bigint | null {
  if (s.includes("%") || !isIPv6(s)) return null;
  let text = s;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const n = parseIPv4(v4[1]);
    if (n === null) return null;
    text = `${text.slice(0, v4.index)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.includes("::") ? text.split("::") : [text, undefined];
  const groups = (x: string) => (x === "" ? [] : x.split(":"));
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill("0"), ...t];
  if (all.length !== 8) return null;
  return all.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

/** A zone id after `%` on a link-local IPv6 address: an interface name or index, nothing else. */
const ZONE = /^[A-Za-z0-9_.-]{1,32}$/;

/** Whether `s` is an IP address the SSH client takes: IPv4 dotted quad, or IPv6 (optionally `%zone`). */
export function isIpAddress(s: string): boolean {
  if (parseIPv4(s) !== null) return true;
  const [addr, zone, ...rest] = s.split("%");
  if (rest.length > 0) return false;
  if (zone !== undefined && !ZONE.test(zone)) return false;
  return parseIPv6(addr) !== null;
}

/**
 * Whether a host name would be read as a number by the resolver rather than looked up: every
 * label decimal or hex (inet_aton takes "1.2.3", "010.0.0.1" and "0x7f.1"), or a last label
 * that is all digits (no top-level domain is; RFC 3696, section 2).
 */
export function looksNumeric(name: string): boolean {
  const labels = name.split(".");
  return labels.every((l) => /^(\d+|0x[0-9a-f]*)$/i.test(l)) || /^\d+$/.test(labels.at(-1) ?? "");
}

export function parseCidr(s: string): Cidr | null {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s);
  if (!m || (m[2].length > 1 && m[2].startsWith("0"))) return null;
  const prefix = Number(m[2]);
  const v4 = parseIPv4(m[1]);
  const version: IpVersion | null = v4 !== null ? 4 : parseIPv6(m[1]) !== null ? 6 : null;
  if (version === null) return null;
  const bits = version === 4 ? 32 : 128;
  if (prefix > bits) return null;
  const addr = v4 ?? parseIPv6(m[1])!;
  const hostMask = (1n << BigInt(bits - prefix)) - 1n;
  const first = addr & ~hostMask & ((1n << BigInt(bits)) - 1n);
  return { version, first, last: first | hostMask, prefix };
}

/** Private and special-purpose ranges: reaching only these never reaches the internet. */
const SPECIAL: Record<IpVersion, string[]> = {
  4: [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16", // RFC 1918
    "127.0.0.0/8", // loopback
    "169.254.0.0/16", // link-local
    "100.64.0.0/10", // carrier-grade NAT (RFC 6598)
    "192.0.2.0/24",
    "198.51.100.0/24",
    "203.0.113.0/24", // documentation (RFC 5737)
  ],
  6: [
    "fc00::/7", // unique local (RFC 4193)
    "fe80::/10", // link-local
    "::1/128", // loopback
    "2001:db8::/32",
    "3fff::/20", // documentation (RFC 3849, RFC 9637)
  ],
};

export type Reach = "private" | "public" | "anywhere";

/** The shortest public prefix that is not "anywhere", per IP version (see the file's comment). */
export const WIDEST_PUBLIC_PREFIX: Record<IpVersion, number> = { 4: 8, 6: 16 };

/** How far a (valid) CIDR reaches: only private/special space, some public space, or anywhere. */
export function cidrReach(s: string): Reach {
  const c = parseCidr(s);
  if (!c) throw new Error(`not a CIDR: ${s}`);
  const inside = SPECIAL[c.version].some((r) => {
    const special = parseCidr(r)!;
    return c.first >= special.first && c.last <= special.last;
  });
  if (inside) return "private";
  return c.prefix < WIDEST_PUBLIC_PREFIX[c.version] ? "anywhere" : "public";
}
