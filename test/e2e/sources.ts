/**
 * The Debian 12 package mirror, taken from this machine's own apt sources at run time: the
 * image is built from it (mmdebstrap pastes the file into the image's apt sources), the VM's
 * apt reaches it only through the harness's loopback proxy, and that proxy forwards to no other
 * origin. No mirror is named in the harness itself.
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

export interface AptEntry {
  uri: string;
  suites: string[];
  components: string[];
  signedBy?: string;
}

export interface MirrorSources {
  entries: AptEntry[];
  /** The entries as one deb822 file, for mmdebstrap and the image's /etc/apt/sources.list.d. */
  deb822: string;
  /** `host[:port]` of every mirror: what the proxy may forward to. */
  origins: string[];
  /** Keyrings the entries name that are not Debian's own (copied into the image). */
  extraKeyrings: string[];
}

/** Debian 12's suites: the release, its updates and its security archive. */
export const SUITE = "bookworm";
const WANTED_SUITES = new Set([SUITE, `${SUITE}-updates`, `${SUITE}-security`]);
const DEBIAN_KEYRINGS = /^\/usr\/share\/keyrings\/debian-archive-/;

function origin(uri: string): string {
  const u = new URL(uri);
  return u.port ? `${u.hostname}:${u.port}` : u.hostname;
}

/** deb822 stanzas (`Types: deb`, `URIs:`, `Suites:`, `Components:`, `Signed-By:` as a path). */
export function parseDeb822(text: string): AptEntry[] {
  const out: AptEntry[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let last = "";
    for (const line of stanza.split("\n")) {
      if (line.startsWith("#") || line.trim() === "") continue;
      if (/^\s/.test(line) && last) {
        fields.set(last, `${fields.get(last)} ${line.trim()}`);
        continue;
      }
      const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
      if (m) {
        last = m[1].toLowerCase();
        fields.set(last, m[2].trim());
      }
    }
    if (fields.get("enabled")?.toLowerCase() === "no") continue;
    if (!(fields.get("types") ?? "").split(/\s+/).includes("deb")) continue;
    const signedBy = fields.get("signed-by");
    for (const uri of (fields.get("uris") ?? "").split(/\s+/).filter(Boolean)) {
      out.push({
        uri,
        suites: (fields.get("suites") ?? "").split(/\s+/).filter(Boolean),
        components: (fields.get("components") ?? "").split(/\s+/).filter(Boolean),
        ...(signedBy && signedBy.startsWith("/") ? { signedBy } : {}),
      });
    }
  }
  return out;
}

/** One-line entries: `deb [options] uri suite component...`. */
export function parseOneLine(text: string): AptEntry[] {
  const out: AptEntry[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*$/, "").trim();
    const m = /^deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s*(.*)$/.exec(line);
    if (!m) continue;
    const signedBy = /(?:^|\s)signed-by=(\S+)/.exec(m[1] ?? "")?.[1];
    out.push({
      uri: m[2],
      suites: [m[3]],
      components: m[4].split(/\s+/).filter(Boolean),
      ...(signedBy?.startsWith("/") ? { signedBy } : {}),
    });
  }
  return out;
}

/** apt's own view: sources.list, then sources.list.d's *.list and *.sources (other names apt ignores). */
export function readAptSources(etcApt = "/etc/apt"): AptEntry[] {
  const entries: AptEntry[] = [];
  const main = join(etcApt, "sources.list");
  if (existsSync(main)) entries.push(...parseOneLine(readFileSync(main, "utf8")));
  const dir = join(etcApt, "sources.list.d");
  if (existsSync(dir)) {
    for (const name of readdirSync(dir).sort()) {
      const text = () => readFileSync(join(dir, name), "utf8");
      if (name.endsWith(".list")) entries.push(...parseOneLine(text()));
      else if (name.endsWith(".sources")) entries.push(...parseDeb822(text()));
    }
  }
  return entries;
}

/** The Debian 12 entries of this machine's apt sources, or an error naming what is missing. */
export function mirrorSources(etcApt = "/etc/apt"): MirrorSources {
  const entries: AptEntry[] = [];
  for (const e of readAptSources(etcApt)) {
    if (!/^https?:\/\//.test(e.uri)) continue;
    const suites = e.suites.filter((s) => WANTED_SUITES.has(s));
    if (suites.length === 0) continue;
    entries.push({ ...e, suites, components: e.components.includes("main") ? ["main"] : e.components });
  }
  if (!entries.some((e) => e.suites.includes(SUITE))) {
    throw new Error(
      `no Debian 12 (${SUITE}) entry in ${etcApt}/sources.list or ${etcApt}/sources.list.d: the e2e image is built from this machine's own package mirror`,
    );
  }
  const deb822 =
    entries
      .map((e) =>
        [
          `Types: deb`,
          `URIs: ${e.uri}`,
          `Suites: ${e.suites.join(" ")}`,
          `Components: ${e.components.join(" ")}`,
          ...(e.signedBy ? [`Signed-By: ${e.signedBy}`] : []),
        ].join("\n"),
      )
      .join("\n\n") + "\n";
  const extraKeyrings = [
    ...new Set(entries.map((e) => e.signedBy).filter((k): k is string => k !== undefined && !DEBIAN_KEYRINGS.test(k))),
  ];
  return { entries, deb822, origins: [...new Set(entries.map((e) => origin(e.uri)))], extraKeyrings };
}
