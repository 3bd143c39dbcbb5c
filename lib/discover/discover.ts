/**
 * What `npm run discover` (cli/discover.ts) does: reads a host's CPU/NUMA topology with
 * hostprep/facts.sh over SSH, sent as the facts step of host prep sends it, and the SSH host key
 * the host presents; turns both into what the stack config declares (`topology: {nodes: [...]}`
 * and `ssh.hostKey`); and writes them into the stack file with yaml's Document API, so that
 * comments, anchors and the rest of the file stay as they were.
 */
import { createHash } from "node:crypto";
import type { Document, Node as YamlNode, ToStringOptions, YAMLMap } from "yaml";
import { isAlias, isMap, isScalar, isSeq, parseDocument, visit } from "yaml";
import type { NumaNodeConfig } from "../config/schema";
import { CONFIG_NAMESPACE } from "../config/schema";
import type { CodedError } from "../errors";
import { codedError, hasCode } from "../errors";
import { stdinCommand } from "../desired/step-connection";
import { bundleScript } from "../hostprep/scripts";
import type { SshAuth, SshOptions, SshTarget } from "../transport/ssh";
import { describeTarget, runSsh } from "../transport/ssh";
import type { Topology } from "../cpu/topology";
import { formatCpuList } from "../cpu/cpuset";
import { threadSiblingGroups, topologyError, topologyFromConfig, topologyFromText } from "../cpu/topology";

/** The topology as the config declares it; `threadSiblings` only where SMT is on. */
export interface DeclaredNode {
  id: number;
  cpus: string;
  memoryMb: number;
  threadSiblings?: string[];
}

export interface DeclaredTopology {
  nodes: DeclaredNode[];
}

export interface HostFacts {
  /** facts.sh's os_family: the `os` value of this project the host runs, "" when none. */
  osFamily: string;
  topology: Topology;
}

export interface Discovery extends HostFacts {
  declared: DeclaredTopology;
  /** The key the host presented, as a public key line: "ssh-ed25519 AAAA...". */
  hostKey: string;
  /** Its fingerprint as `ssh-keygen -lf` prints it: "SHA256:<base64, no padding>". */
  fingerprint: string;
}

/** A failure of discover itself, other than SSH's (lib/transport/ssh.ts SshError): facts.sh failed or printed nonsense. */
export type DiscoverError = CodedError<"DISCOVER">;

export function isDiscoverError(e: unknown): e is DiscoverError {
  return hasCode(e, "DISCOVER");
}

/** The text between facts.sh's `--- name ---` marker line and the next marker. */
function block(lines: string[], name: string): string {
  const start = lines.indexOf(`--- ${name} ---`);
  const end = lines.findIndex((l, i) => i > start && /^--- [a-z]+ ---$/.test(l));
  if (start < 0 || end < 0) throw topologyError(`facts.sh printed no complete "--- ${name} ---" section`);
  return lines.slice(start + 1, end).join("\n");
}

/** The OS family and topology from facts.sh's output (hostprep/facts.sh documents it). */
export function parseFacts(stdout: string): HostFacts {
  const lines = stdout.split("\n");
  const osFamily = /^os_family=(.*)$/m.exec(stdout)?.[1] ?? "";
  return { osFamily, topology: topologyFromText(block(lines, "lscpu"), block(lines, "meminfo")) };
}

/** The config's form of a topology: each node's CPUs, MemTotal in MiB and, with SMT, its thread groups. */
export function declaredTopology(t: Topology): DeclaredTopology {
  return {
    nodes: t.nodes.map((n) => {
      const siblings = threadSiblingGroups(n.cores);
      return {
        id: n.id,
        cpus: formatCpuList(n.cpus),
        memoryMb: n.memoryMb,
        ...(siblings.length ? { threadSiblings: siblings } : {}),
      };
    }),
  };
}

/** The public key line of a key blob as the server sends it: its type is the blob's first field. */
export function hostKeyLine(blob: Buffer): string {
  const len = blob.length >= 4 ? blob.readUInt32BE(0) : 0;
  const type = blob.subarray(4, 4 + len).toString("latin1");
  if (len === 0 || 4 + len > blob.length || !/^[a-z0-9@.-]+$/.test(type))
    throw codedError("DISCOVER", "the host presented a host key that is not an SSH public key blob");
  return `${type} ${blob.toString("base64")}`;
}

