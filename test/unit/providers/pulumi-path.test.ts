/**
 * The dynamic providers on the path `pulumi up` takes: the program loaded by @pulumi/pulumi's own
 * runner (started with Pulumi.yaml's nodeargs, as the language host starts it) under mocks, and each dynamic
 * resource it registers driven through @pulumi/pulumi's dynamic-provider host over gRPC, with the
 * `__provider` text and the inputs the program registered, against a throwaway sshd.
 * Each resource's inputs pass through the provider's check first, as the engine passes them:
 * what check returns is what the engine stores and hands to diff, create and update. Where a
 * test changes an input (the mock server's address, a script), it changes data the engine
 * passes, never the provider's code.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { unknownValue } from "@pulumi/pulumi/runtime/rpc";
import { HOST_CHECKS } from "../../../lib/checks/host";
import { hostSectionsRead } from "../../../lib/checks/host-check";
import { HOSTPREP_COPY_PATH } from "../../../lib/hostprep/scripts";
import type { ProviderModule } from "../../../lib/providers/loader";
import { bundleDigest, bundleSource } from "../../../lib/providers/loader";
import { PLAIN_INPUTS_KEY } from "../../../lib/providers/plain-inputs";
import type { SshTarget } from "../../../lib/transport/ssh";
import { runSsh } from "../../../lib/transport/ssh";
import { devRaw, PROJECT_DIR } from "../../support/dev-config";
import { recordedHostScript, rtHostSections } from "../../support/rt-host-facts";
import { shipHostprep } from "../../support/ship-hostprep";
import type { RegisteredResource } from "../../support/pulumi-program";
import { isDynamic, loadProgram } from "../../support/pulumi-program";
import type { Props, ProviderHost } from "../../support/provider-host";
import { startProviderHost } from "../../support/provider-host";
import type { TestSshd } from "../../support/sshd";
import { freePort, startSshd } from "../../support/sshd";

const KEY_CONFIG = "openstack-rt:sshPrivateKey";
const MY_BOOT_ID = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
const OLD_BOOT_ID = "5b0d3f0e-3c55-4a4c-8f47-3d1d0f9b2a61";
/**
 * The most a `__provider` may hold: it is stored twice per resource, in its inputs and its outputs.
 * It is a few lines naming the module and its bundle's sha256, never the code.
 */
const SIZE_LIMIT = 1024;

/**
 * The provider's code a `__provider` names: the module's bundle as the provider host builds it
 * from the project directory, which must have the sha256 the text carries.
 */
function bundledCode(providerText: string): string {
  const [, module, digest] = /hostedProvider\("([a-z-]+)", "([0-9a-f]{64})"\)/.exec(providerText) ?? [];
  assert.ok(module && digest, `a module and a digest in the provider text:\n${providerText}`);
  const code = bundleSource(PROJECT_DIR, module as ProviderModule);
  assert.equal(bundleDigest(code), digest, `${module}: the bundle of this checkout is the one the program planned`);
  return code;
}

/**
 * A script put into the host's copy of hostprep/ beside the real ones, as `scripts` names it
 * (`verify/<name>=<sha256>`): the host check runs it through the launcher as it runs host-facts.sh.
 */
function placeInCopy(name: string, text: string): string[] {
  writeFileSync(join(sshd.home!, HOSTPREP_COPY_PATH, "hostprep", "verify", name), text);
  return [`verify/${name}=${createHash("sha256").update(text).digest("hex")}`];
}

/** A host-facts.sh stand-in that prints a recorded RT host's facts (test/fixtures/host/rt-host): every section a host check reads. */
function recordedRtHostScript(): string {
  const sections = rtHostSections();
  const missing = hostSectionsRead(HOST_CHECKS).filter((name) => !(name in sections));
  assert.deepEqual(missing, [], "the recorded RT host has a section for every host check");
  return recordedHostScript(sections);
}

