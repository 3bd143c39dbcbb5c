/**
 * A Debian 12 root directory for the hostprep/*.sh tests: the files Debian's own packages
 * install (unpacked from the real .debs with dpkg-deb), the config files their maintainer
 * scripts would put in /etc, and the /proc and /sys files the scripts read, laid out for the
 * dev stack's topology. The scripts run against it with `--root`, so every file edit runs
 * for real while nothing touches this machine.
 *
 * The .debs come from this machine's apt sources (`apt-get download`) and are cached in
 * .cache/debs (git-ignored). A failed download fails the test that needed it.
 */
import type { SpawnSyncReturns } from "node:child_process";
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  accessSync,
  chmodSync,
  constants,
  copyFileSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach } from "node:test";
import { cpuSet, formatCpuList, parseCpuList } from "../../lib/cpu/cpuset";
import { remoteCommand } from "../../lib/desired/step-connection";
import type { ScriptName } from "../../lib/hostprep/scripts";
import { HOSTPREP_COPY_PATH, hostprepPath } from "../../lib/hostprep/scripts";
import { devRaw, PROJECT_DIR } from "./dev-config";

/** hostprep/ in the checkout. */
export const HOSTPREP_DIR = hostprepPath();
export const FIXTURES_DIR = join(PROJECT_DIR, "test", "fixtures", "hostprep");
export const DEB_CACHE = join(PROJECT_DIR, ".cache", "debs");
/** Debian's python3, which has python3-nova and TuneD's modules (a pyenv python3 on PATH does not). */
export const SYSTEM_PYTHON = "/usr/bin/python3";

/**
 * Where the roots go: tmpfs when there is one (/dev/shm), since every test copies and hashes a
 * few hundred files; os.tmpdir() otherwise. Nothing is executed from there.
 */
export const SCRATCH = (() => {
  try {
    accessSync("/dev/shm", constants.W_OK);
    return "/dev/shm";
  } catch {
    return tmpdir();
  }
})();

/** The packages whose files make up every test root. */
const ROOT_PACKAGES = ["base-files", "tuned", "grub2-common", "nova-common"];

