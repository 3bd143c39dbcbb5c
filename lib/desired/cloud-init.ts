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
 * What the setup does (the image's family, the cores, the kernel arguments) is decided in
 * ./guest-setup.ts; this writes it down. The user data is a server's input, part of the desired
 * state: its size is checked against Nova's limit before the first resource is registered.
 *
 * No Pulumi; the only I/O is reading the setup script, hostprep/guest/rt-guest-setup.sh.
 */
import { readFileSync } from "node:fs";
import { KERNEL_ARG } from "../hostprep/rules";
import { hostprepPath } from "../hostprep/scripts";
import { generateEd25519HostKey } from "../transport/host-key";
import { parse, stringify } from "yaml";
import type { FlavorPlan } from "../plan/stack";
import type { GuestSetup } from "./guest-setup";

export const GUEST_PLAN_PATH = "/etc/openstack-rt/guest.json";
export const SETUP_SCRIPT_PATH = "/usr/local/sbin/openstack-rt-guest-setup";
/** The setup script creates this when it is done; cloud-init reboots only then. In /run, so it is gone after the reboot. */
export const REBOOT_FLAG = "/run/openstack-rt-guest-setup.reboot";

// Values that go into the script: checked here, although they come from the planner, because
// they end up in shell text.
const CPU_LIST = /^\d+(-\d+)?(,\d+(-\d+)?)*$/;

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
  return readFileSync(hostprepPath("guest", "rt-guest-setup.sh"), "utf8");
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

/** userDataSize's answers, by comment length and user data. */
const userDataSizes = new Map<string, number>();

/**
 * The size Nova checks for a server's user data: base64 of the text as the server sends it,
 * with its SSH host key planted. The key is a fresh ed25519 pair with the comment the server's
 * key gets (components/cloud/server.ts): OpenSSH's ed25519 format has a fixed size for a given
 * comment, so this is the deployed size exactly.
 */
export function userDataSize(userData: string, serverName: string): number {
  const comment = `openstack-rt ${serverName}`;
  // Servers of a flavor share the user data, and the size depends on the comment's length only.
  const key = `${Buffer.byteLength(comment)}\n${userData}`;
  let size = userDataSizes.get(key);
  if (size === undefined) {
    const text = withSshHostKey(userData, generateEd25519HostKey(comment));
    size = 4 * Math.ceil(Buffer.byteLength(text) / 3);
    userDataSizes.set(key, size);
  }
  return size;
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
