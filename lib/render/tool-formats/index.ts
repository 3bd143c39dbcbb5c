/**
 * The plan's host and scheduler settings in the terms of the deployment tool that owns
 * nova.conf (`npm run plan -- --format tripleo|kolla|osa|juju`): what to put where, so that the
 * tool's next run keeps what this project plans instead of undoing it. Pure: no I/O.
 *
 * Each renderer names its sources; the names were checked against the tools' own trees:
 * - TripleO: openstack/tripleo-heat-templates (commit 04f9e4f7):
 *   deployment/nova/nova-compute-container-puppet.yaml (NovaComputeCpuDedicatedSet,
 *   NovaComputeCpuSharedSet, NovaReservedHostMemory, NovaReservedHugePages, KernelArgs: all
 *   role_specific), deployment/kernel/kernel-boot-params-baremetal-ansible.yaml (KernelArgs,
 *   TunedProfileName, IsolCpusList), deployment/nova/nova-scheduler-container-puppet.yaml
 *   (NovaSchedulerEnabledFilters).
 * - RHOSO / EDPM: openstack-k8s-operators docs and edpm-ansible (edpm_kernel_args,
 *   edpm_tuned_profile, edpm_tuned_isolated_cores; nova.conf settings in a ConfigMap file
 *   `25-nova-extra.conf` of a custom nova service).
 * - kolla-ansible: openstack/kolla-ansible (commit 1a681814) ansible/roles/nova-cell/tasks/config.yml
 *   merges `{{ node_custom_config }}/nova/{{ inventory_hostname }}/nova.conf` (node_custom_config
 *   is /etc/kolla/config), doc/source/admin/advanced-configuration.rst shows
 *   /etc/kolla/config/nova/nova-scheduler.conf.
 * - OpenStack-Ansible: openstack/openstack-ansible-os_nova (commit e06c7bce) defaults/main.yml
 *   (nova_nova_conf_overrides, nova_scheduler_default_filters); per-host values go in
 *   /etc/openstack_deploy/host_vars/<host>.yml.
 * - Juju: openstack/charm-nova-compute config.yaml (cpu-dedicated-set, cpu-shared-set,
 *   reserved-host-memory, reserved-huge-pages with ';' between entries), and the
 *   nova-cloud-controller charm's scheduler-default-filters.
 */
import type { StackPlan } from "../../plan/stack";
import type { HostPlan } from "../../plan/host";
import { NOVA_DEFAULT_FILTERS, RT_SCHEDULER_FILTERS } from "../../hostprep/rules";

export const TOOL_FORMATS = ["tripleo", "kolla", "osa", "juju"] as const;
export type ToolFormat = (typeof TOOL_FORMATS)[number];

/** A tool's whole list replaces Nova's, so it is written out: the defaults, then the RT filters. */
export const ENABLED_FILTERS = [...NOVA_DEFAULT_FILTERS, ...RT_SCHEDULER_FILTERS];

/**
 * Said above every filter list: each tool's list replaces the deployment's whole list, which may
 * enable more than Nova's defaults (PciPassthroughFilter for SR-IOV, ...); copying ours over it
 * would drop those silently.
 */
export const MERGE_FILTERS_NOTE =
  `MERGE, do not replace: the list below is Nova's default filters plus ${RT_SCHEDULER_FILTERS.join(" and ")}. ` +
  "If your deployment already enables other filters (PciPassthroughFilter, ...), keep them and add only the RT ones.";

const HUGEPAGE_KEYS = new Set(["default_hugepagesz", "hugepagesz", "hugepages"]);

/**
 * The kernel arguments a tool that owns the boot command line must set: the plan's, or, when
 * the plan reserves per node at boot (a kernel before 5.16), each size's total instead, since
 * the tool has no boot unit.
 */
export function toolKernelArgs(host: HostPlan): { args: string[]; note?: string } {
  const hp = host.hugepages;
  if (hp.method !== "boot-unit") return { args: [...host.kernel.args] };
  const args = hp.defaultSize ? [`default_hugepagesz=${hp.defaultSize}`] : [];
  const notes: string[] = [];
  for (const size of hp.sizes) {
    const counts = size.perNode.map((p) => p.count);
    const total = counts.reduce((s, c) => s + c, 0);
    if (total === 0) continue;
    args.push(`hugepagesz=${size.name}`, `hugepages=${total}`);
    if (new Set(counts).size > 1)
      notes.push(
        `${host.name} plans uneven ${size.name} page counts per node (${counts.join(", ")}), which its kernel cannot take on the command line: hugepages=${total} spreads them evenly; reserve them per node at boot instead`,
      );
  }
  args.push(...host.kernel.args.filter((a) => !HUGEPAGE_KEYS.has(a.split("=")[0])));
  return notes.length ? { args, note: notes.join("; ") } : { args };
}