let sshd: TestSshd;
let host: ProviderHost;
let dynamic: RegisteredResource[] = [];
let registered: RegisteredResource[] = [];
const byName = (name: string) => {
  const r = dynamic.find((x) => x.name === name);
  assert.ok(r, `the program registered ${name}: ${dynamic.map((x) => x.name).join(", ")}`);
  return r;
};
/** What check returned for each dynamic resource's registered inputs, by name. */
const checkedInputs = new Map<string, Props>();
const inputsOf = (name: string): Props => {
  const inputs = checkedInputs.get(name);
  assert.ok(inputs, `the checked inputs of ${name}`);
  return inputs;
};
let target: Props;

before(async () => {
  sshd = await startSshd({ ownHome: true });
  const sshTarget: SshTarget = { host: "127.0.0.1", port: sshd.port, user: sshd.user, hostKey: sshd.hostKeyPub };
  target = { ...sshTarget };
  // What the host's `<name>-hostprep` CopyToRemote does before the check runs.
  await shipHostprep(sshTarget, { privateKey: sshd.userKey });
  const raw = devRaw();
  for (const h of raw.hosts) h.ssh = { ...target };
  raw.latency = { host: { hwlatdetect: { enabled: false } }, guest: { cyclictest: { durationSeconds: 2 } } };
  const loaded = await loadProgram({
    stack: "dev",
    config: { ...raw, sshPrivateKey: sshd.userKey },
    secretKeys: ["sshPrivateKey"],
  });
  assert.ok(loaded.ok, loaded.ok ? "" : `${loaded.error}\n${loaded.stderr}`);
  registered = loaded.resources;
  dynamic = registered.filter(isDynamic);
  host = await startProviderHost({ env: { SSH_AUTH_SOCK: "" } });
  // The engine hands a dynamic provider the whole stack config, secrets decrypted.
  await host.configure({ [KEY_CONFIG]: sshd.userKey });
  for (const r of dynamic) checkedInputs.set(r.name, await host.checked(r.urn, r.inputs));
});
after(async () => {
  await host?.stop();
  await sshd?.stop();
});

