/**
 * `npm run verify`: the deployment's checks, on demand, without Pulumi.
 *
 *   npm run verify -- host   --stack dev --target <host name>
 *   npm run verify -- domain --stack dev --target <server name> --server-id <uuid>
 *   npm run verify -- guest  --stack dev --target <server name> --address <guest IP> [--user <login>] [--host-key <key>]
 *   npm run verify -- domain --stack dev --xml <dumpxml file> --flavor <name> [--host <host name>]
 *
 * With `--outputs <file>` (`pulumi stack output --json --show-secrets > file`) the server's id,
 * address, login user and SSH host key come from the stack's outputs. SSH uses the agent
 * (SSH_AUTH_SOCK) or `--identity <key file>`. Prints a table (or `--json`); exits 0 when every
 * check passes, 1 when one fails, 2 on bad usage or config.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { DomainExpectation } from "../lib/checks/domain";
import { checkDomain } from "../lib/checks/domain";
import { expectationFromPlan } from "../lib/checks/domain-expectation";
import type { CheckResult } from "../lib/checks/result";
import { formatReport, summarize } from "../lib/checks/result";
import type { StackPlan } from "../lib/plan/stack";
import { decideStack } from "../lib/desired/decide";
import type { DesiredHost, DesiredState } from "../lib/desired/state";
import type { HostPlan } from "../lib/plan/host";
import { formatProblems } from "../lib/config/problems";
import type { SshAuth, SshTarget } from "../lib/transport/ssh";
import { readStackConfig } from "../lib/config/stack-files";
import { allResults } from "../lib/checks/verification";
import { allScriptTexts, sshRunner, verifyDomain, verifyGuest, verifyHost } from "../lib/providers/collect";
import { latencyBudget } from "../lib/desired/check-targets";
import type { ServerOutput } from "../lib/render/outputs";
import { closestName } from "../lib/config/problems";
import { terminalText } from "../lib/terminal-text";
import { CommandLineError, parseCommandLine, stackFile, stackOfFile } from "./args";

class UsageError extends Error {}

const MODES = ["host", "domain", "guest"] as const;

const OPTIONS = {
  stack: { type: "string", default: "dev" },
  config: { type: "string" },
  target: { type: "string" },
  "server-id": { type: "string" },
  address: { type: "string" },
  user: { type: "string" },
  xml: { type: "string" },
  flavor: { type: "string" },
  host: { type: "string" },
  identity: { type: "string" },
  outputs: { type: "string" },
  "host-key": { type: "string" },
  port: { type: "string" },
  json: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

const USAGE = "usage: npm run verify -- host|domain|guest --stack <name> --target <name> [...] [--json] [--help]";

const HELP = `${USAGE}

Runs the deployment's checks on demand, without Pulumi. Options go after \`--\` (npm run verify -- host ...).

  host     the RT host as planned: kernel, TuneD, isolated CPUs, huge pages, nova.conf, IRQs,
           then the latency stages latency.host turns on, stopping at the first that fails
  domain   a server's libvirt domain on the host Nova placed it on (or a saved dumpxml)
  guest    inside a server: its RT setup, then the latency stages hwlatdetect, cyclictest under
           load and oslat, each for its latency.guest duration, stopping at the first that fails

  --stack <name>       the stack whose plan is checked against: Pulumi.<name>.yaml (default: dev)
  --config <file>      read this stack file instead of Pulumi.<stack>.yaml
  --target <name>      the host (host) or server (domain, guest) of the stack to check
  --outputs <file>     the stack's outputs (pulumi stack output --json --show-secrets > file): the
                       server's id, address, login user and SSH host key are read from there
  --server-id <uuid>   domain: the Nova instance (default: from --outputs)
  --address <ip>       guest: where to reach it (default: from --outputs, floating IP first)
  --port <n>           guest: its SSH port (default: 22)
  --user <login>       guest: the login user (default: from --outputs, else image.loginUser)
  --host-key <key>     guest: its SSH host key, "<type> <base64>" (default: from --outputs);
                       without one the guest is not authenticated, and a warning says so
  --xml <file>         domain: check a saved \`virsh dumpxml\` instead, with --flavor [--host]
  --identity <file>    SSH private key (default: the agent, SSH_AUTH_SOCK)
  --json               a JSON report instead of the table
  -h, --help           this text

Examples:
  npm run verify -- host --stack dev --target compute-rt-01
  pulumi stack output --json --show-secrets > outputs.json
  npm run verify -- domain --stack dev --target rt-server --outputs outputs.json
  npm run verify -- guest --stack dev --target rt-server --outputs outputs.json --identity ~/.ssh/id_ed25519
  npm run verify -- domain --stack dev --xml dump.xml --flavor rt1.small

Exit status: 0 every check passes, 1 a check fails, 2 bad usage or config.
`;

type Args = ReturnType<typeof parseCommandLine<typeof OPTIONS>>["values"];

function need(args: Args, key: keyof Args, why: string): string {
  const v = args[key];
  if (typeof v !== "string" || v === "") throw new UsageError(`--${String(key)} is needed ${why}`);
  return v;
}

function loadDesired(args: Args): DesiredState {
  const projectDir = resolve(__dirname, "..");
  const file = args.config ? resolve(args.config) : stackFile(projectDir, args.stack);
  const raw = readStackConfig(projectDir, file);
  if (!raw.usable) throw new UsageError(formatProblems(raw.problems));
  const decided = decideStack(raw.values, projectDir, args.config ? stackOfFile(args.config) : args.stack);
  const problems = [...raw.problems, ...(decided.ok ? [] : decided.problems)];
  if (!decided.ok || problems.length) throw new UsageError(formatProblems(problems));
  return decided.desired;
}

/** The SSH credentials: --identity's key, else the agent; neither is a usage error, not a failed check. */
function auth(args: Args): SshAuth {
  if (args.identity !== undefined) {
    let privateKey;
    try {
      privateKey = readFileSync(args.identity, "utf8");
    } catch (e) {
      throw new UsageError(
        `cannot read --identity ${terminalText(args.identity)}: ${terminalText((e as Error).message.split("\n")[0])}; give the file of the SSH private key`,
      );
    }
    if (privateKey.trim() === "")
      throw new UsageError(`--identity ${terminalText(args.identity)} is empty; give the file of the SSH private key`);
    return { privateKey };
  }
  if (!process.env.SSH_AUTH_SOCK)
    throw new UsageError(
      "no SSH credentials: give --identity <private key file>, or start an SSH agent (SSH_AUTH_SOCK) holding the key",
    );
  return { agentSocket: process.env.SSH_AUTH_SOCK };
}