/** What a tool that owns the host must add for a second page size: libvirt uses only the sizes mounted when it starts. */
function mountNote(host: HostPlan): string | undefined {
  const m = host.hugepages.extraMounts;
  if (m.length === 0) return undefined;
  return `${host.name} has ${m.join(", ")} pages beside its default ${host.hugepages.defaultSize} pages: mount them (${m.map((s) => `hugetlbfs at /dev/hugepages${s} with pagesize=${s}`).join("; ")}) before libvirt starts, as this project's host prep does with a systemd mount unit, or libvirt cannot back guests with them`;
}

/** Hosts with the same values share one role / application / group; each group lists its hosts. */
function groupBy<T>(hosts: HostPlan[], key: (h: HostPlan) => T): { hosts: HostPlan[]; value: T }[] {
  const groups = new Map<string, { hosts: HostPlan[]; value: T }>();
  for (const h of hosts) {
    const value = key(h);
    const k = JSON.stringify(value);
    const g = groups.get(k);
    if (g) g.hosts.push(h);
    else groups.set(k, { hosts: [h], value });
  }
  return [...groups.values()];
}

function yamlString(s: string): string {
  return JSON.stringify(s);
}

interface NovaValues {
  cpuDedicatedSet: string;
  cpuSharedSet: string | null;
  reservedHostMemoryMb: number;
  reservedHugePages: string[];
  /** `[libvirt] cpu_power_management = false` when the plan writes it (nova.cpuPowerManagement: off). */
  cpuPowerManagementOff: boolean;
}

function novaValues(h: HostPlan): NovaValues {
  return {
    cpuDedicatedSet: h.nova.cpuDedicatedSet,
    cpuSharedSet: h.nova.cpuSharedSet,
    reservedHostMemoryMb: h.nova.reservedHostMemoryMb,
    reservedHugePages: h.nova.reservedHugePages,
    cpuPowerManagementOff: h.power.novaCpuPowerManagement === "off",
  };
}

/** For a tool with no option for it: Nova's own default is off, so nothing may set it. */
const POWER_OFF_NOTE =
  "[libvirt] cpu_power_management = false (Nova 2023.1+; its default): this tool has no option for it, so nothing may set it to true";

/** nova.conf lines ([section] key = value) for one host, as an INI fragment. */
function iniFragment(v: NovaValues): string[] {
  const out = ["[DEFAULT]", `reserved_host_memory_mb = ${v.reservedHostMemoryMb}`];
  for (const p of v.reservedHugePages) out.push(`reserved_huge_pages = ${p}`);
  out.push("", "[compute]", `cpu_dedicated_set = ${v.cpuDedicatedSet}`);
  if (v.cpuSharedSet) out.push(`cpu_shared_set = ${v.cpuSharedSet}`);
  if (v.cpuPowerManagementOff) out.push("", "[libvirt]", "cpu_power_management = false");
  return out;
}

/** Comment lines for what stays with the host OS when the tool owns only nova.conf: this project's host prep applies it. */
function hostSide(h: HostPlan, tool: string): string[] {
  const boot =
    h.hugepages.method === "boot-unit"
      ? `; pages per node (${h.hugepages.sizes.map((s) => `${s.name} ${s.perNode.map((p) => `${p.node}:${p.count}`).join(",")}`).join("; ")}) reserved at boot by a systemd unit`
      : "";
  return [
    `# ${h.name}: ${tool} leaves the kernel command line and TuneD to the host; this project's host prep applies them:`,
    `#   kernel arguments: ${h.kernel.args.join(" ") || "(none)"}${boot}`,
    ...h.hugepages.extraMounts.map((m) => `#   hugetlbfs mount /dev/hugepages${m} (pagesize=${m}) for libvirt`),
    `#   TuneD ${h.tuned.profile}: isolated_cores=${h.tuned.isolatedCores}`,
  ];
}

function names(hosts: HostPlan[]): string {
  return hosts.map((h) => h.name).join(", ");
}