/** `ssh-keygen -lf`'s fingerprint of a public key line or blob: "SHA256:" and the unpadded base64 of its SHA-256. */
export function keyFingerprint(key: string | Buffer): string {
  const blob = typeof key === "string" ? Buffer.from(key.trim().split(/\s+/)[1] ?? "", "base64") : key;
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

/**
 * Runs facts.sh on the target (the bundled script on stdin, `bash -s --`, through `sudo -n` for
 * a user other than root: nothing is copied to a host before it is in the stack), and records
 * the host key the target presents. A pinned `target.hostKey` is checked as for every other
 * connection. Throws SshError (lib/transport/ssh.ts) when SSH fails, DiscoverError when facts.sh does.
 */
export async function discoverHost(
  target: SshTarget,
  auth: SshAuth,
  opts: { sudo: boolean } & Pick<SshOptions, "connectTimeoutMs" | "retries">,
): Promise<Discovery> {
  let presented: Buffer | undefined;
  const r = await runSsh(target, auth, stdinCommand({ args: [], sudo: opts.sudo }), {
    stdin: bundleScript("facts.sh"),
    commandTimeoutMs: 60_000,
    ...(opts.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: opts.connectTimeoutMs }),
    ...(opts.retries === undefined ? {} : { retries: opts.retries }),
    onHostKey: (key) => {
      presented = Buffer.from(key);
    },
  });
  const where = describeTarget(target);
  if (r.code !== 0) {
    const why = (r.stderr.trim() || r.stdout.trim()).split("\n").slice(-3).join(" / ").slice(0, 400);
    const sudoHint =
      opts.sudo && /sudo/.test(r.stderr) ? `; the user ${target.user} needs passwordless sudo (as for host prep)` : "";
    throw codedError(
      "DISCOVER",
      `facts.sh failed on ${where} (exit ${r.code ?? r.signal ?? "?"}): ${why || "no output"}${sudoHint}`,
    );
  }
  if (presented === undefined) throw codedError("DISCOVER", `${where} presented no host key`);
  let facts: HostFacts;
  try {
    facts = parseFacts(r.stdout);
  } catch (e) {
    throw codedError(
      "DISCOVER",
      `facts.sh on ${where} printed a topology that cannot be read: ${(e as Error).message}`,
    );
  }
  const hostKey = hostKeyLine(presented);
  return { ...facts, declared: declaredTopology(facts.topology), hostKey, fingerprint: keyFingerprint(presented) };
}

/** Two declared topologies the same host would give: the same nodes, CPUs, thread groups and memory. */
export function sameTopology(a: unknown, b: DeclaredTopology): boolean {
  try {
    const nodes = (a as { nodes?: unknown } | null)?.nodes;
    if (!Array.isArray(nodes)) return false;
    const canon = (t: Topology) => JSON.stringify(t.nodes.map((n) => [n.id, n.cpus, n.memoryMb, n.cores]));
    const withDefaults = nodes.map((n: NumaNodeConfig) => ({ ...n, threadSiblings: n.threadSiblings ?? [] }));
    return (
      canon(topologyFromConfig(withDefaults)) ===
      canon(topologyFromConfig(b.nodes.map((n) => ({ ...n, threadSiblings: n.threadSiblings ?? [] }))))
    );
  } catch {
    return false;
  }
}

export type StackEdit =
  { ok: true; text: string; changed: string[]; notes: string[] } | { ok: false; path: string; message: string };

const HOSTS_KEYS = [`${CONFIG_NAMESPACE}:hosts`, "hosts"];

/** The aliases (`*name`) in the document, by anchor name. */
function aliasCounts(doc: Document): Map<string, number> {
  const counts = new Map<string, number>();
  visit(doc, {
    Alias: (_key, node) => {
      counts.set(node.source, (counts.get(node.source) ?? 0) + 1);
    },
  });
  return counts;
}

/** The node is an alias, or an anchor that aliases elsewhere reuse: editing it would edit them too. */
function shared(node: unknown, aliases: Map<string, number>): string | null {
  if (isAlias(node)) return `the alias *${node.source}`;
  const anchor = (node as { anchor?: string } | null)?.anchor;
  if (anchor !== undefined && (aliases.get(anchor) ?? 0) > 0)
    return `the anchor &${anchor}, which ${aliases.get(anchor)} alias(es) reuse`;
  return null;
}

