/**
 * Child process of test/support/pulumi-program.ts, started with Pulumi.yaml's nodeargs: runs the
 * Pulumi program the way the nodejs language host does (@pulumi/pulumi's own cmd/run/run.js,
 * index.ts inside runInPulumiStack), but against
 * the SDK's mock resource monitor, and writes one JSON document describing every resource
 * registration to the file named by argv[3].
 *
 * Usage: node pulumi-program-child.mjs <request.json> <result.json>, cwd = the project directory.
 * It is an .mjs file so that the repository's lint config (type-aware rules for .js/.ts files in
 * tsconfig) lints it untyped; it loads @pulumi/pulumi with require() from the project, exactly as
 * the program will, so both see the same runtime state.
 */
/* global process, setImmediate */
import { writeFileSync, readFileSync } from "node:fs";
import { Module, createRequire } from "node:module";
import { join } from "node:path";

const [requestPath, resultPath] = process.argv.slice(2);
/** @type {{project: string, stack: string, organization: string, typescript: boolean, config: Record<string, string>, secretKeys: string[], preview: boolean}} */
const request = JSON.parse(readFileSync(requestPath, "utf8"));

// What `pulumi up` puts in the environment of the program: Pulumi.yaml's
// `runtime.options.typescript: true` becomes PULUMI_NODEJS_TYPESCRIPT; the rest are the
// settings cmd/run/index.js mirrors into the environment for other copies of the SDK.
process.env.PULUMI_NODEJS_TYPESCRIPT = String(request.typescript);
process.env.PULUMI_NODEJS_ORGANIZATION = request.organization;
process.env.PULUMI_NODEJS_PROJECT = request.project;
process.env.PULUMI_NODEJS_STACK = request.stack;
process.env.PULUMI_NODEJS_ROOT_DIRECTORY = process.cwd();
if (request.preview) process.env.PULUMI_NODEJS_DRY_RUN = "true";

// Resolve the SDK from the project, as the program's own `import "@pulumi/pulumi"` does.
const projectRequire = createRequire(join(process.cwd(), "package.json"));
const sdk = (m) => projectRequire(`@pulumi/pulumi${m}`);
const pulumi = sdk("");
const rpc = sdk("/runtime/rpc");
const settings = sdk("/runtime/settings");
const log = sdk("/log");
const { Output, isUnknown } = sdk("/output");

// cmd/run/run.js does `require(".")` (cmd/run/index.js, the CLI entry point) for one constant,
// and loading index.js runs its main(): it would parse this process's argv and exit. The real
// entry point is already in the module cache when run.js loads; we put a stand-in there that
// carries the constant (run.js only reads nodeJSProcessExitedAfterLoggingUserActionableMessage).
const runIndex = projectRequire.resolve("@pulumi/pulumi/cmd/run/index.js");
const standIn = new Module(runIndex);
Object.assign(standIn, {
  filename: runIndex,
  loaded: true,
  exports: { nodeJSProcessExitedAfterLoggingUserActionableMessage: 32 },
});
projectRequire.cache[runIndex] = standIn;

// What the providers would report: test/support/mock-state.ts, the table the in-process tests
// use. It is TypeScript: required lazily, once the program's loader is in place.
const computedState = (type, name, n) => createRequire(import.meta.url)("./mock-state.ts").computedState(type, name, n);

