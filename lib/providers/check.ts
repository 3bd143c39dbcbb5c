/**
 * The life cycle the verification providers share.
 * - `check` validates the inputs it knows and does no I/O; `diff` re-runs the checks when an
 *   input changed (plan, target, boot id, verifyRevision, ...) or the last refresh failed them.
 * - `create`/`update` run every check, the latency tools included, and fail the deployment with
 *   the report as the error's message: the text the engine shows.
 * - `read` (`pulumi refresh`) re-reads only the observed facts and keeps what was measured, so
 *   an unchanged machine gives identical state, and no latency tool runs on a production host.
 * The outputs are the inputs plus `observed`, `measured` and `passed`: never a key.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { CheckResult } from "../checks/result";
import { formatReport, summarize } from "../checks/result";
import type { SshAuth } from "../transport/ssh";
import type { Verification } from "../checks/verification";
import type { Failure } from "./inputs";
import { sshCredentials } from "./ssh-credentials";

export interface CheckOutputs {
  observed: CheckResult[];
  measured: CheckResult[];
  passed: boolean;
}

export interface CheckSpec<I extends object> {
  /** The inputs, by name: what `diff` compares and what the outputs carry. */
  inputs: readonly (keyof I & string)[];
  /** "host verification of compute-rt-01": heads the report. */
  what: (i: I) => string;
  id: (i: I) => string;
  problems: (i: I) => Failure[];
  /** "deploy" runs everything; "refresh" only re-reads what does not change from run to run. */
  run: (i: I, auth: SshAuth, mode: "deploy" | "refresh") => Promise<Verification>;
}

export function checkProvider<I extends object>(spec: CheckSpec<I>): pulumi.dynamic.ResourceProvider {
  const credentials = sshCredentials();
  const inputsOf = (props: I): I =>
    Object.fromEntries(spec.inputs.filter((k) => k in props).map((k) => [k, props[k]])) as I;
  const same = (olds: I, news: I) => spec.inputs.every((k) => JSON.stringify(olds[k]) === JSON.stringify(news[k]));
  const deploy = async (inputs: I): Promise<I & CheckOutputs> => {
    const v = await spec.run(inputs, credentials.auth(), "deploy");
    const all = [...v.observed, ...v.measured];
    if (!summarize(all).ok) throw new Error(`${spec.what(inputs)} failed:\n${formatReport(all)}`);
    return { ...inputsOf(inputs), observed: v.observed, measured: v.measured, passed: true };
  };
  return {
    configure: credentials.configure,
    check: (_olds: I, news: I) => {
      const failures = spec.problems(news);
      return Promise.resolve(failures.length > 0 ? { inputs: news, failures } : { inputs: news });
    },
    diff: (_id: string, olds: I & Partial<CheckOutputs>, news: I) =>
      Promise.resolve({ changes: !same(olds, news) || olds.passed === false }),
    create: async (inputs: I) => ({ id: spec.id(inputs), outs: await deploy(inputs) }),
    update: async (_id: string, _olds: I, news: I) => ({ outs: await deploy(news) }),
    read: async (id: string, props: I & Partial<CheckOutputs>) => {
      const inputs = inputsOf(props);
      const v = await spec.run(inputs, credentials.auth(), "refresh");
      const measured = props.measured ?? [];
      return {
        id,
        props: { ...inputs, observed: v.observed, measured, passed: summarize([...v.observed, ...measured]).ok },
      };
    },
  };
}
