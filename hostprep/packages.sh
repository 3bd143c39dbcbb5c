#!/usr/bin/env bash
# Installs the RT kernel, TuneD with its realtime profiles, and rt-tests (cyclictest, oslat,
# hwlatdetect) from the distribution's own repositories. Checks what is installed first and
# installs only what is missing.
#
#   packages.sh --os debian-12|ubuntu-22.04|ubuntu-24.04|rhel-8|rhel-9 [--no-rt-kernel] [--stalld] [--root DIR]
#
# --no-rt-kernel: for pinned-only hosts (TuneD cpu-partitioning, no RT kernel): TuneD, tuna and
# rt-tests only (RHEL: tuned-profiles-cpu-partitioning and rt-tests from the base repositories;
# no RT/NFV repository is enabled).
# --stalld: also stalld, which tuned.sh --stalld on configures. Only RHEL 8 and 9 ship it (AppStream);
# Debian 12 and Ubuntu 22.04/24.04 have no stalld package, so there it is bad input (exit 2), as
# the plan refuses `stalld: true` for those families (lib/plan/stalld.ts STALLD_OS_FAMILIES).
#
# Output: "installed: <pkg>..." and "missing: <pkg>..." lines, the commands run (or skipped
# under --root), then "changed" or "unchanged". Exit 1 when a package cannot be installed
# (on Ubuntu: the realtime kernel needs Ubuntu Pro), 2 on bad arguments.
#
# Packages per family:
#   debian-12     linux-image-rt-<arch> tuned tuna rt-tests                 (bookworm main)
#   ubuntu-*      linux-image-realtime tuned tuna rt-tests; the realtime kernel comes only from
#                 Ubuntu Pro's realtime-kernel service (`pro enable realtime-kernel`)
#   rhel-8/9      kernel-rt kernel-rt-kvm tuned-profiles-realtime tuned-profiles-nfv-host
#                 rt-tests, from the RT and NFV repositories: on RHEL those are the
#                 subscription's rhel-<N>-for-<arch>-rt-rpms and -nfv-rpms repositories
#                 (subscription-manager repos --enable), on CentOS Stream, Rocky Linux and
#                 AlmaLinux the "rt" and "nfv" repositories that the release package already
#                 defines, disabled (dnf config-manager --set-enabled). No mirror is named here:
#                 the host's own repository configuration decides where packages come from.
# tuna: TuneD's realtime profile verifies the isolated cores with it (`tuned-adm verify` fails,
# its script exiting 127, without it); RHEL's tuned-profiles-realtime depends on it, Debian's
# and Ubuntu's tuned do not.
set -euo pipefail

PROG=packages.sh
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

installed() { # <package>: is it installed under --root?
  if [[ $FAMILY == rhel-* ]]; then
    command -v rpm >/dev/null || die "rpm not found: --os $FAMILY needs a RHEL-family host"
    rpm --root "$ROOT" -q --quiet "$1"
  else
    local abbrev
    # The second letter of dpkg's status abbreviation is the state: "i" is installed ("ii"
    # or "hi"); "rc" (removed, config files left) and unknown packages are not.
    abbrev=$(dpkg-query --admindir="$(under_root /var/lib/dpkg)" -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null) || return 1
    [[ ${abbrev:1:1} == i ]]
  fi
}

# Does apt know a candidate version of <package> (from the host's configured sources)?
apt_has_candidate() {
  local line candidate=''
  local opts=()
  if [[ $ROOT != / ]]; then opts=(-o "Dir=$ROOT/"); fi
  while IFS= read -r line; do
    if [[ $line =~ ^[[:space:]]+Candidate:[[:space:]]+(.*)$ ]]; then candidate=${BASH_REMATCH[1]}; fi
  done < <(apt-cache "${opts[@]}" policy "$1" 2>/dev/null || true)
  [[ -n $candidate && $candidate != "(none)" ]]
}

