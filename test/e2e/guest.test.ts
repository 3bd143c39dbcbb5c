/**
 * End to end, the guest half: an RT guest booted from the program's own cloud-init.
 * The guest image (guest-image.ts) boots with the dev stack's rt1.small (4 vCPUs, 4096 MB),
 * seeded through NoCloud with the user data the program registers for `rt-server`. cloud-init
 * installs the RT kernel and TuneD realtime-virtual-guest, sets the planned kernel arguments
 * and reboots once; the program's GuestVerification, through @pulumi/pulumi's dynamic-provider
 * host, waits for that and measures. A second boot changes nothing. Before that, a guest whose
 * mirror lacks the RT kernel: the readiness wait fails with cloud-init's failure, within its bound.
 *
 *   npm run test:e2e          (root; builds the guest image on the first run: see test/e2e/image.ts)
 */
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { CheckResult } from "../../lib/checks/result";
import { formatReport, summarize } from "../../lib/checks/result";
import type { GuestBudget } from "../../lib/checks/verification";
import type { ProviderHost } from "../support/provider-host";
import { startProviderHost } from "../support/provider-host";
import type { GuestProgram, GuestState, GuestVm, HostKey } from "./guest";
import {
  GUEST_SERVER,
  bootGuest,
  checkInputs,
  guestState,
  inGuest,
  loadGuestProgram,
  makeHostKey,
  progressSince,
  rebootGuest,
  userDataWith,
} from "./guest";
import { GUEST_IMAGE } from "./guest-image";
import { Phases, say, seconds } from "./harness";
import type { Image } from "./image";
import { CACHE_DIR, ensureImage } from "./image";
import type { MirrorProxy } from "./mirror-proxy";
import { RT_KERNEL_IMAGE_DEB, startMirrorProxy } from "./mirror-proxy";
import { mirrorSources } from "./sources";
import type { Accel } from "./vm";
import { kernelBoots, shutdownVm } from "./vm";

const MIN = 60_000;
/** The fault run's readiness bound (latency.guest.readyTimeoutSeconds for that run): short, the guest fails fast. */
const FAULT_READY_SECONDS = 900;

const phases = new Phases();
let proxy: MirrorProxy | undefined;
let image: Image | undefined;
let accel: Accel | undefined;
let host: ProviderHost | undefined;
let program: GuestProgram | undefined;
let defaultBudget: GuestProgram | undefined;
let key: HostKey | undefined;
let userData = "";
let runDir = "";
const vms: GuestVm[] = [];
let guest: GuestVm | undefined;
let measured: CheckResult[] = [];
let observed: CheckResult[] = [];
let firstState: GuestState | undefined;
let failedReport = "";
let faultMessage = "";
const bootIds: string[] = [];
const shutdowns: string[] = [];

function need<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new Error(`no ${what}: the environment did not start`);
  return v;
}

