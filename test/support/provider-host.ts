/**
 * The engine's side of a dynamic provider: starts @pulumi/pulumi's own dynamic provider host
 * (cmd/dynamic-provider, the process `pulumi up` runs as the pulumi-nodejs resource plugin) and
 * calls it over gRPC as the engine does, with the serialized provider in each request's
 * `__provider` property. Values cross as google.protobuf.Struct, as on the wire; errors reject
 * with the gRPC status details, the text the engine prints for a failed step.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { CallOptions, ServiceError } from "@grpc/grpc-js";
import { Metadata, credentials } from "@grpc/grpc-js";
import { ResourceProviderClient } from "@pulumi/pulumi/proto/provider_grpc_pb";
import * as provproto from "@pulumi/pulumi/proto/provider_pb";
import type { JavaScriptValue } from "google-protobuf/google/protobuf/struct_pb";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { PROJECT_DIR } from "./dev-config";
import { childEnv, projectInfo } from "./pulumi-program";

export type Props = Record<string, unknown>;
export interface CheckFailure {
  property: string;
  reason: string;
}
export interface ProviderHost {
  configure(config: Record<string, string>): Promise<void>;
  check(urn: string, olds: Props, news: Props): Promise<{ inputs: Props; failures: CheckFailure[] }>;
  /**
   * The inputs the engine stores and hands to diff, create and update: what check returns for the
   * registered `news` (the program's plain inputs spread back, lib/providers/plain-inputs.ts).
   * Rejects with the failures when check has any.
   */
  checked(urn: string, news: Props): Promise<Props>;
  diff(
    id: string,
    urn: string,
    olds: Props,
    news: Props,
  ): Promise<{ changes: "none" | "some" | "unknown"; replaces: string[]; deleteBeforeReplace: boolean }>;
  create(urn: string, props: Props, timeoutSec?: number): Promise<{ id: string; properties: Props }>;
  read(
    id: string,
    urn: string,
    props: Props,
    inputs?: Props,
  ): Promise<{ id: string; properties: Props; inputs?: Props }>;
  update(id: string, urn: string, olds: Props, news: Props, timeoutSec?: number): Promise<{ properties: Props }>;
  delete(id: string, urn: string, props: Props, timeoutSec?: number): Promise<void>;
  /** What the host wrote to stderr so far (it logs the stack of failed check/diff/read/delete calls). */
  stderr(): string;
  stop(): Promise<void>;
}

/** Rejection of a host call: `message` is the status details the engine would show. */
export class ProviderCallError extends Error {
  constructor(
    readonly method: string,
    readonly code: number,
    details: string,
  ) {
    super(details);
    this.name = "ProviderCallError";
  }
}

const HOST_SCRIPT = join("node_modules", "@pulumi", "pulumi", "cmd", "dynamic-provider", "index.js");
/** check/diff/configure do no I/O in a sane provider; create/update/read/delete may wait for reboots. */
const SHORT_MS = 120_000;
const LONG_MS = 3_600_000;

/** Struct carries no `undefined`: a property set to undefined is absent, as the engine sends it. */
const struct = (v: Props): Struct =>
  Struct.fromJavaScript(JSON.parse(JSON.stringify(v)) as Record<string, JavaScriptValue>);
const plain = (s: Struct | undefined): Props => (s ? s.toJavaScript() : {});

