/**
 * The e2e RT guest's disk image: what a stock Debian 12 cloud image is, built the way the host
 * image is (image.ts: mmdebstrap from this machine's apt sources through the mirror proxy,
 * GRUB installed on a first boot, cached under .cache/e2e): the stock kernel, GRUB, OpenSSH,
 * sudo and cloud-init, with its default user `debian` (the dev stack's `image.loginUser`) and
 * no SSH host key of its own: cloud-init plants the one the stack made (GuestHostKey).
 *
 * What differs from a cloud image, for the e2e run only:
 * - cloud-init reads a NoCloud seed (the harness's seed disk) instead of OpenStack's config
 *   drive, and leaves the network to the image's systemd-networkd (DHCP on qemu's network);
 * - apt keeps the image's sources (this machine's mirror) and reaches it through the harness's
 *   proxy: a boot-time unit reads the proxy's address from qemu's fw_cfg, since the proxy's
 *   port changes from run to run and the image does not. The user data stays the program's.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { ImageFiles, ImageSpec } from "./image";

/** The fw_cfg entry that carries the proxy's address into the guest. */
export const APT_PROXY_FW_CFG = "opt/openstack-rt/apt-proxy";

const CLOUD_CFG = `# openstack-rt e2e: a NoCloud seed (the harness's seed disk, label cidata) stands in for
# OpenStack's config drive.
datasource_list: [NoCloud, None]
# The image's own systemd-networkd configuration: DHCP on qemu's user network.
network:
  config: disabled
manage_etc_hosts: true
# No locale is generated in the image (it has no locales data beyond glibc's C.UTF-8), and
# Debian's locale-gen ignores the locale cloud-init names: its default, en_US.UTF-8, fails
# update-locale, and with it cloud-init's config stage.
locale: C.UTF-8
# The image's apt sources are this machine's mirror (reached through the harness's proxy):
# cloud-init must not replace them with its default mirror.
apt:
  preserve_sources_list: true
# As Debian's cloud images: the login user is debian, with sudo.
system_info:
  default_user:
    name: debian
    lock_passwd: true
    gecos: Debian
    groups: [adm, sudo]
    sudo: ["ALL=(ALL) NOPASSWD:ALL"]
    shell: /bin/bash
`;

function guestFiles(): ImageFiles {
  return {
    "/etc/hostname": { mode: 0o644, text: "localhost\n" },
    "/etc/hosts": { mode: 0o644, text: "127.0.0.1 localhost\n" },
    "/etc/cloud/cloud.cfg.d/90-openstack-rt-e2e.cfg": { mode: 0o644, text: CLOUD_CFG },
    "/etc/ssh/sshd_config.d/50-e2e.conf": {
      mode: 0o644,
      text: "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUseDNS no\n",
    },
    "/usr/local/sbin/e2e-apt-proxy": {
      mode: 0o755,
      text: readFileSync(join(__dirname, "guest", "apt-proxy-from-fw-cfg.sh"), "utf8"),
    },
    "/etc/systemd/system/e2e-apt-proxy.service": {
      mode: 0o644,
      text:
        "[Unit]\nDescription=openstack-rt e2e: apt through the harness's mirror proxy (address from qemu fw_cfg)\n" +
        "After=local-fs.target systemd-modules-load.service\nBefore=cloud-config.service cloud-final.service\n\n" +
        "[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/usr/local/sbin/e2e-apt-proxy\n\n" +
        "[Install]\nWantedBy=multi-user.target cloud-config.service\n",
    },
  };
}

export const GUEST_IMAGE: ImageSpec = {
  name: "guest-image",
  packages: [
    "systemd-sysv",
    "udev",
    "linux-image-amd64",
    "initramfs-tools",
    "grub-pc",
    "openssh-server",
    "cloud-init",
    "sudo",
    // resize2fs and fsck.ext4: cloud-init's resizefs fails the boot's first stage without them.
    "e2fsprogs",
    "ca-certificates",
    "iproute2",
    "procps",
    "kmod",
  ],
  files: guestFiles,
  cmdline: "console=ttyS0,115200n8",
  customize: `
    chroot "$1" systemctl enable ssh.service e2e-apt-proxy.service
  `,
  // cloud-init stays off on the first boot (GRUB's install): the seeded boot is its first.
  firstBootArgs: "cloud-init=disabled",
  // MODULES=dep as on the host image: the RT kernel's initramfs holds this VM's modules only,
  // which makes cloud-init's RT kernel install faster under emulation. Then the image forgets
  // the build: no cloud-init state, no machine id, no SSH host key, no root login; the session
  // goes with the keys, so the image powers itself off.
  firstBoot: `
    echo MODULES=dep > /etc/initramfs-tools/conf.d/e2e-modules.conf
    cloud-init clean --logs
    : > /etc/machine-id
    rm -f /etc/ssh/ssh_host_* /root/.ssh/authorized_keys
    systemd-run --on-active=2 systemctl poweroff
  `,
};
