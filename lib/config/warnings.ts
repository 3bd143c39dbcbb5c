/**
 * What a valid config does that an operator should know about before it runs: SSH targets whose
 * host key is not pinned, realtime flavors that Nova may place on pinned-only (cpu-partitioning)
 * hosts, and security-group rules that reach beyond private address space.
 * `npm run plan` prints these (text, JSON, Markdown) and the program logs each once with
 * `pulumi.log.warn`; both take them from decideStack. Pure.
 *
 * An unpinned host is a warning, not an error. Stacks made before host keys could be
 * discovered have none, and refusing them outright would stop an operator mid-migration with
 * nothing deployed; the warning says what is at stake and how to pin, on every plan and
 * preview. Who has decided to live without pinning says so with
 * `insecureSkipHostKeyCheck: true`, and the warning becomes a one-line note.
 */
import type { StackConfig } from "./schema";
import { settingPath } from "./schema";
import type { Reach } from "./ip";
import { cidrReach, WIDEST_PUBLIC_PREFIX } from "./ip";
import type { Problem } from "./problems";

/** A warning or a note: like a Problem, the setting's path and what to know about it. */
export type Warning = Problem;

export interface StackWarnings {
  /** Loud: printed as warnings by the plan and logged by the program. */
  warnings: Warning[];
  /** Quiet: what the operator has explicitly accepted (insecureSkipHostKeyCheck). */
  notes: Warning[];
}

type SshTargetConfig = StackConfig["hosts"][number]["ssh"];
type Target = Omit<SshTargetConfig, "proxy">;

const KEYSCAN = (t: Target) => `ssh-keyscan -p ${t.port} ${t.host}`;

function targetWarnings(
  out: StackWarnings,
  path: string,
  t: Target,
  what: "host" | "controller" | "bastion",
  hostName?: string,
  stack = "<stack>",
): void {
  if (t.hostKey !== undefined) return;
  const address = `${t.user}@${t.host}:${t.port}`;
  if (t.insecureSkipHostKeyCheck === true) {
    out.notes.push({ path, message: `${address}: host key not checked (insecureSkipHostKeyCheck: true)` });
    return;
  }
  const stake =
    what === "bastion"
      ? "any machine answering at that address is taken for the bastion: it gets your SSH login and chooses where the connections through it go"
      : what === "controller"
        ? "any machine answering at that address gets scheduler.sh's root commands (nova.conf edits, a nova-scheduler restart)"
        : "any machine answering at that address gets host prep's root commands (packages, kernel arguments, nova.conf, reboots), the reboot waits and the checks";
  const fix =
    what === "host" && hostName !== undefined
      ? `run \`npm run discover -- --stack ${stack} --host ${hostName}\`, which writes the key into the stack file, or set ${path}.hostKey from \`${KEYSCAN(t)}\` after checking its fingerprint out of band (on the host's console: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub)`
      : `set ${path}.hostKey from \`${KEYSCAN(t)}\` after checking its fingerprint out of band (on the machine's console: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub)`;
  out.warnings.push({
    path,
    message: `no hostKey, so ${address} is not authenticated: ${stake}. To pin it, ${fix}; or set insecureSkipHostKeyCheck: true to accept the risk`,
  });
}

function describeReach(reach: Reach, cidr: string): string {
  return reach === "anywhere"
    ? `"${cidr}" reaches (nearly) every address on the internet`
    : `"${cidr}" reaches public addresses`;
}

/** "Anywhere" for the SSH guard (a config rule, lib/config/rules.ts, unless allowSshFromAnywhere): see lib/config/ip.ts. */
export function sshFromAnywhere(sg: StackConfig["securityGroup"]): boolean {
  return cidrReach(sg.sshCidr) === "anywhere";
}

/**
 * Two hosts, or a host and a controller, that SSH reaches at one address are one machine: their
 * steps edit one nova.conf (the scripts take turns on a lock) and a host's reboot takes the other
 * down with it. An all-in-one controller that is also a compute host is such a case, on purpose;
 * two hosts on one address are a copy-paste slip more often than not.
 */
