/**
 * `npm run plan [-- --stack <name>] [--config <file>] [--json | --markdown | --format <f>] [--diff <other>]`:
 * validates a stack's config as the program does before its first resource (decideStack: the
 * plan, host prep, the image file and the guest setup) and prints its plan, offline (no cloud,
 * no Pulumi CLI). With `--diff` it also compares the plan with another one: a stack config
 * file, decided the same way, or a `--json` plan document (such as the base branch's, in CI).
 * Exit 0 when valid, 1 with every problem listed when not, 2 on bad usage.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { basename, resolve } from "node:path";
import { decideStack } from "../lib/desired/decide";
import type { StackPlan } from "../lib/plan/stack";
import type { ImpactSide, RolloutSettings } from "../lib/desired/impact";
import { NOTHING_DEPLOYED, planImpact } from "../lib/desired/impact";
import { diffPlans, formatImpact, formatPlanDiff, planFromDocument } from "../lib/render/plan-diff";
import type { DesiredState } from "../lib/desired/state";
import { bundleScript } from "../lib/hostprep/scripts";
import { renderPlanMarkdown, renderProblemsMarkdown } from "../lib/render/plan-markdown";
import type { Problem } from "../lib/config/problems";
import { closestName, formatProblems, formatWarnings } from "../lib/config/problems";
import { terminalText } from "../lib/terminal-text";
import { CommandLineError, parseCommandLine, stackFile, stackOfFile } from "./args";

export { stackOfFile };
import { renderPlan } from "../lib/render/plan-text";
import type { LatencyStageSettings } from "../lib/checks/latency-stages";
import { readStackConfig } from "../lib/config/stack-files";
import type { ToolFormat } from "../lib/render/tool-formats";
import { TOOL_FORMATS, renderForTool } from "../lib/render/tool-formats";
import type { StackWarnings } from "../lib/config/warnings";

const FORMATS = ["text", "json", "markdown", ...TOOL_FORMATS] as const;
type Format = (typeof FORMATS)[number];

const USAGE =
  "usage: npm run plan -- [--stack <name>] [--config <Pulumi.<stack>.yaml>] [--format text|json|markdown|tripleo|kolla|osa|juju | --json | --markdown] [--diff <Pulumi.<other>.yaml | plan.json> [--diff-label <text>]] [--help]";

const HELP = `${USAGE}

Validates a stack's config offline, as \`pulumi preview\` does before its first resource, and prints its plan.

  --stack <name>       the stack to plan: reads Pulumi.<name>.yaml beside Pulumi.yaml (default: dev)
  --config <file>      read this stack file instead; the plan is labelled with the stack its name
                       gives (Pulumi.prod.yaml -> prod) unless --stack names it
  --format <f>         text (default), json, markdown (a PR comment), or the settings in the terms of
                       the tool that owns nova.conf: tripleo (heat parameters, EDPM variables), kolla
                       (per-host nova.conf overrides), osa (nova_nova_conf_overrides), juju (juju config)
  --json, --markdown   the same as --format json / --format markdown
  --diff <file>        also compare with another stack file or a --json plan document
  --diff-label <text>  how the compared plan is named in the output (default: its file name)
  -h, --help           this text

Examples:
  npm run plan                                         the dev stack's plan, as text
  npm run plan -- --stack prod --markdown              the PR comment of stack prod
  npm run plan -- --diff base.json --diff-label main   what changes against main's \`--json\` plan, and what
                                                       \`pulumi up\` would do: steps re-run, nova-compute
                                                       restarts, reboots, guests touched, servers replaced
  npm run plan -- --format kolla                       the nova.conf overrides for kolla-ansible

Options go after \`--\` (npm run plan -- --json): without it npm takes them for itself.
Exit status: 0 valid, 1 invalid (every problem listed), 2 bad usage.
`;

/** Options of this command that npm swallows when they come before \`--\` (it exports them as npm_config_<name>). */
const NPM_SWALLOWED = ["json", "markdown", "format", "stack", "config", "diff", "diff-label", "help"] as const;

/**
 * \`npm run plan --json\` (no \`--\`) gives this program no argument: npm keeps \`--json\` and exports
 * npm_config_json=true. The two boolean switches are honoured from there; an option with a value
 * cannot be (npm sets it to "true" and passes the value on as a stray argument), so it is a usage
 * error that names the fix.
 */