type ServerFacts = Partial<Pick<ServerOutput, "id" | "accessIpV4" | "floatingIp" | "loginUser" | "hostKey">>;

/**
 * The server's outputs from `--outputs` (the JSON of `pulumi stack output --json --show-secrets`,
 * lib/render/outputs.ts `servers`), or {} without the option.
 */
function serverOutputs(args: Args, server: string): ServerFacts {
  if (args.outputs === undefined) return {};
  const file = terminalText(args.outputs);
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(args.outputs, "utf8"));
  } catch (e) {
    throw new UsageError(
      `cannot read --outputs ${file}: ${terminalText((e as Error).message.split("\n")[0])}; make it with \`pulumi stack output --json --show-secrets > ${file}\``,
    );
  }
  const servers = (doc as { servers?: unknown } | null)?.servers;
  if (servers === null || typeof servers !== "object" || Array.isArray(servers))
    throw new UsageError(
      `--outputs ${file} has no "servers" output: it is not this stack's \`pulumi stack output --json --show-secrets\``,
    );
  const entry = (servers as Record<string, unknown>)[server];
  if (entry === null || typeof entry !== "object")
    throw new UsageError(
      `--outputs ${file} has no server "${server}": it lists ${
        Object.keys(servers)
          .map((k) => terminalText(k))
          .join(", ") || "none"
      }`,
    );
  const e = entry as Record<string, unknown>;
  const text = (k: keyof ServerFacts) => (typeof e[k] === "string" && e[k] !== "" ? e[k] : undefined);
  if (e.hostKey === "[secret]")
    throw new UsageError(`--outputs ${file} holds "[secret]" values: make it with --show-secrets`);
  return {
    id: text("id"),
    accessIpV4: text("accessIpV4"),
    floatingIp: text("floatingIp") ?? null,
    loginUser: text("loginUser"),
    hostKey: text("hostKey"),
  };
}

function sshPort(value: string | undefined): number {
  if (value === undefined) return 22;
  if (!/^[1-9]\d{0,4}$/.test(value) || Number(value) > 65535)
    throw new UsageError(`--port ${JSON.stringify(terminalText(value))} is not a TCP port (1-65535)`);
  return Number(value);
}

const HOST_KEY = /^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/]+={0,2}( [^\n]*)?$/;

function desiredHost(desired: DesiredState, name: string): DesiredHost {
  const h = desired.hosts.find((x) => x.name === name);
  if (!h) throw new UsageError(`"${name}" is not a host of this stack: ${desired.hosts.map((x) => x.name).join(", ")}`);
  return h;
}

function plannedHost(plan: StackPlan, name: string | undefined): HostPlan {
  const h = name === undefined ? plan.hosts[0] : plan.hosts.find((x) => x.name === name);
  if (!h)
    throw new UsageError(`"${name ?? ""}" is not a host of this stack: ${plan.hosts.map((x) => x.name).join(", ")}`);
  return h;
}

function flavorOf(plan: StackPlan, name: string) {
  const f = plan.flavors.find((x) => x.name === name);
  if (!f)
    throw new UsageError(`"${name}" is not a flavor of this stack: ${plan.flavors.map((x) => x.name).join(", ")}`);
  return f;
}

