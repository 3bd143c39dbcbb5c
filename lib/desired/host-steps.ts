/**
 * Host preparation as one ordered list of steps, derived from the plan: which hostprep script
 * runs, with which arguments, and which plan values it applies. The Pulumi components turn each
 * step into a `remote.Command`; an end-to-end test can run the same list against a real host.
 *
 * A step's `triggers` are the plan values it applies, so that a change re-runs exactly the steps
 * it affects: a flavor never appears here, and the isolated cores re-run TuneD, nova-compute
 * and the reboot (TuneD puts isolcpus/nohz_full on the bootloader's command line itself), but
 * not the packages or kernel-args.sh, whose arguments are the hugepage ones only.
 *
 * Pure, apart from reading hostprep/ for `bundleScript`.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { HostConfig, NovaOwnerConfig, StackConfig } from "../config/schema";
import { OS_FAMILIES } from "../config/schema";
import type { HostPlan } from "../plan/host";
import { DEFAULT_NOVA_CONF, mergedNovaOwner, novaOwner } from "../plan/host";
import { HUGEPAGE_PAIR_KEYS } from "../plan/hugepages";
import { kernelParamName } from "../plan/kernel-param";
import { show } from "../config/problems";
import { bashStdinCommand } from "../transport/shell";

export const HOSTPREP_DIR = join(__dirname, "..", "..", "hostprep");

export type HostStepId = "facts" | "packages" | "tuned" | "kernel-args" | "nova-compute" | "reboot";
export type StepId = HostStepId | "scheduler";
export type ScriptName =
  "facts.sh" | "packages.sh" | "tuned.sh" | "kernel-args.sh" | "nova-compute.sh" | "reboot.sh" | "scheduler.sh";
/** The files hostprep scripts source; `bundleScript` inlines them. */
const LIBRARIES = ["common.sh", "ini.sh"];

export type TriggerValue = string | number | boolean | null | string[];

export interface HostStep {
  id: StepId;
  script: ScriptName;
  /** The script's arguments, each one word; validated here and again by the script. */
  args: string[];
  /** The plan values this step applies (a superset of what `args` carries). */
  triggers: Record<string, TriggerValue>;
  /** The SSH user is not root: the script runs through `sudo -n`. */
  sudo: boolean;
}

export type SshConfig = HostConfig["ssh"];

/** What the controller's step needs; `controller` is not a key of the stack config yet. */
export type ControllerConfig = Exclude<StackConfig["controller"], false>;

export class HostStepError extends Error {
  constructor(host: string, what: string, value: unknown, allowed: string) {
    super(`host ${host}: ${what} is ${show(value)}; ${allowed}`);
    this.name = "HostStepError";
  }
}

// The same shapes the scripts accept (hostprep/common.sh is_cpulist, parse_kernel_args,
// parse_hugepages_unit; nova-compute.sh's reserved_huge_pages entry), so that a value the
// scripts would refuse fails the preview instead of a `pulumi up` halfway through.
const CPU_ID = "(0|[1-9]\\d{0,3})";
const CPU_LIST = new RegExp(`^${CPU_ID}(-${CPU_ID})?(,${CPU_ID}(-${CPU_ID})?)*$`);
const KERNEL_ARG = /^[A-Za-z][A-Za-z0-9_.-]*(=[A-Za-z0-9_.,:/+@=-]+)?$/;
const PAGE_ENTRY = "node:(0|[1-9]\\d{0,2}),size:[1-9]\\d{0,7}(KB|kB|MB|GB|K|M|G)?,count:(0|[1-9]\\d{0,5})";
const PAGE_ENTRIES = new RegExp(`^${PAGE_ENTRY}(;${PAGE_ENTRY})*$`);
const UNIT_ENTRY = "(0|[1-9]\\d{0,2}):(0|[1-9]\\d{0,6}):(1G|2M)";
const UNIT_ENTRIES = new RegExp(`^${UNIT_ENTRY}(,${UNIT_ENTRY})*$`);
// nova-compute.sh's --conf and --restart-command, as lib/config/schema.ts validates them (no `.`/`..` components, no shell characters).
const CONF_PATH = /^(?!.*\/\.\.?(\/|$))\/[A-Za-z0-9._+-]+(\/[A-Za-z0-9._+-]+)*$/;
const COMMAND_WORDS = /^[A-Za-z0-9@%+=:,./_-]+( [A-Za-z0-9@%+=:,./_-]+){0,15}$/;

