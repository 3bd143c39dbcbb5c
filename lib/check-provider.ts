/**
 * The shared life cycle of the verification resources (dynamic providers): `check` and `diff`
 * do no I/O and re-run only when an input other than the key changes; `create`/`update` run the
 * checks and fail the deployment with the report; `read` re-runs them so `pulumi refresh` shows
 * drift. The SSH key arrives as a (secret) input and is read nowhere else.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { CheckResult } from "./checks/result";
import { formatReport, summarize } from "./checks/result";

export interface CheckOutputs {
  results: CheckResult[];
  passed: boolean;
}

/** Inputs whose change does not call for a re-run: a rotated key checks nothing new. */
const NOT_A_TRIGGER = new Set(["privateKey", "results", "passed", "__provider"]);

function triggers(props: Record<string, unknown>): string {
  return JSON.stringify(Object.keys(props).filter((k) => !NOT_A_TRIGGER.has(k)).sort().map((k) => [k, props[k]]));
}

export class CheckFailedError extends Error {
  constructor(what: string, results: readonly CheckResult[]) {
    super(`${what} failed:\n${formatReport(results)}`);
    this.name = "CheckFailedError";
  }
}

export function checkProvider<I extends object>(
  what: (inputs: I) => string,
  idOf: (inputs: I) => string,
  run: (inputs: I) => Promise<CheckResult[]>,
): pulumi.dynamic.ResourceProvider {
  const runAndJudge = async (inputs: I): Promise<I & CheckOutputs> => {
    const results = await run(inputs);
    if (!summarize(results).ok) throw new CheckFailedError(what(inputs), results);
    return { ...inputs, results, passed: true };
  };
  return {
    check: (_olds: I, news: I) => Promise.resolve({ inputs: news }),
    diff: (_id: string, olds: I & CheckOutputs, news: I) => {
      const changed = triggers(olds as Record<string, unknown>) !== triggers(news as Record<string, unknown>);
      return Promise.resolve({ changes: changed });
    },
    create: async (inputs: I) => ({ id: idOf(inputs), outs: await runAndJudge(inputs) }),
    update: async (_id: string, _olds: I, news: I) => ({ outs: await runAndJudge(news) }),
    read: async (id: string, props: I & CheckOutputs) => {
      const results = await run(props);
      return { id, props: { ...props, results, passed: summarize(results).ok } };
    },
  };
}

/** The properties a verification resource registers: its inputs, the script it sends, and its result slots. */
export function checkResourceProps(args: { verifyRevision?: pulumi.Input<string> }, script: string): pulumi.Inputs {
  return { ...args, script, verifyRevision: args.verifyRevision ?? "", results: undefined, passed: undefined };
}

/** Keeps the key a secret in state, where `read` needs it for `pulumi refresh`. */
export function checkResourceOptions(opts: pulumi.CustomResourceOptions | undefined): pulumi.CustomResourceOptions {
  return { ...opts, additionalSecretOutputs: ["privateKey"] };
}
