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
 * No Pulumi; the only I/O is reading the setup script, hostprep/guest/rt-guest-setup.sh.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { generateEd25519HostKey } from "../transport/host-key";
import { parse, stringify } from "yaml";
import type { StackConfig } from "../config/schema";
import { settingPath } from "../config/schema";
import type { FlavorPlan } from "../plan/stack";
import type { Problem } from "../config/problems";

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

/**
 * The setup script, hostprep/guest/rt-guest-setup.sh: one text for both families, so one
 * shellcheck covers it; the family, cores and kernel arguments are its arguments (`runcmd`).
 */
export function setupScript(): string {
  return readFileSync(join(__dirname, "..", "..", "hostprep", "guest", "rt-guest-setup.sh"), "utf8");
}

/** runcmd's argv for the script; the values are checked here too, as they reach shell and GRUB text. */
export function setupCommand(setup: Extract<GuestSetup, { kind: "rt" }>): string[] {
  if (!CPU_LIST.test(setup.isolatedCores)) throw new Error(`isolated cores "${setup.isolatedCores}" is not a CPU list`);
  for (const a of setup.kernelArgs) if (!KERNEL_ARG.test(a)) throw new Error(`"${a}" is not a kernel argument`);
  return [SETUP_SCRIPT_PATH, setup.family, setup.isolatedCores, ...setup.kernelArgs];
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
    files.push({ path: SETUP_SCRIPT_PATH, permissions: "0755", content: setupScript() });
    doc.runcmd = [setupCommand(setup)];
    doc.power_state = {
      mode: "reboot",
      message: "openstack-rt: rebooting into the RT kernel",
      condition: ["test", "-f", REBOOT_FLAG],
    };
  }
  return `#cloud-config\n${stringify(doc, { lineWidth: 0 })}`;
}

/**
 * Nova's limit on user data, in bytes once base64-encoded (nova/compute/api.py
 * MAX_USERDATA_SIZE; InstanceUserDataTooLarge: "User data must be no larger than 65535 bytes
 * once base64 encoded"). A larger server fails at `pulumi up`, after the hosts were prepared.
 */
export const NOVA_MAX_USER_DATA_BYTES = 65535;

/**
 * The size Nova checks for a server's user data: base64 of the text as the server sends it,
 * with its SSH host key planted. The key is a fresh ed25519 pair with the comment the server's
 * key gets (components/cloud/server.ts): OpenSSH's ed25519 format has a fixed size for a given
 * comment, so this is the deployed size exactly.
 */
export function userDataSize(userData: string, serverName: string): number {
  const text = withSshHostKey(userData, generateEd25519HostKey(`openstack-rt ${serverName}`));
  return 4 * Math.ceil(Buffer.byteLength(text) / 3);
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