function cpuList(host: string, what: string, value: string): string {
  const ok =
    CPU_LIST.test(value) &&
    value.split(",").every((item) => {
      const [lo, hi = lo] = item.split("-").map(Number);
      return lo <= hi && hi <= 8191;
    });
  if (!ok) throw new HostStepError(host, what, value, 'expected a kernel CPU list such as "4-11" or "2,4-7"');
  return value;
}

function kernelArgs(host: string, args: string[]): string {
  const keys = new Set<string>();
  for (const a of args) {
    if (!KERNEL_ARG.test(a))
      throw new HostStepError(host, "kernel argument", a, "expected key or key=value of letters, digits and _.,:/+@=-");
    if (a.length > 256)
      throw new HostStepError(host, "kernel argument", a, `expected 256 characters at most, not ${a.length}`);
    // hugepagesz/hugepages come in pairs, one pair per page size; every other key once.
    const name = kernelParamName(a);
    const key = HUGEPAGE_PAIR_KEYS.includes(name) ? `${name}=${a.split("=").slice(1).join("=")}` : name;
    if (keys.has(key)) throw new HostStepError(host, "kernel arguments", args, `${key} appears twice`);
    keys.add(key);
  }
  if (args.length > 64) throw new HostStepError(host, "the number of kernel arguments", args.length, "64 at most");
  return args.join(" ");
}

function matching(host: string, what: string, value: string, re: RegExp, allowed: string): string {
  if (!re.test(value)) throw new HostStepError(host, what, value, allowed);
  return value;
}

function count(host: string, what: string, value: number): string {
  if (!Number.isSafeInteger(value) || value < 0 || value > 999_999_999)
    throw new HostStepError(host, what, value, "expected a whole number");
  return String(value);
}

/**
 * The per-node counts the boot-time unit reserves, `<node>:<count>:<size>` (1 GiB first: they
 * need contiguous memory that 2 MiB pages would fragment), or null when the kernel command line
 * does (or there are none).
 */
function hugepagesUnit(plan: HostPlan): string | null {
  const { method, sizes } = plan.hugepages;
  const used = sizes.filter((s) => s.perNode.some((n) => n.count > 0));
  if (method !== "boot-unit" || used.length === 0) return null;
  return used.flatMap((s) => s.perNode.map((n) => `${n.node}:${n.count}:${s.name}`)).join(",");
}

