/**
 * `npm run plan [-- --stack <name>] [--config <file>] [--json]`: validates a stack's config and
 * prints its plan, offline (no cloud, no Pulumi CLI). Exit 0 when valid, 1 with every problem
 * listed when not, 2 on bad usage.
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { isPlannedHost, planStack } from "../plan";
import { formatProblems } from "../problems";
import { renderPlan } from "../render-plan";
import { readStackConfig } from "../stack-files";

const USAGE = "usage: npm run plan -- [--stack <name>] [--config <Pulumi.<stack>.yaml>] [--json]";

function main(argv: string[]): number {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: { stack: { type: "string", default: "dev" }, config: { type: "string" }, json: { type: "boolean", default: false } },
      strict: true,
    }).values;
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const projectDir = resolve(__dirname, "..", "..");
  const stack = args.stack;
  if (!/^[A-Za-z0-9._-]+$/.test(stack)) {
    process.stderr.write(`--stack "${stack}" is not a stack name (letters, digits, '.', '_', '-')\n`);
    return 2;
  }
  const file = args.config ? resolve(args.config) : resolve(projectDir, `Pulumi.${stack}.yaml`);
  const raw = readStackConfig(projectDir, file);
  const result = planStack(raw.values);
  const problems = [...raw.problems, ...(result.ok ? [] : result.problems)];
  if (problems.length > 0) {
    if (args.json) process.stdout.write(`${JSON.stringify({ stack, valid: false, problems }, null, 2)}\n`);
    else process.stderr.write(`${formatProblems(problems)}\n`);
    return 1;
  }
  if (!result.ok) return 1; // unreachable: problems were listed above
  if (args.json) {
    process.stdout.write(`${JSON.stringify({ stack, valid: true, ...result.plan }, null, 2)}\n`);
  } else {
    process.stdout.write(renderPlan(stack, result.plan));
    const pending = result.plan.hosts.filter((h) => !isPlannedHost(h)).length;
    if (pending > 0) process.stdout.write(`\n${pending} host(s) are planned at deploy time, after their topology is read.\n`);
  }
  return 0;
}

process.exitCode = main(process.argv.slice(2));