// TripleO (Wallaby/17.x heat parameters, role-specific) and RHOSO (EDPM ansible variables).
function renderTripleo(stack: string, plan: StackPlan): string {
  const out = [
    `# openstack-rt plan of stack "${stack}" for TripleO / RHOSP 17 (heat parameters) and RHOSO 18 (EDPM).`,
    "# Sources: openstack/tripleo-heat-templates deployment/nova/nova-compute-container-puppet.yaml,",
    "# deployment/kernel/kernel-boot-params-baremetal-ansible.yaml, deployment/nova/nova-scheduler-container-puppet.yaml;",
    "# edpm-ansible (edpm_kernel_args, edpm_tuned_profile, edpm_tuned_isolated_cores).",
    "# Give each group of hosts its own role (a copy of roles/ComputeRealTime.yaml) named as below.",
    "parameter_defaults:",
    `  # ${MERGE_FILTERS_NOTE}`,
    `  NovaSchedulerEnabledFilters: ${yamlString(ENABLED_FILTERS.join(","))}`,
  ];
  const notes: string[] = [];
  const groups = groupBy(plan.hosts, (h) => ({ nova: novaValues(h), kernel: toolKernelArgs(h), tuned: h.tuned }));
  groups.forEach((g, i) => {
    const role = `ComputeRealTime${i === 0 ? "" : i + 1}`;
    const v = g.value;
    if (v.kernel.note) notes.push(v.kernel.note);
    for (const h of g.hosts) {
      const mount = mountNote(h);
      if (mount) notes.push(mount);
    }
    out.push(`  # hosts: ${names(g.hosts)}`, `  ${role}Parameters:`);
    out.push(`    NovaComputeCpuDedicatedSet: ${yamlString(v.nova.cpuDedicatedSet)}`);
    if (v.nova.cpuSharedSet) out.push(`    NovaComputeCpuSharedSet: ${yamlString(v.nova.cpuSharedSet)}`);
    out.push(`    NovaReservedHostMemory: ${v.nova.reservedHostMemoryMb}`);
    out.push(`    NovaReservedHugePages: [${v.nova.reservedHugePages.map(yamlString).join(", ")}]`);
    out.push(`    KernelArgs: ${yamlString(v.kernel.args.join(" "))}`);
    out.push(`    IsolCpusList: ${yamlString(v.tuned.isolatedCores)}`);
    out.push(`    TunedProfileName: ${yamlString(v.tuned.profile)}`);
    // RHOSP 17 is Nova 23 (Wallaby), before the option: RHOSO 18 sets it in the ini fragment below.
    if (v.nova.cpuPowerManagementOff) out.push(`    # ${POWER_OFF_NOTE}`);
  });
  out.push("", "# RHOSO 18: the same values as EDPM ansible variables of each OpenStackDataPlaneNodeSet");
  groups.forEach((g) => {
    const v = g.value;
    out.push(
      `# nodeset with ${names(g.hosts)}:`,
      "#   spec.nodeTemplate.ansible.ansibleVars:",
      `#     edpm_kernel_args: ${yamlString(v.kernel.args.join(" "))}`,
      `#     edpm_tuned_profile: ${yamlString(v.tuned.profile)}`,
      `#     edpm_tuned_isolated_cores: ${yamlString(v.tuned.isolatedCores)}`,
      "#   and a ConfigMap file 25-nova-extra.conf for its nova-custom service:",
      ...iniFragment(v.nova).map((l) => (l ? `#     ${l}` : "#")),
    );
  });
  out.push(
    "# RHOSO scheduler (OpenStackControlPlane spec.nova.template.schedulerServiceTemplate.customServiceConfig):",
    `#   ${MERGE_FILTERS_NOTE}`,
    "#   [filter_scheduler]",
    `#   enabled_filters = ${ENABLED_FILTERS.join(",")}`,
  );
  for (const n of notes) out.push(`# NOTE: ${n}`);
  return out.join("\n") + "\n";
}

// kolla-ansible: per-host nova.conf overrides, merged by `kolla-ansible reconfigure`.
function renderKolla(stack: string, plan: StackPlan): string {
  const out = [
    `# openstack-rt plan of stack "${stack}" for kolla-ansible.`,
    "# Source: openstack/kolla-ansible ansible/roles/nova-cell/tasks/config.yml merges",
    "# {{ node_custom_config }}/nova/{{ inventory_hostname }}/nova.conf (node_custom_config: /etc/kolla/config);",
    "# doc/source/admin/advanced-configuration.rst for /etc/kolla/config/nova/nova-scheduler.conf.",
    "# Apply with: kolla-ansible reconfigure -t nova",
    "",
  ];
  for (const h of plan.hosts) {
    out.push(`# --- /etc/kolla/config/nova/${h.name}/nova.conf`, ...iniFragment(novaValues(h)), "");
    out.push(...hostSide(h, "kolla-ansible"), "");
  }
  out.push(
    "# --- /etc/kolla/config/nova/nova-scheduler.conf",
    `# ${MERGE_FILTERS_NOTE}`,
    "[filter_scheduler]",
    `enabled_filters = ${ENABLED_FILTERS.join(",")}`,
  );
  return out.join("\n") + "\n";
}