/** The steps that prepare one compute host, in the order they must run. */
export function hostSteps(plan: HostPlan, host: HostConfig): HostStep[] {
  const name = plan.name;
  if (host.name !== name)
    throw new HostStepError(name, "the host config's name", host.name, `expected the plan's host ${name}`);
  if (!(OS_FAMILIES as readonly string[]).includes(plan.os))
    throw new HostStepError(name, "os", plan.os, `expected one of ${OS_FAMILIES.join(", ")}`);
  const sudo = host.ssh.user !== "root";
  const os = plan.os;
  const isolatedCores = cpuList(name, "tuned.isolatedCores", plan.tuned.isolatedCores);
  const profile = plan.tuned.profile;
  const rtKernel = profile !== "cpu-partitioning";
  const args = kernelArgs(name, plan.kernel.args);
  const unit = hugepagesUnit(plan);
  if (unit !== null)
    matching(name, "the boot unit's hugepages", unit, UNIT_ENTRIES, 'expected "<node>:<count>:<1G|2M>,..."');
  const unitArgs = [
    ...(unit === null ? [] : ["--hugepages-unit", unit]),
    ...plan.hugepages.extraMounts.flatMap((size) => ["--hugetlbfs-mount", size]),
  ];
  const nova = plan.nova;
  const dedicated = cpuList(name, "nova.cpuDedicatedSet", nova.cpuDedicatedSet);
  const shared = nova.cpuSharedSet === null ? null : cpuList(name, "nova.cpuSharedSet", nova.cpuSharedSet);
  const pages =
    nova.reservedHugePages.length === 0
      ? null
      : matching(
          name,
          "nova.reservedHugePages",
          nova.reservedHugePages.join(";"),
          PAGE_ENTRIES,
          'expected entries like "node:0,size:1GB,count:1"',
        );
  const memory = count(name, "nova.reservedHostMemoryMb", nova.reservedHostMemoryMb);
  // [libvirt] cpu_power_management: only when planned, so other hosts' steps stay as they were.
  const novaPower = plan.power.novaCpuPowerManagement;
  // Who owns nova.conf: without `nova:` the step is as it always was (same args, same triggers).
  const owner = nova.owner;
  const ownerArgs: string[] = [];
  const ownerTriggers: Record<string, string> = {};
  if (owner && owner.configPath !== DEFAULT_NOVA_CONF) {
    ownerArgs.push(
      "--conf",
      matching(name, "nova.configPath", owner.configPath, CONF_PATH, "expected an absolute path"),
    );
    ownerTriggers.configPath = owner.configPath;
  }
  if (owner?.mode === "verify") {
    ownerArgs.push("--check");
    ownerTriggers.configMode = "verify";
  }
  if (owner?.restartCommand !== undefined) {
    ownerArgs.push(
      "--restart-command",
      matching(name, "nova.restartCommand", owner.restartCommand, COMMAND_WORDS, "expected words separated by spaces"),
    );
    ownerTriggers.restartCommand = owner.restartCommand;
  }
  // Triggers: a key appears only when it has a value, so hosts planned before it existed keep theirs.
  const kernel = {
    os,
    kernelArgs: [...plan.kernel.args],
    hugepagesUnit: unit,
    ...(plan.hugepages.extraMounts.length ? { hugetlbfsMounts: [...plan.hugepages.extraMounts] } : {}),
  };

  return [
    // Read-only: what the host runs (OS, kernel, boot id, topology), for the operator and for
    // the checks; re-read when the OS the plan targets changes.
    { id: "facts", script: "facts.sh", args: [], triggers: { os }, sudo },
    // cpu-partitioning: no RT kernel; the args and triggers of RT hosts stay as they were.
    rtKernel
      ? { id: "packages", script: "packages.sh", args: ["--os", os], triggers: { os }, sudo }
      : {
          id: "packages",
          script: "packages.sh",
          args: ["--os", os, "--no-rt-kernel"],
          triggers: { os, rtKernel },
          sudo,
        },
    {
      id: "tuned",
      script: "tuned.sh",
      args: ["--profile", profile, "--isolated-cores", isolatedCores],
      triggers: { profile, isolatedCores },
      sudo,
    },
    {
      id: "kernel-args",
      script: "kernel-args.sh",
      args: ["--os", os, "--args", args, ...unitArgs],
      triggers: kernel,
      sudo,
    },
    // configMode verify: the deployment tool owns nova.conf; the step writes nothing and fails,
    // naming what to set where, unless the file already has the planned settings.
    {
      id: "nova-compute",
      script: "nova-compute.sh",
      args: [
        "--dedicated",
        dedicated,
        ...(shared === null ? [] : ["--shared", shared]),
        "--reserved-host-memory-mb",
        memory,
        ...(pages === null ? [] : ["--reserved-huge-pages", pages]),
        ...(novaPower === null ? [] : ["--cpu-power-management", novaPower]),
        ...ownerArgs,
      ],
      triggers: {
        cpuDedicatedSet: dedicated,
        cpuSharedSet: shared,
        reservedHostMemoryMb: nova.reservedHostMemoryMb,
        reservedHugePages: [...nova.reservedHugePages],
        ...(novaPower === null ? {} : { cpuPowerManagement: novaPower }),
        ...ownerTriggers,
      },
      sudo,
    },
    // Whatever changes the next boot: the RT kernel (packages, so the OS), the hugepage
    // arguments or boot unit, and TuneD's isolcpus/nohz_full/rcu_nocbs/irqaffinity, which
    // follow the isolated cores. reboot.sh reads TuneD's arguments on the host.
    {
      id: "reboot",
      script: "reboot.sh",
      args: ["--args", args, ...unitArgs, "--expect-rt", rtKernel ? "yes" : "no"],
      triggers: { ...kernel, profile, isolatedCores, expectRt: rtKernel },
      sudo,
    },
  ];
}

/** Every nova-scheduler host the stack configures: `controller` (one) or `controllers` (an HA control plane). */
export function controllersOf(config: Pick<StackConfig, "controller" | "controllers"> & { nova?: NovaOwnerConfig }) {
  const list = config.controller === false ? config.controllers : [config.controller];
  // The stack's `nova` owner settings apply to the schedulers' nova.conf too, overridden key by key.
  return list.map((c): ControllerConfig => {
    const nova = mergedNovaOwner(config.nova, c.nova);
    return nova === undefined ? c : { ...c, nova };
  });
}