export function npmSwallowedOptions(
  env: NodeJS.ProcessEnv,
): { ok: true; json: boolean; markdown: boolean; help: boolean } | { ok: false; message: string } {
  const got = (name: string) => env[`npm_config_${name.replace(/-/g, "_")}`];
  if (env.npm_lifecycle_event !== "plan" && env.npm_lifecycle_event !== "verify")
    return { ok: true, json: false, markdown: false, help: false };
  const valued = NPM_SWALLOWED.filter((o) => !["json", "markdown", "help"].includes(o) && got(o) !== undefined);
  if (valued.length > 0)
    return {
      ok: false,
      message:
        `npm took ${valued.map((o) => `--${o}`).join(", ")} for itself (npm_config_${valued[0].replace(/-/g, "_")}=${got(valued[0])}), so the value never reached the plan; ` +
        `put \`--\` before the plan's options: npm run plan -- ${valued.map((o) => `--${o} <value>`).join(" ")}`,
    };
  return {
    ok: true,
    json: got("json") === "true",
    markdown: got("markdown") === "true",
    help: got("help") === "true",
  };
}

/** A valid stack's plan with what applying it does: its hosts' steps, its image, its rollout settings. */
interface PlannedFile {
  plan: StackPlan;
  side: ImpactSide;
  settings: RolloutSettings;
  /** The host check's latency stages, for the plan text. */
  hostLatency: LatencyStageSettings;
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** The desired state as far as a comparison of impact needs it; also what the `--json` document carries. */
export function impactSide(desired: DesiredState): ImpactSide {
  return {
    plan: desired.plan,
    steps: Object.fromEntries(
      desired.hosts.map((h) => [
        h.name,
        h.steps.map((s) => ({ id: s.id, args: s.args, triggers: s.triggers, script: sha256(bundleScript(s.script)) })),
      ]),
    ),
    // A URL may carry credentials: only its digest goes into the plan document.
    image: desired.image.kind === "file" ? `sha256:${desired.image.sha256}` : `url-sha256:${sha256(desired.image.url)}`,
  };
}

/**
 * The plan of a stack config file, or every problem with it: decided as the program decides it
 * (decideStack), image file included, which is read relative to the project directory, as
 * Pulumi runs the program there.
 */
function planFile(
  projectDir: string,
  file: string,
  stack: string,
): ({ planned: PlannedFile; problems: [] } | { planned: null; problems: Problem[] }) & StackWarnings {
  const raw = readStackConfig(projectDir, file);
  if (!raw.usable) return { planned: null, problems: raw.problems, warnings: [], notes: [] };
  const result = decideStack(raw.values, projectDir, stack);
  const { warnings, notes } = result;
  const problems = [...raw.problems, ...(result.ok ? [] : result.problems)];
  if (problems.length > 0 || !result.ok) return { planned: null, problems, warnings, notes };
  const { maintenance, guests } = result.config.deployment;
  return {
    planned: {
      plan: result.plan,
      side: impactSide(result.desired),
      settings: { maintenance, guests },
      hostLatency: result.config.latency.host,
    },
    problems: [],
    warnings,
    notes,
  };
}

/** The other side of `--diff`: a `--json` plan document (.json) or a stack config file. */
function otherPlan(
  projectDir: string,
  file: string,
): { side: ImpactSide; problems: [] } | { side: null; problems: Problem[] } {
  if (!file.endsWith(".json")) {
    const r = planFile(projectDir, file, stackOfFile(file));
    return r.planned === null ? { side: null, problems: r.problems } : { side: r.planned.side, problems: [] };
  }
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    return {
      side: null,
      problems: [{ path: file, message: `cannot read the plan document: ${(e as Error).message.split("\n")[0]}` }],
    };
  }
  const r = planFromDocument(doc, file);
  return r.ok ? { side: r.side, problems: [] } : { side: null, problems: r.problems };
}

