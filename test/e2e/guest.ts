/**
 * The e2e RT guest: the guest image (guest-image.ts, built like the host image),
 * booted with qemu in the shape of the dev stack's rt1.small and seeded through NoCloud with
 * the user data the program registers for `rt-server`; its GuestVerification driven through
 * @pulumi/pulumi's dynamic-provider host over gRPC, as `pulumi up` drives it.
 *
 * The program is loaded by Pulumi's own runner (test/support/pulumi-program.ts) with the dev
 * stack's config and the e2e stack's guest latency settings, under mocks. Under mocks the
 * server's GuestHostKey is a placeholder (test/support/mock-state.ts) that sshd cannot load, so
 * the key is made the way `pulumi up` makes it, by the GuestHostKey's own provider through the
 * provider host, and planted with the program's own withSshHostKey: the user data is then what
 * the program registers for a real deployment, byte for byte (the harness checks that planting
 * the registered placeholder again gives the registered bytes).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { withSshHostKey } from "../../lib/desired/cloud-init";
import type { SshAuth, SshTarget } from "../../lib/transport/ssh";
import { runSsh } from "../../lib/transport/ssh";
import { readStackConfig } from "../../lib/config/stack-files";
import { devRaw } from "../support/dev-config";
import type { RegisteredResource } from "../support/pulumi-program";
import { isDynamic, loadProgram } from "../support/pulumi-program";
import type { Props, ProviderHost } from "../support/provider-host";
import { STACK_FILE, say } from "./harness";
import type { Image } from "./image";
import { PROJECT_DIR } from "./image";
import { APT_PROXY_FW_CFG } from "./guest-image";
import type { MirrorProxy } from "./mirror-proxy";
import type { Accel, Vm, VmShape } from "./vm";
import { startVm, waitForSsh } from "./vm";

/** The dev stack's RT server. */
export const GUEST_SERVER = "rt-server";

export interface HostKey {
  publicKey: string;
  privateKey: string;
}

/** What the program registers for the RT server, as the engine receives it. */
export interface GuestProgram {
  /** The `userData` input of the server's openstack compute Instance, as registered. */
  userData: string;
  /** The key that user data plants: the mocks' placeholder. */
  plantedKey: HostKey;
  /** The server's GuestHostKey. */
  hostKey: RegisteredResource;
  /** The server's GuestVerification (`rt-server-guest-verification`). */
  check: RegisteredResource;
  /** The flavor plan the user data writes to /etc/openstack-rt/guest.json. */
  flavor: { flavor: string; vcpus: number; ramMb: number; kernelArgs: string[]; tunedIsolatedCores: string };
}

/** The e2e stack's `latency` settings (test/e2e/Pulumi.e2e.yaml). */
export function e2eLatency(): { guest: Record<string, unknown> } & Record<string, unknown> {
  const raw = readStackConfig(PROJECT_DIR, STACK_FILE);
  if (raw.problems.length) throw new Error(JSON.stringify(raw.problems));
  const latency = (raw.values as { latency?: { guest?: Record<string, unknown> } }).latency;
  if (!latency?.guest) throw new Error(`${STACK_FILE} sets no latency.guest: the guest run needs its budget`);
  return { ...latency, guest: latency.guest };
}

/** The budget keys of each guest latency stage: what `budget: "default"` leaves to the defaults. */
const STAGE_BUDGETS: Record<string, string[]> = {
  hwlatdetect: ["thresholdUs"],
  cyclictest: ["maxUs", "meanUs"],
  oslat: ["maxUs"],
};

/**
 * The program loaded with the dev stack (its rt1.small and rt-server) and the e2e stack's guest
 * latency settings; `budget: "default"` leaves out the e2e stack's budgets of every stage (its
 * durations stay), so the check holds the guest to the defaults (20 µs; cyclictest's mean 10 µs).
 */
