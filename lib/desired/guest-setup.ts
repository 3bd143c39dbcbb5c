/**
 * The RT guest setup a server's user data carries out, decided from its flavor's guest plan and
 * the image (./cloud-init.ts writes it down). The package manager and package names follow the
 * image's family: its Glance property `os_distro` (the libosinfo short id that Nova and Glance
 * use), and without it the image's `loginUser` (each cloud image family has its own default
 * user). Debian uses linux-image-rt-<arch> and tuned from bookworm main; the RHEL family uses
 * kernel-rt, tuned-profiles-realtime and tuned-profiles-nfv-guest (which ships
 * realtime-virtual-guest) from the RT and NFV repositories. Ubuntu's realtime kernel only comes
 * with Ubuntu Pro, which a user-data script cannot attach: such images must be prebuilt. Pure.
 */
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