/** Path of the cached .deb of `pkg`, downloaded with `apt-get download` on first use. */
export function cachedDeb(pkg: string): string {
  mkdirSync(DEB_CACHE, { recursive: true });
  const find = () => readdirSync(DEB_CACHE).find((f) => f.startsWith(`${pkg}_`) && f.endsWith(".deb"));
  const hit = find();
  if (hit) return join(DEB_CACHE, hit);
  // Download into a private directory and rename into the cache: test files run in parallel
  // processes, and a half-written .deb must never be visible under its final name.
  const tmp = mkdtempSync(join(DEB_CACHE, ".download-"));
  try {
    const r = spawnSync("apt-get", ["download", pkg], { cwd: tmp, encoding: "utf8" });
    const got = readdirSync(tmp).filter((f) => f.endsWith(".deb"));
    if (r.status !== 0 || got.length === 0) {
      throw new Error(
        `apt-get download ${pkg} failed (exit ${r.status ?? r.signal}): ${(r.stderr || r.error?.message || "").trim()}\n` +
          `The hostprep tests unpack Debian's own ${pkg} package; they need apt sources for Debian 12 (run apt-get update) or the .deb in ${DEB_CACHE}.`,
      );
    }
    for (const f of got) renameSync(join(tmp, f), join(DEB_CACHE, f));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const now = find();
  if (!now) throw new Error(`apt-get download ${pkg} left no ${pkg}_*.deb in ${DEB_CACHE}`);
  return join(DEB_CACHE, now);
}

export interface NodeLayout {
  id: number;
  cpus: number[];
  memoryMb: number;
}

export class TestRoot {
  constructor(readonly dir: string) {}

  /** Host path -> path under the root. */
  path(hostPath: string): string {
    return join(this.dir, hostPath);
  }
  read(hostPath: string): string {
    return readFileSync(this.path(hostPath), "utf8");
  }
  write(hostPath: string, content: string, mode?: number): void {
    const p = this.path(hostPath);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, content);
    if (mode !== undefined) chmodSync(p, mode);
  }
  exists(hostPath: string): boolean {
    return existsSync(this.path(hostPath));
  }
  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  /**
   * Every entry under the root: files as sha256 + mode, symlinks as their target, directories
   * by mode. Two equal snapshots mean a run changed nothing at all.
   */
  snapshot(): Map<string, string> {
    const out = new Map<string, string>();
    const walk = (rel: string) => {
      for (const name of readdirSync(join(this.dir, rel)).sort()) {
        const r = rel ? `${rel}/${name}` : name;
        const st = lstatSync(join(this.dir, r));
        if (st.isSymbolicLink()) out.set(r, `link ${readlinkSync(join(this.dir, r))}`);
        else if (st.isDirectory()) {
          out.set(r, `dir ${(st.mode & 0o7777).toString(8)}`);
          walk(r);
        } else {
          const sha = createHash("sha256")
            .update(readFileSync(join(this.dir, r)))
            .digest("hex");
          out.set(r, `file ${(st.mode & 0o7777).toString(8)} ${sha}`);
        }
      }
    };
    walk("");
    return out;
  }

  /**
   * A cheaper change detector than `snapshot()`: inode, size, mode and nanosecond mtime of
   * every entry. Any write, rename or chmod shows up; used where hundreds of runs each need a
   * before/after comparison.
   */
  fingerprint(): Map<string, string> {
    const out = new Map<string, string>();
    const walk = (rel: string) => {
      for (const name of readdirSync(join(this.dir, rel))) {
        const r = rel ? `${rel}/${name}` : name;
        const st = lstatSync(join(this.dir, r), { bigint: true });
        out.set(r, `${st.ino}:${st.size}:${st.mode}:${st.mtimeNs}`);
        if (st.isDirectory()) walk(r);
      }
    };
    walk("");
    return out;
  }

  /** Writes the /proc and /sys files the scripts and lscpu read, for these NUMA nodes. */
  layTopology(nodes: NodeLayout[]): void {
    const all = nodes.flatMap((n) => n.cpus.map((cpu) => ({ cpu, node: n.id }))).sort((a, b) => a.cpu - b.cpu);
    const cpuDir = "/sys/devices/system/cpu";
    const list = formatCpuList(cpuSet(all.map((c) => c.cpu)));
    for (const f of ["online", "present", "possible"]) this.write(`${cpuDir}/${f}`, `${list}\n`);
    this.write(`${cpuDir}/kernel_max`, `${Math.max(...all.map((c) => c.cpu))}\n`);
    let cpuinfo = "";
    for (const { cpu, node } of all) {
      // One socket per node and one thread per core (SMT off, as in the seed deployment).
      const siblings = nodes.find((n) => n.id === node)!.cpus;
      const t = `${cpuDir}/cpu${cpu}/topology`;
      this.write(`${cpuDir}/cpu${cpu}/online`, "1\n");
      this.write(`${t}/core_id`, `${cpu}\n`);
      this.write(`${t}/physical_package_id`, `${node}\n`);
      this.write(`${t}/die_id`, "0\n");
      this.write(`${t}/thread_siblings_list`, `${cpu}\n`);
      this.write(`${t}/thread_siblings`, `${mask([cpu])}\n`);
      this.write(`${t}/core_cpus_list`, `${cpu}\n`);
      this.write(`${t}/core_cpus`, `${mask([cpu])}\n`);
      this.write(`${t}/core_siblings_list`, `${formatCpuList(cpuSet(siblings))}\n`);
      this.write(`${t}/core_siblings`, `${mask(siblings)}\n`);
      this.write(`${t}/package_cpus_list`, `${formatCpuList(cpuSet(siblings))}\n`);
      this.write(`${t}/package_cpus`, `${mask(siblings)}\n`);
      cpuinfo += `processor\t: ${cpu}\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU E5-2620 v3 @ 2.40GHz\nphysical id\t: ${node}\ncore id\t\t: ${cpu}\ncpu cores\t: ${siblings.length}\n\n`;
    }
    this.write("/proc/cpuinfo", cpuinfo);
    const nodeDir = "/sys/devices/system/node";
    const ids = formatCpuList(cpuSet(nodes.map((n) => n.id)));
    this.write(`${nodeDir}/possible`, `${ids}\n`);
    this.write(`${nodeDir}/online`, `${ids}\n`);
    let totalKb = 0;
    for (const n of nodes) {
      const d = `${nodeDir}/node${n.id}`;
      this.write(`${d}/cpulist`, `${formatCpuList(cpuSet(n.cpus))}\n`);
      this.write(`${d}/cpumap`, `${mask(n.cpus)}\n`);
      const kb = n.memoryMb * 1024;
      totalKb += kb;
      // The first lines of a real node meminfo, in the kernel's format.
      this.write(
        `${d}/meminfo`,
        `Node ${n.id} MemTotal:       ${kb} kB\nNode ${n.id} MemFree:        ${kb - 524288} kB\nNode ${n.id} MemUsed:          524288 kB\n`,
      );
      this.write(`${d}/hugepages/hugepages-1048576kB/nr_hugepages`, "0\n");
      this.write(`${d}/hugepages/hugepages-2048kB/nr_hugepages`, "0\n");
    }
    this.write("/proc/meminfo", `MemTotal:       ${totalKb} kB\nMemFree:        ${totalKb - 1048576} kB\n`);
  }

  /** The running kernel as /proc shows it (uname -r, uname -v) and its command line. */
  setKernel(release: string, version: string, cmdline: string): void {
    this.write("/proc/sys/kernel/osrelease", `${release}\n`);
    this.write("/proc/sys/kernel/version", `${version}\n`);
    this.write("/proc/cmdline", `${cmdline}\n`);
  }
}