export async function loadGuestProgram(privateKey: string, budget: "e2e" | "default"): Promise<GuestProgram> {
  const raw = devRaw();
  const latency = e2eLatency();
  const guest = { ...latency.guest };
  if (budget === "default") {
    for (const [stage, keys] of Object.entries(STAGE_BUDGETS)) {
      const settings = { ...(guest[stage] as Record<string, unknown>) };
      for (const key of keys) delete settings[key];
      guest[stage] = settings;
    }
  }
  raw.latency = { ...latency, guest };
  const loaded = await loadProgram({
    stack: "dev",
    config: { ...raw, sshPrivateKey: privateKey },
    secretKeys: ["sshPrivateKey"],
  });
  if (!loaded.ok) throw new Error(`the program did not load with the dev stack: ${loaded.error}`);
  const find = (what: string, f: (r: RegisteredResource) => boolean) => {
    const r = loaded.resources.find(f);
    if (!r) throw new Error(`the program registered no ${what}`);
    return r;
  };
  const instance = find(
    `openstack compute Instance for ${GUEST_SERVER}`,
    (r) => r.type === "openstack:compute/instance:Instance" && r.name.endsWith(`${GUEST_SERVER}-instance`),
  );
  const userData = instance.inputs.userData;
  if (typeof userData !== "string") throw new Error(`${instance.name}'s userData is not a string`);
  const doc = parse(userData) as {
    ssh_keys?: { ed25519_private?: string; ed25519_public?: string };
    write_files?: { path: string; content: string }[];
  };
  const plan = doc.write_files?.find((f) => f.path === "/etc/openstack-rt/guest.json");
  if (!plan) throw new Error(`${instance.name}'s user data writes no /etc/openstack-rt/guest.json`);
  return {
    userData,
    plantedKey: { publicKey: doc.ssh_keys?.ed25519_public ?? "", privateKey: doc.ssh_keys?.ed25519_private ?? "" },
    hostKey: find(
      `GuestHostKey for ${GUEST_SERVER}`,
      (r) => isDynamic(r) && r.name.endsWith(`${GUEST_SERVER}-host-key`),
    ),
    check: find(
      `${GUEST_SERVER}-guest-verification`,
      (r) => isDynamic(r) && r.name === `${GUEST_SERVER}-guest-verification`,
    ),
    flavor: JSON.parse(plan.content) as GuestProgram["flavor"],
  };
}

/**
 * The server's host key, made as `pulumi up` makes it: the GuestHostKey's provider, through the
 * provider host, with the inputs the program registered.
 */
export async function makeHostKey(host: ProviderHost, program: GuestProgram): Promise<HostKey> {
  const inputs = await host.checked(program.hostKey.urn, program.hostKey.inputs);
  const { properties } = await host.create(program.hostKey.urn, inputs);
  return { publicKey: String(properties.publicKey), privateKey: String(properties.privateKey) };
}

/** The program's user data with `key` planted by the program's own code: what it registers in a real deployment. */
export function userDataWith(program: GuestProgram, key: HostKey): string {
  return withSshHostKey(program.userData, key);
}

/**
 * 1 GiB pages of this machine for the guest's memory, when it has them: a hugetlbfs mount with
 * 1 GiB pages and enough of them free. The harness does not reserve any itself: that takes
 * gigabytes from a shared machine, and at run time it mostly fails on fragmented memory.
 */
export function hostGigantic(memoryMb: number): { path?: string; note: string } {
  const sys = "/sys/kernel/mm/hugepages/hugepages-1048576kB/free_hugepages";
  const need = Math.ceil(memoryMb / 1024);
  const free = existsSync(sys) ? Number(readFileSync(sys, "utf8").trim()) : 0;
  const mount = readFileSync("/proc/mounts", "utf8")
    .split("\n")
    .map((l) => l.split(" "))
    .find((f) => f[2] === "hugetlbfs" && /(^|,)pagesize=1(G|024M)(,|$)/.test(f[3] ?? ""));
  if (mount && free >= need)
    return { path: mount[1], note: `guest memory in ${need} of this machine's 1 GiB pages (${mount[1]})` };
  return {
    note:
      `guest memory in ordinary pages: this machine has ${free} free 1 GiB pages` +
      `${mount ? "" : " and no hugetlbfs mount of them"}, ${need} needed (not reserved by the harness); ` +
      "the guest's vCPUs have pdpe1gb, so its kernel has 1 GiB pages (default_hugepagesz=1G) either way",
  };
}

export interface GuestVm {
  vm: Vm;
  /** debian@127.0.0.1:<forwarded port>, pinned to the planted key. */
  target: SshTarget;
  auth: SshAuth;
  seedDir: string;
  shape: VmShape;
  hugeNote: string;
}

/**
 * Boots the guest image (a throwaway copy) with the flavor's vCPUs and memory, SSH forwarded to
 * loopback, the proxy's address in fw_cfg, and a NoCloud seed disk (label cidata) holding the
 * user data, byte for byte, and meta-data with the instance id, the server's name and the
 * keypair's public key (what Nova's config drive gives cloud-init).
 */
