/**
 * `npm run discover -- --stack <name> --host <host name> [--config <file>] [--identity <key file>] [--yes]`:
 * connects to the host as the stack file's ssh settings say, runs hostprep/facts.sh there (as
 * host prep's facts step does), and writes what it read into the stack file: the host's NUMA
 * nodes, CPUs, SMT thread groups and memory per node (`topology`), and the SSH host key it
 * presented (`ssh.hostKey`). A pinned hostKey is checked first, as every connection checks it.
 *
 * It prints the key's fingerprint and the diff of the stack file, and writes the file only with
 * `--yes`. Everything the host sent is printed escaped, and the fingerprint, computed here from
 * the key, is printed last, so no text of the host's can move over it. The write goes to a
 * symlink's target, atomically, and is refused if the file changed since it was read. Exit 0
 * when done (or nothing to change), 1 on a problem (SSH, facts.sh, the stack file), 2 on bad usage.
 */
import {
  closeSync,
  fsyncSync,
  openSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { settingPath, stackConfigSchema } from "../lib/config/schema";
import { decideStack } from "../lib/desired/decide";
import type { Discovery } from "../lib/discover/discover";
import { discoverHost, editStackFile, isDiscoverError, keyFingerprint, unifiedDiff } from "../lib/discover/discover";
import { formatProblems } from "../lib/config/problems";
import type { SshAuth, SshTarget } from "../lib/transport/ssh";
import { isSshError } from "../lib/transport/ssh";
import { readStackConfig } from "../lib/config/stack-files";
import { terminalText } from "../lib/terminal-text";
import { CommandLineError, parseCommandLine, stackFile, stackOfFile } from "./args";

const USAGE =
  "usage: npm run discover -- --stack <name> --host <host name> [--config <Pulumi.<stack>.yaml>] [--identity <private key file>] [--yes] [--help]";

const HELP = `${USAGE}

Connects to a host of the stack file as its ssh settings say, reads its NUMA topology and SSH host
key (hostprep/facts.sh, read-only), and shows the stack file's diff; --yes writes it.

  --stack <name>       the stack: reads Pulumi.<name>.yaml beside Pulumi.yaml (default: dev)
  --config <file>      this stack file instead (a symlink's target is written)
  --host <name>        the host of openstack-rt:hosts to discover
  --identity <file>    SSH private key (default: the agent, SSH_AUTH_SOCK)
  --yes                write the topology and host key into the stack file
  -h, --help           this text

Compare the fingerprint it prints with the host's own, out of band (on its console:
ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), before you write it.

Examples:
  npm run discover -- --stack dev --host compute-rt-01
  npm run discover -- --stack dev --host compute-rt-01 --identity ~/.ssh/id_ed25519 --yes

Exit status: 0 done (or nothing to change), 1 a problem with SSH, the host or the stack file, 2 bad usage.
`;

/** A problem with a setting or the host: exit 1, named and with its fix. */
class SettingProblem extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}
/** Bad usage: exit 2. */
class UsageProblem extends Error {}

function say(line = ""): void {
  process.stdout.write(`${line}\n`);
}

function options(argv: string[]) {
  let values;
  try {
    values = parseCommandLine(argv, {
      stack: { type: "string", default: "dev" },
      config: { type: "string" },
      host: { type: "string" },
      identity: { type: "string" },
      yes: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    }).values;
  } catch (e) {
    throw e instanceof CommandLineError ? new UsageProblem(e.message) : e;
  }
  if (values.help) return { ...values, host: "" };
  if (!/^[A-Za-z0-9._-]+$/.test(values.stack))
    throw new UsageProblem(
      `--stack "${terminalText(values.stack)}" is not a stack name (letters, digits, '.', '_', '-')`,
    );
  if (values.host === undefined || values.host === "")
    throw new UsageProblem("--host is needed: the name of the host in the stack's openstack-rt:hosts");
  return { ...values, host: values.host };
}

function sshAuth(identity: string | undefined): SshAuth {
  if (identity !== undefined) {
    try {
      return { privateKey: readFileSync(identity, "utf8") };
    } catch (e) {
      throw new UsageProblem(`cannot read --identity ${identity}: ${(e as Error).message.split("\n")[0]}`);
    }
  }
  if (!process.env.SSH_AUTH_SOCK)
    throw new UsageProblem(
      "no SSH credentials: give --identity <private key file>, or start an SSH agent (SSH_AUTH_SOCK) holding the key",
    );
  return { agentSocket: process.env.SSH_AUTH_SOCK };
}