function summaryText(): string {
  const s = firstState;
  return [
    "",
    "================= e2e guest summary =================",
    `accelerator: ${accel ? (accel.kind === "kvm" ? "KVM" : `TCG (${accel.note})`) : "not chosen"}`,
    `image: ${image ? `${image.dir}${image.cached ? " (cached)" : ""}` : "none"}`,
    `VM: ${guest ? `${guest.shape.cpusPerNode} vCPUs, ${guest.shape.memoryPerNodeMb} MiB; ${guest.hugeNote}` : "not booted"}`,
    "phases (wall time):",
    ...phases.rows.map((p) => `  ${p.name.padEnd(44)} ${seconds(p.ms).padStart(12)}${p.note ? `  ${p.note}` : ""}`),
    `  ${"total".padEnd(44)} ${seconds(phases.rows.reduce((a, p) => a + p.ms, 0)).padStart(12)}`,
    `reboots: ${guest ? `${kernelBoots(guest.vm) - 1} (kernel starts on the serial console: ${kernelBoots(guest.vm)}; boot ids after the setup: ${bootIds.map((b) => b.slice(0, 8)).join(" -> ")})` : "-"}`,
    `guest kernel: ${s?.kernel ?? "-"}`,
    `guest cmdline: ${s?.cmdline ?? "-"}`,
    `guest TuneD: ${s ? `${s.tunedActive}; ${s.isolatedCores}` : "-"}`,
    `guest checks: ${observed.length ? `${summarize([...observed, ...measured]).passed}/${observed.length + measured.length} passed` : "not run"}`,
    "latency stages, in order (e2e budget):",
    ...measured.map((c) => `  ${c.ok ? "PASS" : "FAIL"} ${c.check}: ${c.observed} (budget ${c.expected})`),
    `fault run: ${faultMessage ? faultMessage.split("\n")[0] : "not run"}`,
    `default budget: ${failedReport ? "failed, as expected" : "not run"}`,
    proxy
      ? `mirror proxy: ${proxy.stats.requests} requests, ${proxy.stats.cacheHits} from the .deb cache, ${(proxy.stats.bytesFromMirror / 1e6).toFixed(1)} MB from the mirror, ` +
        `${proxy.stats.faulted.length} refused by the injected fault, ${proxy.stats.refused.length} refused as not the mirror`
      : "mirror proxy: not started",
    `shutdown: ${shutdowns.join(", ") || "not reached"}`,
    ...vms.map((v) => `serial console: ${v.vm.serialLog}`),
    "=====================================================",
  ].join("\n");
}

async function stop(g: GuestVm): Promise<string> {
  const timeoutMs = accel?.kind === "kvm" ? 60_000 : 300_000;
  return shutdownVm(g.vm, g.target, g.auth, timeoutMs, "sudo -n systemctl poweroff --no-block").catch(
    (e: Error) => `failed: ${e.message}`,
  );
}