async function run(mode: (typeof MODES)[number], args: Args): Promise<{ target: string; results: CheckResult[] }> {
  const desired = loadDesired(args);
  const { config, plan } = desired;
  if (mode === "host") {
    const host = desiredHost(desired, need(args, "target", "(the host's name)"));
    const v = await verifyHost(sshRunner(host.check.target, auth(args), allScriptTexts()), host.plan, {
      latency: host.check.latency,
    });
    return { target: host.name, results: allResults(v) };
  }
  if (mode === "domain" && args.xml) {
    const flavor = flavorOf(plan, need(args, "flavor", "with --xml (the flavor the instance runs)"));
    const expectation: DomainExpectation = expectationFromPlan(
      plannedHost(plan, args.host),
      flavor,
      config.image.properties,
    );
    return { target: args.xml, results: checkDomain(readFileSync(args.xml, "utf8"), expectation) };
  }
  const server = desired.servers.find((s) => s.name === need(args, "target", "(the server's name)"));
  if (!server)
    throw new UsageError(
      `"${args.target}" is not a server of this stack: ${desired.servers.map((s) => s.name).join(", ")}`,
    );
  const outputs = serverOutputs(args, server.name);
  if (mode === "domain") {
    const serverId =
      args["server-id"] ??
      outputs.id ??
      need(args, "server-id", "(the Nova instance UUID: openstack server show <name> -c id, or give --outputs)");
    const credentials = auth(args);
    const candidates = server.domainCheck.candidates.map((c) => ({
      name: c.host,
      run: sshRunner(c.target, credentials, allScriptTexts()),
      expectation: c.expectation,
    }));
    const found = await verifyDomain(serverId, candidates);
    return { target: `${server.name} (${serverId}) on ${found.host ?? "no host"}`, results: found.results };
  }
  // guest
  const address =
    args.address ??
    outputs.floatingIp ??
    outputs.accessIpV4 ??
    need(args, "address", "(the guest's IP address, or give --outputs)");
  const hostKey = args["host-key"] ?? outputs.hostKey;
  if (hostKey !== undefined && !HOST_KEY.test(hostKey))
    throw new UsageError(
      `${args["host-key"] !== undefined ? "--host-key" : `the hostKey of ${server.name} in --outputs`} is not an SSH public key "<type> <base64>"`,
    );
  // The program pins the key it planted in the guest (GuestHostKey); so does this check when it has it.
  if (hostKey === undefined)
    process.stderr.write(
      `WARNING: the guest's SSH host key is not pinned, so ${terminalText(address)} is not authenticated: whatever answers there is taken for ${server.name}. ` +
        "Give --outputs <file> (pulumi stack output --json --show-secrets) or --host-key <the servers output's hostKey>\n",
    );
  const target: SshTarget = {
    host: address,
    port: sshPort(args.port),
    user: args.user ?? outputs.loginUser ?? config.image.loginUser,
    ...(hostKey === undefined ? {} : { hostKey }),
  };
  // A guest check on demand also for a server whose checks the stack switched off.
  const budget = server.guestCheck?.budget ?? latencyBudget(config.latency.guest);
  return {
    target: server.name,
    results: allResults(
      await verifyGuest(sshRunner(target, auth(args), allScriptTexts()), server.flavor.guest, budget),
    ),
  };
}

async function main(argv: string[]): Promise<number> {
  try {
    const { values, positionals } = parseCommandLine(argv, OPTIONS, true);
    if (values.help || process.env.npm_config_help === "true") {
      process.stdout.write(HELP);
      return 0;
    }
    if (process.env.npm_lifecycle_event === "verify" && process.env.npm_config_json === "true") values.json = true;
    if (positionals.length !== 1) throw new UsageError("name one check: host, domain or guest");
    const mode = positionals[0];
    if (!(MODES as readonly string[]).includes(mode)) {
      const meant = closestName(mode, MODES);
      throw new UsageError(
        `unknown check "${terminalText(mode)}"${meant ? `; did you mean ${meant}?` : ""}: use host, domain or guest`,
      );
    }
    const { target, results } = await run(mode as (typeof MODES)[number], values);
    const summary = summarize(results);
    if (values.json) process.stdout.write(`${JSON.stringify({ check: mode, target, ...summary, results }, null, 2)}\n`);
    else process.stdout.write(`${mode} checks of ${target}\n${formatReport(results)}\n`);
    return summary.ok ? 0 : 1;
  } catch (e) {
    if (!(e instanceof UsageError) && !(e instanceof CommandLineError)) throw e;
    process.stderr.write(`${e.message}\n${USAGE} (npm run verify -- --help)\n`);
    return 2;
  }
}

void main(process.argv.slice(2)).then((code) => (process.exitCode = code));