function mask(cpus: number[]): string {
  return cpus.reduce((m, c) => m | (1n << BigInt(c)), 0n).toString(16);
}

export const STOCK_KERNEL = "6.1.0-28-amd64";
export const STOCK_VERSION = "#1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1 (2024-11-22)";
export const RT_KERNEL = "6.1.0-28-rt-amd64";
export const RT_VERSION = "#1 SMP PREEMPT_RT Debian 6.1.119-1 (2024-11-22)";
export const STOCK_CMDLINE = `BOOT_IMAGE=/boot/vmlinuz-${STOCK_KERNEL} root=UUID=2f6c3c1e-8d1a-4c55-9a7e-51a0c3f0d7b4 ro quiet`;

/** The dev stack's first host's NUMA nodes, as declared in Pulumi.dev.yaml. */
export function devNodes(): NodeLayout[] {
  const host = devRaw().hosts[0] as { topology: { nodes: { id: number; cpus: string; memoryMb: number }[] } };
  return host.topology.nodes.map((n) => ({ id: n.id, cpus: [...parseCpuList(n.cpus)], memoryMb: n.memoryMb }));
}

/**
 * Unpacks Debian 12's base-files, tuned, grub2-common and nova-common into a fresh directory,
 * installs /etc/default/grub and /etc/nova/nova.conf from the templates those packages ship
 * (what grub-pc's and nova-common's maintainer scripts do), and lays out /proc and /sys for
 * the dev stack's topology with a stock (non-RT) kernel running.
 */
export function buildDebianRoot(): TestRoot {
  const root = new TestRoot(mkdtempSync(join(SCRATCH, "hostprep-root-")));
  // cp -a keeps modes and symlinks exactly as dpkg-deb unpacked them.
  execFileSync("cp", ["-a", "--", `${debianTemplate()}/.`, root.dir]);
  return root;
}

let template: string | undefined;
/** The unpacked root, built once per test process; every test gets its own copy. */
function debianTemplate(): string {
  if (template) return template;
  const debs = ROOT_PACKAGES.map(cachedDeb);
  const root = new TestRoot(mkdtempSync(join(SCRATCH, "hostprep-template-")));
  process.on("exit", () => root.remove());
  for (const deb of debs) execFileSync("dpkg-deb", ["-x", deb, root.dir]);
  mkdirSync(root.path("/etc/default"), { recursive: true });
  copyFileSync(root.path("/usr/share/grub/default/grub"), root.path("/etc/default/grub"));
  mkdirSync(root.path("/etc/nova"), { recursive: true });
  copyFileSync(root.path("/usr/share/nova-common/nova.conf"), root.path("/etc/nova/nova.conf"));
  chmodSync(root.path("/etc/nova/nova.conf"), 0o640);
  root.layTopology(devNodes());
  root.setKernel(STOCK_KERNEL, STOCK_VERSION, STOCK_CMDLINE);
  root.write("/proc/sys/kernel/random/boot_id", "5b0d3f0e-3c55-4a4c-8f47-3d1d0f9b2a61\n");
  template = root.dir;
  return template;
}