export async function bootGuest(o: {
  image: Image;
  accel: Accel;
  proxy: MirrorProxy;
  userData: string;
  flavor: GuestProgram["flavor"];
  hostKey: HostKey;
  loginUser: string;
  runDir: string;
  instanceId: string;
}): Promise<GuestVm> {
  const seedDir = join(o.runDir, `seed-${o.instanceId}`);
  mkdirSync(seedDir, { recursive: true });
  writeFileSync(join(seedDir, "user-data"), o.userData);
  const clientKey = readFileSync(join(o.image.dir, "id_ed25519.pub"), "utf8").trim();
  writeFileSync(
    join(seedDir, "meta-data"),
    `instance-id: ${o.instanceId}\nlocal-hostname: ${GUEST_SERVER}\npublic-keys:\n  - ${clientKey}\n`,
  );
  const huge = hostGigantic(o.flavor.ramMb);
  const shape: VmShape = {
    name: `openstack-rt-e2e-${GUEST_SERVER}`,
    nodes: 1,
    cpusPerNode: o.flavor.vcpus,
    memoryPerNodeMb: o.flavor.ramMb,
    ...(huge.path ? { hugePath: huge.path } : {}),
  };
  const vm = await startVm({
    disk: o.image.disk,
    snapshot: true,
    serialLog: join(o.runDir, `serial-${o.instanceId}.log`),
    accel: o.accel,
    shape,
    extraArgs: [
      // The seed: a read-only FAT disk qemu makes from the directory (vvfat), labelled cidata.
      "-drive",
      `if=virtio,format=raw,readonly=on,file.driver=vvfat,file.dir=${seedDir},file.label=cidata`,
      "-fw_cfg",
      `name=${APT_PROXY_FW_CFG},string=http://10.0.2.2:${o.proxy.port}`,
    ],
  });
  return {
    vm,
    target: { host: "127.0.0.1", port: vm.port, user: o.loginUser, hostKey: o.hostKey.publicKey },
    auth: { privateKey: o.image.privateKey },
    seedDir,
    shape,
    hugeNote: huge.note,
  };
}

/** Runs a command in the guest as its login user; fails with its stderr when it fails. */
export async function inGuest(g: GuestVm, command: string, timeoutMs = 120_000): Promise<string> {
  const r = await runSsh(g.target, g.auth, command, { connectTimeoutMs: 30_000, commandTimeoutMs: timeoutMs });
  if (r.code !== 0) throw new Error(`in the guest, ${command} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** Reboots the guest over SSH and waits for a new boot id. */
export async function rebootGuest(g: GuestVm, timeoutMs: number): Promise<{ before: string; after: string }> {
  const before = (await inGuest(g, "cat /proc/sys/kernel/random/boot_id")).trim();
  await inGuest(g, "sudo -n systemd-run --on-active=2 systemctl reboot");
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`the guest did not come back with a new boot within ${timeoutMs / 1000} s`);
    const after = await waitForSsh(g.vm, g.target, g.auth, left);
    if (after !== before) return { before, after };
    await new Promise((r) => setTimeout(r, 3_000));
  }
}

/** What the guest's RT setup is made of, read as its login user: two reads of an unchanged guest are equal. */
export interface GuestState {
  kernel: string;
  cmdline: string;
  tunedActive: string;
  isolatedCores: string;
  cloudInit: string;
  hugepageSize: string;
  /** sha256 of the files the setup writes, and of the installed packages' list. */
  files: string;
}

export async function guestState(g: GuestVm): Promise<GuestState> {
  // After a boot, read once the boot is over: TuneD up, cloud-init's per-boot stages done.
  await inGuest(
    g,
    "systemctl is-system-running --wait >/dev/null 2>&1; cloud-init status --wait >/dev/null 2>&1 || true",
    900_000,
  );
  const out = await inGuest(
    g,
    [
      "uname -r",
      "cat /proc/cmdline",
      "sudo -n tuned-adm active 2>&1 | head -n 1",
      "grep '^isolated_cores' /etc/tuned/realtime-virtual-guest-variables.conf || echo none",
      "cloud-init status 2>&1 | head -n 1",
      "grep '^Hugepagesize' /proc/meminfo",
      "{ sudo -n sha256sum /boot/grub/grub.cfg /etc/default/grub /etc/default/grub.d/* /etc/tuned/* /etc/openstack-rt/guest.json 2>&1; dpkg-query -W; } | sha256sum",
    ]
      .map((c) => `${c}; echo '---'`)
      .join("; "),
  );
  const [kernel, cmdline, tunedActive, isolatedCores, cloudInit, hugepageSize, files] = out
    .split("---\n")
    .map((s) => s.trim());
  return { kernel, cmdline, tunedActive, isolatedCores, cloudInit, hugepageSize, files };
}

/**
 * The GuestVerification's inputs as the engine creates it: what the provider host's check returns
 * for the registered ones, aimed at this VM (address, port, pinned key), with `overrides`.
 */
export async function checkInputs(
  host: ProviderHost,
  program: GuestProgram,
  g: GuestVm,
  overrides: Props = {},
): Promise<Props> {
  const inputs = await host.checked(program.check.urn, program.check.inputs);
  const registered = inputs.target as SshTarget;
  const target = { ...registered, ...g.target, user: registered.user };
  return host.checked(program.check.urn, { ...inputs, target, ...overrides });
}

/** Lines the provider host wrote to its stderr since `from`: the readiness wait's progress, as the engine shows it. */
export function progressSince(host: ProviderHost, from: number): string[] {
  return host
    .stderr()
    .slice(from)
    .split("\n")
    .filter((l) => l.trim() !== "");
}

export { say };