describe("what the program registers", () => {
  it("every dynamic resource names only the code it runs: no Nova model, no other check, no key, no path", () => {
    const names = [
      "compute-rt-01-reboot-wait",
      "compute-rt-01-verification",
      "rt-server-domain-verification",
      "rt-server-guest-verification",
      "compute-rt-01-maintenance",
      "compute-rt-01-maintenance-end",
      "rt-server-server-host",
    ];
    const foreign: Record<string, RegExp> = {
      "compute-rt-01-reboot-wait": /checkHost|checkDomain|checkCyclictest/,
      // The host check runs the latency stages (cyclictest among them) as the guest check does.
      "compute-rt-01-verification": /checkDomain|verifyGuest|waitForGuest/,
      "rt-server-domain-verification": /checkHostFacts|HOST_CHECKS|checkCyclictest|checkTuned/,
      "rt-server-guest-verification": /checkDomain|checkHostFacts|HOST_CHECKS|checkNovaConf/,
      "compute-rt-01-maintenance": /checkHost|checkDomain|checkCyclictest|runSsh/,
      "compute-rt-01-maintenance-end": /checkHost|checkDomain|checkCyclictest|runSsh/,
      "rt-server-server-host": /checkHost|checkDomain|checkCyclictest|runSsh|setServiceStatus|migrateOff/,
    };
    for (const name of names) {
      const serialized = String(byName(name).inputs.__provider);
      const text = bundledCode(serialized);
      const size = Buffer.byteLength(serialized);
      console.log(`  ${name}: __provider ${size} bytes, naming ${Buffer.byteLength(text)} bytes of bundled code`);
      assert.ok(size < SIZE_LIMIT, `${name}: __provider is ${size} bytes, over ${SIZE_LIMIT}`);
      assert.doesNotMatch(serialized, /checkHost|checkDomain|runSsh|verifyGuest/, `${name}: code in __provider`);
      assert.doesNotMatch(
        text,
        /novaVerdict|numaFit|placementProblems|guestRequest|extraSpecError/,
        `${name} carries the Nova model`,
      );
      assert.doesNotMatch(text, foreign[name], `${name} carries checks it does not run`);
      for (const t of [serialized, text]) {
        assert.doesNotMatch(t, /PRIVATE KEY/);
        assert.ok(!t.includes(process.cwd()), `${name} holds this checkout's path`);
      }
      const required = [...text.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]);
      assert.deepEqual(
        required.filter((m) => !m.startsWith("node:") && m !== "ssh2" && m !== "yaml"),
        [],
        `${name} requires only Node's modules, ssh2 and yaml`,
      );
      assert.doesNotMatch(
        text,
        /instanceof (SshError|CpuSpecError|CheckFailedError)|extends Error/,
        `${name} relies on class identity`,
      );
    }
  });

  it("plain inputs travel as one property, and check gives them back flat, as the state keeps them", () => {
    for (const r of dynamic) {
      const { [PLAIN_INPUTS_KEY]: plain, ...top } = r.inputs as Props & { [PLAIN_INPUTS_KEY]?: Props };
      assert.ok(plain && Object.keys(plain).length > 0, `${r.name} registers its plain inputs as ${PLAIN_INPUTS_KEY}`);
      assert.deepEqual(inputsOf(r.name), { ...top, ...plain }, `${r.name}: check spreads ${PLAIN_INPUTS_KEY}`);
    }
    // Inputs from other resources stay top-level, where the engine records their dependencies.
    const check = byName("compute-rt-01-verification");
    assert.ok("bootId" in check.inputs && !("bootId" in (check.inputs[PLAIN_INPUTS_KEY] as Props)));
    assert.ok("hostName" in (check.inputs[PLAIN_INPUTS_KEY] as Props));
    assert.ok("serverId" in byName("rt-server-domain-verification").inputs);
  });

  it("the key is in no input: the providers get it from the engine's configure", () => {
    for (const r of dynamic)
      assert.ok(!JSON.stringify(r.inputs).includes(sshd.userKey.split("\n")[1]), `${r.name}'s inputs hold the key`);
    assert.ok(!dynamic.some((r) => "privateKey" in r.inputs));
  });
});

describe("Check and Diff, as in a preview", () => {
  it("take inputs not known yet, and name each bad input", async () => {
    const unknownValues = (o: object) => Object.fromEntries(Object.keys(o).map((k) => [k, unknownValue]));
    for (const r of dynamic) {
      const preview = Object.fromEntries(
        Object.entries(r.inputs).map(([k, v]) => [
          k,
          k === "__provider" ? v : k === PLAIN_INPUTS_KEY ? unknownValues(v as object) : unknownValue,
        ]),
      );
      const { failures } = await host.check(r.urn, {}, preview);
      assert.deepEqual(failures, [], `${r.name}: ${JSON.stringify(failures)}`);
    }
    const waiter = byName("compute-rt-01-reboot-wait");
    const { failures } = await host.check(
      waiter.urn,
      {},
      { ...inputsOf(waiter.name), previousBootId: "yesterday", target: { host: "", port: 22, user: "root" } },
    );
    assert.deepEqual(failures.map((f) => f.property).sort(), ["previousBootId", "target.host"]);
  });

  it("diff: nothing for the same inputs; a new verifyRevision or boot id re-runs a check", async () => {
    const check = byName("compute-rt-01-verification");
    const news = inputsOf(check.name);
    const olds = { ...news, observed: [], measured: [], passed: true };
    assert.equal((await host.diff("id", check.urn, olds, news)).changes, "none");
    assert.equal((await host.diff("id", check.urn, olds, { ...news, verifyRevision: "2" })).changes, "some");
    assert.equal((await host.diff("id", check.urn, olds, { ...news, bootId: MY_BOOT_ID })).changes, "some");
  });
});

