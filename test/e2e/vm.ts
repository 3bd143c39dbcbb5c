/**
 * Boots the e2e disk image with qemu: 4 vCPUs in 2 NUMA nodes of 2 CPUs, one memory backend
 * per node big enough for a 1 GiB page plus the OS, `pdpe1gb` so the guest can have 1 GiB pages,
 * SSH forwarded from a free 127.0.0.1 port, the serial console in a log file. KVM when /dev/kvm
 * works, TCG (much slower, and said so) when it does not. Every VM started here is killed when
 * this process exits.
 */
import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import type { SshAuth, SshTarget } from "../../lib/transport/ssh";
import { runSsh } from "../../lib/transport/ssh";

export const QEMU = "qemu-system-x86_64";
export const NUMA_NODES = 2;
export const CPUS_PER_NODE = 2;
/** One 1 GiB page per node, and 1.5 GiB per node for the OS (the plan's memoryMb per node). */
export const MEMORY_PER_NODE_MB = 2560;
const PROBE_TIMEOUT_MS = 30_000;

export interface Accel {
  kind: "kvm" | "tcg";
  args: string[];
  /** Why KVM is not used, when it is not. */
  note: string;
}

const KVM_CPU = "host,-arch-capabilities,+pdpe1gb";
const TCG: Omit<Accel, "note"> = { kind: "tcg", args: ["-accel", "tcg,thread=multi", "-cpu", "max,+pdpe1gb"] };

function kvmModule(): string {
  for (const m of ["kvm_intel", "kvm_amd", "kvm_pvm"]) if (existsSync(`/sys/module/${m}`)) return m;
  return "unknown";
}

/**
 * Does KVM run this guest kernel, with 1 GiB pages? Boots `kernel` under KVM with no root file
 * system and -no-reboot: a working KVM gets it to its "unable to mount root" panic, and qemu
 * exits, within seconds. /dev/kvm alone proves nothing: some machines offer it through a
 * hypervisor that cannot run an unmodified kernel (kvm_pvm runs only PVM guest kernels; a stock
 * kernel hangs in its real-mode setup), or without 1 GiB pages for guests.
 */
export async function probeAccel(kernel: string, workDir: string): Promise<Accel> {
  if (!existsSync("/dev/kvm"))
    return {
      ...TCG,
      note: "KVM not usable (/dev/kvm does not exist): using TCG software emulation, expect a much slower run",
    };
  const log = join(workDir, "kvm-probe.log");
  const child = spawn(
    QEMU,
    [
      "-accel",
      "kvm",
      "-cpu",
      KVM_CPU,
      "-machine",
      "pc",
      "-m",
      "512",
      "-smp",
      "2",
      "-nodefaults",
      "-no-user-config",
      "-display",
      "none",
      "-no-reboot",
      "-serial",
      `file:${log}`,
      "-kernel",
      kernel,
      "-append",
      "console=ttyS0 panic=-1 root=/dev/null",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let err = "";
  child.stderr?.setEncoding("utf8").on("data", (d: string) => (err += d));
  const code = await new Promise<number | null | "timeout">((resolve) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      resolve("timeout");
    }, PROBE_TIMEOUT_MS);
    child.once("exit", (c) => {
      clearTimeout(timer);
      resolve(c);
    });
    child.once("error", (e) => {
      clearTimeout(timer);
      err += e.message;
      resolve(null);
    });
  });
  let serial = "";
  try {
    serial = readFileSync(log, "utf8");
  } catch {
    // no log: qemu did not start
  }
  const why = (reason: string) => ({
    ...TCG,
    note: `KVM not usable (${reason}): using TCG software emulation, expect a much slower run`,
  });
  if (code === "timeout") {
    return why(
      `a stock kernel did not get through its boot under /dev/kvm (module ${kvmModule()}) within ${PROBE_TIMEOUT_MS / 1000} s; serial: ${JSON.stringify(serial.trim().split("\n").pop() ?? "")}`,
    );
  }
  if (/pdpe1gb/.test(err))
    return why("it offers guests no 1 GiB pages (qemu: host doesn't support requested feature pdpe1gb)");
  if (!/Kernel panic|Linux version/.test(serial))
    return why(
      `qemu -accel kvm exited ${code ?? "with an error"} before the kernel ran: ${err.trim().split("\n")[0] ?? ""}`,
    );
  return { kind: "kvm", args: ["-accel", "kvm", "-cpu", KVM_CPU], note: "" };
}