/**
 * A RHEL 9 root: the Debian root's /proc, /sys and TuneD files, with RHEL 9's os-release and
 * /etc/default/grub (test/fixtures/hostprep/rhel-9). Enough for the steps that only read
 * os-release and edit GRUB_CMDLINE_LINUX.
 */
export function buildRhelRoot(): TestRoot {
  const root = buildDebianRoot();
  rmSync(root.path("/etc/os-release"));
  rmSync(root.path("/usr/lib/os-release"));
  root.write("/etc/os-release", readFileSync(join(FIXTURES_DIR, "rhel-9", "os-release"), "utf8"));
  root.write("/etc/default/grub", readFileSync(join(FIXTURES_DIR, "rhel-9", "default-grub"), "utf8"));
  root.setKernel(
    "5.14.0-427.13.1.el9_4.x86_64",
    "#1 SMP PREEMPT_DYNAMIC Wed Apr 10 10:29:16 EDT 2024",
    "BOOT_IMAGE=(hd0,gpt2)/vmlinuz-5.14.0-427.13.1.el9_4.x86_64 root=/dev/mapper/rhel-root ro crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M resume=/dev/mapper/rhel-swap rd.lvm.lv=rhel/root rd.lvm.lv=rhel/swap rhgb quiet",
  );
  return root;
}

/** Commands that change the live system: under --root none of them may run. */
export const LIVE_COMMANDS = [
  "systemctl",
  "tuned-adm",
  "update-grub",
  "grub-mkconfig",
  "grub2-mkconfig",
  "grubby",
  "dnf",
  "yum",
  "apt-get",
  "subscription-manager",
  "systemd-run",
  "reboot",
  "setsid",
];

let tripwireDir: string | undefined;
/**
 * A directory that shadows every live command with one that records the call and fails. It
 * is first on PATH for every script run, so a --root run that reached the live system would
 * show up in `ScriptResult.tripped` (and fail).
 */
function tripwire(): string {
  if (tripwireDir) return tripwireDir;
  const dir = mkdtempSync(join(tmpdir(), "hostprep-tripwire-"));
  for (const cmd of LIVE_COMMANDS) {
    writeFileSync(join(dir, cmd), `#!/bin/sh\nprintf '%s\\n' "${cmd} $*" >>"${dir}/calls.log"\nexit 97\n`, {
      mode: 0o755,
    });
  }
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  tripwireDir = dir;
  return dir;
}

export interface ScriptResult {
  status: number | null;
  stdout: string;
  stderr: string;
  lines: string[];
  /** The last line of stdout: "changed" or "unchanged" on success. */
  last: string;
  /** Live commands the run tried to call (must stay empty under --root). */
  tripped: string[];
  /** key=value lines of stdout (the last value wins). */
  values: Map<string, string>;
}

/** Runs hostprep/<script> with these arguments, exactly as a caller would (no shell). */
export function runScript(script: string, args: string[], env: Record<string, string> = {}): ScriptResult {
  return traced((fullEnv) =>
    spawnSync(join(HOSTPREP_DIR, script), args, {
      encoding: "utf8",
      // No stdin: node's pipes are socketpairs, and bash reads ~/.bashrc when stdin is a socket
      // (it takes that for an rsh/ssh session).
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...fullEnv, ...env },
    }),
  );
}

let shippedHome: string | undefined;
/**
 * Runs a step the way a host does: hostprep/ is copied where the `<host>-hostprep` CopyToRemote
 * puts it, `~/.openstack-rt/hostprep` (here under a scratch HOME, copied once per process), and
 * the login shell runs `remoteCommand(step)` (here `bash -c`), which checks the copy and runs the
 * script from it. The HOME is otherwise empty: stdin is a socket here, for which bash reads ~/.bashrc.
 */