describe("host verification through the provider host", () => {
  const inputs = (): Props => ({ ...inputsOf("compute-rt-01-verification"), target });

  it("a host that is not RT: the report reaches the caller as the error", async () => {
    const r = byName("compute-rt-01-verification");
    await assert.rejects(host.create(r.urn, inputs()), (e: Error) => {
      assert.match(e.message, /^host verification of compute-rt-01 failed:\n/);
      assert.match(e.message, /FAIL\s+RT kernel\s/);
      assert.match(e.message, /-> the running kernel is not PREEMPT_RT/);
      assert.doesNotMatch(e.message, /undefined|Cannot read properties/);
      return true;
    });
  });

  it("an RT host passes; read twice gives the same state and keeps what was measured; update and delete work", async () => {
    const r = byName("compute-rt-01-verification");
    const scripts = {
      ...(inputs().scripts as Props),
      "host-facts.sh": placeInCopy("rt-host.sh", recordedRtHostScript()),
    };
    const news = { ...inputs(), scripts };
    const created = await host.create(r.urn, news);
    assert.equal(created.id, "host-verification-compute-rt-01");
    assert.equal(created.properties.passed, true);
    assert.ok(!("privateKey" in created.properties));
    const first = await host.read(created.id, r.urn, created.properties, news);
    const second = await host.read(created.id, r.urn, first.properties, news);
    assert.deepEqual(second.properties, first.properties);
    assert.deepEqual(first.properties.measured, created.properties.measured);
    assert.deepEqual(first.properties.observed, created.properties.observed);
    const updated = await host.update(created.id, r.urn, created.properties, { ...news, verifyRevision: "2" });
    assert.equal(updated.properties.passed, true);
    await host.delete(created.id, r.urn, updated.properties);
  });

  it("a wrong host key, an unreachable host and a command that overruns its time: each named for the operator", async () => {
    const r = byName("compute-rt-01-verification");
    const other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJmLMDzsXv6Fx8Sw0Lue6LH45zNKPzEe5Sehxmp2dyp6";
    await assert.rejects(
      host.create(r.urn, { ...inputs(), target: { ...target, hostKey: other } }),
      /host facts .*does not match the pinned hostKey/s,
    );
    const closed = await freePort();
    await assert.rejects(
      host.create(r.urn, { ...inputs(), target: { ...target, port: closed } }),
      /cannot connect \(ECONNREFUSED\)/,
    );
    await assert.rejects(
      host.create(r.urn, {
        ...inputs(),
        scripts: { ...(inputs().scripts as Props), "host-facts.sh": placeInCopy("sleep.sh", "sleep 30\n") },
        timeoutSeconds: 2,
      }),
      /the command did not finish within 2000 ms/,
    );
  });

  it("credentials the host refuses", async () => {
    const stranger = await startProviderHost({ env: { SSH_AUTH_SOCK: "" } });
    try {
      const dir = join(sshd.dir, "stranger");
      execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", dir]);
      await stranger.configure({ [KEY_CONFIG]: readFileSync(dir, "utf8") });
      await assert.rejects(
        stranger.create(byName("compute-rt-01-verification").urn, inputs()),
        /authentication failed/,
      );
    } finally {
      await stranger.stop();
    }
  });
});

describe("the reboot waiter through the provider host", () => {
  const waiter = () => byName("compute-rt-01-reboot-wait");
  const inputs = (timeoutSeconds: number) => ({
    ...inputsOf(waiter().name),
    target,
    previousBootId: OLD_BOOT_ID,
    rebootScheduled: true,
    timeoutSeconds,
  });

  it("waits out a host that refuses connections while it reboots, and returns its new boot id", async () => {
    await sshd.down();
    const back = new Promise((resolve) => setTimeout(resolve, 8_000)).then(() => sshd.up());
    const started = Date.now();
    const created = await host.create(waiter().urn, inputs(120));
    await back;
    assert.equal(created.properties.bootId, MY_BOOT_ID);
    assert.ok(Date.now() - started >= 8_000, "it returned before the host was back");
  });

  it("a host that never comes back: a timeout naming the host", async () => {
    await sshd.down();
    try {
      await assert.rejects(
        host.create(waiter().urn, inputs(6)),
        /compute-rt-01 \(.*@127\.0\.0\.1:\d+\) did not come back within 6 s .*ECONNREFUSED/s,
      );
    } finally {
      await sshd.up();
    }
  });
});

