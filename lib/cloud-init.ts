/**
 * The guest side of an RT server, as cloud-init user data: no hand-built image is needed. The
 * user data always carries the flavor's guest plan (/etc/openstack-rt/guest.json). For a flavor
 * with RT vCPUs on a stock image it also installs the RT kernel and TuneD's
 * realtime-virtual-guest profile, sets `isolated_cores` to the RT vCPUs the planner derived from
 * the mask, adds the guest kernel arguments (1 GiB default huge pages) and reboots into the RT
 * kernel. With `image.prebuiltRt` the image already does that, so only the plan is written.
 *
 * Nova replaces a server whose user data changes, and it keeps the flavor a server was booted
 * with: carrying the whole flavor plan here is what makes a flavor change rebuild its servers.
 *
 * Which package manager and package names the setup uses is decided here from the image: its
 * Glance property `os_distro` (the standard libosinfo short id that Nova and Glance use), and
 * without it the image's `loginUser` (each cloud image family has its own default user).
 * Debian uses linux-image-rt-<arch> and tuned from bookworm main; the RHEL family uses
 * kernel-rt, tuned-profiles-realtime and tuned-profiles-nfv-guest (which ships
 * realtime-virtual-guest) from the RT and NFV repositories. Ubuntu's realtime kernel only comes
 * with Ubuntu Pro, which a user-data script cannot attach: such images must be prebuilt.
 *
 * Pure: no Pulumi, no I/O.
 */
import { parse, stringify } from "yaml";
import type { StackConfig } from "./config";
import { settingPath } from "./config";
import type { FlavorPlan } from "./plan";
import type { Problem } from "./problems";

export type GuestFamily = "debian" | "rhel";
type ImageConfig = StackConfig["image"];

/** `os_distro` values (libosinfo short ids) and default login users of the supported families. */
const OS_DISTRO: Record<string, GuestFamily | "ubuntu"> = {
  debian: "debian",
  ubuntu: "ubuntu",
  rhel: "rhel",
  centos: "rhel",
  rocky: "rhel",
  almalinux: "rhel",
};
const LOGIN_USER: Record<string, GuestFamily | "ubuntu"> = {
  debian: "debian",
  ubuntu: "ubuntu",
  "cloud-user": "rhel", // RHEL and CentOS Stream
  rocky: "rhel",
  almalinux: "rhel",
  centos: "rhel",
};

export type GuestSetup =
  /** Write the guest plan only: the flavor has no RT vCPUs, or the image is prebuilt. */
  | { kind: "plan-only"; reason: "no RT vCPUs" | "prebuilt RT image" }
  /** Install and configure the RT guest, then reboot. */
  | { kind: "rt"; family: GuestFamily; isolatedCores: string; kernelArgs: string[] };

/** Does a server of this flavor on this image need the RT setup done by user data? */
export function needsRtSetup(flavor: FlavorPlan, image: ImageConfig): boolean {
  return flavor.guest.realtimeVcpus !== "" && !image.prebuiltRt;
}

/**
 * The image's distribution family, for the RT setup; `flavors` (those that need the setup) only
 * make the message concrete.
 */
export function guestFamily(
  image: ImageConfig,
  flavors: string[],
): { ok: true; family: GuestFamily } | { ok: false; problem: Problem } {
  const distro = image.properties.os_distro;
  const family = distro !== undefined ? OS_DISTRO[distro] : LOGIN_USER[image.loginUser];
  const path = settingPath(distro !== undefined ? ["image", "properties", "os_distro"] : ["image", "loginUser"]);
  const got =
    distro !== undefined ? `os_distro "${distro}"` : `no os_distro property and loginUser "${image.loginUser}"`;
  const who = `servers on ${flavors.map((f) => `"${f}"`).join(", ")}`;
  if (family === undefined) {
    return {
      ok: false,
      problem: {
        path,
        message:
          `got ${got}, so the RT guest setup of the ${who} cannot tell the image's distribution; ` +
          `set image.properties.os_distro to one of ${Object.keys(OS_DISTRO).join(", ")}, or build the image with the RT kernel and set image.prebuiltRt: true`,
      },
    };
  }
  if (family === "ubuntu") {
    return {
      ok: false,
      problem: {
        path,
        message:
          `got ${got}, but the ${who} need an RT kernel, and Ubuntu's comes only with Ubuntu Pro, which user data cannot attach; ` +
          `build the image with the realtime kernel and TuneD and set image.prebuiltRt: true, or use a Debian or RHEL-family image`,
      },
    };
  }
  return { ok: true, family };
}

