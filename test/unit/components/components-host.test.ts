/**
 * ComputeHost and Controller under the SDK's mocks. Every registration is recorded as the
 * engine would receive it (the monitor's RegisterResourceRequest: parent, dependencies and the
 * serialized inputs, secrets still marked), so the tests read the real resource graph: step
 * order, parallel hosts, rolling reboots, what a plan change touches, and where secrets go.
 */
import assert from "node:assert/strict";
import { statSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import type { ComputeHost } from "../../../components/host/compute-host";
import { decideStack } from "../../../lib/desired/decide";
import type { DesiredHost } from "../../../lib/desired/state";
import { unfoldPlainInputs } from "../../../lib/providers/plain-inputs";
import { PROJECT_DIR, devRaw } from "../../support/dev-config";
import { onRegister } from "../../support/mock-monitor";
import { setProgramMocks } from "../../support/mocks";

const BOOT_BEFORE = "5b0d3f0e-3c55-4a4c-8f47-3d1d0f9b2a61";
const BOOT_AFTER = "0c9e4a52-1b7e-4f0d-a1a3-7e0c1f1b9d27";
const KEY =
  "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----\n";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const SIG_KEY = "4dabf18193072939515e22adb298388d";
const ARCHIVE_SIG = "0def7320c3a5731c473e5ecbe6d01bc7";

interface Registration {
  type: string;
  name: string;
  parent: string;
  dependsOn: string[];
  /**
   * The inputs as serialized for the engine, secrets as `{[SIG_KEY]: SECRET_SIG, value}`; a dynamic
   * resource's plain inputs spread back, as its provider's check does.
   */
  inputs: Record<string, unknown>;
}
const registrations: Registration[] = [];

void setProgramMocks({
  // What the steps print on a host that needed everything: reboot.sh schedules a reboot.
  state: (a) =>
    a.type === "command:remote:Command"
      ? {
          stdout: a.name.endsWith("-reboot")
            ? `reboot_reason=/proc/cmdline lacks hugepagesz=1G\nboot_id=${BOOT_BEFORE}\nchanged\n`
            : "changed\n",
        }
      : a.type === "pulumi-nodejs:dynamic:RebootWaiter"
        ? { bootId: BOOT_AFTER }
        : {},
});

onRegister((req) => {
  registrations.push({
    type: req.getType(),
    name: req.getName(),
    parent: req.getParent().split("::").at(-1) ?? "",
    dependsOn: req.getDependenciesList().map((urn) => urn.split("::").at(-1)!),
    inputs: unfoldPlainInputs(req.getObject()?.toJavaScript() ?? {}),
  });
});

type Raw = ReturnType<typeof devRaw>;
/** The dev stack's hosts as the desired state has them (lib/desired/state.ts). */
function planned(change: (raw: Raw) => void = () => {}): DesiredHost[] {
  const raw = devRaw();
  change(raw);
  const r = decideStack(raw, PROJECT_DIR);
  if (!r.ok) throw new Error(r.problems.map((p) => `${p.path}: ${p.message}`).join("\n"));
  return r.desired.hosts;
}

const settled = <T>(o: pulumi.Output<T>) => new Promise<T>((resolve) => o.apply(resolve));

/**
 * Builds ComputeHosts named `<prefix><host>`, waits until all of them are registered and returns
 * their registrations, keyed by name without the prefix.
 */
async function build(
  prefix: string,
  hosts: DesiredHost[],
  options: { rollingReboots?: boolean; privateKey?: pulumi.Output<string> } = {},
): Promise<{ made: ComputeHost[]; regs: Map<string, Registration> }> {
  const { ComputeHost } = await import("../../../components/host/compute-host");
  const made: ComputeHost[] = [];
  for (const desired of hosts) {
    const rebootAfter = options.rollingReboots ? made.at(-1)?.rebootWaiter : undefined;
    made.push(
      new ComputeHost(`${prefix}${desired.name}`, {
        desired,
        privateKey: options.privateKey,
        rebootTimeoutSeconds: 900,
        rebootAfter,
      }),
    );
  }
  await settled(
    pulumi.all(made.flatMap((h) => [h.aggregateHost, h.facts, ...Object.values(h.steps).map((c) => c.urn), h.urn])),
  );
  const regs = new Map<string, Registration>();
  // The steps' commands name the host's copy, so the prefix is taken out of the inputs as well.
  const unprefixed = (inputs: Registration["inputs"]): Registration["inputs"] =>
    JSON.parse(
      hosts.reduce(
        (text, h) => text.replaceAll(`${prefix}${h.name}-hostprep`, `${h.name}-hostprep`),
        JSON.stringify(inputs),
      ),
    ) as Registration["inputs"];
  for (const r of registrations)
    if (r.name.startsWith(prefix)) regs.set(r.name.slice(prefix.length), { ...r, inputs: unprefixed(r.inputs) });
  return { made, regs };
}

const STEPS = ["facts", "packages", "tuned", "kernel-args", "nova-compute", "reboot"];
/** The registrations parented to a host's component, keyed by unprefixed name. */
const children = (regs: Map<string, Registration>, host: string) =>
  [...regs].filter(([, r]) => r.parent.endsWith(host));
const withSsh = (h: Raw["hosts"][number], ssh: Record<string, unknown>) =>
  (h.ssh = { ...(h.ssh as Record<string, unknown>), ...ssh });
const pick = (o: Record<string, unknown>, keys: string[]) =>
  Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]]));
