/**
 * The e2e disk image: Debian 12 from this machine's package mirror, built with mmdebstrap into a
 * directory, turned into an ext4 file system with `mkfs.ext4 -d` at the first partition's offset
 * of a partitioned raw file (no loop device, no mount), then booted once straight into its kernel
 * to install GRUB from inside (grub-install /dev/vda, update-grub) and powered off. From then on
 * it boots like a disk-installed host: BIOS, GRUB, the kernel GRUB's config names.
 *
 * It has what a plain compute host has before openstack-rt prepares it: the stock kernel, GRUB,
 * OpenSSH, TuneD and Nova's config file (nova-common), but not the RT kernel or rt-tests, which
 * the packages step installs. nova-compute itself (libvirt, qemu) is not installed: a stand-in
 * nova-compute.service loads nova.conf with Nova's own option definitions and runs the CPU set
 * check nova-compute runs at start, so the nova-compute step's restart fails where the real
 * service would refuse to start.
 *
 * The image is cached under .cache/e2e, keyed by a hash of its inputs (this file, the image's
 * spec, the mirror entries, the keyrings they name), with a throwaway SSH host key and client
 * key of its own. The steps are shared by every image the e2e run boots; what differs (packages,
 * files, the last touches of the first boot) is an ImageSpec: HOST_IMAGE here, the RT guest's
 * in guest-image.ts.
 */
import { spawn } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import {
  appendFileSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join, resolve } from "node:path";
import { runSsh } from "../../lib/transport/ssh";
import type { MirrorProxy } from "./mirror-proxy";
import type { Accel } from "./vm";
import { chooseAccel, shutdownVm, startVm, waitForSsh } from "./vm";
import type { MirrorSources } from "./sources";
import { SUITE } from "./sources";

export const PROJECT_DIR = resolve(__dirname, "..", "..");
export const CACHE_DIR = join(PROJECT_DIR, ".cache", "e2e");

/** The name the VM's host has, as in the e2e stack config. */
export const VM_HOSTNAME = "compute-rt-e2e";

const HOST_PACKAGES = [
  "systemd-sysv",
  "udev",
  "linux-image-amd64",
  // A Debian installer installs the kernel's Recommends: an installed host has the firmware
  // already, so the RT kernel's install in the packages step builds its initramfs once.
  "firmware-linux-free",
  "initramfs-tools",
  "grub-pc",
  "openssh-server",
  "tuned",
  "nova-common",
  "ca-certificates",
  "iproute2",
  "procps",
  "kmod",
];
const DISK_SIZE_MB = 6144;
const PARTITION_START_MB = 1;

export type ImageFiles = Record<string, { mode: number; text: string }>;

/** What one e2e image is made of, beyond what every e2e image shares. */
export interface ImageSpec {
  /** Names the image in messages and its cache directory (`<name>-<key>`). */
  name: string;
  packages: string[];
  /** Files on top of the packages (the shared ones too can be replaced here). */
  files: (rootUuid: string) => ImageFiles;
  /** GRUB_CMDLINE_LINUX_DEFAULT of the image. */
  cmdline: string;
  /** More of mmdebstrap's customize hook (`$1` is the root directory), after the shared part. */
  customize: string;
  /** Kernel arguments added for the first boot only (it boots straight into the kernel). */
  firstBootArgs: string;
  /** Run as root at the end of the first boot, before it powers off. */
  firstBoot: string;
}

export interface Image {
  dir: string;
  disk: string;
  /** The client key that root's authorized_keys accepts (OpenSSH format). */
  privateKey: string;
  /** The VM's SSH host key, one line ("ssh-ed25519 AAAA..."), for pinning. */
  hostKey: string;
  rootUuid: string;
  /** The image's stock kernel, outside it: the KVM probe boots it. */
  kernel: string;
  /** Wall time of the build, or 0 when the cached image was used. */
  buildMs: number;
  cached: boolean;
}

/**
 * Runs a build command without blocking the event loop: mmdebstrap downloads through the
 * mirror proxy, which lives in this process.
 */