// OpenStack-Ansible: os_nova role variables.
function renderOsa(stack: string, plan: StackPlan): string {
  const out = [
    `# openstack-rt plan of stack "${stack}" for OpenStack-Ansible (os_nova role).`,
    "# Source: openstack/openstack-ansible-os_nova defaults/main.yml (nova_nova_conf_overrides,",
    "# nova_scheduler_default_filters). Apply with: openstack-ansible os-nova-install.yml",
    "",
    "# --- /etc/openstack_deploy/user_variables.yml",
    `# ${MERGE_FILTERS_NOTE}`,
    "nova_scheduler_default_filters:",
    ...ENABLED_FILTERS.map((f) => `  - ${f}`),
  ];
  for (const h of plan.hosts) {
    const v = novaValues(h);
    out.push("", `# --- /etc/openstack_deploy/host_vars/${h.name}.yml`, "nova_nova_conf_overrides:", "  DEFAULT:");
    out.push(`    reserved_host_memory_mb: ${v.reservedHostMemoryMb}`);
    if (v.reservedHugePages.length)
      out.push(`    reserved_huge_pages: [${v.reservedHugePages.map(yamlString).join(", ")}]`);
    out.push("  compute:", `    cpu_dedicated_set: ${yamlString(v.cpuDedicatedSet)}`);
    if (v.cpuSharedSet) out.push(`    cpu_shared_set: ${yamlString(v.cpuSharedSet)}`);
    if (v.cpuPowerManagementOff) out.push("  libvirt:", "    cpu_power_management: false");
    out.push(...hostSide(h, "OpenStack-Ansible"));
  }
  return out.join("\n") + "\n";
}

/** A value for `juju config app key=value`, single-quoted for the shell. */
function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

// Juju: charm config, per application (hosts with other values need their own application).
function renderJuju(stack: string, plan: StackPlan): string {
  const out = [
    `# openstack-rt plan of stack "${stack}" for the Juju OpenStack charms.`,
    "# Source: openstack/charm-nova-compute config.yaml (cpu-dedicated-set, cpu-shared-set, reserved-host-memory,",
    "# reserved-huge-pages), charm-nova-cloud-controller config.yaml (scheduler-default-filters).",
    "# Charm config is per application: each group of hosts below needs its own nova-compute application.",
  ];
  const groups = groupBy(plan.hosts, (h) => novaValues(h));
  groups.forEach((g, i) => {
    const app = `nova-compute-rt${i === 0 ? "" : `-${i + 1}`}`;
    const v = { nova: g.value };
    const kv = [
      `cpu-dedicated-set=${shq(v.nova.cpuDedicatedSet)}`,
      `cpu-shared-set=${shq(v.nova.cpuSharedSet ?? "")}`,
      `reserved-host-memory=${v.nova.reservedHostMemoryMb}`,
      `reserved-huge-pages=${shq(v.nova.reservedHugePages.join(";"))}`,
    ];
    out.push(
      "",
      `# hosts: ${names(g.hosts)}`,
      `juju config ${app} ${kv.join(" ")}`,
      ...(v.nova.cpuPowerManagementOff ? [`# ${POWER_OFF_NOTE}`] : []),
      ...g.hosts.flatMap((h) => hostSide(h, "the nova-compute charm")),
    );
  });
  out.push(
    "",
    `# ${MERGE_FILTERS_NOTE}`,
    `juju config nova-cloud-controller scheduler-default-filters=${shq(ENABLED_FILTERS.join(","))}`,
  );
  return out.join("\n") + "\n";
}

export function renderForTool(format: ToolFormat, stack: string, plan: StackPlan): string {
  switch (format) {
    case "tripleo":
      return renderTripleo(stack, plan);
    case "kolla":
      return renderKolla(stack, plan);
    case "osa":
      return renderOsa(stack, plan);
    case "juju":
      return renderJuju(stack, plan);
  }
}
