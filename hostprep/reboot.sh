#!/usr/bin/env bash
# Reboots the host when, and only when, that brings the planned state: the kernel command line
# lacks the planned arguments or those TuneD's profile put on the bootloader's (isolcpus,
# nohz_full, ... for the isolated cores; TuneD records them in /etc/tuned/bootcmdline), a node
# holds another number of pages than the boot unit reserves (--hugepages-unit, as given to
# kernel-args.sh), a hugetlbfs mount that kernel-args.sh's mount unit makes at boot is missing
# (--hugetlbfs-mount, as given to kernel-args.sh), or (--expect-rt yes) the running kernel is
# not the RT kernel that the bootloader starts by default. The reboot is scheduled a few seconds
# out, detached from this process, so the caller's SSH session ends cleanly; the caller then
# waits for boot_id to change.
#
#   reboot.sh --args "<arg> <arg>..." [--hugepages-unit "<node>:<count>:<1G|2M>,..."]
#             [--hugetlbfs-mount 1G|2M]... [--expect-rt yes|no] [--root DIR]
#
# Output: reboot_reason=... lines, boot_id=<current boot id>, the scheduling command (skipped
# under --root), then "changed" (a reboot is scheduled) or "unchanged". Exit 1 when an RT
# kernel is expected but the default boot entry is not one: rebooting would not help.
set -euo pipefail

PROG=reboot.sh
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# Kernel release names of RT builds: Debian 6.1.0-28-rt-amd64, RHEL 8 4.18.0-513.rt7.302.el8,
# RHEL 9 5.14.0-427.13.1.el9_4.x86_64+rt, Ubuntu 6.8.1-1015-realtime.
is_rt_release() { [[ $1 =~ (^|[-.+_])(rt[0-9]*|realtime)([-.+_]|$) ]]; }