let chosen: Promise<Accel> | null = null;
/** The accelerator for this process's VMs: probed once, or forced with E2E_ACCEL=tcg. */
export function chooseAccel(kernel: string, workDir: string): Promise<Accel> {
  if (process.env.E2E_ACCEL === "tcg") return Promise.resolve({ ...TCG, note: "TCG forced by E2E_ACCEL=tcg" });
  chosen ??= probeAccel(kernel, workDir);
  return chosen;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** The VM's hardware: vCPUs in equal NUMA nodes, each node's memory, and what backs that memory. */
export interface VmShape {
  name: string;
  nodes: number;
  cpusPerNode: number;
  memoryPerNodeMb: number;
  /**
   * A hugetlbfs mount of 1 GiB pages on this machine to back the guest's memory with
   * (memory-backend-file, preallocated); ordinary memory without it.
   */
  hugePath?: string;
}

/** The compute host: 4 vCPUs in 2 NUMA nodes, a 1 GiB page per node plus the OS. */
export const HOST_SHAPE: VmShape = {
  name: "openstack-rt-e2e",
  nodes: NUMA_NODES,
  cpusPerNode: CPUS_PER_NODE,
  memoryPerNodeMb: MEMORY_PER_NODE_MB,
};

export interface VmOptions {
  /** HOST_SHAPE when not given. */
  shape?: VmShape;
  /** More qemu arguments (a seed disk, fw_cfg entries). */
  extraArgs?: string[];
  disk: string;
  /** Discard the guest's writes when qemu exits (the cached image stays pristine). */
  snapshot: boolean;
  serialLog: string;
  accel: Accel;
  /** Direct kernel boot (the image's first boot, before GRUB is installed). */
  kernel?: { kernel: string; initrd: string; append: string };
}

export interface Vm {
  port: number;
  serialLog: string;
  process: ChildProcess;
  /** Resolves with qemu's exit code when it exits (a guest power-off ends qemu). */
  exited: Promise<number | null>;
  running(): boolean;
  /** SIGKILL: the plug pulled. */
  kill(): Promise<void>;
  /** qemu's own stderr, for error messages. */
  stderr(): string;
}

const running = new Set<ChildProcess>();
let hooked = false;
function killAllOnExit() {
  if (hooked) return;
  hooked = true;
  process.on("exit", () => {
    for (const p of running) p.kill("SIGKILL");
  });
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => {
      for (const p of running) p.kill("SIGKILL");
      process.exit(130);
    });
  }
}

export function qemuArgs(o: VmOptions, port: number): string[] {
  const shape = o.shape ?? HOST_SHAPE;
  const numa: string[] = [];
  for (let n = 0; n < shape.nodes; n++) {
    const first = n * shape.cpusPerNode;
    const size = `size=${shape.memoryPerNodeMb}M`;
    numa.push(
      "-object",
      shape.hugePath
        ? `memory-backend-file,id=mem${n},${size},mem-path=${shape.hugePath},prealloc=on`
        : `memory-backend-ram,id=mem${n},${size}`,
      "-numa",
      `node,nodeid=${n},cpus=${first}-${first + shape.cpusPerNode - 1},memdev=mem${n}`,
    );
  }
  return [
    "-name",
    shape.name,
    // RAM below 4 GiB ends where node 0 does: each node is one contiguous range, and node 1
    // (from 4 GiB up) has whole, 1 GiB-aligned gigabytes for its boot-time 1 GiB page. With
    // qemu's default split, node 1 was 512 MiB below 4 GiB plus 2 GiB above, and the kernel's
    // own early allocations left it no free aligned gigabyte ("allocating 1 of page size
    // 1.00 GiB failed node1").
    "-machine",
    shape.nodes > 1 ? `pc,max-ram-below-4g=${shape.memoryPerNodeMb}M` : "pc",
    ...o.accel.args,
    "-smp",
    `${shape.nodes * shape.cpusPerNode},sockets=${shape.nodes},cores=${shape.cpusPerNode},threads=1`,
    "-m",
    `${shape.nodes * shape.memoryPerNodeMb}M`,
    ...numa,
    "-nodefaults",
    "-no-user-config",
    "-display",
    "none",
    "-vga",
    "none",
    "-serial",
    `file:${o.serialLog}`,
    "-drive",
    `file=${o.disk},format=raw,if=virtio,cache=unsafe,discard=unmap${o.snapshot ? ",snapshot=on" : ""}`,
    // The guest reaches the host's loopback (the mirror proxy) as 10.0.2.2; nothing else is
    // configured in it (no DNS server, no time server), and apt is its only client.
    "-netdev",
    `user,id=net0,ipv6=off,hostfwd=tcp:127.0.0.1:${port}-:22`,
    "-device",
    "virtio-net-pci,netdev=net0",
    "-device",
    "virtio-rng-pci",
    ...(o.kernel ? ["-kernel", o.kernel.kernel, "-initrd", o.kernel.initrd, "-append", o.kernel.append] : []),
    ...(o.extraArgs ?? []),
  ];
}