describe("e2e: an RT guest booted from the program's own cloud-init", () => {
  before(
    async () => {
      const sources = mirrorSources();
      proxy = await startMirrorProxy(sources.origins, join(CACHE_DIR, "debs"));
      const p = proxy;
      const built = await phases.time(
        "guest image",
        () => ensureImage(sources, p, say, GUEST_IMAGE),
        (r) => (r.image.cached ? "cached" : "built"),
      );
      image = built.image;
      accel = built.accel;
      say(accel.kind === "kvm" ? "accelerator: KVM" : `accelerator: TCG. ${accel.note}`);
      runDir = join(CACHE_DIR, "runs", `guest-${new Date().toISOString().replace(/[:.]/g, "-")}`);
      mkdirSync(runDir, { recursive: true });
      const privateKey = image.privateKey;
      [program, defaultBudget] = await phases.time("program loaded by Pulumi's runner (twice)", () =>
        Promise.all([loadGuestProgram(privateKey, "e2e"), loadGuestProgram(privateKey, "default")]),
      );
      host = await startProviderHost({ env: { SSH_AUTH_SOCK: "" } });
      // The engine hands the providers the stack's config: the guest check's SSH key.
      await host.configure({ "openstack-rt:sshPrivateKey": privateKey });
      key = await makeHostKey(host, program);
      userData = userDataWith(program, key);
    },
    { timeout: 120 * MIN },
  );

  after(async () => {
    for (const v of vms) if (v.vm.running()) shutdowns.push(await stop(v));
    await host?.stop();
    await proxy?.close();
    process.stdout.write(`${summaryText()}\n`);
  });

  it("the seed's user data is the program's, with the host key its GuestHostKey provider made", () => {
    const p = need(program, "program");
    const k = need(key, "host key");
    // Planting the registered (mocked) key again gives the registered bytes: planting a key
    // changes nothing but the key, so the seed is what the program registers for that key.
    assert.equal(userDataWith(p, p.plantedKey), p.userData);
    assert.match(p.plantedKey.publicKey, /^ssh-ed25519 AAAA/);
    const pinned = (p.check.inputs.target as { hostKey: string }).hostKey;
    assert.equal(pinned, p.plantedKey.publicKey, "the guest check pins the key the user data plants");
    assert.match(k.publicKey, /^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5\S+ openstack-rt rt-server$/);
    assert.match(k.privateKey, /^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
    assert.ok(userData.includes(k.publicKey) && !userData.includes(p.plantedKey.publicKey));
    assert.match(userData, /^#cloud-config\n/);
    assert.deepEqual(
      [p.flavor.flavor, p.flavor.vcpus, p.flavor.ramMb, p.flavor.tunedIsolatedCores],
      ["rt1.small", 4, 4096, "2-3"],
      "the dev stack's rt1.small, RT vCPUs 2-3",
    );
    say(`user data: ${Buffer.byteLength(userData)} bytes; guest plan ${JSON.stringify(p.flavor)}`);
  });

  it(
    "fault: a mirror without the RT kernel makes cloud-init fail, and the readiness wait says so within its bound",
    { timeout: 30 * MIN },
    async () => {
      const p = need(program, "program");
      const px = need(proxy, "proxy");
      px.missing = RT_KERNEL_IMAGE_DEB;
      const g = await bootGuest({
        image: need(image, "image"),
        accel: need(accel, "accelerator"),
        proxy: px,
        userData,
        flavor: p.flavor,
        hostKey: need(key, "host key"),
        loginUser: String((p.check.inputs.target as { user: string }).user),
        runDir,
        instanceId: "i-e2e-fault",
      });
      vms.push(g);
      const h = need(host, "provider host");
      const faultInputs = await checkInputs(h, p, g, { readyTimeoutSeconds: FAULT_READY_SECONDS });
      const from = h.stderr().length;
      const started = Date.now();
      try {
        await phases.time("fault: readiness wait (mirror lacks the RT kernel)", () =>
          assert.rejects(h.create(p.check.urn, faultInputs), (err: Error) => {
            faultMessage = err.message;
            say(`as expected: ${err.message}`);
            assert.match(
              err.message,
              new RegExp(
                `^${GUEST_SERVER} \\(debian@127\\.0\\.0\\.1:${g.vm.port}\\) is not ready: cloud-init failed \\(status: error\\); the guest runs .*Read /var/log/cloud-init-output\\.log`,
              ),
            );
            return true;
          }),
        );
      } finally {
        px.missing = null;
      }
      const waited = Date.now() - started;
      assert.ok(waited < FAULT_READY_SECONDS * 1000, `within its bound (${seconds(waited)})`);
      for (const l of progressSince(h, from)) say(`provider: ${l}`);
      assert.ok(
        px.stats.faulted.some((f) => RT_KERNEL_IMAGE_DEB.test(f)),
        "the proxy refused the RT kernel's package",
      );
      const log = await inGuest(g, "sudo -n cat /var/log/cloud-init-output.log");
      assert.match(log, /404\s+Not Found/, "apt's own reason is in cloud-init's log");
      assert.doesNotMatch(log, /openstack-rt-guest-setup: done/);
      assert.equal(kernelBoots(g.vm), 1, "no reboot: the setup did not finish");
      shutdowns.push(await phases.time("fault: shutdown", () => stop(g)));
    },
  );

  let created: { properties: Record<string, unknown> } | undefined;
  let checkError: Error | undefined;
  it(
    "first boot: cloud-init installs the RT kernel and TuneD realtime-virtual-guest, sets the kernel arguments and reboots once; the guest check waits for it",
    { timeout: 90 * MIN },
    async () => {
      const p = need(program, "program");
      const h = need(host, "provider host");
      const g = await phases.time("boot (NoCloud seed)", () =>
        bootGuest({
          image: need(image, "image"),
          accel: need(accel, "accelerator"),
          proxy: need(proxy, "proxy"),
          userData,
          flavor: p.flavor,
          hostKey: need(key, "host key"),
          loginUser: String((p.check.inputs.target as { user: string }).user),
          runDir,
          instanceId: "i-e2e-rt-server",
        }),
      );
      guest = g;
      vms.push(g);
      say(`VM: qemu pid ${g.vm.process.pid}, SSH on 127.0.0.1:${g.vm.port}, serial ${g.vm.serialLog}; ${g.hugeNote}`);
      const from = h.stderr().length;
      const inputs = await checkInputs(h, p, g);
      const { failures } = await h.check(p.check.urn, {}, inputs);
      assert.deepEqual(failures, []);
      // The check's readiness wait (then the latency stages, judged in the next test).
      try {
        created = await phases.time(
          "guest check: ready wait + 3 latency stages (e2e budget)",
          () => h.create(p.check.urn, inputs),
          (r) => `passed=${String(r.properties.passed)}`,
        );
      } catch (e) {
        checkError = e as Error;
      }
      const progress = progressSince(h, from);
      for (const l of progress) say(`provider: ${l}`);
      // cloud-init reboots as soon as its setup is done: the wait sees it running, then the boot.
      assert.ok(
        progress.some((l) => /: cloud-init running \(\d+ s\)$/.test(l)),
        "the wait reported where the guest was while it waited",
      );

      firstState = await guestState(g);
      bootIds.push((await inGuest(g, "cat /proc/sys/kernel/random/boot_id")).trim());
      const s = firstState;
      say(`guest: ${JSON.stringify(s)}`);
      assert.match(s.kernel, /-rt-amd64$/, "the RT kernel runs");
      assert.match(s.tunedActive, /realtime-virtual-guest/);
      assert.equal(s.isolatedCores, `isolated_cores=${p.flavor.tunedIsolatedCores}`);
      assert.equal(s.cloudInit, "status: done");
      for (const arg of p.flavor.kernelArgs) assert.ok(s.cmdline.split(" ").includes(arg), `${arg} in ${s.cmdline}`);
      assert.match(s.cmdline, /(^| )isolcpus=\S*2-3( |$)/, "TuneD's isolcpus for the RT vCPUs");
      assert.match(s.cmdline, /(^| )nohz_full=2-3( |$)/);
      assert.match(s.hugepageSize, /1048576 kB/, "1 GiB default huge pages");
      assert.equal(kernelBoots(g.vm), 2, "the serial console shows two kernel starts: first boot and the one reboot");
    },
  );

  it("the guest check runs the three latency stages in order with the e2e stack's budget and reports each one's figures", () => {
    if (checkError !== undefined) throw checkError;
    const c = need(created, "guest check result");
    observed = c.properties.observed as CheckResult[];
    measured = c.properties.measured as CheckResult[];
    process.stdout.write(`${formatReport([...observed, ...measured])}\n`);
    assert.equal(c.properties.passed, true);
    assert.deepEqual(
      observed.map((r) => r.check),
      ["RT kernel", "guest TuneD profile", "guest isolated_cores"],
    );
    const rtVcpus = ["CPU 2", "CPU 3"];
    const stageOf = (check: string) =>
      /^hwlatdetect$/.test(check) ? 0 : /^(cyclictest CPUs|(max|mean) latency |histogram tail )/.test(check) ? 1 : 2;
    const stages = measured.map((r) => stageOf(r.check));
    assert.deepEqual(stages, [...stages].sort(), "hwlatdetect, then cyclictest, then oslat");
    // hwlatdetect gives a figure, or says why it could not run in this guest kernel: never a silent pass.
    const hwlat = measured.filter((r) => r.check === "hwlatdetect");
    assert.equal(hwlat.length, 1, formatReport(measured));
    assert.match(hwlat[0].observed, /^(\d+ µs|below the run's \d+ µs threshold|skipped, nothing measured: .+)/);
    for (const cpu of rtVcpus) {
      for (const check of [`max latency ${cpu}`, `mean latency ${cpu}`, `oslat max ${cpu}`]) {
        const r = measured.find((x) => x.check === check);
        assert.match(r?.observed ?? "", /^\d+(\.\d+)? µs/, `${check}: its figure (${formatReport(measured)})`);
      }
    }
    assert.equal(measured.find((r) => r.check === "oslat CPUs")?.ok, true, "oslat measured the RT vCPUs");
  });

  it(
    "with the default 20 µs budget the guest check fails with the report an operator sees",
    { timeout: 20 * MIN },
    async () => {
      const d = need(defaultBudget, "default-budget program");
      const g = need(guest, "guest");
      const inputs = await checkInputs(need(host, "provider host"), d, g);
      const budget = inputs.budget as GuestBudget;
      assert.deepEqual(
        [budget.hwlatdetect.thresholdUs, budget.cyclictest.maxUs, budget.cyclictest.meanUs, budget.oslat.maxUs],
        [20, 20, 10, 20],
        "the defaults",
      );
      await phases.time("guest check (default 20 µs budget)", () =>
        assert.rejects(need(host, "provider host").create(d.check.urn, inputs), (err: Error) => {
          failedReport = err.message;
          process.stdout.write(`the engine reports:\n${err.message}\n`);
          assert.match(err.message, new RegExp(`^guest verification of ${GUEST_SERVER} failed:\n`));
          assert.match(err.message, /^PASS +RT kernel/m);
          // The first stage that fails stops the proof: hwlatdetect where the guest kernel has its
          // tracer (TCG's stalls are far over 20 µs), else cyclictest; oslat is not run.
          assert.match(err.message, /^FAIL +(hwlatdetect|max latency ) /m);
          assert.match(err.message, /^FAIL +oslat stage +.*not run: the (hwlatdetect|cyclictest) stage failed$/m);
          assert.match(err.message, /NOT OK$/);
          return true;
        }),
      );
    },
  );

  it(
    "a second boot changes nothing: same kernel, command line and TuneD state, no further reboot",
    { timeout: 20 * MIN },
    async () => {
      const g = need(guest, "guest");
      const p = need(program, "program");
      const r = await phases.time("second boot", () => rebootGuest(g, accel?.kind === "kvm" ? 300_000 : 1_200_000));
      bootIds.push(r.after);
      assert.equal(kernelBoots(g.vm), 3);
      const again = await guestState(g);
      assert.deepEqual(again, firstState, "the guest's RT setup is the same after a boot");
      const setupRuns = await inGuest(
        g,
        "sudo -n grep -c 'openstack-rt-guest-setup: done' /var/log/cloud-init-output.log",
      );
      assert.equal(setupRuns.trim(), "1", "cloud-init ran the setup once, on the first boot");
      // cloud-init's power_state would reboot within seconds of its final stage: the boot stands.
      await phases.time("no-reboot watch (30 s)", () => new Promise((res) => setTimeout(res, 30_000)));
      assert.equal((await inGuest(g, "cat /proc/sys/kernel/random/boot_id")).trim(), r.after);
      assert.equal(kernelBoots(g.vm), 3);
      // pulumi refresh: the engine's Read re-reads the setup and measures nothing.
      const h = need(host, "provider host");
      const inputs = await checkInputs(h, p, g);
      const state = { ...inputs, observed, measured, passed: true };
      const read = await phases.time("refresh", () =>
        h.read(`guest-verification-${GUEST_SERVER}`, p.check.urn, state, inputs),
      );
      const reread = read.properties.observed as CheckResult[];
      assert.deepEqual(
        reread.map((c) => [c.check, c.ok]),
        [
          ["RT kernel", true],
          ["guest TuneD profile", true],
          ["guest isolated_cores", true],
        ],
        formatReport(reread),
      );
      if (observed.length) assert.deepEqual(reread, observed, "the refresh re-read what the deployment saw");
      assert.deepEqual(read.properties.measured, measured, "what was measured is kept, not measured again");
      shutdowns.push(await phases.time("shutdown", () => stop(g)));
      assert.equal(shutdowns.at(-1), "clean");
      assert.deepEqual(need(proxy, "proxy").stats.refused, [], "the guests asked the proxy for nothing but the mirror");
    },
  );
});