# The bootloader's default entry. On a RHEL-family host grubby answers (BLS entries, saved
# default): DEFAULT_RELEASE only, ENTRY_FROM empty (kernel-args.sh checks the BLS arguments with
# grubby). Otherwise, and under --root, it is the first "linux" line of grub.cfg, which is the
# default entry while GRUB_DEFAULT is 0 (Debian's and Ubuntu's setting); another GRUB_DEFAULT
# stops the step rather than guessing. Then ENTRY_FROM is that grub.cfg and ENTRY_WORDS the
# arguments the entry passes, with $tuned_params expanded to the value grub.cfg sets before
# it (TuneD's 00_tuned hook writes it, and TuneD patches it on a profile switch).
# No grub.cfg and no grubby: DEFAULT_RELEASE stays empty.
default_entry() {
  local line cfg grub_default=0 tuned_params='' words expanded w
  local re_default='^GRUB_DEFAULT=["'\'']?([^"'\'']*)["'\'']?[[:space:]]*$'
  local re_set='^[[:space:]]*set[[:space:]]+tuned_params="([^"]*)"[[:space:]]*$'
  local re_linux='^[[:space:]]*linux(efi|16)?[[:space:]]+[^[:space:]]*/vmlinuz-([^[:space:]]+)(.*)$'
  DEFAULT_RELEASE='' ENTRY_FROM='' ENTRY_WORDS=()
  if [[ $ROOT == / ]] && command -v grubby >/dev/null; then
    line=$(grubby --default-kernel) || die "grubby --default-kernel failed"
    DEFAULT_RELEASE=${line##*/vmlinuz-}
    return 0
  fi
  cfg=$(under_root /etc/default/grub)
  if [[ -r $cfg ]]; then
    while IFS= read -r line; do
      if [[ $line =~ $re_default ]]; then grub_default=${BASH_REMATCH[1]}; fi
    done <"$cfg"
  fi
  [[ $grub_default == 0 ]] || die "GRUB_DEFAULT=$grub_default in /etc/default/grub: cannot tell which kernel boots next; set GRUB_DEFAULT=0 or check the default entry by hand"
  for cfg in /boot/grub/grub.cfg /boot/grub2/grub.cfg; do
    cfg=$(under_root "$cfg")
    [[ -r $cfg ]] || continue
    while IFS= read -r line; do
      if [[ $line =~ $re_set ]]; then tuned_params=${BASH_REMATCH[1]}; fi
      if [[ $line =~ $re_linux ]]; then
        DEFAULT_RELEASE=${BASH_REMATCH[2]}
        ENTRY_FROM=$cfg
        read -ra words <<<"${BASH_REMATCH[3]}"
        read -ra expanded <<<"$tuned_params"
        for w in "${words[@]}"; do
          # shellcheck disable=SC2016 # the literal GRUB variable reference is what is looked for
          if [[ $w == '$tuned_params' || $w == '${tuned_params}' ]]; then
            ENTRY_WORDS+=("${expanded[@]}")
          else
            ENTRY_WORDS+=("$w")
          fi
        done
        return 0
      fi
    done <"$cfg"
    die "no linux line in $cfg"
  done
}

# ABSENT: the arguments that are not among the words.
absent_from() { # <word count> <word...> <arg...>
  local n=$1 a w found
  shift
  local words=("${@:1:n}")
  shift "$n"
  ABSENT=()
  for a in "$@"; do
    found=0
    for w in "${words[@]}"; do
      if [[ $w == "$a" ]]; then found=1; fi
    done
    if ((found == 0)); then ABSENT+=("$a"); fi
  done
}

# Stops the step when the default GRUB entry does not pass an argument the plan or TuneD
# wants: the host would come back without it, and the waiter and the host checks would only
# find that out after a reboot.
entry_passes() { # <fix> <arg...>
  local fix=$1
  shift
  absent_from "${#ENTRY_WORDS[@]}" "${ENTRY_WORDS[@]}" "$@"
  ((${#ABSENT[@]} == 0)) || die "the default boot entry in $ENTRY_FROM does not pass ${ABSENT[*]}: a reboot would not bring $( ((${#ABSENT[@]} == 1)) && echo it || echo them). $fix"
}

# TUNED_ARGS: the arguments TuneD's bootloader plugin added for the active profile, as it
# records them for GRUB's 00_tuned hook and the BLS entries. The file is shell syntax meant to
# be sourced; it is parsed here instead, and anything but plain kernel arguments stops the step.
tuned_boot_args() {
  local f line v re='^TUNED_BOOT_CMDLINE=(.*)$' re_args='^[A-Za-z0-9_.,:/+@= -]*$'
  TUNED_ARGS=()
  f=$(under_root /etc/tuned/bootcmdline)
  [[ -r $f ]] || return 0
  while IFS= read -r line || [[ -n $line ]]; do
    [[ $line =~ $re ]] || continue
    v=${BASH_REMATCH[1]}
    v=${v#\"}
    v=${v%\"}
    [[ $v =~ $re_args ]] || die "$f sets TUNED_BOOT_CMDLINE=$(shown "$v"), which is not a plain list of kernel arguments"
    read -ra TUNED_ARGS <<<"$v"
  done <"$f"
}

# Stops the step when a missing hugetlbfs mount has no enabled mount unit: only the unit
# kernel-args.sh installs and enables for sysinit.target mounts it at boot, so without it the
# host would come back without the mount.
mount_units_enabled() {
  local size link
  for size in "${MOUNT_MISSING[@]}"; do
    mount_unit_name "$size"
    link=$(under_root "/etc/systemd/system/sysinit.target.wants/$REPLY")
    [[ -L $link && -f $(under_root "/etc/systemd/system/$REPLY") ]] || die "$REPLY is not installed and enabled ($link): a reboot would not bring the hugetlbfs mount at /dev/hugepages$size. Run kernel-args.sh with --hugetlbfs-mount $size."
  done
}

# REASONS += "/proc/cmdline lacks <arg><note>" for each argument not on the command line.
missing_args() { # <note> <arg...>
  local note=$1 a
  shift
  absent_from "${#WORDS[@]}" "${WORDS[@]}" "$@"
  for a in "${ABSENT[@]}"; do REASONS+=("/proc/cmdline lacks $a$note"); done
}

reboot_option() {
  case $1 in
  --expect-rt)
    need_value "$1" $#
    case $2 in
    yes | no) expect_rt=$2 ;;
    *) usage_error "--expect-rt must be yes or no (got $(shown "$2"))" ;;
    esac
    TAKEN=2
    ;;
  *) boot_option "$@" ;;
  esac
}

main() {
  local expect_rt=no
  ARGS=() ARGS_GIVEN=0 UNIT_ENTRIES=() MOUNT_SIZES=()
  USAGE="--args \"<args>\" [--hugepages-unit 0:4:1G,1:4:1G,0:512:2M,1:512:2M] [--hugetlbfs-mount 2M]... [--expect-rt yes|no] [--root DIR]"
  parse_options reboot_option "$@"
  ((ARGS_GIVEN)) || usage_error "--args is required (it may be \"\")"

  REASONS=() WORDS=()
  first_line /proc/cmdline
  read -ra WORDS <<<"$REPLY"
  missing_args '' "${ARGS[@]}"
  tuned_boot_args
  missing_args " (TuneD, /etc/tuned/bootcmdline)" "${TUNED_ARGS[@]}"
  unit_pages_differ
  if [[ -n $REPLY ]]; then REASONS+=("$REPLY"); fi
  hugetlbfs_mounts_missing
  REASONS+=("${MOUNT_REASONS[@]}")
  mount_units_enabled

  default_entry
  if [[ $expect_rt == yes ]]; then
    local running version default=$DEFAULT_RELEASE
    [[ -n $default ]] || die "no grub.cfg under $(under_root /boot) and no grubby: cannot tell which kernel boots next"
    first_line /proc/sys/kernel/osrelease
    running=$REPLY
    first_line /proc/sys/kernel/version
    version=$REPLY
    is_rt_release "$default" || die "the default boot entry starts $default, not an RT kernel: a reboot would not bring one. Install the RT kernel (packages.sh) and make it the default entry (RHEL: grubby --set-default; Debian/Ubuntu: GRUB_DEFAULT)"
    if [[ $running != "$default" ]]; then
      REASONS+=("running kernel $running, the default boot entry starts $default")
    elif [[ $version != *PREEMPT_RT* && $version != *"PREEMPT RT"* ]]; then
      die "running kernel $running is the default entry and looks like an RT build, but uname -v says '$version' (no PREEMPT_RT)"
    fi
  fi

  if ((${#REASONS[@]})) && [[ -n $ENTRY_FROM ]]; then
    entry_passes "Run kernel-args.sh (it writes GRUB_CMDLINE_LINUX and runs update-grub)." "${ARGS[@]}"
    entry_passes "TuneD's arguments reach GRUB through \$tuned_params: GRUB_CMDLINE_LINUX_DEFAULT must end with it after /etc/default/grub and /etc/default/grub.d/*.cfg are read (TuneD appends it in /etc/default/grub; a drop-in that sets GRUB_CMDLINE_LINUX_DEFAULT afresh drops it), and grub.cfg must be current: fix that, then run update-grub." "${TUNED_ARGS[@]}"
  fi

  first_line /proc/sys/kernel/random/boot_id
  local r
  for r in "${REASONS[@]}"; do log "reboot_reason=$r"; done
  log "boot_id=$REPLY"
  if ((${#REASONS[@]})); then
    # A transient timer owned by systemd survives the end of this SSH session; the fallback
    # for a host without systemd-run detaches a shell the same way.
    if [[ $ROOT != / ]] || command -v systemd-run >/dev/null; then
      run_system systemd-run --on-active=5 --timer-property=AccuracySec=1s systemctl reboot
    else
      run_system setsid -f sh -c 'exec </dev/null >/dev/null 2>&1; sleep 5; exec reboot'
    fi
  fi
  finish
}

main "$@"