export function runShipped(script: ScriptName, args: string[]): ScriptResult {
  if (!shippedHome) {
    const home = mkdtempSync(join(tmpdir(), "hostprep-home-"));
    process.on("exit", () => rmSync(home, { recursive: true, force: true }));
    cpSync(HOSTPREP_DIR, join(home, HOSTPREP_COPY_PATH, "hostprep"), { recursive: true });
    shippedHome = home;
  }
  const home = shippedHome;
  return traced((fullEnv) =>
    spawnSync("bash", ["-c", remoteCommand({ script, args, sudo: false }, "test-hostprep")], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      cwd: home,
      env: { ...fullEnv, HOME: home },
    }),
  );
}

/** Runs `spawn` with the tripwire first on PATH and collects what the run printed and tripped. */
function traced(spawn: (env: NodeJS.ProcessEnv) => SpawnSyncReturns<string>): ScriptResult {
  const trip = tripwire();
  const log = join(trip, "calls.log");
  const before = existsSync(log) ? readFileSync(log, "utf8") : "";
  const r = spawn({
    ...process.env,
    PATH: `${trip}:${process.env.PATH ?? "/usr/bin:/bin"}`,
    LC_ALL: "C",
    TMPDIR: SCRATCH,
  });
  if (r.error) throw r.error;
  const after = existsSync(log) ? readFileSync(log, "utf8") : "";
  const lines = r.stdout.split("\n").filter((l) => l !== "");
  const values = new Map<string, string>();
  for (const l of lines) {
    const m = /^([a-z_]+)=(.*)$/.exec(l);
    if (m) values.set(m[1], m[2]);
  }
  return {
    status: r.status,
    stdout: r.stdout,
    stderr: r.stderr,
    lines,
    last: lines.at(-1) ?? "",
    tripped: after
      .slice(before.length)
      .split("\n")
      .filter((l) => l !== ""),
    values,
  };
}

/** A dpkg status stanza for the package in `deb`, in state `status` ("install ok installed"...). */
function dpkgStanza(deb: string, status: string): string {
  const control = execFileSync("dpkg-deb", ["-f", deb], { encoding: "utf8" }).trimEnd();
  const [first, ...rest] = control.split("\n");
  if (!first.startsWith("Package: ")) throw new Error(`dpkg-deb -f ${deb} does not start with Package:`);
  return [first, `Status: ${status}`, ...rest].join("\n") + "\n";
}

/**
 * Writes the root's dpkg database (/var/lib/dpkg/status) from the real control data of Debian's
 * packages (dpkg-deb -f), the way dpkg records them, each in the state given.
 */
export function writeDpkgStatus(root: TestRoot, packages: Record<string, string>): void {
  root.write(
    "/var/lib/dpkg/status",
    Object.entries(packages)
      .map(([pkg, status]) => dpkgStanza(cachedDeb(pkg), status))
      .join("\n"),
  );
}

/** Describes a run for assertion messages. */
export function show(r: ScriptResult): string {
  return `exit ${r.status}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}

/** The entries whose snapshot differs (added, removed or changed), for assertion messages. */
export function snapshotDiff(a: Map<string, string>, b: Map<string, string>): string[] {
  const keys = new Set([...a.keys(), ...b.keys()]);
  return [...keys].filter((k) => a.get(k) !== b.get(k)).sort();
}

/** Runs Debian's python3 on a script, passing arguments; returns stdout or throws with stderr. */
export function systemPython(code: string, args: string[] = []): string {
  const r = spawnSync(SYSTEM_PYTHON, ["-c", code, ...args], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${SYSTEM_PYTHON} failed (exit ${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** For a test file's top level: `const track = removedAfterEach()`; every root passed to track is removed after its test. */
export function removedAfterEach(): (root: TestRoot) => TestRoot {
  let roots: TestRoot[] = [];
  afterEach(() => {
    for (const r of roots) r.remove();
    roots = [];
  });
  return (root) => {
    roots.push(root);
    return root;
  };
}

/** GRUB_CMDLINE_LINUX as update-grub sees it: the root's /etc/default/grub sourced by a shell. */
export function sourcedCmdline(root: TestRoot): string {
  return execFileSync(
    "bash",
    ["-c", 'set -a; . "$1" >/dev/null 2>&1; printf %s "$GRUB_CMDLINE_LINUX"', "_", root.path("/etc/default/grub")],
    {
      encoding: "utf8",
      env: { PATH: "/usr/bin:/bin" },
      // No stdin socket, so bash does not take itself for an ssh session and read ~/.bashrc.
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
}