export function main(argv: string[], env: NodeJS.ProcessEnv = process.env): number {
  const fromNpm = npmSwallowedOptions(env);
  if (!fromNpm.ok) {
    process.stderr.write(`${fromNpm.message}\n${USAGE}\n`);
    return 2;
  }
  let args;
  try {
    args = parseCommandLine(argv, {
      stack: { type: "string" },
      config: { type: "string" },
      json: { type: "boolean", default: false },
      markdown: { type: "boolean", default: false },
      format: { type: "string" },
      diff: { type: "string" },
      "diff-label": { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    }).values;
  } catch (e) {
    if (!(e instanceof CommandLineError)) throw e;
    // A stray argument under npm is an option's value whose option npm kept for itself.
    const npmHint =
      env.npm_lifecycle_event === "plan" && /Unexpected argument/.test(e.message)
        ? "; npm keeps the options that come before `--` for itself and passes their values on: put `--` first (npm run plan -- --format kolla)"
        : "";
    process.stderr.write(`${e.message}${npmHint}\n${USAGE}\n`);
    return 2;
  }
  if (args.help || fromNpm.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const projectDir = resolve(__dirname, "..");
  const stack = args.stack ?? (args.config ? stackOfFile(args.config) : "dev");
  if (args.format !== undefined && !(FORMATS as readonly string[]).includes(args.format)) {
    const meant = closestName(args.format, FORMATS);
    process.stderr.write(
      `--format ${JSON.stringify(terminalText(args.format))} is not one of ${FORMATS.join(", ")}${meant ? `; did you mean --format ${meant}?` : ""}\n${USAGE}\n`,
    );
    return 2;
  }
  const chosen = [
    args.format,
    args.json || fromNpm.json ? "json" : undefined,
    args.markdown || fromNpm.markdown ? "markdown" : undefined,
  ].filter((f): f is string => f !== undefined);
  if (new Set(chosen).size > 1) {
    process.stderr.write(`${chosen.map((f) => `--format ${f}`).join(" and ")} exclude each other\n${USAGE}\n`);
    return 2;
  }
  const format = (chosen[0] ?? "text") as Format;
  const json = format === "json";
  const markdown = format === "markdown";
  if (args["diff-label"] !== undefined && args.diff === undefined) {
    process.stderr.write(`--diff-label needs --diff\n${USAGE}\n`);
    return 2;
  }
  if (args.diff !== undefined && (TOOL_FORMATS as readonly string[]).includes(format)) {
    process.stderr.write(`--diff works with the text, json and markdown formats, not --format ${format}\n${USAGE}\n`);
    return 2;
  }
  let file;
  try {
    file = args.config ? resolve(args.config) : stackFile(projectDir, stack);
  } catch (e) {
    if (!(e instanceof CommandLineError)) throw e;
    process.stderr.write(`${e.message}\n`);
    return 2;
  }
  const { planned, problems, warnings, notes } = planFile(projectDir, file, stack);
  // Warnings go with every output: on stderr beside the text plan, in the JSON document and in the comment.
  if (!json && !markdown) process.stderr.write(formatWarnings(warnings, notes));
  if (planned === null) {
    if (json) process.stdout.write(`${JSON.stringify({ stack, valid: false, problems, warnings, notes }, null, 2)}\n`);
    else if (markdown) process.stdout.write(renderProblemsMarkdown(stack, problems, { warnings, notes }));
    else process.stderr.write(`${formatProblems(problems)}\n`);
    return 1;
  }
  const { plan } = planned;
  if ((TOOL_FORMATS as readonly string[]).includes(format)) {
    process.stdout.write(renderForTool(format as ToolFormat, stack, plan));
    return 0;
  }

  let diff;
  if (args.diff !== undefined) {
    const otherFile = resolve(args.diff);
    const other = otherPlan(projectDir, otherFile);
    if (other.side === null) {
      process.stderr.write(
        `the plan to compare with (--diff ${args.diff}) is not valid:\n${formatProblems(other.problems)}\n`,
      );
      return 1;
    }
    diff = {
      label: args["diff-label"] ?? basename(otherFile),
      before: other.side.plan,
      changes: diffPlans(other.side.plan, plan),
      impact: planImpact(other.side, planned.side, planned.settings),
    };
  }

  if (json) {
    const { steps: hostSteps, image } = planned.side;
    const compared = diff ? { changes: diff.changes, impact: diff.impact } : {};
    process.stdout.write(
      `${JSON.stringify({ stack, valid: true, ...plan, hostSteps, image, warnings, notes, ...compared }, null, 2)}\n`,
    );
  } else if (markdown) {
    process.stdout.write(renderPlanMarkdown(stack, plan, diff, { warnings, notes }));
  } else if (diff) {
    process.stdout.write(formatPlanDiff(diff.changes, diff.label) + formatImpact(diff.impact));
  } else {
    // Without a base, what a first `pulumi up` does; --diff tells what re-runs on a deployed stack.
    const first = planImpact(NOTHING_DEPLOYED, planned.side, planned.settings);
    process.stdout.write(
      renderPlan(stack, plan, planned.hostLatency) +
        formatImpact(first, "A first `pulumi up` (npm run plan -- --diff <deployed plan.json> tells what re-runs):"),
    );
  }
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