function run(
  cmd: string,
  args: string[],
  opts: { input?: string; log?: string; timeoutMs?: number } = {},
): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    let out = "";
    child.stdout?.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr?.setEncoding("utf8").on("data", (d: string) => (out += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 45 * 60_000);
    child.once("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} could not run: ${e.message}${e.code === "ENOENT" ? " (install it: see .ci/run)" : ""}`));
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      if (opts.log) appendFileSync(opts.log, `$ ${cmd} ${args.join(" ")}\n${out}\n`);
      if (code === 0) return resolvePromise(out);
      const tail = out.trim().split("\n").slice(-25).join("\n");
      reject(new Error(`${cmd} ${args.slice(0, 3).join(" ")}... failed (exit ${code ?? signal}):\n${tail}`));
    });
    if (child.stdin) {
      // A command that exits without reading its input gives EPIPE here; its exit status is
      // what counts, reported above.
      child.stdin.on("error", () => {});
      child.stdin.end(opts.input);
    }
  });
}

function sh(script: string): string {
  return `set -eu\n${script}`;
}

/** The files every e2e image gets on top of the packages, written by mmdebstrap's customize hook. */
function commonFiles(rootUuid: string): ImageFiles {
  return {
    "/etc/fstab": { mode: 0o644, text: `UUID=${rootUuid} / ext4 errors=remount-ro 0 1\n` },
    // DHCP on qemu's user network; neither its DNS server nor a time server is used: the guest
    // talks to nothing but the mirror proxy on 10.0.2.2.
    "/etc/systemd/network/20-e2e.network": {
      mode: 0o644,
      text: "[Match]\nName=en* eth*\n\n[Network]\nDHCP=ipv4\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n\n[DHCPv4]\nUseDNS=no\nUseNTP=no\nUseDomains=no\n",
    },
    // A short menu on the serial console too. The kernel's console is set in /etc/default/grub
    // itself (customize hook): a drop-in here that set GRUB_CMDLINE_LINUX_DEFAULT would be
    // read after /etc/default/grub and override the line TuneD appends there
    // ("...\$tuned_params"), so every update-grub would drop TuneD's kernel arguments.
    "/etc/default/grub.d/50-e2e-console.cfg": {
      mode: 0o644,
      text: 'GRUB_TIMEOUT=1\nGRUB_TERMINAL="console serial"\nGRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"\n',
    },
    // The disk is a throwaway copy (qemu snapshot=on, cache=unsafe): dpkg's fsync per file
    // only slows the packages step's kernel install under emulation.
    "/etc/dpkg/dpkg.cfg.d/e2e-unsafe-io": { mode: 0o644, text: "force-unsafe-io\n" },
    // apt asks one request at a time through the proxy.
    "/etc/apt/apt.conf.d/90e2e-pipeline": {
      mode: 0o644,
      text: 'Acquire::http::Pipeline-Depth "0";\nAcquire::Retries "0";\n',
    },
  };
}

/** The compute host's own files: its name, sshd with the image's host key, the nova-compute stand-in. */
function hostFiles(): ImageFiles {
  return {
    "/etc/hostname": { mode: 0o644, text: `${VM_HOSTNAME}\n` },
    "/etc/hosts": { mode: 0o644, text: `127.0.0.1 localhost\n127.0.1.1 ${VM_HOSTNAME}\n` },
    "/etc/ssh/sshd_config.d/50-e2e.conf": {
      mode: 0o644,
      text: "HostKey /etc/ssh/ssh_host_ed25519_key\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUseDNS no\n",
    },
    "/usr/local/sbin/nova-compute-standin": {
      mode: 0o755,
      text: `#!/usr/bin/python3
# openstack-rt e2e: stands in for nova-compute, which is not installed (no libvirt, no cloud).
# Loads the config files nova-compute reads on Debian with Nova's own option definitions and
# runs the CPU set check nova-compute runs at start; exits non-zero where it would not start.
import os, sys
import nova.conf
from nova import exception
from nova.virt.libvirt import driver
files = [f for f in ("/etc/nova/nova.conf", "/etc/nova/nova-compute.conf") if os.path.exists(f)]
CONF = nova.conf.CONF
CONF(["--config-file=" + f for f in files], project="nova", default_config_files=[], default_config_dirs=[])
try:
    driver.LibvirtDriver._check_cpu_set_configuration(None)
except exception.InvalidConfiguration as e:
    sys.exit("nova-compute would not start: %s" % e)
print("cpu_dedicated_set=%s cpu_shared_set=%s reserved_host_memory_mb=%s reserved_huge_pages=%s"
      % (CONF.compute.cpu_dedicated_set, CONF.compute.cpu_shared_set, CONF.reserved_host_memory_mb, CONF.reserved_huge_pages))
`,
    },
    "/etc/systemd/system/nova-compute.service": {
      mode: 0o644,
      text: "[Unit]\nDescription=nova-compute stand-in (openstack-rt e2e): checks nova.conf the way nova-compute does at start\n\n[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/usr/local/sbin/nova-compute-standin\n\n[Install]\nWantedBy=multi-user.target\n",
    },
  };
}

