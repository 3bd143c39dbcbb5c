/**
 * Loads the Pulumi program as `pulumi up` / `pulumi preview` would, under the SDK's mocks, in a
 * child `node` process (pulumi-program-child.mjs): @pulumi/pulumi's own runner registers its
 * vendored ts-node with the project's typescript and tsconfig.json, type-checks, and runs
 * index.ts inside the root stack. Returns every resource registration the mock monitor saw.
 *
 * A child process, because the runner takes over the process (ts-node's require hooks,
 * uncaught-error handlers, process.exit) and because tsx's loader in the test process would
 * compete with ts-node for .ts files.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stripVTControlCharacters } from "node:util";
import { parse } from "yaml";

export const PROJECT_DIR = join(__dirname, "..", "..");
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
  /** Extra environment, e.g. { TS_NODE_CACHE: "true" } or { PULUMI_NODEJS_TRANSPILE_ONLY: "true" }. */
  env?: Record<string, string>;
  /** Default 180 s: type-checking the program with ts-node takes seconds, not minutes. */
  timeoutMs?: number;
}

/** The environment for a child node: ours, without the test runner's and tsx's hooks. */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_TEST_CONTEXT; // would make a child node report to the parent's test runner
  if (env.NODE_OPTIONS?.includes("tsx")) delete env.NODE_OPTIONS;
  return { ...env, ...extra };
}

/** Pulumi.yaml's project name and `runtime.options` (e.g. typescript: true). */
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
    // TS_NODE_CACHE=false: ts-node 7 otherwise reuses a file's compiled output from $TMPDIR
    // without type-checking it again, so a type error an unchanged file gets from a changed
    // one would pass. Every load here type-checks what it loads, as on a fresh machine.
    const child = spawn(process.execPath, [CHILD, requestPath, resultPath], {
      cwd,
      env: childEnv({ TS_NODE_CACHE: "false", ...opts.env }),
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