describe("domain and guest verification through the provider host", () => {
  it("domain: a server no candidate host runs fails with where it looked", async () => {
    const r = byName("rt-server-domain-verification");
    const news = { ...inputsOf(r.name), serverId: "0b7f6c1e-2a3d-4e5f-8a9b-0c1d2e3f4a5b" };
    await assert.rejects(
      host.create(r.urn, news),
      /domain verification of rt-server \(0b7f6c1e-[^)]*\) on compute-rt-01 failed:\n.*instance found/s,
    );
  });

  it("guest: waits for readiness within its bound and says what it saw; a refresh measures nothing", async () => {
    const r = byName("rt-server-guest-verification");
    const news = { ...inputsOf(r.name), target, readyTimeoutSeconds: 1 };
    await assert.rejects(
      host.create(r.urn, news),
      /rt-server \(.*\) was not ready within 1 s \(latency\.guest\.readyTimeoutSeconds\): .*non-RT kernel/,
    );
    const state = { ...news, observed: [], measured: [], passed: true };
    const started = Date.now();
    const read = await host.read("guest-verification-rt-server", r.urn, state, news);
    assert.ok(Date.now() - started < 20_000);
    assert.deepEqual(
      (read.properties.observed as { check: string }[]).map((c) => c.check),
      ["RT kernel", "guest TuneD profile", "guest isolated_cores"],
    );
    assert.deepEqual(read.properties.measured, []);
    assert.equal(read.properties.passed, false);
  });
});

describe("the guest's SSH host key, made by the stack and planted through cloud-init", () => {
  it("the server's user data carries it as a secret, and the guest check pins its public half", () => {
    const key = byName("openstack-rt-rt-server-host-key");
    assert.ok(key.type.endsWith(":GuestHostKey"));
    const instance = registered.find(
      (r) => r.type === "openstack:compute/instance:Instance" && r.name === "openstack-rt-rt-server-instance",
    );
    assert.ok(instance, "the rt-server instance");
    assert.ok(instance.secretInputs.includes("userData"), "the user data holds a private key: it must be secret");
    const userData = String(instance.inputs.userData);
    assert.match(userData, /^#cloud-config\n/);
    assert.match(userData, /ssh_keys:\n {2}ed25519_private: \|/);
    const guestTarget = inputsOf("rt-server-guest-verification").target as { hostKey?: string };
    assert.match(String(guestTarget.hostKey), /^ssh-ed25519 AAAA/);
    assert.ok(userData.includes(String(guestTarget.hostKey)), "the pinned key is the planted one");
  });

  it("through the provider host: a real ed25519 key pair, kept as it is by diff, that sshd serves and the pin accepts", async () => {
    const r = byName("openstack-rt-rt-server-host-key");
    const inputs = inputsOf(r.name);
    const created = await host.create(r.urn, inputs);
    const { publicKey, privateKey } = created.properties as { publicKey: string; privateKey: string };
    assert.match(publicKey, /^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5\S+ openstack-rt rt-server$/);
    assert.equal((await host.diff(created.id, r.urn, created.properties, inputs)).changes, "none");
    const renamed = await host.diff(created.id, r.urn, created.properties, {
      ...inputs,
      comment: "openstack-rt other",
    });
    assert.deepEqual([renamed.changes, renamed.replaces], ["some", ["comment"]]);
    const guest = await startSshd({ hostKey: privateKey });
    try {
      assert.equal(guest.hostKeyPub.split(" ").slice(0, 2).join(" "), publicKey.split(" ").slice(0, 2).join(" "));
      const pinned = { host: "127.0.0.1", port: guest.port, user: guest.user, hostKey: publicKey };
      assert.equal((await runSsh(pinned, { privateKey: guest.userKey }, "echo pinned")).stdout, "pinned\n");
    } finally {
      await guest.stop();
    }
  });
});