/**
 * The compute host: what a plain compute host has before openstack-rt prepares it (see the top
 * of this file). nokaslr: node 0 has 2.5 GiB, so one 1 GiB-aligned gigabyte ([1, 2) GiB) that
 * can be free for its boot-time 1 GiB page. One run in two ended with node 0 at 0 pages and
 * node 1 at 2 (Linux 6.1 falls back to another node without a word); a kernel image placed at
 * random (KASLR) in that gigabyte is the likely cause, so it stays put here.
 */
export const HOST_IMAGE: ImageSpec = {
  name: "image",
  packages: HOST_PACKAGES,
  files: hostFiles,
  cmdline: "console=ttyS0,115200n8 nokaslr",
  customize: `
    chroot "$1" systemctl enable ssh.service
    # MODULES=dep (set on the first boot, where the VM's own devices are known): the RT
    # kernel's initramfs holds the modules this VM needs, not every driver, which makes the
    # packages step's update-initramfs faster.
  `,
  firstBootArgs: "",
  firstBoot: "echo MODULES=dep > /etc/initramfs-tools/conf.d/e2e-modules.conf\n",
};

export function imageKey(sources: MirrorSources, spec: ImageSpec = HOST_IMAGE): string {
  const h = createHash("sha256");
  h.update(readFileSync(__filename));
  h.update(JSON.stringify({ ...spec, files: spec.files("ROOT-UUID") }));
  h.update(sources.deb822);
  for (const k of sources.extraKeyrings) h.update(readFileSync(k));
  return h.digest("hex").slice(0, 16);
}

function keygen(file: string, comment: string, log: string): Promise<string> {
  return run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file], { log });
}

