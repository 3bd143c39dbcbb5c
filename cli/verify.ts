/**
 * `npm run verify`: the deployment's checks, on demand, without Pulumi.
 *
 *   npm run verify -- host   --stack dev --target <host name>
 *   npm run verify -- domain --stack dev --target <server name> --server-id <uuid>
 *   npm run verify -- guest  --stack dev --target <server name> --address <guest IP> [--user <login>]
 *   npm run verify -- domain --stack dev --xml <dumpxml file> --flavor <name> [--host <host name>]
 *
 * SSH uses the agent (SSH_AUTH_SOCK) or `--identity <key file>`. Prints a table (or `--json`);
 * exits 0 when every check passes, 1 when one fails, 2 on bad usage or config.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
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
import { allResults, allScriptTexts, sshRunner, verifyDomain, verifyGuest, verifyHost } from "../lib/checks/collect";
import { latencyBudget } from "../lib/desired/check-targets";

class UsageError extends Error {}

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
  json: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

const USAGE = "usage: npm run verify -- host|domain|guest --stack <name> --target <name> [...] [--json] [--help]";

const HELP = `${USAGE}

Runs the deployment's checks on demand, without Pulumi. Options go after \`--\` (npm run verify -- host ...).

  npm run verify -- host   --stack dev --target <host name>
  npm run verify -- domain --stack dev --target <server name> --server-id <uuid>
  npm run verify -- guest  --stack dev --target <server name> --address <guest IP> [--user <login>]
  npm run verify -- domain --stack dev --xml <dumpxml file> --flavor <name> [--host <host name>]

  --stack <name>     the stack whose plan is checked against (default: dev)
  --config <file>    read this stack file instead of Pulumi.<stack>.yaml
  --identity <file>  SSH private key (default: the agent, SSH_AUTH_SOCK)
  --json             a JSON report instead of the table
  -h, --help         this text

Exit status: 0 every check passes, 1 a check fails, 2 bad usage or config.
`;

type Args = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>["values"];

function need(args: Args, key: keyof Args, why: string): string {
  const v = args[key];
  if (typeof v !== "string" || v === "") throw new UsageError(`--${key} is needed ${why}`);
  return v;
}

function loadDesired(args: Args): DesiredState {
  const projectDir = resolve(__dirname, "..");
  const file = args.config ? resolve(args.config) : resolve(projectDir, `Pulumi.${args.stack}.yaml`);
  const raw = readStackConfig(projectDir, file);
  if (!raw.usable) throw new UsageError(formatProblems(raw.problems));
  const decided = decideStack(raw.values, projectDir);
  const problems = [...raw.problems, ...(decided.ok ? [] : decided.problems)];
  if (!decided.ok || problems.length) throw new UsageError(formatProblems(problems));
  return decided.desired;
}

function auth(args: Args): SshAuth {
  return {
    privateKey: args.identity ? readFileSync(args.identity, "utf8") : undefined,
    agentSocket: process.env.SSH_AUTH_SOCK,
  };
}

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

async function run(mode: string, args: Args): Promise<{ target: string; results: CheckResult[] }> {
  const desired = loadDesired(args);
  const { config, plan } = desired;
  if (mode === "host") {
    const host = desiredHost(desired, need(args, "target", "(the host's name)"));
    const v = await verifyHost(sshRunner(host.check.target, auth(args), allScriptTexts()), host.plan, {
      hwlatdetect: host.check.hwlatdetect,
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
  if (mode === "domain") {
    const serverId = need(args, "server-id", "(the Nova instance UUID: openstack server show <name> -c id)");
    const candidates = server.domainCheck.candidates.map((c) => ({
      name: c.host,
      run: sshRunner(c.target, auth(args), allScriptTexts()),
      expectation: c.expectation,
    }));
    const found = await verifyDomain(serverId, candidates);
    return { target: `${server.name} (${serverId}) on ${found.host ?? "no host"}`, results: found.results };
  }
  if (mode === "guest") {
    const target: SshTarget = {
      host: need(args, "address", "(the guest's IP address)"),
      port: 22,
      user: args.user ?? config.image.loginUser,
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
  throw new UsageError(`unknown check "${mode}": use host, domain or guest`);
}

async function main(argv: string[]): Promise<number> {
  try {
    const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
    if (values.help || process.env.npm_config_help === "true") {
      process.stdout.write(HELP);
      return 0;
    }
    if (process.env.npm_lifecycle_event === "verify" && process.env.npm_config_json === "true") values.json = true;
    if (positionals.length !== 1) throw new UsageError("name one check: host, domain or guest");
    const { target, results } = await run(positionals[0], values);
    const summary = summarize(results);
    if (values.json)
      process.stdout.write(`${JSON.stringify({ check: positionals[0], target, ...summary, results }, null, 2)}\n`);
    else process.stdout.write(`${positionals[0]} checks of ${target}\n${formatReport(results)}\n`);
    return summary.ok ? 0 : 1;
  } catch (e) {
    if (!(e instanceof UsageError) && !(e instanceof TypeError && "code" in e)) throw e;
    process.stderr.write(`${e.message}\n${USAGE} (npm run verify -- --help)\n`);
    return 2;
  }
}

void main(process.argv.slice(2)).then((code) => (process.exitCode = code));
