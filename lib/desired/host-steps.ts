/**
 * Host preparation as one ordered list of steps, derived from the plan: which hostprep script
 * runs, with which arguments, and which plan values it applies. The Pulumi components turn each
 * step into a `remote.Command`; an end-to-end test can run the same list against a real host.
 *
 * A step's `triggers` are the plan values it applies, so that a change re-runs exactly the steps
 * it affects: a flavor never appears here, and the isolated cores re-run TuneD, nova-compute
 * and the reboot (TuneD puts isolcpus/nohz_full on the bootloader's command line itself), but
 * not the packages or kernel-args.sh, whose arguments are the hugepage ones only. Pure.
 */
import type { HostConfig, NovaOwnerConfig, StackConfig } from "../config/schema";
import { OS_FAMILIES } from "../hostprep/rules";
import type { ScriptName } from "../hostprep/scripts";
import type { HostPlan } from "../plan/host";
import { DEFAULT_NOVA_CONF, mergedNovaOwner, novaOwner } from "../plan/host";
import {
  HostStepError,
  PAGE_ENTRIES,
  UNIT_ENTRIES,
  confPath,
  count,
  cpuList,
  kernelArgs,
  matching,
  restartCommand,
} from "./step-args";

export type HostStepId = "facts" | "packages" | "tuned" | "kernel-args" | "nova-compute" | "reboot";
export type StepId = HostStepId | "scheduler";

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

/** What the controller's step needs; `controller` is not a key of the stack config yet. */
export type ControllerConfig = Exclude<StackConfig["controller"], false>;

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
  const stalld = plan.stalld;
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
    ownerArgs.push("--conf", confPath(name, owner.configPath));
    ownerTriggers.configPath = owner.configPath;
  }
  if (owner?.mode === "verify") {
    ownerArgs.push("--check");
    ownerTriggers.configMode = "verify";
  }
  if (owner?.restartCommand !== undefined) {
    ownerArgs.push("--restart-command", restartCommand(name, owner.restartCommand));
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
    // stalld only where planned, so the other hosts' packages step stays as it was.
    {
      id: "packages",
      script: "packages.sh",
      args: ["--os", os, ...(rtKernel ? [] : ["--no-rt-kernel"]), ...(stalld.enabled ? ["--stalld"] : [])],
      triggers: { os, ...(rtKernel ? {} : { rtKernel }), ...(stalld.enabled ? { stalld: true } : {}) },
      sudo,
    },
    // kernel.sched_rt_runtime_us follows from the profile and stalld: no trigger of its own.
    {
      id: "tuned",
      script: "tuned.sh",
      args: ["--profile", profile, "--isolated-cores", isolatedCores, "--stalld", stalld.enabled ? "on" : "off"],
      triggers: { profile, isolatedCores, stalld: stalld.enabled },
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
    args.push("--conf", confPath(where, owner.configPath));
    triggers.configPath = owner.configPath;
  }
  if (owner?.mode === "verify") {
    args.push("--check");
    triggers.configMode = "verify";
  } else if (owner?.restartCommand !== undefined) {
    args.push("--restart-command", restartCommand(where, owner.restartCommand));
    triggers.restartCommand = owner.restartCommand;
  }
  return [{ id: "scheduler", script: "scheduler.sh", args, triggers, sudo: controller.ssh.user !== "root" }];
}