/** `toString` options that give back the file exactly as it is, when there are some: long lines unfolded, flow collections padded or not. */
function faithfulOptions(doc: Document, text: string): ToStringOptions | null {
  for (const o of [
    { lineWidth: 0, flowCollectionPadding: false },
    { lineWidth: 0 },
    { flowCollectionPadding: false },
    {},
  ])
    if (doc.toString(o) === text) return o;
  return null;
}

/**
 * The stack file's text with the host's topology and host key set: its `topology` value replaced
 * unless it already declares the same, `ssh.hostKey` set (after host, user and port) unless it
 * is already this key. `hostIndex` is the host's position in the hosts list, for messages.
 * A value another entry reuses through a YAML alias is not edited (that would change the other
 * entries too): the edit fails and says what to write out.
 */
export function editStackFile(text: string, hostName: string, d: Pick<Discovery, "declared" | "hostKey">): StackEdit {
  // Parsed as lib/config/stack-files.ts parses it: merge keys (`<<: *anchor`) included.
  const doc = parseDocument(text, { uniqueKeys: true, merge: true });
  if (doc.errors.length)
    return { ok: false, path: "stack file", message: `cannot parse it: ${doc.errors[0].message.split("\n")[0]}` };
  const options = faithfulOptions(doc, text);
  const aliases = aliasCounts(doc);
  const config = isMap(doc.contents) ? doc.contents.get("config", true) : undefined;
  if (!isMap(config)) return { ok: false, path: "config", message: "the stack file has no config: mapping" };
  const hostsPair = config.items.find((p) => isScalar(p.key) && HOSTS_KEYS.includes(String(p.key.value)));
  const setting = `${CONFIG_NAMESPACE}:hosts`;
  if (hostsPair && isAlias(hostsPair.value))
    return {
      ok: false,
      path: setting,
      message: `is the alias *${hostsPair.value.source}; write the list of hosts out, then run discover again`,
    };
  if (!hostsPair || !isSeq(hostsPair.value))
    return { ok: false, path: setting, message: "is not a list of hosts in the stack file" };
  const valueOf = (item: unknown) => {
    const m = isAlias(item) ? item.resolve(doc) : item;
    return isMap(m)
      ? (m.toJS(doc, { maxAliasCount: -1 }) as { name?: unknown; topology?: unknown; ssh?: { hostKey?: unknown } })
      : undefined;
  };
  const nameOf = (item: unknown) => valueOf(item)?.name;
  const matches = hostsPair.value.items.map((item, i) => ({ item, i })).filter(({ item }) => nameOf(item) === hostName);
  if (matches.length === 0) return { ok: false, path: setting, message: `has no host named "${hostName}"` };
  if (matches.length > 1)
    return {
      ok: false,
      path: setting,
      message: `names "${hostName}" ${matches.length} times; host names must be unique`,
    };
  const { item, i } = matches[0];
  const path = `${setting}[${i}]`;
  const hostShared = shared(item, aliases);
  if (hostShared || !isMap(item)) {
    return {
      ok: false,
      path,
      message: `is ${hostShared ?? "not a mapping"}; write this host's entry out in full, then run discover again`,
    };
  }
  const host = item;
  // What the host's settings are, merge keys and aliases resolved.
  const now = valueOf(host);
  const changed: string[] = [];
  const notes: string[] = [];

  if (!sameTopology(now?.topology, d.declared)) {
    // Set in this entry: over an alias or a merged value, this host gets its own.
    const oldTopology = host.get("topology", true);
    const anchored = isAlias(oldTopology) ? null : shared(oldTopology, aliases);
    if (anchored) {
      return {
        ok: false,
        path: `${path}.topology`,
        message: `is ${anchored}, and this host's topology differs from it; give the other hosts their own topology, or move the anchor, then run discover again`,
      };
    }
    host.set("topology", topologyNode(doc, d.declared));
    changed.push(`${path}.topology`);
  }

  const oldKey = now?.ssh?.hostKey;
  if (typeof oldKey !== "string" || keyFingerprint(oldKey) !== keyFingerprint(d.hostKey)) {
    const ssh = host.get("ssh", true);
    const sshShared = ssh === undefined ? "not in this entry (merged from an anchor)" : shared(ssh, aliases);
    if (!isMap(ssh) || sshShared)
      return {
        ok: false,
        path: `${path}.ssh`,
        message: `is ${sshShared ?? "not a mapping"}; write this host's ssh settings out, then run discover again`,
      };
    if (ssh.has("hostKey")) ssh.set("hostKey", d.hostKey);
    else {
      const after = Math.max(
        -1,
        ...["host", "user", "port"].map((k) => ssh.items.findIndex((p) => isScalar(p.key) && p.key.value === k)),
      );
      ssh.items.splice(after + 1, 0, doc.createPair("hostKey", d.hostKey));
    }
    changed.push(`${path}.ssh.hostKey`);
  }
  if (options === null)
    notes.push(
      "yaml does not give this file back byte for byte: the diff may show lines outside this host reformatted",
    );
  return { ok: true, text: changed.length ? doc.toString(options ?? { lineWidth: 0 }) : text, changed, notes };
}