/** What a server of this flavor needs inside the guest; `family` is required when `needsRtSetup`. */
export function guestSetup(flavor: FlavorPlan, image: ImageConfig, family: GuestFamily | undefined): GuestSetup {
  if (flavor.guest.realtimeVcpus === "") return { kind: "plan-only", reason: "no RT vCPUs" };
  if (image.prebuiltRt) return { kind: "plan-only", reason: "prebuilt RT image" };
  if (family === undefined)
    throw new Error(`flavor ${flavor.name} needs the RT setup, but the image's family is not known`);
  return { kind: "rt", family, isolatedCores: flavor.guest.tunedIsolatedCores, kernelArgs: flavor.guest.kernelArgs };
}

export const GUEST_PLAN_PATH = "/etc/openstack-rt/guest.json";
export const SETUP_SCRIPT_PATH = "/usr/local/sbin/openstack-rt-guest-setup";
/** The setup script creates this when it is done; cloud-init reboots only then. In /run, so it is gone after the reboot. */
export const REBOOT_FLAG = "/run/openstack-rt-guest-setup.reboot";

// Values that go into the script: checked here, although they come from the planner, because
// they end up in shell text.
const CPU_LIST = /^\d+(-\d+)?(,\d+(-\d+)?)*$/;
const KERNEL_ARG = /^[A-Za-z][A-Za-z0-9_.-]*(=[A-Za-z0-9_.,:/+@=-]+)?$/;

/** The guest plan a server of this flavor carries: what the verification reads inside the guest. */
export function guestPlanDocument(flavor: FlavorPlan, setup: GuestSetup): Record<string, unknown> {
  return {
    flavor: flavor.name,
    vcpus: flavor.vcpus,
    ramMb: flavor.ramMb,
    diskGb: flavor.diskGb,
    extraSpecs: flavor.extraSpecs,
    realtimeVcpus: flavor.guest.realtimeVcpus,
    housekeepingVcpus: flavor.guest.housekeepingVcpus,
    tunedIsolatedCores: flavor.guest.tunedIsolatedCores,
    kernelArgs: flavor.guest.kernelArgs,
    rtSetup: setup.kind === "rt" ? `cloud-init (${setup.family})` : setup.reason,
  };
}