/** The cached image for these inputs, building it first when there is none. */
export async function ensureImage(
  sources: MirrorSources,
  proxy: MirrorProxy,
  say: (line: string) => void,
  spec: ImageSpec = HOST_IMAGE,
): Promise<{ image: Image; accel: Accel }> {
  const key = imageKey(sources, spec);
  const dir = join(CACHE_DIR, `${spec.name}-${key}`);
  const what = spec.name;
  const load = (buildMs: number, cached: boolean): Image => {
    const meta = JSON.parse(readFileSync(join(dir, "image.json"), "utf8")) as { rootUuid: string };
    return {
      dir,
      disk: join(dir, "disk.raw"),
      privateKey: readFileSync(join(dir, "id_ed25519"), "utf8"),
      hostKey: readFileSync(join(dir, "ssh_host_ed25519_key.pub"), "utf8").trim().split(/\s+/).slice(0, 2).join(" "),
      rootUuid: meta.rootUuid,
      kernel: join(dir, "boot", "vmlinuz"),
      buildMs,
      cached,
    };
  };
  if (existsSync(join(dir, "image.json"))) {
    say(`${what}: cached ${dir}`);
    const image = load(0, true);
    return { image, accel: await chooseAccel(image.kernel, dir) };
  }
  if (process.getuid?.() !== 0)
    throw new Error(
      "building the e2e image needs root (mmdebstrap --mode=root, mkfs.ext4 -d keeping file owners); run as root or provide a cached image",
    );
  const started = Date.now();
  mkdirSync(CACHE_DIR, { recursive: true });
  // A build that died left its directory (and its log) behind; the next build clears it.
  for (const old of readdirSync(CACHE_DIR))
    if (old.startsWith(`build-${spec.name}-`)) rmSync(join(CACHE_DIR, old), { recursive: true, force: true });
  const work = join(CACHE_DIR, `build-${spec.name}-${key}-${process.pid}`);
  mkdirSync(work, { recursive: true });
  const log = join(work, "build.log");
  const root = join(work, "root");
  const rootUuid = randomUUID();
  try {
    say(`${what}: building ${dir} (log: ${log})`);
    await keygen(join(work, "id_ed25519"), "openstack-rt-e2e-client", log);
    await keygen(join(work, "ssh_host_ed25519_key"), "openstack-rt-e2e-vm", log);
    const overlay = join(work, "overlay");
    for (const [path, f] of Object.entries({ ...commonFiles(rootUuid), ...spec.files(rootUuid) })) {
      mkdirSync(join(overlay, path, ".."), { recursive: true });
      writeFileSync(join(overlay, path), f.text, { mode: f.mode });
    }
    const sourcesFile = join(work, "mirror.sources");
    writeFileSync(sourcesFile, sources.deb822);
    const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    const hooks = [
      ...sources.extraKeyrings.map((k) => `--setup-hook=mkdir -p "$1"${q(join(k, ".."))} && cp ${q(k)} "$1"${q(k)}`),
      `--customize-hook=${sh(`
        cp -a ${q(overlay)}/. "$1"/
        rm -f "$1"/etc/ssh/ssh_host_*
        install -m 600 ${q(join(work, "ssh_host_ed25519_key"))} "$1"/etc/ssh/ssh_host_ed25519_key
        install -m 644 ${q(join(work, "ssh_host_ed25519_key.pub"))} "$1"/etc/ssh/ssh_host_ed25519_key.pub
        install -d -m 700 "$1"/root/.ssh
        install -m 600 ${q(join(work, "id_ed25519.pub"))} "$1"/root/.ssh/authorized_keys
        sed -i 's/^GRUB_CMDLINE_LINUX_DEFAULT=.*/GRUB_CMDLINE_LINUX_DEFAULT="${spec.cmdline}"/' "$1"/etc/default/grub
        grep -q '^GRUB_CMDLINE_LINUX_DEFAULT="${spec.cmdline}"$' "$1"/etc/default/grub
        chroot "$1" systemctl enable systemd-networkd.service
        echo 'grub-pc grub-pc/install_devices multiselect /dev/vda' | chroot "$1" debconf-set-selections
        # Nothing runs on its own during a test: no apt timers (they would hold dpkg's lock
        # while the packages step runs), no scrubbing; no DNS server (mmdebstrap copied this
        # machine's resolv.conf): the VM needs none, its apt goes through the proxy.
        chroot "$1" systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer
        # Nothing waits for "network online" (qemu's network is up at once, and the unit's
        # default is to wait minutes under emulation for a link state it never reports).
        chroot "$1" systemctl mask systemd-networkd-wait-online.service
        echo '# none: the e2e VM reaches only the mirror proxy, by address' > "$1"/etc/resolv.conf
        rm -f "$1"/etc/apt/apt.conf.d/99mmdebstrap
        rm -f "$1"/etc/machine-id "$1"/var/lib/dbus/machine-id
        : > "$1"/etc/machine-id
        rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/*_Packages "$1"/var/lib/apt/lists/*_Translation-*
        ${spec.customize}
      `)}`,
    ];
    say(`${what}: mmdebstrap ${SUITE} with ${spec.packages.join(" ")}`);
    await run(
      "mmdebstrap",
      [
        "--mode=root",
        "--variant=apt",
        "--format=directory",
        `--include=${spec.packages.join(",")}`,
        // Through the harness's proxy: its .deb cache then serves the next build and the VM.
        `--aptopt=Acquire::http::Proxy "http://127.0.0.1:${proxy.port}"`,
        // No manuals, docs or translations: less for dpkg to unpack under emulation.
        ...["/usr/share/man/*", "/usr/share/doc/*", "/usr/share/info/*", "/usr/share/locale/*"].map(
          (p) => `--dpkgopt=path-exclude=${p}`,
        ),
        "--dpkgopt=path-include=/usr/share/locale/locale.alias",
        ...hooks,
        SUITE,
        root,
        sourcesFile,
      ],
      { log },
    );

    const boot = join(work, "boot");
    mkdirSync(boot);
    const kernels = readdirSync(join(root, "boot")).filter((f) => f.startsWith("vmlinuz-"));
    if (kernels.length !== 1)
      throw new Error(`expected one kernel in the image's /boot, found ${kernels.join(", ") || "none"}`);
    const release = kernels[0].slice("vmlinuz-".length);
    copyFileSync(join(root, "boot", `vmlinuz-${release}`), join(boot, "vmlinuz"));
    copyFileSync(join(root, "boot", `initrd.img-${release}`), join(boot, "initrd.img"));

    say(`${what}: ext4 file system from the root directory at the first partition`);
    const disk = join(work, "disk.raw");
    await run("truncate", ["-s", `${DISK_SIZE_MB}M`, disk], { log });
    await run("sfdisk", ["--quiet", disk], {
      input: `label: dos\nstart=${PARTITION_START_MB * 2048}, type=83, bootable\n`,
      log,
    });
    await run(
      "mkfs.ext4",
      [
        "-q",
        "-F",
        "-L",
        "e2e-root",
        "-U",
        rootUuid,
        "-E",
        `offset=${PARTITION_START_MB * 1024 * 1024}`,
        "-d",
        root,
        disk,
        `${(DISK_SIZE_MB - PARTITION_START_MB) * 1024}k`,
      ],
      { log },
    );
    rmSync(root, { recursive: true, force: true });

    const accel = await chooseAccel(join(boot, "vmlinuz"), work);
    if (accel.note) say(`${what}: ${accel.note}`);
    say(`${what}: first boot (${accel.kind}; kernel from the image, no bootloader yet) to install GRUB`);
    const vm = await startVm({
      disk,
      snapshot: false,
      serialLog: join(work, "first-boot.log"),
      accel,
      kernel: {
        kernel: join(boot, "vmlinuz"),
        initrd: join(boot, "initrd.img"),
        append: `root=UUID=${rootUuid} ro console=ttyS0,115200n8${spec.firstBootArgs ? ` ${spec.firstBootArgs}` : ""}`,
      },
    });
    const target = {
      host: "127.0.0.1",
      port: vm.port,
      user: "root",
      hostKey: readFileSync(join(work, "ssh_host_ed25519_key.pub"), "utf8").trim().split(/\s+/).slice(0, 2).join(" "),
    };
    const auth = { privateKey: readFileSync(join(work, "id_ed25519"), "utf8") };
    try {
      await waitForSsh(vm, target, auth, accel.kind === "kvm" ? 300_000 : 1_200_000);
      const r = await runSsh(target, auth, "bash -s", {
        stdin: sh(`
          grub-install --target=i386-pc /dev/vda
          update-grub
          test -s /boot/grub/grub.cfg
          fstrim -v / || true
          ${spec.firstBoot}
        `),
        commandTimeoutMs: 15 * 60_000,
        retries: 0,
      });
      writeFileSync(log, `$ first boot: grub-install, update-grub\n${r.stdout}${r.stderr}\n`, { flag: "a" });
      if (r.code !== 0)
        throw new Error(
          `installing GRUB in the VM failed (exit ${r.code}):\n${r.stderr.trim().split("\n").slice(-15).join("\n")}`,
        );
      if ((await shutdownVm(vm, target, auth, accel.kind === "kvm" ? 120_000 : 600_000)) !== "clean")
        throw new Error("the VM did not power off after installing GRUB");
    } finally {
      await vm.kill();
    }
    writeFileSync(
      join(work, "image.json"),
      `${JSON.stringify({ rootUuid, suite: SUITE, packages: spec.packages, builtAt: new Date().toISOString() }, null, 2)}\n`,
    );
    rmSync(overlay, { recursive: true, force: true });
    rmSync(join(work, "ssh_host_ed25519_key"), { force: true });
    // Older images (other inputs) go: each holds a few GB.
    for (const old of readdirSync(CACHE_DIR))
      if (old.startsWith(`${spec.name}-`) && old !== `${spec.name}-${key}`)
        rmSync(join(CACHE_DIR, old), { recursive: true, force: true });
    renameSync(work, dir);
  } catch (e) {
    rmSync(root, { recursive: true, force: true });
    throw new Error(`building the e2e ${what} failed (log: ${log}): ${(e as Error).message}`);
  }
  const buildMs = Date.now() - started;
  say(`${what}: built in ${Math.round(buildMs / 1000)} s`);
  const image = load(buildMs, false);
  return { image, accel: await chooseAccel(image.kernel, dir) };
}