/** The topology as a YAML node: CPU lists double-quoted (a single CPU "4" would read as a number), thread groups as a flow list. */
function topologyNode(doc: Document, t: DeclaredTopology): YamlNode {
  const node = doc.createNode({ nodes: t.nodes }) as YAMLMap;
  visit(node, {
    Pair: (_key, pair) => {
      const key = isScalar(pair.key) ? pair.key.value : undefined;
      if (key === "cpus" && isScalar(pair.value)) pair.value.type = "QUOTE_DOUBLE";
      if (key === "threadSiblings" && isSeq(pair.value)) {
        pair.value.flow = true;
        for (const s of pair.value.items) if (isScalar(s)) s.type = "QUOTE_DOUBLE";
      }
    },
  });
  return node;
}

/**
 * A unified diff of two texts (`diff -u` style, 3 lines of context), for the operator to read
 * before the file is written. The common head and tail are skipped first; what lies between
 * is compared line by line.
 */
export function unifiedDiff(
  before: string,
  after: string,
  labels: { before: string; after: string },
  context = 3,
): string {
  if (before === after) return "";
  // A final newline ends the last line; it is no line of its own.
  const lines = (t: string) => (t.endsWith("\n") ? t.slice(0, -1) : t).split("\n");
  const a = lines(before);
  const b = lines(after);
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const midA = a.slice(head, a.length - tail);
  const midB = b.slice(head, b.length - tail);
  type Op = { kind: " " | "-" | "+"; text: string };
  const ops: Op[] = a.slice(0, head).map((text) => ({ kind: " ", text }));
  if (midA.length * midB.length <= 4_000_000) {
    // Longest common subsequence, then walked forwards.
    const lcs = Array.from({ length: midA.length + 1 }, () => new Uint32Array(midB.length + 1));
    for (let i = midA.length - 1; i >= 0; i--) {
      for (let j = midB.length - 1; j >= 0; j--)
        lcs[i][j] = midA[i] === midB[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
    let i = 0;
    let j = 0;
    while (i < midA.length || j < midB.length) {
      if (i < midA.length && j < midB.length && midA[i] === midB[j]) {
        ops.push({ kind: " ", text: midA[i] });
        i++;
        j++;
      } else if (i < midA.length && (j === midB.length || lcs[i + 1][j] >= lcs[i][j + 1]))
        ops.push({ kind: "-", text: midA[i++] });
      else ops.push({ kind: "+", text: midB[j++] });
    }
  } else {
    ops.push(...midA.map((text): Op => ({ kind: "-", text })), ...midB.map((text): Op => ({ kind: "+", text })));
  }
  ops.push(...a.slice(a.length - tail).map((text): Op => ({ kind: " ", text })));

  const out = [`--- ${labels.before}`, `+++ ${labels.after}`];
  const changedAt = ops.map((o, k) => (o.kind === " " ? -1 : k)).filter((k) => k >= 0);
  let k = 0;
  while (k < changedAt.length) {
    // One hunk: changes closer than 2 * context lines share it.
    let last = k;
    while (last + 1 < changedAt.length && changedAt[last + 1] - changedAt[last] <= 2 * context) last++;
    const from = Math.max(0, changedAt[k] - context);
    const to = Math.min(ops.length, changedAt[last] + context + 1);
    const before1 = ops.slice(0, from).filter((o) => o.kind !== "+").length;
    const after1 = ops.slice(0, from).filter((o) => o.kind !== "-").length;
    const hunk = ops.slice(from, to);
    const lenA = hunk.filter((o) => o.kind !== "+").length;
    const lenB = hunk.filter((o) => o.kind !== "-").length;
    out.push(
      `@@ -${before1 + (lenA ? 1 : 0)},${lenA} +${after1 + (lenB ? 1 : 0)},${lenB} @@`,
      ...hunk.map((o) => `${o.kind}${o.text}`),
    );
    k = last + 1;
  }
  return `${out.join("\n")}\n`;
}
