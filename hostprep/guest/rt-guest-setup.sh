#!/bin/bash
# openstack-rt guest setup, written by cloud-init (lib/desired/cloud-init.ts) and run once by runcmd:
#   rt-guest-setup.sh <debian|rhel> <isolated cores> [kernel argument ...]
# installs the RT kernel and TuneD's realtime-virtual-guest profile, sets isolated_cores to the
# flavor's RT vCPUs and adds the guest kernel arguments. When all of that worked it creates
# /run/openstack-rt-guest-setup.reboot, and cloud-init's power_state reboots into the RT kernel.
# Its output is in /var/log/cloud-init-output.log.
set -euo pipefail

# Every file path is under ROOT; tests point it at a directory tree and stub the commands.
ROOT=${OPENSTACK_RT_GUEST_ROOT:-}

log() { printf 'openstack-rt-guest-setup: %s\n' "$*"; }
die() {
  log "error: $*" >&2
  exit 1
}

(($# >= 2)) || die "usage: ${0##*/} <debian|rhel> <isolated cores> [kernel argument ...]"
FAMILY=$1
ISOLATED_CORES=$2
shift 2
# The values end up in sed expressions and GRUB files: the planner checked them, and so does this.
[[ $ISOLATED_CORES =~ ^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$ ]] || die "isolated cores \"$ISOLATED_CORES\" is not a CPU list"
for arg in "$@"; do
  [[ $arg =~ ^[A-Za-z][A-Za-z0-9_.-]*(=[A-Za-z0-9_.,:/+@=-]+)?$ ]] || die "\"$arg\" is not a kernel argument"
done
KERNEL_ARGS="$*"

# Sets the key in the variables file the package ships (Debian's holds a default
# isolated_cores line): replacing it, because appending adds a line per run.
set_isolated_cores() {
  local vars=$ROOT/etc/tuned/realtime-virtual-guest-variables.conf
  if grep -q '^isolated_cores[[:space:]]*=' "$vars" 2>/dev/null; then
    sed -i "s/^isolated_cores[[:space:]]*=.*/isolated_cores=$ISOLATED_CORES/" "$vars"
  else
    mkdir -p "${vars%/*}"
    printf 'isolated_cores=%s\n' "$ISOLATED_CORES" >>"$vars"
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
  # The kernel without its Recommends (firmware-linux-free, apparmor): a guest has no hardware
  # that needs the firmware, and whether AppArmor runs is the image's choice. The firmware's
  # initramfs trigger would also build the RT kernel's initramfs a second time.
  apt-get install -y --no-install-recommends "linux-image-rt-$arch"
  apt-get install -y tuned tuna rt-tests stress-ng
  set_isolated_cores
  # Read after /etc/default/grub and the image's own snippets: appends, never replaces.
  # TuneD's arguments (isolcpus, nohz_full, ...) reach GRUB as $tuned_params, which TuneD
  # appends to GRUB_CMDLINE_LINUX_DEFAULT in /etc/default/grub; an image snippet that sets
  # that variable afresh (cloud images keep their consoles there) drops it, so it goes back.
  mkdir -p "$ROOT/etc/default/grub.d"
  # shellcheck disable=SC2016 # the variables are for grub-mkconfig to expand
  {
    if [[ -n $KERNEL_ARGS ]]; then printf 'GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX %s"\n' "$KERNEL_ARGS"; fi
    printf '%s\n' 'case "$GRUB_CMDLINE_LINUX_DEFAULT" in *tuned_params*) ;; *) GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT \$tuned_params" ;; esac'
  } >"$ROOT/etc/default/grub.d/99-openstack-rt.cfg"
  activate_tuned
  update-grub
  # GRUB boots its first entry, and Debian lists kernels newest first: the RT kernel of the
  # same ABI sorts before the image's ("rt-amd64" after "cloud-amd64" and "amd64"), and the
  # archive's RT kernel is never older than the image's. Checked, not assumed.
  first=$(sed -n 's/^[[:space:]]*linux[[:space:]]\{1,\}\([^[:space:]]*\).*/\1/p' "$ROOT/boot/grub/grub.cfg" | head -n 1)
  [[ $first == *-rt-* ]] || die "GRUB's first entry boots ${first:-nothing}, not the RT kernel"
}

setup_rhel() {
  command -v dnf >/dev/null || die "no dnf: the image is not of the RHEL family (check image.properties.os_distro)"
  local id='' version='' line repos=() kernel
  while IFS= read -r line; do
    case $line in
    ID=*) id=${line#ID=} ;;
    VERSION_ID=*) version=${line#VERSION_ID=} ;;
    esac
  done <"$ROOT/etc/os-release"
  id=${id//\"/} version=${version//\"/}
  # RHEL's RT and NFV repositories come with the subscription; CentOS Stream, Rocky Linux and
  # AlmaLinux define "rt" and "nfv" repositories, disabled.
  if [[ $id == rhel ]]; then
    local prefix
    prefix=rhel-${version%%.*}-for-$(uname -m)
    subscription-manager repos --enable="$prefix-rt-rpms" --enable="$prefix-nfv-rpms"
  else
    while IFS= read -r line; do
      case ${line%% *} in rt | nfv) repos+=("--enablerepo=${line%% *}") ;; esac
    done < <(dnf -q repolist --all)
    ((${#repos[@]})) || die "no rt repository is defined on this $id $version image"
  fi
  dnf -y "${repos[@]}" install kernel-rt tuned-profiles-realtime tuned-profiles-nfv-guest rt-tests stress-ng
  set_isolated_cores
  activate_tuned
  kernel=$(printf '%s\n' "$ROOT"/boot/vmlinuz-*rt* | sort -V | tail -n 1)
  [[ -e $kernel ]] || die "no RT kernel in /boot after installing kernel-rt"
  grubby --set-default "${kernel#"$ROOT"}"
  if [[ -n $KERNEL_ARGS ]]; then grubby --update-kernel=ALL --args="$KERNEL_ARGS"; fi
}

case $FAMILY in
debian) setup_debian ;;
rhel) setup_rhel ;;
*) die "unknown family $FAMILY" ;;
esac
mkdir -p "$ROOT/run"
: >"$ROOT/run/openstack-rt-guest-setup.reboot"
log "done; cloud-init reboots into the RT kernel"