/** The host's entry and its ssh settings, validated as the config schema validates them (the rest of the file may not plan yet). */
function hostEntry(
  values: Record<string, unknown>,
  name: string,
  stackFile: string,
): { index: number; target: SshTarget; os: unknown } {
  const hosts = values.hosts;
  if (!Array.isArray(hosts))
    throw new SettingProblem(
      settingPath(["hosts"]),
      `is not set in ${stackFile}; add the host there (name, ssh, os, hugepages1gPerNode) with topology: discover as a placeholder`,
    );
  const index = hosts.findIndex((h) => (h as { name?: unknown } | null)?.name === name);
  if (index < 0) {
    const names = hosts.map((h) => (h as { name?: unknown } | null)?.name).filter((n) => typeof n === "string");
    throw new UsageProblem(
      `"${name}" is not a host of ${stackFile}${names.length ? `: its hosts are ${names.join(", ")}` : ""}`,
    );
  }
  const raw = hosts[index] as { ssh?: unknown; os?: unknown };
  const parsed = stackConfigSchema.shape.hosts.element.shape.ssh.safeParse(raw.ssh);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SettingProblem(
      settingPath(["hosts", index, "ssh", ...issue.path]),
      `${issue.message}; discover connects as these settings say, so fix them first`,
    );
  }
  const s = parsed.data;
  const hop = (t: typeof s | NonNullable<typeof s.proxy>) => ({
    host: t.host,
    port: t.port,
    user: t.user,
    ...(t.hostKey === undefined ? {} : { hostKey: t.hostKey }),
  });
  return { index, target: { ...hop(s), ...(s.proxy === undefined ? {} : { proxy: hop(s.proxy) }) }, os: raw.os };
}

/** An SSH or facts.sh failure, as the setting to look at and what to do. */
function explain(e: unknown, index: number, target: SshTarget): SettingProblem {
  const at = (key: string) => `${settingPath(["hosts", index, "ssh"])}.${key}`;
  if (isSshError(e)) {
    switch (e.kind) {
      case "host-key":
        return new SettingProblem(
          at("hostKey"),
          `${e.message}. To take the key the host presents now, remove hostKey from the stack file and run discover again; it shows the new key's fingerprint`,
        );
      case "auth":
        return new SettingProblem(
          at("user"),
          `${e.message}; give --identity <private key file> or load the key into your SSH agent, for the user ${target.user}`,
        );
      case "unreachable":
      case "timeout":
        return new SettingProblem(at("host"), `${e.message}${target.proxy ? " (through the proxy in ssh.proxy)" : ""}`);
      default:
        return new SettingProblem(at("host"), e.message);
    }
  }
  if (isDiscoverError(e)) return new SettingProblem(settingPath(["hosts", index]), e.message);
  throw e;
}

function keyType(line: string): string {
  const type = line.split(" ")[0];
  return type === "ssh-ed25519" ? "ED25519" : type === "ssh-rsa" ? "RSA" : type.startsWith("ecdsa-") ? "ECDSA" : type;
}

/**
 * What discover read, as lines for the terminal: every text the host sent (its OS family) escaped.
 * The fingerprint line is computed here from the key blob and printed last by the caller too.
 */
export function discoveryReport(name: string, target: SshTarget, d: Discovery): string[] {
  const os = d.osFamily ? `, ${terminalText(d.osFamily)}` : "";
  const lines = [`Discovered ${terminalText(name)} (${target.user}@${target.host}:${target.port}${os}):`];
  for (const n of d.declared.nodes) {
    lines.push(
      `  NUMA node ${n.id}: CPUs ${n.cpus}, ${n.memoryMb} MiB${n.threadSiblings ? `, SMT thread groups ${n.threadSiblings.join(" ")}` : ", no SMT"}`,
    );
  }
  lines.push(`  host key: ${terminalText(d.hostKey)}`);
  return lines;
}

/** The fingerprint the operator compares out of band: from the key itself, nothing of the host's text in it. */
export function fingerprintLines(d: Pick<Discovery, "hostKey">, pinned: boolean): string[] {
  const type = keyType(d.hostKey);
  const lines = [
    `Host key fingerprint: ${keyFingerprint(d.hostKey)} (${type})${pinned ? ", the key pinned in the stack file" : ""}`,
  ];
  if (!pinned)
    lines.push(
      `  Check it out of band before you trust it: on the host's console, \`ssh-keygen -lf /etc/ssh/ssh_host_${type.toLowerCase()}_key.pub\` must print the same fingerprint.`,
    );
  return lines;
}

/** The stack decided with the discovered values: problems with what discover writes stop it; the others are only reported. */
function planProblems(values: Record<string, unknown>, index: number, d: Discovery, projectDir: string, stack: string) {
  const next = structuredClone(values) as { hosts: Record<string, unknown>[] };
  const host: Record<string, unknown> = { ...next.hosts[index], topology: d.declared };
  host.ssh = { ...(host.ssh as object), hostKey: d.hostKey };
  next.hosts[index] = host;
  const decision = decideStack(next, projectDir, stack);
  const problems = decision.ok ? [] : decision.problems;
  const mine = settingPath(["hosts", index, "topology"]);
  const key = `${settingPath(["hosts", index, "ssh"])}.hostKey`;
  const own = problems.filter((p) => p.path === mine || p.path.startsWith(`${mine}.`) || p.path === key);
  return { own, others: problems.filter((p) => !own.includes(p)) };
}

