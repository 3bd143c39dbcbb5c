/**
 * What the CLIs (plan, verify, discover) share about their command line: parsing with a "did
 * you mean" for a mistyped option, and the stack file `--stack` names, with the stacks there are
 * and how to make one when it does not exist.
 */
import { existsSync, readdirSync } from "node:fs";
import { basename, join } from "node:path";
import type { ParseArgsConfig } from "node:util";
import { parseArgs } from "node:util";
import { closestName } from "../lib/config/problems";
import { terminalText } from "../lib/terminal-text";

/** A command line the CLI cannot take: its message says what and how to fix it; exit 2. */
export class CommandLineError extends Error {}

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * parseArgs, strict, with an unknown option answered by the closest known one
 * ("unknown option --jsn; did you mean --json?").
 */
export function parseCommandLine<O extends Options>(argv: string[], options: O, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
      const given = /Unknown option '([^']*)'/.exec((e as Error).message)?.[1] ?? "";
      const name = given.replace(/^-+/, "").split("=")[0];
      const meant = closestName(name, Object.keys(options));
      throw new CommandLineError(
        `unknown option ${terminalText(given)}${meant === undefined ? "" : `; did you mean --${meant}?`}`,
      );
    }
    if (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS_"))
      throw new CommandLineError(terminalText((e as Error).message));
    throw e;
  }
}

const STACK_NAME = /^[A-Za-z0-9._-]+$/;
const STACK_FILE = /^Pulumi\.([A-Za-z0-9._-]+)\.ya?ml$/;

/** The stacks that have a stack file in the project directory (Pulumi.<stack>.yaml), sorted. */
export function stacksIn(projectDir: string): string[] {
  return readdirSync(projectDir)
    .map((f) => STACK_FILE.exec(f)?.[1])
    .filter((s): s is string => s !== undefined)
    .sort();
}

/**
 * The stack file of `--stack <name>` in the project directory. A name that is no stack name, or
 * a stack without a file, is an error that lists the stacks there are and how to make this one.
 */
export function stackFile(projectDir: string, stack: string): string {
  if (!STACK_NAME.test(stack))
    throw new CommandLineError(
      `--stack ${JSON.stringify(terminalText(stack))} is not a stack name (letters, digits, '.', '_', '-')`,
    );
  const file = join(projectDir, `Pulumi.${stack}.yaml`);
  if (existsSync(file)) return file;
  const stacks = stacksIn(projectDir);
  const meant = closestName(stack, stacks);
  const template = stacks.includes("dev") ? "dev" : stacks[0];
  throw new CommandLineError(
    [
      `--stack ${stack}: there is no Pulumi.${stack}.yaml in ${projectDir}` +
        (meant === undefined ? "" : `; did you mean --stack ${meant}?`),
      `  stacks there: ${stacks.length > 0 ? stacks.join(", ") : "none"}`,
      template === undefined
        ? `  to make it: pulumi stack init ${stack}, then set its config (see Pulumi.yaml)`
        : `  to make it from the ${template} stack: cp Pulumi.${template}.yaml Pulumi.${stack}.yaml, set its hosts, image, network and keypair ` +
          `(npm run discover -- --stack ${stack} --host <name> reads a host's topology and key), then pulumi stack init ${stack}`,
      "  or name a stack file anywhere with --config <file>",
    ].join("\n"),
  );
}

/** The stack a config file belongs to, from its name (Pulumi.<stack>.yaml), for labelling the plan. */
export function stackOfFile(file: string): string {
  const m = STACK_FILE.exec(basename(file));
  return m ? m[1] : basename(file);
}