/** Does `exited` settle within `ms`? The timer is cleared either way: a pending one would keep this process alive. */
async function exitsWithin(exited: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)));
  try {
    return await Promise.race([exited.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function startVm(o: VmOptions): Promise<Vm> {
  killAllOnExit();
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const child = spawn(QEMU, qemuArgs(o, port), { stdio: ["ignore", "ignore", "pipe"] });
    running.add(child);
    let err = "";
    child.stderr?.setEncoding("utf8").on("data", (d: string) => (err += d));
    let done = false;
    const exited = new Promise<number | null>((resolve) => {
      child.once("exit", (code) => {
        done = true;
        running.delete(child);
        resolve(code);
      });
      child.once("error", (e) => {
        done = true;
        running.delete(child);
        err += e.message;
        resolve(null);
      });
    });
    // A port taken between freePort() and qemu's bind makes qemu exit at once: try another.
    const early = await exitsWithin(exited, 1_500);
    if (early) {
      if (/hostfwd|host forwarding/i.test(err) && attempt < 3) continue;
      throw new Error(`qemu exited at start: ${err.trim()}`);
    }
    return {
      port,
      serialLog: o.serialLog,
      process: child,
      exited,
      running: () => !done,
      kill: async () => {
        if (!done) child.kill("SIGKILL");
        await exited;
      },
      stderr: () => err,
    };
  }
}

export function serialTail(vm: Vm, lines = 15): string {
  try {
    return readFileSync(vm.serialLog, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "(no serial log)";
  }
}

/** How many times a kernel started on this VM's serial console. */
export function kernelBoots(vm: Vm): number {
  try {
    return (readFileSync(vm.serialLog, "utf8").match(/Linux version \d/g) ?? []).length;
  } catch {
    return 0;
  }
}

/** Polls until SSH answers with the boot id; fails early when qemu exits. */
export async function waitForSsh(vm: Vm, target: SshTarget, auth: SshAuth, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    if (!vm.running())
      throw new Error(
        `the VM exited while waiting for SSH (qemu: ${vm.stderr().trim() || "no message"}); serial console:\n${serialTail(vm)}`,
      );
    try {
      const r = await runSsh(target, auth, "cat /proc/sys/kernel/random/boot_id", {
        connectTimeoutMs: 5_000,
        commandTimeoutMs: 10_000,
        retries: 0,
      });
      if (r.code === 0 && r.stdout.trim()) return r.stdout.trim();
      last = `exit ${r.code}: ${r.stderr.trim()}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 1_000));
  }
  throw new Error(
    `no SSH on 127.0.0.1:${vm.port} within ${Math.round(timeoutMs / 1000)} s (last: ${last}); serial console:\n${serialTail(vm)}`,
  );
}

/** Powers the guest off over SSH and waits for qemu to exit; kills it when it does not. */
export async function shutdownVm(
  vm: Vm,
  target: SshTarget,
  auth: SshAuth,
  timeoutMs = 60_000,
  /** For a login user that is not root: "sudo -n systemctl poweroff --no-block". */
  command = "systemctl poweroff --no-block",
): Promise<"clean" | "killed"> {
  if (!vm.running()) return "clean";
  try {
    await runSsh(target, auth, command, {
      connectTimeoutMs: 5_000,
      commandTimeoutMs: 10_000,
      retries: 0,
    });
  } catch {
    // the session may drop as the guest goes down
  }
  if (await exitsWithin(vm.exited, timeoutMs)) return "clean";
  await vm.kill();
  return "killed";
}