/**
 * Replaces the stack file's text: a symlink's target is written (the link stays), through a new
 * file in the same directory renamed over it, so a crash leaves the old or the new text, never a
 * part. `expected` is the text the edit was made from: a file changed since (an editor, another
 * discover) is left alone, with an error that says so. Returns the path written.
 */
export function writeStackFile(file: string, expected: string, text: string): string {
  const target = realpathSync(file);
  const tmp = join(dirname(target), `.${basename(target)}.discover-${process.pid}`);
  const fd = openSync(tmp, "wx", statSync(target).mode & 0o777);
  try {
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (readFileSync(target, "utf8") !== expected)
      throw new SettingProblem(
        target,
        "changed while discover ran (another editor or discover?); nothing was written: run discover again",
      );
    renameSync(tmp, target);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  return target;
}

async function main(argv: string[]): Promise<number> {
  const args = options(argv);
  if (args.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const projectDir = resolve(__dirname, "..");
  let file;
  try {
    file = args.config ? resolve(args.config) : stackFile(projectDir, args.stack);
  } catch (e) {
    throw e instanceof CommandLineError ? new UsageProblem(e.message) : e;
  }
  const near = relative(process.cwd(), file);
  const shown = near === "" || near.startsWith("..") ? file : near;
  const raw = readStackConfig(projectDir, file);
  if (!raw.usable) {
    process.stderr.write(`${formatProblems(raw.problems)}\n`);
    return 1;
  }
  const auth = sshAuth(args.identity);
  const { index, target, os } = hostEntry(raw.values, args.host, shown);
  const pinned = target.hostKey !== undefined;

  let d: Discovery;
  try {
    d = await discoverHost(target, auth, { sudo: target.user !== "root" });
  } catch (e) {
    throw explain(e, index, target);
  }
  for (const line of discoveryReport(args.host, target, d)) say(line);
  if (target.proxy && target.proxy.hostKey === undefined) {
    say(
      `  Note: the proxy ${target.proxy.host} has no hostKey: its key was not checked. Pin it in ${settingPath(["hosts", index, "ssh"])}.proxy.hostKey.`,
    );
  }
  if (d.osFamily !== "" && typeof os === "string" && os !== d.osFamily) {
    say(
      `  Warning: ${settingPath(["hosts", index, "os"])} is ${terminalText(os)}, but the host runs ${terminalText(d.osFamily)}; discover does not change it: fix it by hand.`,
    );
  }

  const { own, others } = planProblems(raw.values, index, d, projectDir, args.config ? stackOfFile(file) : args.stack);
  if (own.length) {
    process.stderr.write(
      `The discovered values are not a valid config for this host, so ${shown} is left as it is:\n${formatProblems(own)}\n`,
    );
    return 1;
  }
  const text = readFileSync(file, "utf8");
  const edit = editStackFile(text, args.host, d);
  if (!edit.ok) throw new SettingProblem(`${shown}: ${edit.path}`, edit.message);
  say();
  if (edit.changed.length === 0) {
    for (const line of fingerprintLines(d, pinned)) say(line);
    say(`${shown} already declares this topology and host key: nothing to write.`);
  } else {
    // The stack file's own text may hold anything: escaped like the host's.
    process.stdout.write(
      terminalText(unifiedDiff(text, edit.text, { before: shown, after: `${shown} (discovered)` }), {
        multiline: true,
      }),
    );
    for (const n of edit.notes) say(`Note: ${terminalText(n)}`);
    say();
    for (const line of fingerprintLines(d, pinned)) say(line);
    if (args.yes) {
      const written = writeStackFile(file, text, edit.text);
      const link = written === file ? "" : ` (a link to ${written}, which is written)`;
      say(`Wrote ${edit.changed.join(" and ")} to ${shown}${link} (host key ${keyFingerprint(d.hostKey)}).`);
    } else {
      say(`Not written. Check the fingerprint and the diff, then write them with:`);
      say(
        `  npm run discover -- ${args.config ? `--config ${args.config}` : `--stack ${args.stack}`} --host ${args.host}${args.identity ? ` --identity ${args.identity}` : ""} --yes`,
      );
    }
  }
  if (others.length) {
    say();
    say(`With these values the stack still does not plan, for other reasons (\`npm run plan\` lists them too):`);
    say(formatProblems(others));
  }
  return 0;
}

if (require.main === module)
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (e: unknown) => {
      if (e instanceof UsageProblem) {
        process.stderr.write(`${e.message}\n${USAGE}\n`);
        process.exitCode = 2;
      } else if (e instanceof SettingProblem) {
        process.stderr.write(`${terminalText(e.path)}: ${terminalText(e.message)}\n`);
        process.exitCode = 1;
      } else {
        throw e;
      }
    },
  );