# The RT and NFV repositories are shipped disabled; enable them the distribution's way.
enable_rhel_repos() {
  local major=${FAMILY#rhel-} arch repos=() line
  arch=$(uname -m)
  if [[ $OS_ID == rhel ]]; then
    run_system subscription-manager repos --enable="rhel-$major-for-$arch-rt-rpms" --enable="rhel-$major-for-$arch-nfv-rpms"
    return 0
  fi
  if [[ $ROOT != / ]]; then
    run_system dnf config-manager --set-enabled rt nfv
    return 0
  fi
  # Rebuilds name them "rt" and "nfv" where they have them; enable only those that exist, so a
  # release without an NFV repository still gets its RT one.
  while IFS= read -r line; do
    case ${line%% *} in rt | nfv) repos+=("${line%% *}") ;; esac
  done < <(dnf -q repolist --all 2>/dev/null || true)
  ((${#repos[@]})) || die "no 'rt' repository is defined on this $OS_ID $OS_VERSION_ID host; install the release's repository definitions first"
  run_system dnf config-manager --set-enabled "${repos[@]}"
}

packages_option() {
  case $1 in
  --no-rt-kernel) rt_kernel=0 TAKEN=1 ;;
  --stalld) stalld=1 TAKEN=1 ;;
  --os)
    need_value "$1" $#
    os_family_option "$1" "$2"
    FAMILY=$2 TAKEN=2
    ;;
  esac
}

main() {
  FAMILY=''
  local rt_kernel=1 stalld=0
  USAGE='--os <family> [--no-rt-kernel] [--stalld] [--root DIR]'
  parse_options packages_option "$@"
  [[ -n $FAMILY ]] || usage_error "--os is required"
  if ((stalld)) && [[ $FAMILY != rhel-* ]]; then
    usage_error "--stalld: $FAMILY does not package stalld (only rhel-8 and rhel-9 do); leave --stalld out"
  fi
  check_os_family "$FAMILY"

  local wanted=() missing=() present=() p arch
  case $FAMILY in
  debian-12)
    arch=$(dpkg --print-architecture)
    # Debian builds its PREEMPT_RT flavour for these two architectures only.
    case $arch in amd64 | arm64) ;; *) die "Debian has no RT kernel package for $arch" ;; esac
    wanted=("linux-image-rt-$arch" tuned tuna rt-tests)
    ;;
  ubuntu-*) wanted=(linux-image-realtime tuned tuna rt-tests) ;;
  rhel-*) wanted=(kernel-rt kernel-rt-kvm tuned-profiles-realtime tuned-profiles-nfv-host rt-tests) ;;
  esac
  if ((!rt_kernel)); then
    case $FAMILY in
    rhel-*) wanted=(tuned tuned-profiles-cpu-partitioning rt-tests) ;;
    *) wanted=(tuned tuna rt-tests) ;;
    esac
  fi
  if ((stalld)); then wanted+=(stalld); fi
  for p in "${wanted[@]}"; do
    if installed "$p"; then present+=("$p"); else missing+=("$p"); fi
  done
  if ((${#present[@]})); then log "installed: ${present[*]}"; fi
  if ((${#missing[@]} == 0)); then
    finish
    return 0
  fi
  log "missing: ${missing[*]}"

  case $FAMILY in
  debian-12 | ubuntu-*)
    run_system apt-get update
    if [[ $FAMILY == ubuntu-* && " ${missing[*]} " == *" linux-image-realtime "* ]] && ! apt_has_candidate linux-image-realtime; then
      die "apt does not know linux-image-realtime: Ubuntu's realtime kernel comes only with Ubuntu Pro. Attach the host (pro attach <token>), run 'pro enable realtime-kernel', then run this step again"
    fi
    run_system env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
    ;;
  rhel-*)
    if ((rt_kernel)); then enable_rhel_repos; fi
    run_system dnf install -y "${missing[@]}"
    ;;
  esac
  # A package manager can exit 0 and still leave something out; check again on the host.
  if [[ $ROOT == / ]]; then
    for p in "${missing[@]}"; do
      installed "$p" || die "$p is still not installed after the package manager ran"
    done
  fi
  finish
}

main "$@"