function sharedAddressWarnings(config: StackConfig): Warning[] {
  // Behind different bastions one private address may name different machines.
  const key = (t: SshTargetConfig) =>
    JSON.stringify([t.host.toLowerCase(), t.port, t.proxy ? [t.proxy.host.toLowerCase(), t.proxy.port] : null]);
  const seen = new Map<string, { path: string; what: string }>();
  const out: Warning[] = [];
  const controllers = config.controller === false ? config.controllers : [config.controller];
  const targets = [
    ...config.hosts.map((h, i) => ({ path: settingPath(["hosts", i]), what: `host ${h.name}`, ssh: h.ssh })),
    ...controllers.map((c, i) => ({
      path: settingPath(config.controller === false ? ["controllers", i] : ["controller"]),
      what: "the controller",
      ssh: c.ssh,
    })),
  ];
  for (const t of targets) {
    const first = seen.get(key(t.ssh));
    if (first === undefined) {
      seen.set(key(t.ssh), t);
      continue;
    }
    const both = first.what.startsWith("host") && t.what.startsWith("host");
    out.push({
      path: `${t.path}.ssh.host`,
      message:
        `${t.what} and ${first.what} (${first.path}) are reached at one address, ${t.ssh.host}:${t.ssh.port}: one machine, whose nova.conf both edit ` +
        `(the scripts take turns on a lock) and which ${both ? "each reboots" : "the host's reboot takes down with the controller"}. ` +
        (both
          ? "Give each host its own ssh.host, or remove the duplicate"
          : "Fine for an all-in-one controller that is also a compute host; otherwise fix the address"),
    });
  }
  return out;
}

export function stackWarnings(config: StackConfig, stack = "<stack>"): StackWarnings {
  const out: StackWarnings = { warnings: [], notes: [] };
  out.warnings.push(...sharedAddressWarnings(config));
  config.hosts.forEach((h, i) => {
    const path = `${settingPath(["hosts", i])}.ssh`;
    targetWarnings(out, path, h.ssh, "host", h.name, stack);
    if (h.ssh.proxy) targetWarnings(out, `${path}.proxy`, h.ssh.proxy, "bastion");
  });
  if (config.controller !== false) {
    const path = `${settingPath(["controller"])}.ssh`;
    targetWarnings(out, path, config.controller.ssh, "controller");
    if (config.controller.ssh.proxy) targetWarnings(out, `${path}.proxy`, config.controller.ssh.proxy, "bastion");
  }
  config.controllers.forEach((c, i) => {
    const path = `${settingPath(["controllers", i])}.ssh`;
    targetWarnings(out, path, c.ssh, "controller");
    if (c.ssh.proxy) targetWarnings(out, `${path}.proxy`, c.ssh.proxy, "bastion");
  });

  // All RT hosts share the stack's aggregate, so Nova may place a realtime flavor on a pinned-only host.
  const pinnedOnly = config.hosts.filter((h) => h.tunedProfile === "cpu-partitioning").map((h) => h.name);
  if (pinnedOnly.length)
    config.flavors.forEach((f, i) => {
      if (f.realtime === false) return;
      out.warnings.push({
        path: settingPath(["flavors", i, "realtime"]),
        message:
          `flavor "${f.name}" is realtime, and Nova may place it on ${pinnedOnly.join(", ")} (tunedProfile cpu-partitioning, no RT kernel), ` +
          "where its RT vCPUs get no latency bound: the stack's hosts share one aggregate. Give its servers host: with a realtime-virtual-host host, " +
          "or keep the pinned-only hosts in a stack of their own",
      });
    });

  const sg = config.securityGroup;
  const ssh = cidrReach(sg.sshCidr);
  // Without allowSshFromAnywhere, SSH from anywhere breaks a config rule (rules.ts), not a warning.
  if (ssh === "public" || (ssh === "anywhere" && sg.allowSshFromAnywhere)) {
    out.warnings.push({
      path: settingPath(["securityGroup", "sshCidr"]),
      message:
        `${describeReach(ssh, sg.sshCidr)}: the RT servers' SSH (22/tcp) is open to ${ssh === "anywhere" ? "the internet (allowSshFromAnywhere is set)" : "addresses outside private ranges"}; ` +
        "narrow it to your operators' network when you can",
    });
  }
  const icmp = cidrReach(sg.icmpCidr);
  if (icmp !== "private") {
    out.warnings.push({
      path: settingPath(["securityGroup", "icmpCidr"]),
      message: `${describeReach(icmp, sg.icmpCidr)}: the RT servers answer ICMP from ${icmp === "anywhere" ? "the internet" : "outside private ranges"}; narrow it to your operators' network when you can`,
    });
  }
  return out;
}

/** For messages: what counts as "anywhere". */
export const ANYWHERE_RULE = `a public range wider than /${WIDEST_PUBLIC_PREFIX[4]} (IPv4) or /${WIDEST_PUBLIC_PREFIX[6]} (IPv6)`;
