/**
 * Runs the program (index.ts) under the SDK's mocks in this process, with the stand-in provider
 * (provider-standin.ts) behind the `openstack:*` resources, so the cloud objects are applied to
 * the real test cloud in the order the program's dependencies give, and the two host steps this
 * machine can take for real run over SSH exactly as the program built them: each host's copy of
 * hostprep/ (`<host>-hostprep`, emulated by test/support/ship-hostprep.ts, as the copy changes
 * nothing the host runs), then the `remote.Command`'s `create` text (what @pulumi/command does). The other host
 * steps (facts, packages, TuneD, kernel arguments, reboot) and the dynamic resources get the
 * mocked outputs the other program tests use (test/support/mock-state.ts): a kernel, TuneD or
 * reboot step must not run on the machine running the tests. The dynamic resources' registered
 * inputs (with their serialized `__provider`) are returned, to be run through Pulumi's
 * dynamic-provider host.
 */
import * as pulumi from "@pulumi/pulumi";
import { specialSecretSig, specialSigKey } from "@pulumi/pulumi/runtime/rpc";
import { runSsh } from "../../lib/transport/ssh";
import { CONFIG_NAMESPACE } from "../../lib/config/schema";
import { unfoldPlainInputs } from "../../lib/providers/plain-inputs";
import { computedState } from "../support/mock-state";
import { shipHostprep } from "../support/ship-hostprep";
import type { ProviderStandIn } from "./provider-standin";

const say = (line: string) => process.stdout.write(`# [program] ${line}\n`);

/** The host steps run for real here: nova.conf of the compute and of the scheduler. */
const REAL_STEPS = /-(nova-compute|scheduler)$/;

export interface StepRun {
  name: string;
  command: string;
  code: number | null;
  stdout: string;
  stderr: string;
}
export interface ProgramRun {
  /** Every registration, as `type name` -> inputs. */
  inputs: Map<string, Record<string, unknown>>;
  /** The registered inputs of each dynamic resource, by name. */
  dynamic: Map<string, { type: string; inputs: Record<string, unknown> }>;
  steps: StepRun[];
  outputs?: Record<string, unknown>;
  error?: unknown;
}

interface Connection {
  host: string;
  port: number;
  user: string;
  hostKey?: string;
  privateKey?: string;
}

/**
 * `beforeHostCheck` runs where the host's check would (it is mocked here, and the servers wait
 * for it): the test waits there until the restarted nova-compute has reported to Placement.
 */
/** Inputs as the provider gets them: the mocks pass a secret as {<sig>: <secret sig>, value}. */
function unwrapSecrets(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(unwrapSecrets);
  if (v === null || typeof v !== "object") return v;
  const o = v as Record<string, unknown>;
  if (o[specialSigKey] === specialSecretSig) return unwrapSecrets(o.value);
  return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, unwrapSecrets(x)]));
}

export async function runProgram(
  raw: Record<string, unknown>,
  secrets: Record<string, string>,
  standIn: ProviderStandIn,
  beforeHostCheck: (name: string) => Promise<void>,
): Promise<ProgramRun> {
  const result: ProgramRun = { inputs: new Map(), dynamic: new Map(), steps: [] };
  let n = 0;
  await pulumi.runtime.setMocks(
    {
      newResource: async (a) => {
        const inputs = unwrapSecrets(a.inputs) as Record<string, unknown>;
        result.inputs.set(`${a.type} ${a.name}`, inputs);
        if (a.type.startsWith("openstack:")) {
          const made = await standIn.create(a.type, inputs);
          say(`created ${a.type} ${a.name}: ${made.id}`);
          return made;
        }
        if (a.type.startsWith("pulumi-nodejs:dynamic")) result.dynamic.set(a.name, { type: a.type, inputs });
        if (/:HostVerification$/.test(a.type)) await beforeHostCheck(a.name);
        if (a.type === "command:remote:CopyToRemote") {
          const c = inputs.connection as Connection;
          await shipHostprep(
            { host: c.host, port: c.port, user: c.user, ...(c.hostKey ? { hostKey: c.hostKey } : {}) },
            { privateKey: c.privateKey },
          );
          say(`copied hostprep/ for ${a.name} over SSH`);
          return { id: `${a.name}-id`, state: inputs };
        }
        if (a.type === "command:remote:Command" && REAL_STEPS.test(a.name)) {
          const c = inputs.connection as Connection;
          const command = String(inputs.create);
          const r = await runSsh(
            { host: c.host, port: c.port, user: c.user, ...(c.hostKey ? { hostKey: c.hostKey } : {}) },
            { privateKey: c.privateKey },
            command,
            { commandTimeoutMs: 300_000 },
          );
          result.steps.push({ name: a.name, command, ...r });
          say(`ran ${a.name} over SSH: exit ${r.code}`);
          // @pulumi/command's error for a failed command: the exit status, then its output.
          if (r.code !== 0)
            throw new Error(
              `${a.name}: Process exited with status ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`,
            );
          return { id: `${a.name}-id`, state: { ...inputs, stdout: r.stdout, stderr: r.stderr } };
        }
        return {
          id: a.custom ? `${a.name}-id` : "",
          state: { ...unfoldPlainInputs(inputs), ...computedState(a.type, a.name, n++) },
        };
      },
      call: async (a) =>
        a.token === "openstack:identity/getAuthScope:getAuthScope"
          ? { projectId: await standIn.projectId() }
          : (a.inputs as Record<string, unknown>),
    },
    "openstack-rt",
    "openstack",
    false,
  );
  pulumi.runtime.setAllConfig(
    {
      ...Object.fromEntries(Object.entries(raw).map(([k, v]) => [`${CONFIG_NAMESPACE}:${k}`, JSON.stringify(v)])),
      ...Object.fromEntries(Object.entries(secrets).map(([k, v]) => [`${CONFIG_NAMESPACE}:${k}`, v])),
    },
    Object.keys(secrets).map((k) => `${CONFIG_NAMESPACE}:${k}`),
  );
  // A failed registration can surface as a rejection nothing awaits (the SDK's own promises):
  // it ends the run with that error instead of leaving the outputs unresolved forever.
  let fail: (e: unknown) => void = () => undefined;
  const failed = new Promise<never>((_, reject) => (fail = reject));
  const onError = (e: unknown) => fail(e);
  process.on("unhandledRejection", onError);
  process.on("uncaughtException", onError);
  try {
    // As @pulumi/pulumi's runner does before a program: the dynamic providers' closures are
    // serialized through V8's inspector, which must be up first.
    const v8Hooks = (await import("@pulumi/pulumi/runtime/closure/v8Hooks")) as unknown as {
      isInitializedAsync(): Promise<void>;
    };
    await v8Hooks.isInitializedAsync();
    // The program's module runs once per process: this test applies one stack.
    const program = (await import("../../index")) as Record<string, unknown>;
    const names = ["hostPlans", "aggregate", "flavors", "image", "keypair", "securityGroup", "servers", "verification"];
    // Output.promise() rejects when a resource behind the output failed; apply() would never run.
    const values = await Promise.race([
      Promise.all(
        names.map((k) => (pulumi.output(program[k]) as unknown as { promise(): Promise<unknown> }).promise()),
      ),
      failed,
    ]);
    result.outputs = Object.fromEntries(names.map((k, i) => [k, values[i]]));
  } catch (e) {
    result.error = e;
  } finally {
    process.off("unhandledRejection", onError);
    process.off("uncaughtException", onError);
  }
  return result;
}