/** Plain JSON for the report: unknowns become the engine's sentinel string, secrets their value. */
function plain(v) {
  if (isUnknown(v)) return rpc.unknownValue;
  if (rpc.isRpcSecret(v)) return plain(rpc.unwrapRpcSecret(v));
  if (Output.isInstance(v)) return "<Output>";
  if (pulumi.Resource.isInstance(v)) return "<Resource>"; // a resource reference, rebuilt as a live object
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

const resources = [];
let seq = 0;
void pulumi.runtime.setMocks(
  {
    // State = inputs + computed outputs: a real provider echoes its inputs in its outputs (the
    // dynamic providers here return them from create), and outputs the program reads
    // (a check's `passed`, a waiter's `bootId`) must resolve for the program to finish.
    newResource: (args) => ({
      id: args.custom ? `${args.name}-id` : undefined,
      state: { ...args.inputs, ...computedState(args.type, args.name, seq++) },
    }),
    call: (args) =>
      args.token === "openstack:identity/getAuthScope:getAuthScope" ? { projectId: "project-id" } : args.inputs,
  },
  request.project,
  request.stack,
  request.preview,
  request.organization,
);
pulumi.runtime.setAllConfig(request.config, request.secretKeys);

// Record each RegisterResourceRequest as the mock monitor receives it.
const monitor = settings.getMonitor();
const registerResource = monitor.registerResource.bind(monitor);
monitor.registerResource = (req, callback) => {
  const raw = rpc.deserializeProperties(req.getObject(), true);
  const entry = {
    type: req.getType(),
    name: req.getName(),
    urn: "",
    ...(req.getParent() ? { parent: req.getParent() } : {}),
    custom: req.getCustom(),
    inputs: plain(raw),
    secretInputs: Object.keys(raw).filter((k) => rpc.isRpcSecret(raw[k])),
    dependsOn: req.getDependenciesList(),
  };
  resources.push(entry);
  registerResource(req, (err, resp) => {
    if (resp) entry.urn = resp.getUrn();
    callback(err, resp);
  });
};

// The stack's outputs as the engine receives them (in a preview, unknowns stay in as the sentinel;
// run()'s own result is undefined as soon as one output is unknown).
let stackOutputs;
const registerResourceOutputs = monitor.registerResourceOutputs.bind(monitor);
monitor.registerResourceOutputs = (req, callback) => {
  if (req.getUrn().split("::")[2] === "pulumi:pulumi:Stack")
    stackOutputs = plain(rpc.deserializeProperties(req.getOutputs(), true));
  registerResourceOutputs(req, callback);
};

// What the runner logs as errors is what `pulumi up` would show the operator.
const logged = [];
const logError = log.error;
log.error = (msg, ...rest) => {
  logged.push(String(msg));
  return logError.call(log, msg, ...rest);
};
const uncaught = [];
const reported = new Set();

let done = false;
function finish(settled) {
  if (done) return;
  done = true;
  const errors =
    logged.length > 0 ? logged : uncaught.map((e) => (e instanceof Error ? (e.stack ?? e.message) : String(e)));
  if (errors.length === 0 && !settled)
    errors.push(
      `the program never settled: the event loop emptied with ${resources.filter((r) => r.urn === "").length} registrations unanswered`,
    );
  const doc = {
    ok: errors.length === 0,
    resources,
    ...(errors.length ? { error: errors.join("\n") } : { outputs: stackOutputs }),
  };
  writeFileSync(resultPath, JSON.stringify(doc));
  process.exit(0);
}

// Registered before run.js adds its own handlers, which log the error (Pulumi's message) and
// call reportLoggedError; we finish on the next turn, when both have run.
process.on("uncaughtException", (e) => (uncaught.push(e), setImmediate(() => finish(true))));
process.on("unhandledRejection", (e) => (uncaught.push(e), setImmediate(() => finish(true))));
process.on("beforeExit", () => finish(false));

// As cmd/run/index.js: the v8 hooks first (closure serialization of the dynamic providers needs
// them), then run(); the result promise is deliberately left without a catch so a failure goes
// through run.js's unhandledRejection handler, which logs it the way the CLI shows it.
await sdk("/runtime/closure/v8Hooks").isInitializedAsync();
const { run } = sdk("/cmd/run/run");
run(
  { _: ["."] },
  () => undefined,
  (err) => reported.add(err),
  (err) => reported.has(err),
).then(async () => {
  // Every registration and output resolution is an RPC the runtime keeps alive until answered.
  await settings.waitForRPCs();
  setImmediate(() => finish(true));
});