export async function startProviderHost(
  opts: { env?: Record<string, string>; cwd?: string } = {},
): Promise<ProviderHost> {
  const cwd = opts.cwd ?? PROJECT_DIR;
  // The host wants the engine's address as its argument but never dials it; it serves on a
  // free port of 127.0.0.1 and prints that port on stdout, which is how the engine finds it.
  // The engine starts it in the program's directory (the serialized providers' require()s resolve
  // from there) with the project's name and Pulumi.yaml's runtime options in the environment.
  const { name, runtimeOptions } = projectInfo(cwd);
  const engineEnv = {
    PULUMI_NODEJS_PROJECT: name,
    PULUMI_PROJECT: name,
    ...Object.fromEntries(
      Object.entries(runtimeOptions).map(([k, v]) => [`PULUMI_RUNTIME_${k.toUpperCase()}`, String(v)]),
    ),
  };
  const child = spawn(process.execPath, [HOST_SCRIPT, "127.0.0.1:0"], {
    cwd,
    env: childEnv({ ...engineEnv, ...opts.env }),
    stdio: ["ignore", "pipe", "pipe"],
  });
  const killOnExit = () => child.kill("SIGKILL"); // a test process that dies must not leave its host behind
  process.once("exit", killOnExit);
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const exited = new Promise<void>((resolve) => child.once("exit", () => (process.off("exit", killOnExit), resolve())));

  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error("the dynamic provider host printed no port within 30 s")), 30_000);
    const fail = (e: Error) => {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new Error(`${e.message}\n${stderr}`));
    };
    createInterface({ input: child.stdout }).once("line", (line) => {
      clearTimeout(timer);
      const p = Number(line.trim());
      if (Number.isInteger(p) && p > 0) resolve(p);
      else fail(new Error(`the dynamic provider host printed ${JSON.stringify(line)} instead of a port`));
    });
    child.once("exit", (code, signal) =>
      fail(new Error(`the dynamic provider host exited (${code ?? signal}) before listening`)),
    );
  });

  const client = new ResourceProviderClient(`127.0.0.1:${port}`, credentials.createInsecure());

  /** One unary call with a deadline; a failure rejects with exactly the status details. */
  function call<R>(
    method: string,
    ms: number,
    invoke: (md: Metadata, o: Partial<CallOptions>, cb: (err: ServiceError | null, res: R) => void) => unknown,
  ): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      invoke(new Metadata(), { deadline: Date.now() + ms }, (err, res) =>
        err ? reject(new ProviderCallError(method, err.code, err.details)) : resolve(res),
      );
    });
  }
  const longMs = (timeoutSec?: number) => (timeoutSec ? timeoutSec * 1000 + 60_000 : LONG_MS);

  const host: ProviderHost = {
    async configure(config) {
      const req = new provproto.ConfigureRequest();
      for (const [k, v] of Object.entries(config)) req.getVariablesMap().set(k, v);
      req.setArgs(struct(config)); // the host reads args; variables is the older form of the same map
      req.setAcceptsecrets(true);
      req.setAcceptresources(true);
      await call("Configure", SHORT_MS, (md, o, cb) => client.configure(req, md, o, cb));
    },
    async check(urn, olds, news) {
      const req = new provproto.CheckRequest();
      req.setUrn(urn);
      req.setOlds(struct(olds));
      req.setNews(struct(news));
      const res = await call<provproto.CheckResponse>("Check", SHORT_MS, (md, o, cb) => client.check(req, md, o, cb));
      return {
        inputs: plain(res.getInputs()),
        failures: res.getFailuresList().map((f) => ({ property: f.getProperty(), reason: f.getReason() })),
      };
    },
    async checked(urn, news) {
      const { inputs, failures } = await host.check(urn, {}, news);
      if (failures.length > 0) throw new Error(`${urn}: check failed: ${JSON.stringify(failures)}`);
      return inputs;
    },
    async diff(id, urn, olds, news) {
      const req = new provproto.DiffRequest();
      req.setId(id);
      req.setUrn(urn);
      req.setOlds(struct(olds));
      req.setNews(struct(news));
      const res = await call<provproto.DiffResponse>("Diff", SHORT_MS, (md, o, cb) => client.diff(req, md, o, cb));
      const C = provproto.DiffResponse.DiffChanges;
      const changes = res.getChanges() === C.DIFF_SOME ? "some" : res.getChanges() === C.DIFF_NONE ? "none" : "unknown";
      return { changes, replaces: res.getReplacesList(), deleteBeforeReplace: res.getDeletebeforereplace() };
    },
    async create(urn, props, timeoutSec) {
      const req = new provproto.CreateRequest();
      req.setUrn(urn);
      req.setProperties(struct(props));
      if (timeoutSec) req.setTimeout(timeoutSec);
      const res = await call<provproto.CreateResponse>("Create", longMs(timeoutSec), (md, o, cb) =>
        client.create(req, md, o, cb),
      );
      return { id: res.getId(), properties: plain(res.getProperties()) };
    },
    async read(id, urn, props, inputs) {
      const req = new provproto.ReadRequest();
      req.setId(id);
      req.setUrn(urn);
      req.setProperties(struct(props));
      if (inputs) req.setInputs(struct(inputs));
      const res = await call<provproto.ReadResponse>("Read", LONG_MS, (md, o, cb) => client.read(req, md, o, cb));
      return {
        id: res.getId(),
        properties: plain(res.getProperties()),
        ...(res.hasInputs() ? { inputs: plain(res.getInputs()) } : {}),
      };
    },
    async update(id, urn, olds, news, timeoutSec) {
      const req = new provproto.UpdateRequest();
      req.setId(id);
      req.setUrn(urn);
      req.setOlds(struct(olds));
      req.setNews(struct(news));
      if (timeoutSec) req.setTimeout(timeoutSec);
      const res = await call<provproto.UpdateResponse>("Update", longMs(timeoutSec), (md, o, cb) =>
        client.update(req, md, o, cb),
      );
      return { properties: plain(res.getProperties()) };
    },
    async delete(id, urn, props, timeoutSec) {
      const req = new provproto.DeleteRequest();
      req.setId(id);
      req.setUrn(urn);
      req.setProperties(struct(props));
      if (timeoutSec) req.setTimeout(timeoutSec);
      await call("Delete", longMs(timeoutSec), (md, o, cb) => client.delete(req, md, o, cb));
    },
    stderr: () => stderr,
    async stop() {
      client.close();
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
  return host;
}
