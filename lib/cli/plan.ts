/**
 * `npm run plan [-- --stack <name>] [--config <file>] [--json | --markdown] [--diff <other>]`:
 * validates a stack's config as the program does before its first resource (decideStack: the
 * plan, host prep, the image file and the guest setup) and prints its plan, offline (no cloud,
 * no Pulumi CLI). With `--diff` it also compares the plan with another one: a stack config
 * file, decided the same way, or a `--json` plan document (such as the base branch's, in CI).
 * Exit 0 when valid, 1 with every problem listed when not, 2 on bad usage.
 */
import { readFileSync } from "node:fs";
import { basename, resolve } from "node:path";
import { parseArgs } from "node:util";
import { decideStack } from "../decide-stack";
import type { StackPlan } from "../plan";
import { diffPlans, formatPlanDiff, planFromDocument } from "../plan-diff";
import { renderPlanMarkdown, renderProblemsMarkdown } from "../plan-markdown";
import type { Problem } from "../problems";
import { formatProblems, formatWarnings } from "../problems";
import { renderPlan } from "../render-plan";
import { readStackConfig } from "../stack-files";
import type { StackWarnings } from "../warnings";

const USAGE =
  "usage: npm run plan -- [--stack <name>] [--config <Pulumi.<stack>.yaml>] [--json | --markdown] [--diff <Pulumi.<other>.yaml | plan.json> [--diff-label <text>]]";

/**
 * The plan of a stack config file, or every problem with it: decided as the program decides it
 * (decideStack), image file included, which is read relative to the project directory, as
 * Pulumi runs the program there.
 */
function planFile(
  projectDir: string,
  file: string,
): ({ plan: StackPlan; problems: [] } | { plan: null; problems: Problem[] }) & StackWarnings {
  const raw = readStackConfig(projectDir, file);
  if (!raw.usable) return { plan: null, problems: raw.problems, warnings: [], notes: [] };
  const result = decideStack(raw.values, projectDir);
  const { warnings, notes } = result;
  const problems = [...raw.problems, ...(result.ok ? [] : result.problems)];
  if (problems.length > 0 || !result.ok) return { plan: null, problems, warnings, notes };
  return { plan: result.plan, problems: [], warnings, notes };
}

/** The other side of `--diff`: a `--json` plan document (.json) or a stack config file. */
function otherPlan(
  projectDir: string,
  file: string,
): { plan: StackPlan; problems: [] } | { plan: null; problems: Problem[] } {
  if (!file.endsWith(".json")) return planFile(projectDir, file);
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    return {
      plan: null,
      problems: [{ path: file, message: `cannot read the plan document: ${(e as Error).message.split("\n")[0]}` }],
    };
  }
  const r = planFromDocument(doc, file);
  return r.ok ? { plan: r.plan, problems: [] } : { plan: null, problems: r.problems };
}

function main(argv: string[]): number {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: {
        stack: { type: "string", default: "dev" },
        config: { type: "string" },
        json: { type: "boolean", default: false },
        markdown: { type: "boolean", default: false },
        diff: { type: "string" },
        "diff-label": { type: "string" },
      },
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
  if (args.json && args.markdown) {
    process.stderr.write(`--json and --markdown exclude each other\n${USAGE}\n`);
    return 2;
  }
  if (args["diff-label"] !== undefined && args.diff === undefined) {
    process.stderr.write(`--diff-label needs --diff\n${USAGE}\n`);
    return 2;
  }
  const file = args.config ? resolve(args.config) : resolve(projectDir, `Pulumi.${stack}.yaml`);
  const { plan, problems, warnings, notes } = planFile(projectDir, file);
  // Warnings go with every output: on stderr beside the text plan, in the JSON document and in the comment.
  if (!args.json && !args.markdown) process.stderr.write(formatWarnings(warnings, notes));
  if (plan === null) {
    if (args.json)
      process.stdout.write(`${JSON.stringify({ stack, valid: false, problems, warnings, notes }, null, 2)}\n`);
    else if (args.markdown) process.stdout.write(renderProblemsMarkdown(stack, problems, { warnings, notes }));
    else process.stderr.write(`${formatProblems(problems)}\n`);
    return 1;
  }

  let diff;
  if (args.diff !== undefined) {
    const otherFile = resolve(args.diff);
    const other = otherPlan(projectDir, otherFile);
    if (other.plan === null) {
      process.stderr.write(
        `the plan to compare with (--diff ${args.diff}) is not valid:\n${formatProblems(other.problems)}\n`,
      );
      return 1;
    }
    diff = {
      label: args["diff-label"] ?? basename(otherFile),
      before: other.plan,
      changes: diffPlans(other.plan, plan),
    };
  }

  if (args.json) {
    process.stdout.write(
      `${JSON.stringify({ stack, valid: true, ...plan, warnings, notes, ...(diff ? { changes: diff.changes } : {}) }, null, 2)}\n`,
    );
  } else if (args.markdown) {
    process.stdout.write(renderPlanMarkdown(stack, plan, diff, { warnings, notes }));
  } else if (diff) {
    process.stdout.write(formatPlanDiff(diff.changes, diff.label));
  } else {
    process.stdout.write(renderPlan(stack, plan));
  }
  return 0;
}

process.exitCode = main(process.argv.slice(2));