/** The resource name of the i-th scheduler host's component: the first keeps the single controller's name (and URN). */
export function controllerName(i: number): string {
  return i === 0 ? "controller" : `controller-${i + 1}`;
}

/** The controller's step: the scheduler filters RT flavors need (fixed in scheduler.sh itself). */
export function controllerSteps(controller: ControllerConfig): HostStep[] {
  const owner = novaOwner(controller.nova);
  const args: string[] = [];
  const triggers: Record<string, string> = {};
  const where = "the controller";
  if (owner && owner.configPath !== DEFAULT_NOVA_CONF) {
    args.push("--conf", matching(where, "nova.configPath", owner.configPath, CONF_PATH, "expected an absolute path"));
    triggers.configPath = owner.configPath;
  }
  if (owner?.mode === "verify") {
    args.push("--check");
    triggers.configMode = "verify";
  } else if (owner?.restartCommand !== undefined) {
    args.push(
      "--restart-command",
      matching(where, "nova.restartCommand", owner.restartCommand, COMMAND_WORDS, "expected words separated by spaces"),
    );
    triggers.restartCommand = owner.restartCommand;
  }
  return [{ id: "scheduler", script: "scheduler.sh", args, triggers, sudo: controller.ssh.user !== "root" }];
}

/** The command line SSH runs for a step; the script itself comes on stdin (`bundleScript`). */
export function remoteCommand(step: Pick<HostStep, "args" | "sudo">): string {
  const command = bashStdinCommand(step.args);
  // -n: fail at once when sudo would ask for a password (there is no terminal to ask on).
  return step.sudo ? `sudo -n ${command}` : command;
}

const SOURCE_LINE =
  /^# shellcheck source-path=SCRIPTDIR source=([a-z-]+\.sh)\n\. "\$\(dirname "\$\{BASH_SOURCE\[0\]\}"\)\/([a-z-]+\.sh)"\n/gm;
const bundles = new Map<ScriptName, string>();

/**
 * The script as one self-contained text for `bash -s`: each line that sources a hostprep
 * library (common.sh, ini.sh) is replaced by that library's text. The same files give the same
 * bytes, so an unchanged checkout shows no diff.
 */
export function bundleScript(name: ScriptName): string {
  const cached = bundles.get(name);
  if (cached !== undefined) return cached;
  const text = readFileSync(join(HOSTPREP_DIR, name), "utf8");
  const bundle = text.replace(SOURCE_LINE, (_line, directive: string, lib: string) => {
    if (directive !== lib || !LIBRARIES.includes(lib))
      throw new Error(`hostprep/${name} sources ${lib}, which is not a hostprep library (${LIBRARIES.join(", ")})`);
    const body = readFileSync(join(HOSTPREP_DIR, lib), "utf8").replace(/^# shellcheck shell=bash\n/, "");
    return `# >>> hostprep/${lib}, inlined for bash -s\n${body}# <<< hostprep/${lib}\n`;
  });
  // A source line in another spelling would look for a file next to a script that has none.
  if (/BASH_SOURCE|^\s*(\.|source)\s/m.test(bundle))
    throw new Error(
      `hostprep/${name} still sources a file after bundling; use the line: . "$(dirname "\${BASH_SOURCE[0]}")/<library>"`,
    );
  bundles.set(name, bundle);
  return bundle;
}

/**
 * The SSH connection for this config, as `remote.Command` and lib/transport/ssh.ts take it: the host key
 * pinned and the bastion used when configured, the private key when given. Without a key the
 * SSH agent is used, and its socket is deliberately not named here: both the command provider
 * and the reboot waiter read SSH_AUTH_SOCK themselves, and a socket path (new with every login)
 * among the inputs would make every `pulumi up` a diff that re-runs every step.
 */
export function sshConnection<K>(ssh: SshConfig, privateKey?: K) {
  const key = privateKey === undefined ? {} : { privateKey };
  const target = (t: Omit<SshConfig, "proxy">) => ({
    host: t.host,
    port: t.port,
    user: t.user,
    ...(t.hostKey === undefined ? {} : { hostKey: t.hostKey }),
    ...key,
  });
  return { ...target(ssh), ...(ssh.proxy === undefined ? {} : { proxy: target(ssh.proxy) }) };
}