const TARGET = ["host", "port", "user", "hostKey"];
const unprefixed = (names: string[], prefix: string) =>
  names.map((n) => (n.startsWith(prefix) ? n.slice(prefix.length) : n));

/** Every string in `value` outside a secret, and every string inside one. */
function strings(
  value: unknown,
  inSecret = false,
  out: { plain: string[]; secret: string[] } = { plain: [], secret: [] },
) {
  if (typeof value === "string") (inSecret ? out.secret : out.plain).push(value);
  else if (Array.isArray(value)) value.forEach((v) => strings(v, inSecret, out));
  else if (value && typeof value === "object") {
    const o = value as Record<string, unknown>;
    if (o[SIG_KEY] === SECRET_SIG) strings(o.value, true, out);
    else Object.values(o).forEach((v) => strings(v, inSecret, out));
  }
  return out;
}
const connectionOf = (r: Registration) => (r.inputs.connection as { value: Record<string, unknown> }).value;

describe("ComputeHost", () => {
  it("chains a host's steps in plan order, then the reboot waiter, all children of the component", async () => {
    const { regs, made } = await build("order-", planned());
    for (const host of ["compute-rt-01", "compute-rt-02"]) {
      assert.deepEqual(regs.get(host)?.type, "openstack-rt:host:ComputeHost");
      const kids = children(regs, host);
      assert.deepEqual(
        kids.map(([name]) => name.slice(host.length + 1)).sort(),
        ["hostprep", ...STEPS, "reboot-wait"].sort(),
      );
      // hostprep/ is copied first, waiting for nothing; every step waits for the copy.
      const copy = regs.get(`${host}-hostprep`)!;
      assert.equal(copy.type, "command:remote:CopyToRemote");
      assert.deepEqual(copy.dependsOn, []);
      STEPS.forEach((step, i) => {
        const r = regs.get(`${host}-${step}`)!;
        assert.equal(r.type, "command:remote:Command");
        assert.deepEqual(
          unprefixed(r.dependsOn, "order-").sort(),
          [`${host}-hostprep`, ...(i === 0 ? [] : [`${host}-${STEPS[i - 1]}`])].sort(),
          `${host} ${step}`,
        );
      });
      const waiter = regs.get(`${host}-reboot-wait`)!;
      assert.equal(waiter.type, "pulumi-nodejs:dynamic:RebootWaiter");
      assert.deepEqual(unprefixed(waiter.dependsOn, "order-"), [`${host}-reboot`]);
      assert.deepEqual(
        {
          previousBootId: waiter.inputs.previousBootId,
          rebootScheduled: waiter.inputs.rebootScheduled,
          timeoutSeconds: waiter.inputs.timeoutSeconds,
        },
        { previousBootId: BOOT_BEFORE, rebootScheduled: true, timeoutSeconds: 900 },
      );
    }
    // The aggregate gets the service host name only from the waiter, once the host is back.
    assert.deepEqual(await Promise.all(made.map((h) => settled(h.aggregateHost))), ["compute-rt-01", "compute-rt-02"]);
    assert.deepEqual(await settled(made[0].bootId), BOOT_AFTER);
  });

  it("copies hostprep/ once per host by its relative path; each step names its files' digests and its arguments", async () => {
    const { remoteCommand } = await import("../../../lib/desired/step-connection");
    const hosts = planned();
    const { regs } = await build("cmd-", hosts);
    for (const { plan, steps, config } of hosts) {
      const copy = regs.get(`${plan.name}-hostprep`)!;
      // The engine gets the archive's path, never its files (it stores their hash); no machine path.
      assert.deepEqual(copy.inputs.source, { [SIG_KEY]: ARCHIVE_SIG, __pulumiArchive: true, path: "hostprep" });
      assert.equal(copy.inputs.remotePath, ".openstack-rt");
      assert.deepEqual(copy.inputs.triggers, [config.ssh.host, config.ssh.port, config.ssh.user]);
      assert.deepEqual(connectionOf(copy), connectionOf(regs.get(`${plan.name}-facts`)!));
      for (const step of steps) {
        const r = regs.get(`${plan.name}-${step.id}`)!;
        assert.equal(r.inputs.create, remoteCommand(step, `${plan.name}-hostprep`));
        assert.equal(r.inputs.stdin, undefined, "no script text in the inputs");
        assert.deepEqual(r.inputs.triggers, [step.triggers]);
        assert.equal(r.inputs.logging, "stdoutAndStderr");
        assert.equal(r.inputs.delete, undefined, "a deleted host keeps its settings: no delete command");
      }
    }
  });

  it("prepares hosts in parallel: no resource of one host waits for the other's", async () => {
    const { regs } = await build("par-", planned());
    for (const [host, other] of [
      ["compute-rt-01", "compute-rt-02"],
      ["compute-rt-02", "compute-rt-01"],
    ]) {
      for (const [name, r] of children(regs, host))
        assert.ok(!r.dependsOn.some((d) => d.includes(other)), `${name} waits for ${other}`);
    }
  });

  it("rebootAfter: a host's reboot waits for the given resource, nothing else does", async () => {
    const { regs } = await build("roll-", planned(), { rollingReboots: true });
    assert.deepEqual(unprefixed(regs.get("compute-rt-02-reboot")!.dependsOn, "roll-").sort(), [
      "compute-rt-01-reboot-wait",
      "compute-rt-02-hostprep",
      "compute-rt-02-nova-compute",
    ]);
    for (const [name, r] of children(regs, "compute-rt-02").filter(([name]) => !name.endsWith("-reboot"))) {
      assert.ok(!r.dependsOn.some((d) => d.includes("compute-rt-01")), name);
    }
    assert.ok(!children(regs, "compute-rt-01").some(([, r]) => r.dependsOn.some((d) => d.includes("compute-rt-02"))));
  });

  it("an unchanged config registers the same inputs again, so a preview shows no diff", async () => {
    const a = await build("run1-", planned(), { privateKey: pulumi.secret(KEY) });
    const b = await build("run2-", planned(), { privateKey: pulumi.secret(KEY) });
    assert.deepEqual([...b.regs.keys()], [...a.regs.keys()]);
    for (const [name, r] of a.regs) assert.deepEqual(b.regs.get(name)!.inputs, r.inputs, name);
  });

  it("a flavor-only change touches none of the host resources; other isolated cores touch TuneD, nova-compute and the reboot", async () => {
    const base = await build("base-", planned());
    const flavor = await build(
      "flavor-",
      planned((raw) => (raw.flavors[0].ramMb = 2048)),
    );
    const cores = await build(
      "cores-",
      planned((raw) => raw.hosts.forEach((h) => (h.housekeepingCpusPerNode = 1))),
    );
    const changed = (other: Map<string, Registration>) =>
      [...base.regs]
        .filter(([name, r]) => JSON.stringify(other.get(name)!.inputs) !== JSON.stringify(r.inputs))
        .map(([name]) => name);
    assert.deepEqual(changed(flavor.regs), []);
    assert.deepEqual(changed(cores.regs).sort(), [
      "compute-rt-01-nova-compute",
      "compute-rt-01-reboot",
      "compute-rt-01-tuned",
      "compute-rt-02-nova-compute",
      "compute-rt-02-reboot",
      "compute-rt-02-tuned",
    ]);
  });

  it("keeps the private key secret: in every input that carries it, and nowhere in plain text", async () => {
    const { regs } = await build(
      "key-",
      planned((raw) => withSsh(raw.hosts[0], { proxy: { host: "bastion.example.org", user: "jump", port: 2222 } })),
      {
        privateKey: pulumi.output(KEY), // not marked secret by the caller: the component makes it one
      },
    );
    for (const [name, r] of regs) {
      const { plain, secret } = strings(r.inputs);
      assert.ok(!plain.some((s) => s.includes("PRIVATE KEY")), `${name}: the key in plain inputs`);
      if (r.type.startsWith("command:remote:")) {
        assert.equal(connectionOf(r).privateKey, KEY, `${name}: the connection carries the key`);
        assert.ok(secret.includes(KEY), `${name}: inside a secret`);
      }
      if (r.type === "pulumi-nodejs:dynamic:RebootWaiter") {
        assert.ok(
          !("privateKey" in r.inputs),
          `${name}: the waiter takes its key from the engine's configure, not from an input`,
        );
        assert.ok(
          !String(r.inputs.__provider).includes("PRIVATE KEY"),
          `${name}: the serialized provider captures no key`,
        );
      }
    }
    // The bastion authenticates with the same key.
    assert.equal((connectionOf(regs.get("compute-rt-01-tuned")!).proxy as Record<string, unknown>).privateKey, KEY);
  });

  it("pins the configured host key, uses the bastion when configured, and the agent when there is no key", async () => {
    const { regs } = await build(
      "ssh-",
      planned((raw) => {
        withSsh(raw.hosts[0], {
          port: 2201,
          proxy: {
            host: "bastion.example.org",
            user: "jump",
            port: 2222,
            hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJmLMDzsXv6Fx8Sw0Lue6LH45zNKPzEe5Sehxmp2dyp6",
          },
        });
        delete (raw.hosts[1].ssh as { hostKey?: string }).hostKey;
      }),
    );
    const devHostKey = (devRaw().hosts[0].ssh as { hostKey: string }).hostKey;
    const first = connectionOf(regs.get("compute-rt-01-packages")!);
    const bastion = {
      host: "bastion.example.org",
      port: 2222,
      user: "jump",
      hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJmLMDzsXv6Fx8Sw0Lue6LH45zNKPzEe5Sehxmp2dyp6",
    };
    assert.deepEqual(pick(first, TARGET), { host: "192.0.2.11", port: 2201, user: "root", hostKey: devHostKey });
    assert.deepEqual(pick(first.proxy as Record<string, unknown>, TARGET), bastion);
    const second = connectionOf(regs.get("compute-rt-02-packages")!);
    assert.equal(second.hostKey, undefined, "no key configured, none pinned");
    assert.equal(second.proxy, undefined);
    for (const c of [first, second]) {
      assert.equal(c.privateKey, undefined);
      assert.equal(
        c.agentSocketPath,
        undefined,
        "the provider reads SSH_AUTH_SOCK itself; a socket path in the inputs would change with every login",
      );
    }
    // The waiter reaches the host the same way.
    assert.deepEqual(regs.get("compute-rt-01-reboot-wait")!.inputs.target, {
      host: "192.0.2.11",
      port: 2201,
      user: "root",
      hostKey: devHostKey,
      proxy: bastion,
    });
    assert.equal(regs.get("compute-rt-01-reboot-wait")!.inputs.privateKey, undefined);
  });

  it("runs the steps through sudo when the SSH user is not root", async () => {
    const { regs } = await build(
      "sudo-",
      planned((raw) => withSsh(raw.hosts[0], { user: "stack" })),
    );
    assert.match(String(regs.get("compute-rt-01-tuned")!.inputs.create), /^sudo -n bash -c 'set -euo pipefail\n/);
    assert.match(String(regs.get("compute-rt-02-tuned")!.inputs.create), /^bash -c 'set -euo pipefail\n/);
  });
});

describe("prepareHosts", () => {
  it("builds one ComputeHost per planned host, in batches of maxUnavailable (rollingReboots: true is 1)", async () => {
    const { prepareHosts } = await import("../../../components/host/compute-host");
    const deployment = {
      maxUnavailable: 2,
      rebootTimeoutSeconds: 600,
      maintenance: false,
      guests: "refuse" as const,
      migrationTimeoutSeconds: 600,
    };
    const parallel = prepareHosts({ hosts: planned(), deployment }, {}).map((p) => p.host);
    const rolling = prepareHosts(
      { hosts: planned(), deployment: { ...deployment, rollingReboots: true } },
      { parent: new pulumi.ComponentResource("test:index:Rolling", "rolling") },
    ).map((p) => p.host);
    await settled(pulumi.all([...parallel, ...rolling].map((h) => h.aggregateHost)));
    assert.deepEqual(
      parallel.map((h) => h.hostName),
      ["compute-rt-01", "compute-rt-02"],
    );
    const packages2 = registrations.filter((r) => r.name === "compute-rt-02-packages").map((r) => r.dependsOn.sort());
    // The previous batch's host (its component, which the SDK expands into its resources).
    const host1 = ["hostprep", ...STEPS, "reboot-wait"].map((s) => `compute-rt-01-${s}`);
    const own = ["compute-rt-02-facts", "compute-rt-02-hostprep"];
    assert.deepEqual(packages2, [own, [...host1, ...own].sort()]);
    const facts2 = registrations.filter((r) => r.name === "compute-rt-02-facts").map((r) => r.dependsOn);
    assert.deepEqual(
      facts2,
      [["compute-rt-02-hostprep"], ["compute-rt-02-hostprep"]],
      "the read-only facts step waits only for the copy",
    );
    const copy2 = registrations.filter((r) => r.name === "compute-rt-02-hostprep").map((r) => r.dependsOn);
    assert.deepEqual(copy2, [[], []], "the copy waits for no batch: it changes nothing the host runs");
  });
});

/**
 * What the copy relies on, restated from the sources (pulumi/pulumi-command v1.2.1, commit
 * 7f3eb6f3b77cd0fa3895ba437a695dd393f7dd25, provider/pkg/provider/remote/copy.go and
 * copyController.go; pulumi/pulumi v3.248.0, commit a88168d865b7fd428e5a929cc54aeceaf72d203f,
 * sdk/go/common/resource/archive/archive.go, pkg/resource/deploy/source_eval.go,
 * sdk/go/common/resource/plugin/plugin.go):
 * - `Check` takes an archive only when it is path-based (a FileArchive), not an AssetArchive;
 *   an archive file (.tar, .tgz, .zip) is copied as the file, never unpacked.
 * - A source directory without a trailing slash lands in `<remotePath>/<its base name>`, parent
 *   directories created (MkdirAll, then Mkdir), existing files overwritten in place.
 * - `Update` copies again only when the archive's hash or `remotePath` changed; `triggers`
 *   replace the resource (replaceOnChanges), so it copies again on create.
 * - The state holds the archive as `{sig, hash, path}` (Archive.Serialize), never its files.
 *   The hash is the SHA-256 of a tar of each file's relative name and bytes (mode 0600, no
 *   mtime), so an unchanged checkout has the same hash.
 * - A relative path is resolved against the program's working directory by the engine
 *   (runinfo.Pwd) and by the provider, which runs there too (cmd.Dir = ctx.Pwd): the project
 *   directory, where Pulumi.yaml is.
 * - SFTP starts in the SSH user's home, so a relative `remotePath` is under it.
 */
describe("the copy of hostprep/ as @pulumi/command 1.2.1 makes it", () => {
  it("copies the project's hostprep/ directory, by a relative path, into the directory the steps run from", async () => {
    const { HOSTPREP_COPY_PATH, HOSTPREP_REMOTE_DIR } = await import("../../../lib/hostprep/scripts");
    const { remoteCommand } = await import("../../../lib/desired/step-connection");
    const { regs } = await build("copy-", planned());
    const source = (regs.get("compute-rt-01-hostprep")!.inputs.source as { path: string }).path;
    assert.ok(
      !isAbsolute(source) && !source.endsWith("/"),
      "relative, no trailing slash: lands as <remotePath>/hostprep",
    );
    assert.ok(statSync(join(PROJECT_DIR, source)).isDirectory(), "a directory of the project, not an archive file");
    assert.ok(!isAbsolute(HOSTPREP_COPY_PATH), "relative: under the SSH user's home, writable without sudo");
    assert.equal(HOSTPREP_REMOTE_DIR, `"$HOME"/${HOSTPREP_COPY_PATH}/${source}`);
    const step = regs.get("compute-rt-01-facts")!;
    assert.equal(
      step.inputs.create,
      remoteCommand({ script: "facts.sh", args: [], sudo: false }, "compute-rt-01-hostprep", HOSTPREP_REMOTE_DIR),
    );
  });
});

describe("Controller", () => {
  it("runs scheduler.sh on the controller over SSH, the key kept secret", async () => {
    const { Controller } = await import("../../../components/host/controller");
    const { remoteCommand } = await import("../../../lib/desired/step-connection");
    const { controllerSteps } = await import("../../../lib/desired/host-steps");
    const controller = new Controller("controller", {
      controller: {
        ssh: {
          host: "192.0.2.5",
          port: 22,
          user: "root",
          hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJmLMDzsXv6Fx8Sw0Lue6LH45zNKPzEe5Sehxmp2dyp6",
        },
      },
      privateKey: pulumi.secret(KEY),
    });
    await settled(controller.schedulerReport);
    const component = registrations.find((r) => r.name === "controller")!;
    assert.equal(component.type, "openstack-rt:host:Controller");
    const step = registrations.find((r) => r.name === "controller-scheduler")!;
    assert.equal(step.parent, "controller");
    const ssh = { host: "192.0.2.5", port: 22, user: "root" };
    assert.equal(step.inputs.create, remoteCommand(controllerSteps({ ssh })[0], "controller-hostprep"));
    assert.equal(step.inputs.stdin, undefined);
    assert.deepEqual(step.dependsOn, ["controller-hostprep"]);
    const copy = registrations.find((r) => r.name === "controller-hostprep")!;
    assert.deepEqual([copy.type, copy.parent], ["command:remote:CopyToRemote", "controller"]);
    const c = connectionOf(step);
    assert.deepEqual(
      [c.host, c.hostKey],
      ["192.0.2.5", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJmLMDzsXv6Fx8Sw0Lue6LH45zNKPzEe5Sehxmp2dyp6"],
    );
    assert.ok(!strings(step.inputs).plain.some((s) => s.includes("PRIVATE KEY")));
  });
});
