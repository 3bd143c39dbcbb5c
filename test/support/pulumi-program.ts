/**
 * Loads the Pulumi program as `pulumi up` / `pulumi preview` would, under the SDK's mocks, in a
 * child `node` process (pulumi-program-child.mjs) started as the nodejs language host starts
 * it: `node <runtime.options.nodeargs> <runner>` (pulumi/pulumi v3.248.0
 * sdk/nodejs/cmd/pulumi-language-nodejs/main.go), so Pulumi.yaml's `--require tsx/cjs` loads index.ts,
 * and @pulumi/pulumi's own runner runs it inside the root stack (with its ts-node instead, should
 * `typescript: true` come back). Returns every resource registration the mock monitor saw.
 *
 * A child process, because the runner takes over the process (require hooks, uncaught-error
 * handlers, process.exit).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stripVTControlCharacters } from "node:util";
import { parse } from "yaml";
import { PROJECT_DIR } from "./dev-config";

const CHILD = join(__dirname, "pulumi-program-child.mjs");

export interface RegisteredResource {
  type: string;
  name: string;
  urn: string;
  parent?: string;
  custom: boolean;
  /** As the mock monitor deserialized them: secrets unwrapped, unknowns as rpc.unknownValue. */
  inputs: Record<string, unknown>;
  /** Top-level input keys that were secret (a nested secret makes its whole top-level value secret). */
  secretInputs: string[];
  /** URNs of the resources this one depends on (dependsOn plus the resources its inputs came from). */
  dependsOn: string[];
}
export type LoadedProgram =
  | { ok: true; resources: RegisteredResource[]; outputs?: unknown; stdout: string; stderr: string; durationMs: number }
  | { ok: false; resources: RegisteredResource[]; error: string; stdout: string; stderr: string; durationMs: number };

export interface LoadProgramOptions {
  stack: string;
  /** Keys without a namespace get the project's; strings are passed as is, other values as JSON. */
  config: Record<string, unknown>;
  secretKeys?: string[];
  cwd?: string;
  preview?: boolean;
  /** Extra environment for the program's process. */
  env?: Record<string, string>;
  /** Default 180 s: loading the program takes seconds, not minutes. */
  timeoutMs?: number;
}

/** The environment for a child node: ours, without the test runner's and tsx's hooks. */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_TEST_CONTEXT; // would make a child node report to the parent's test runner
  if (env.NODE_OPTIONS?.includes("tsx")) delete env.NODE_OPTIONS;
  return { ...env, ...extra };
}

/**
 * `runtime.options.nodeargs` as words. The language host splits it with shlex; this project's
 * needs no quoting, so a quote is refused rather than split differently.
 */
export function nodeArgsOf(runtimeOptions: Record<string, unknown>): string[] {
  const text = runtimeOptions.nodeargs;
  if (text === undefined) return [];
  if (typeof text !== "string" || /["'\\]/.test(text)) throw new Error(`unsupported nodeargs ${JSON.stringify(text)}`);
  return text.split(/\s+/).filter(Boolean);
}

/** Pulumi.yaml's project name and `runtime.options` (typescript, nodeargs). */
export function projectInfo(dir: string): { name: string; runtimeOptions: Record<string, unknown> } {
  const y = parse(readFileSync(join(dir, "Pulumi.yaml"), "utf8")) as {
    name: string;
    runtime?: string | { options?: Record<string, unknown> };
  };
  return { name: y.name, runtimeOptions: (typeof y.runtime === "object" && y.runtime.options) || {} };
}

const children = new Set<ReturnType<typeof spawn>>();
process.on("exit", () => children.forEach((c) => c.kill("SIGKILL")));

export async function loadProgram(opts: LoadProgramOptions): Promise<LoadedProgram> {
  const cwd = opts.cwd ?? PROJECT_DIR;
  const { name: project, runtimeOptions } = projectInfo(cwd);
  const key = (k: string) => (k.includes(":") ? k : `${project}:${k}`);
  const config = Object.fromEntries(
    Object.entries(opts.config).map(([k, v]) => [key(k), typeof v === "string" ? v : JSON.stringify(v)]),
  );
  const dir = mkdtempSync(join(tmpdir(), "pulumi-program-"));
  const requestPath = join(dir, "request.json");
  const resultPath = join(dir, "result.json");
  writeFileSync(
    requestPath,
    JSON.stringify({
      project,
      stack: opts.stack,
      organization: "organization", // what the CLI passes for a stack in a self-managed backend
      typescript: runtimeOptions.typescript !== false, // the nodejs runtime's default is true
      config,
      secretKeys: (opts.secretKeys ?? []).map(key),
      preview: opts.preview ?? false,
    }),
  );
  const timeoutMs = opts.timeoutMs ?? 180_000;
  const started = Date.now();
  try {
    const child = spawn(process.execPath, [...nodeArgsOf(runtimeOptions), CHILD, requestPath, resultPath], {
      cwd,
      env: childEnv(opts.env),
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.add(child);
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    let timedOut = false;
    const timer = setTimeout(() => ((timedOut = true), child.kill("SIGKILL")), timeoutMs);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.once("close", (c, s) => resolve([c, s])),
    );
    clearTimeout(timer);
    children.delete(child);
    const durationMs = Date.now() - started;
    if (timedOut || !existsSync(resultPath)) {
      const why = timedOut
        ? `loading the program timed out after ${timeoutMs / 1000} s`
        : `the program's process exited (${code ?? signal}) without a result`;
      return {
        ok: false,
        resources: [],
        error: `${why}\n${stripVTControlCharacters(stderr).trim()}`,
        stdout,
        stderr,
        durationMs,
      };
    }
    const doc = JSON.parse(readFileSync(resultPath, "utf8")) as {
      ok: boolean;
      resources: RegisteredResource[];
      outputs?: unknown;
      error?: string;
    };
    // The runner colours stacks (util.inspect); the error text is what an operator would read.
    return doc.ok
      ? { ok: true, resources: doc.resources, outputs: doc.outputs, stdout, stderr, durationMs }
      : {
          ok: false,
          resources: doc.resources,
          error: stripVTControlCharacters(doc.error ?? ""),
          stdout,
          stderr,
          durationMs,
        };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Dynamic resources (pulumi.dynamic.Resource): their type is pulumi-nodejs:dynamic[/module]:Type. */
export const isDynamic = (r: RegisteredResource) => /^pulumi-nodejs:dynamic[:/]/.test(r.type);