/** The setup script: one text for both families, chosen by FAMILY, so one shellcheck covers it. */
export function setupScript(setup: Extract<GuestSetup, { kind: "rt" }>): string {
  if (!CPU_LIST.test(setup.isolatedCores)) throw new Error(`isolated cores "${setup.isolatedCores}" is not a CPU list`);
  for (const a of setup.kernelArgs) if (!KERNEL_ARG.test(a)) throw new Error(`"${a}" is not a kernel argument`);
  return `#!/bin/bash
# openstack-rt guest setup, written by cloud-init and run once by runcmd: installs the RT
# kernel and TuneD's realtime-virtual-guest profile, sets isolated_cores to this flavor's RT
# vCPUs and adds the guest kernel arguments. When all of that worked it creates
# ${REBOOT_FLAG}, and cloud-init's power_state reboots into the RT kernel.
# Its output is in /var/log/cloud-init-output.log.
set -euo pipefail

FAMILY=${setup.family}
ISOLATED_CORES=${setup.isolatedCores}
KERNEL_ARGS='${setup.kernelArgs.join(" ")}'
# Every file path is under ROOT; tests point it at a directory tree and stub the commands.
ROOT=\${OPENSTACK_RT_GUEST_ROOT:-}

log() { printf 'openstack-rt-guest-setup: %s\\n' "$*"; }
die() {
  log "error: $*" >&2
  exit 1
}

# Sets the key in the variables file the package ships (Debian's holds a default
# isolated_cores line): replacing it, because appending adds a line per run.
set_isolated_cores() {
  local vars=$ROOT/etc/tuned/realtime-virtual-guest-variables.conf
  if grep -q '^isolated_cores[[:space:]]*=' "$vars" 2>/dev/null; then
    sed -i "s/^isolated_cores[[:space:]]*=.*/isolated_cores=$ISOLATED_CORES/" "$vars"
  else
    mkdir -p "\${vars%/*}"
    printf 'isolated_cores=%s\\n' "$ISOLATED_CORES" >>"$vars"
  fi
  log "isolated_cores=$ISOLATED_CORES in /etc/tuned/realtime-virtual-guest-variables.conf"
}

activate_tuned() {
  systemctl enable --now tuned.service
  tuned-adm profile realtime-virtual-guest
}

setup_debian() {
  command -v apt-get >/dev/null || die "no apt-get: the image is not Debian (check image.properties.os_distro)"
  local arch first
  arch=$(dpkg --print-architecture)
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y "linux-image-rt-$arch" tuned tuna rt-tests
  set_isolated_cores
  # Read after /etc/default/grub and the image's own snippets: appends, never replaces.
  # TuneD's arguments (isolcpus, nohz_full, ...) reach GRUB as $tuned_params, which TuneD
  # appends to GRUB_CMDLINE_LINUX_DEFAULT in /etc/default/grub; an image snippet that sets
  # that variable afresh (cloud images keep their consoles there) drops it, so it goes back.
  mkdir -p "$ROOT/etc/default/grub.d"
  # shellcheck disable=SC2016 # the variables are for grub-mkconfig to expand
  {
    if [[ -n $KERNEL_ARGS ]]; then printf 'GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX %s"\\n' "$KERNEL_ARGS"; fi
    printf '%s\\n' 'case "$GRUB_CMDLINE_LINUX_DEFAULT" in *tuned_params*) ;; *) GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT \\$tuned_params" ;; esac'
  } >"$ROOT/etc/default/grub.d/99-openstack-rt.cfg"
  activate_tuned
  update-grub
  # GRUB boots its first entry, and Debian lists kernels newest first: the RT kernel of the
  # same ABI sorts before the image's ("rt-amd64" after "cloud-amd64" and "amd64"), and the
  # archive's RT kernel is never older than the image's. Checked, not assumed.
  first=$(sed -n 's/^[[:space:]]*linux[[:space:]]\\{1,\\}\\([^[:space:]]*\\).*/\\1/p' "$ROOT/boot/grub/grub.cfg" | head -n 1)
  [[ $first == *-rt-* ]] || die "GRUB's first entry boots \${first:-nothing}, not the RT kernel"
}

setup_rhel() {
  command -v dnf >/dev/null || die "no dnf: the image is not of the RHEL family (check image.properties.os_distro)"
  local id='' version='' line repos=() kernel
  while IFS= read -r line; do
    case $line in
    ID=*) id=\${line#ID=} ;;
    VERSION_ID=*) version=\${line#VERSION_ID=} ;;
    esac
  done <"$ROOT/etc/os-release"
  id=\${id//\\"/} version=\${version//\\"/}
  # RHEL's RT and NFV repositories come with the subscription; CentOS Stream, Rocky Linux and
  # AlmaLinux define "rt" and "nfv" repositories, disabled.
  if [[ $id == rhel ]]; then
    local prefix
    prefix=rhel-\${version%%.*}-for-$(uname -m)
    subscription-manager repos --enable="$prefix-rt-rpms" --enable="$prefix-nfv-rpms"
  else
    while IFS= read -r line; do
      case \${line%% *} in rt | nfv) repos+=("--enablerepo=\${line%% *}") ;; esac
    done < <(dnf -q repolist --all)
    ((\${#repos[@]})) || die "no rt repository is defined on this $id $version image"
  fi
  dnf -y "\${repos[@]}" install kernel-rt tuned-profiles-realtime tuned-profiles-nfv-guest rt-tests
  set_isolated_cores
  activate_tuned
  kernel=$(printf '%s\\n' "$ROOT"/boot/vmlinuz-*rt* | sort -V | tail -n 1)
  [[ -e $kernel ]] || die "no RT kernel in /boot after installing kernel-rt"
  grubby --set-default "\${kernel#"$ROOT"}"
  if [[ -n $KERNEL_ARGS ]]; then grubby --update-kernel=ALL --args="$KERNEL_ARGS"; fi
}

case $FAMILY in
debian) setup_debian ;;
rhel) setup_rhel ;;
*) die "unknown family $FAMILY" ;;
esac
mkdir -p "$ROOT/run"
: >"$ROOT${REBOOT_FLAG}"
log "done; cloud-init reboots into the RT kernel"
`;
}

/** The #cloud-config user data of a server of this flavor. Deterministic: equal input, equal bytes. */
export function cloudInitUserData(flavor: FlavorPlan, setup: GuestSetup): string {
  const files: Record<string, unknown>[] = [
    {
      path: GUEST_PLAN_PATH,
      permissions: "0644",
      content: `${JSON.stringify(guestPlanDocument(flavor, setup), null, 2)}\n`,
    },
  ];
  const doc: Record<string, unknown> = { write_files: files };
  if (setup.kind === "rt") {
    files.push({ path: SETUP_SCRIPT_PATH, permissions: "0755", content: setupScript(setup) });
    doc.runcmd = [[SETUP_SCRIPT_PATH]];
    doc.power_state = {
      mode: "reboot",
      message: "openstack-rt: rebooting into the RT kernel",
      condition: ["test", "-f", REBOOT_FLAG],
    };
  }
  return `#cloud-config\n${stringify(doc, { lineWidth: 0 })}`;
}

/**
 * The user data with the guest's SSH host key planted: cloud-init writes it instead of making
 * keys of its own, so the first connection can already be pinned. The text is secret from here
 * on (it holds a private key), and equal input still gives equal bytes.
 */
export function withSshHostKey(userData: string, key: { publicKey: string; privateKey: string }): string {
  const doc = parse(userData) as Record<string, unknown>;
  doc.ssh_keys = { ed25519_private: key.privateKey, ed25519_public: key.publicKey };
  doc.ssh_deletekeys = true;
  return `#cloud-config\n${stringify(doc, { lineWidth: 0 })}`;
}
