#!/usr/bin/env bash
# Puts the plan's kernel arguments (huge pages of 1 GiB, and of 2 MiB beside them) on the kernel
# command line for every boot, optionally installs a boot-time unit that reserves the pages per
# NUMA node (kernels before 5.16 do not take per-node counts on the command line), and mounts
# hugetlbfs for the page sizes besides the default one.
#
#   kernel-args.sh --os <family> --args "<arg> <arg>..."
#                  [--hugepages-unit "<node>:<count>:<1G|2M>,..."] [--hugetlbfs-mount 1G|2M]...
#                  [--root DIR]
#
# Debian/Ubuntu: GRUB_CMDLINE_LINUX in /etc/default/grub, then update-grub.
# RHEL 8/9: grubby --update-kernel=ALL for the BLS boot entries, compared first with
#   grubby --info=DEFAULT; /etc/default/grub gets the same edit, so grub2-mkconfig and kernels
#   installed later keep the arguments. Under --root only the file edit runs.
# Each argument replaces any argument with the same key; the user's other arguments stay.
# With --hugepages-unit: /usr/local/lib/openstack-rt/hugetlb-reserve-pages and
#   /etc/systemd/system/hugetlb-gigantic-pages.service, enabled for sysinit.target. Without
#   it, a unit this script installed earlier is removed (the plan no longer wants it).
# With --hugetlbfs-mount <size> (repeatable): /etc/systemd/system/dev-hugepages<size>.mount,
#   enabled for sysinit.target. A mount unit this script installed for a size no longer given
#   is removed.
#
# Output: what changed, the commands run (or skipped under --root), "reboot_needed=yes|no"
# (is /proc/cmdline missing the arguments, does a node hold another number of pages than the
# unit reserves, or is a planned hugetlbfs mount missing?), then "changed" or "unchanged".
set -euo pipefail

PROG=kernel-args.sh
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# The unit's name says "gigantic" (1 GiB pages, all it reserved at first) although it reserves
# 2 MiB pages too now: hosts prepared earlier have it enabled under this name, and a new name
# would leave that unit behind, reserving the old counts at every boot.
UNIT_NAME=hugetlb-gigantic-pages.service
UNIT=/etc/systemd/system/$UNIT_NAME
UNIT_LINK=/etc/systemd/system/sysinit.target.wants/$UNIT_NAME
RESERVE=/usr/local/lib/openstack-rt/hugetlb-reserve-pages
MARK='# Installed by openstack-rt hostprep/kernel-args.sh'

# The keys this step owns: those of ARGS, plus "hugepages" when the boot unit reserves the
# pages (a count left on the command line would reserve them twice, and kernels before 5.16,
# the reason for the unit, misread the per-node form).
owns_key() { # <word>; - and _ in a name are one character to the kernel (nohz-full= is nohz_full=)
  local k=${1%%=*} o
  for o in "${OWN_KEYS[@]}"; do
    if [[ ${k//-/_} == "${o//-/_}" ]]; then return 0; fi
  done
  return 1
}
# Does the word list (a command line) already say what ARGS say? The words with an owned key
# must be exactly ARGS: each once, with the planned value, in the planned order ("hugepages="
# counts pages of the "hugepagesz=" before it, so order is meaning).
args_satisfied() { # <words...>
  local w ours=()
  for w in "$@"; do
    if owns_key "$w"; then ours+=("$w"); fi
  done
  [[ "${ours[*]}" == "${ARGS[*]}" ]]
}
# MERGED: the words without any owned key, in their order, then ARGS in plan order.
merge_args() { # <words...>
  local w
  MERGED=()
  for w in "$@"; do
    if ! owns_key "$w"; then MERGED+=("$w"); fi
  done
  MERGED+=("${ARGS[@]}")
}

# Edits GRUB_CMDLINE_LINUX in <root>/etc/default/grub. That file is sourced by shell, so only
# assignments this script can rewrite without changing their meaning are touched: "...",
# '...' or a bare word, without $, backticks or backslashes. Anything else stops the step.
# GRUB_CHANGED=1 when it wrote the file.
edit_default_grub() {
  local f new i idx=-1 line prefix value suffix sq="'" words=()
  GRUB_CHANGED=0
  local re_line='^[[:space:]]*(export[[:space:]]+)?GRUB_CMDLINE_LINUX='
  local re_dq='^([[:space:]]*(export[[:space:]]+)?GRUB_CMDLINE_LINUX=)"([^"$`\\]*)"([[:space:]]*(#.*)?)$'
  local re_sq="^([[:space:]]*(export[[:space:]]+)?GRUB_CMDLINE_LINUX=)${sq}([^${sq}]*)${sq}([[:space:]]*(#.*)?)\$"
  local re_bare='^([[:space:]]*(export[[:space:]]+)?GRUB_CMDLINE_LINUX=)([A-Za-z0-9_.,:/+@=-]*)([[:space:]]+(#.*)?)?$'
  f=$(under_root /etc/default/grub)
  [[ -f $f ]] || die "$f not found: is GRUB installed? (Debian: grub-pc or grub-efi-amd64; RHEL: grub2-tools)"
  local lines=()
  mapfile -t lines <"$f"
  # The shell keeps the last assignment, so that is the one to edit.
  for i in "${!lines[@]}"; do
    if [[ ${lines[i]} =~ $re_line ]]; then idx=$i; fi
  done
  if ((idx >= 0)); then
    line=${lines[idx]}
    if [[ $line =~ $re_dq || $line =~ $re_sq || $line =~ $re_bare ]]; then
      prefix=${BASH_REMATCH[1]} value=${BASH_REMATCH[3]} suffix=${BASH_REMATCH[4]}
    else
      die "line $((idx + 1)) of $f sets GRUB_CMDLINE_LINUX in a way this script does not rewrite safely ($(shown "$line")); add these arguments there by hand: ${ARGS[*]}"
    fi
    read -ra words <<<"$value"
  fi
  GRUB_WORDS_BEFORE=("${words[@]}")
  # /etc/default/grub.d/*.cfg is read after this file (Ubuntu's cloud images use it): a plain
  # reassignment there would silently drop these arguments, or TuneD's: TuneD's bootloader
  # plugin appends "\$tuned_params" to GRUB_CMDLINE_LINUX_DEFAULT in this file, and a drop-in
  # that sets GRUB_CMDLINE_LINUX_DEFAULT afresh leaves isolcpus, nohz_full, ... off every
  # update-grub from then on.
  local d cfg re_default='^[[:space:]]*(export[[:space:]]+)?GRUB_CMDLINE_LINUX_DEFAULT='
  d=$(under_root /etc/default/grub.d)
  for cfg in "$d"/*.cfg; do
    [[ -f $cfg ]] || continue
    while IFS= read -r line || [[ -n $line ]]; do
      # shellcheck disable=SC2016 # the literal text $GRUB_CMDLINE_LINUX is what is looked for
      if [[ $line =~ $re_line && $line != *'$GRUB_CMDLINE_LINUX'* && $line != *'${GRUB_CMDLINE_LINUX}'* ]]; then
        die "$cfg sets GRUB_CMDLINE_LINUX after $f and would override it; move its arguments into $f or make it append (GRUB_CMDLINE_LINUX=\"\$GRUB_CMDLINE_LINUX ...\")"
      fi
      # shellcheck disable=SC2016 # as above
      if [[ $line =~ $re_default && $line != *'$GRUB_CMDLINE_LINUX_DEFAULT'* && $line != *'${GRUB_CMDLINE_LINUX_DEFAULT'* ]]; then
        die "$cfg sets GRUB_CMDLINE_LINUX_DEFAULT after $f and would override the \$tuned_params that TuneD appends there, so TuneD's kernel arguments (isolcpus, nohz_full, ...) would never reach the kernel; make it append (GRUB_CMDLINE_LINUX_DEFAULT=\"\$GRUB_CMDLINE_LINUX_DEFAULT ...\") or move its arguments into $f"
      fi
    done <"$cfg"
  done
  if ((idx >= 0)) && args_satisfied "${words[@]}"; then return 0; fi
  merge_args "${words[@]}"
  for i in "${MERGED[@]}"; do
    [[ $i != *[\"\$\`\\]* ]] || die "$f keeps argument $(shown "$i"), which cannot go between double quotes unchanged; edit GRUB_CMDLINE_LINUX by hand"
  done
  if ((idx >= 0)); then
    lines[idx]="${prefix}\"${MERGED[*]}\"${suffix}"
  else
    lines+=("GRUB_CMDLINE_LINUX=\"${MERGED[*]}\"")
  fi
  new=$WORK/grub
  printf '%s\n' "${lines[@]}" >"$new"
  replace_file "$f" "$new" 0644
  GRUB_CHANGED=$WROTE
  if ((WROTE)); then log "set GRUB_CMDLINE_LINUX=\"${MERGED[*]}\" in /etc/default/grub"; fi
}

# The boot entries themselves. Debian and Ubuntu generate them from /etc/default/grub with
# update-grub. RHEL keeps one BLS entry per kernel with its own arguments; grubby edits those,
# after asking it whether the default entry already has them. Under --root there are no boot
# entries to ask, so the arguments /etc/default/grub had before the edit stand in for them
# and the same decision runs on those.
update_boot_entries() { # <did /etc/default/grub change: 0|1>
  if [[ $FAMILY != rhel-* ]]; then
    if (($1)); then run_system update-grub; fi
    return 0
  fi
  local line info current=() remove=() w
  if [[ $ROOT == / ]]; then
    info=$(grubby --info=DEFAULT) || die "grubby --info=DEFAULT failed"
    while IFS= read -r line; do
      if [[ $line =~ ^args=\"(.*)\"$ ]]; then read -ra current <<<"${BASH_REMATCH[1]}"; fi
    done <<<"$info"
  else
    current=("${GRUB_WORDS_BEFORE[@]}")
  fi
  if args_satisfied "${current[@]}"; then return 0; fi
  # Drop every word with an owned key before adding the planned ones, so "hugepages=2" and
  # "hugepages=0:4,1:4" cannot both stay and the order comes out as planned. The planned words
  # go in one --args call: RHEL's grubby (the BLS wrapper script) drops every word with the key
  # of an added one, then appends the added ones in order, so the hugepagesz/hugepages pairs of
  # one call all stay (rhbz#1652486), where one call per pair would keep only the last.
  for w in "${current[@]}"; do
    if owns_key "$w"; then remove+=("$w"); fi
  done
  if ((${#remove[@]})); then run_system grubby --update-kernel=ALL --remove-args="${remove[*]}"; fi
  if ((${#ARGS[@]})); then run_system grubby --update-kernel=ALL --args="${ARGS[*]}"; fi
}

# The script the unit runs. POSIX sh, because the unit starts it as `/bin/sh <file>`: that
# works where /usr/local is mounted noexec and needs no executable SELinux label.
write_reserve_script() { # <file>
  cat >"$1" <<'RESERVE_EOF'
#!/bin/sh
# Installed by openstack-rt hostprep/kernel-args.sh: reserves huge pages per NUMA node early at
# boot, before memory fragments (hugetlb-gigantic-pages.service).
#   hugetlb-reserve-pages <node>:<count>:<size>...   (size 1G or 2M)
# The entries are reserved in the order given: the plan puts 1 GiB pages first, which need
# contiguous memory that 2 MiB pages would fragment. The kernel may allocate fewer pages than
# asked when it cannot find free contiguous ranges, without failing the write, so each entry is
# written, read back, and retried after compacting memory until the node holds the count.
set -eu
# HUGETLB_SYSFS and HUGETLB_PROC exist for tests, which point them at a directory tree.
sysfs=${HUGETLB_SYSFS:-/sys}
proc=${HUGETLB_PROC:-/proc}
attempts=5
status=0
# All entries are checked before the first is written, so bad arguments change nothing.
for entry in "$@"; do
  node=${entry%%:*}
  rest=${entry#*:}
  count=${rest%%:*}
  size=${rest#*:}
  case $node in '' | *[!0-9]*) size=bad ;; esac
  case $count in '' | *[!0-9]*) size=bad ;; esac
  case $size in
  1G | 2M) ;;
  *)
    echo "hugetlb-reserve-pages: arguments must be <node>:<count>:<size> with size 1G or 2M (got $entry)" >&2
    exit 2
    ;;
  esac
done
for entry in "$@"; do
  node=${entry%%:*}
  rest=${entry#*:}
  count=${rest%%:*}
  size=${rest#*:}
  if [ "$size" = 1G ]; then
    dir=hugepages-1048576kB
    label='1 GiB'
  else
    dir=hugepages-2048kB
    label='2 MiB'
  fi
  f=$sysfs/devices/system/node/node$node/hugepages/$dir/nr_hugepages
  if [ ! -w "$f" ]; then
    echo "hugetlb-reserve-pages: cannot write $f (no NUMA node $node, or no $label page support)" >&2
    status=1
    continue
  fi
  try=1
  while :; do
    echo "$count" >"$f" || true
    got=$(cat "$f")
    if [ "$got" = "$count" ]; then break; fi
    if [ "$try" -ge "$attempts" ]; then
      echo "hugetlb-reserve-pages: node $node holds ${got:-no} pages of $label after $attempts attempts, wanted $count" >&2
      status=1
      break
    fi
    if [ -w "$proc/sys/vm/compact_memory" ]; then echo 1 >"$proc/sys/vm/compact_memory" || true; fi
    try=$((try + 1))
    sleep 1
  done
  echo "hugetlb-reserve-pages: node $node: ${got:-0} pages of $label"
done
exit "$status"
RESERVE_EOF
}

write_unit() { # <file> <node:count:size...>
  local file=$1
  shift
  cat >"$file" <<UNIT_EOF
$MARK
[Unit]
Description=Reserve huge pages on each NUMA node (openstack-rt)
# Early, before hugetlbfs is mounted and before memory fragments.
DefaultDependencies=no
Before=dev-hugepages.mount dev-hugepages1G.mount dev-hugepages2M.mount sysinit.target
ConditionPathExists=/sys/devices/system/node

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh $RESERVE $*

[Install]
WantedBy=sysinit.target
UNIT_EOF
}

# Enables a unit for sysinit.target: the sysinit.target.wants link `systemctl enable` would
# create, made here so that --root runs do it too.
enable_for_sysinit() { # <unit path on the host>
  local name=${1##*/} link target
  link=$(under_root "/etc/systemd/system/sysinit.target.wants/$name")
  target=$(readlink -- "$link" 2>/dev/null || true)
  if [[ $target != "$1" ]]; then
    backup_once "$link"
    make_dirs "${link%/*}"
    ln -sfn -- "$1" "$link"
    CHANGED=1 RELOAD=1
    log "enabled $name (sysinit.target.wants)"
  fi
}

# Installs, updates or (without --hugepages-unit) removes the unit, the script it runs and
# its sysinit.target.wants link.
sync_hugepages_unit() {
  local unit reserve link tmp
  unit=$(under_root "$UNIT") reserve=$(under_root "$RESERVE") link=$(under_root "$UNIT_LINK")
  if ((${#UNIT_ENTRIES[@]} == 0)); then
    # Only a unit carrying this script's mark is taken out: someone else's stays.
    if [[ -f $unit ]] && grep -qxF "$MARK" "$unit"; then
      remove_file "$link"
      remove_file "$unit"
      remove_file "$reserve"
      log "removed $UNIT and $RESERVE: no per-node pages to reserve at boot"
      RELOAD=1
    fi
    return 0
  fi
  tmp=$WORK/reserve
  write_reserve_script "$tmp"
  replace_file "$reserve" "$tmp" 0755
  if ((WROTE)); then
    RELOAD=1
    log "installed $RESERVE"
  fi
  tmp=$WORK/unit
  write_unit "$tmp" "${UNIT_ENTRIES[@]}"
  replace_file "$unit" "$tmp" 0644
  if ((WROTE)); then
    RELOAD=1
    log "installed $UNIT (reserves ${UNIT_ENTRIES[*]})"
  fi
  enable_for_sysinit "$UNIT"
}

write_mount_unit() { # <file> <1G|2M>
  page_size_info "$2"
  cat >"$1" <<MOUNT_EOF
$MARK
[Unit]
Description=Huge Pages File System of $PAGE_LABEL pages (openstack-rt)
# systemd mounts only the default page size, at /dev/hugepages. libvirt backs guests only with
# the page sizes it finds mounted when libvirtd starts, so this mount comes early, with
# systemd's own, and only when the kernel has pages of this size (hugepagesz=$2).
DefaultDependencies=no
Before=sysinit.target
ConditionPathExists=/sys/kernel/mm/hugepages/$PAGE_DIR

[Mount]
What=hugetlbfs
Where=/dev/hugepages$2
Type=hugetlbfs
Options=pagesize=$2

[Install]
WantedBy=sysinit.target
MOUNT_EOF
}

# Installs and enables the mount unit of each MOUNT_SIZES size, and removes those this script installed for other sizes.
# A removed unit's mount stays until the next boot: guests may be using its pages.
sync_mount_units() {
  local size name unit link tmp want=" ${MOUNT_SIZES[*]} "
  for size in "${MOUNT_SIZES[@]}"; do
    mount_unit_name "$size"
    name=$REPLY
    unit=$(under_root "/etc/systemd/system/$name")
    # Someone else's unit for this path is theirs to change: overwriting it would lose their
    # settings without a word.
    if [[ -e $unit || -L $unit ]] && ! grep -qxF "$MARK" "$unit" 2>/dev/null; then
      die "$unit exists without this script's mark ($MARK): someone else's unit for /dev/hugepages$size. Remove it (or move it aside) so that this step can install its own"
    fi
    tmp=$WORK/mount
    write_mount_unit "$tmp" "$size"
    replace_file "$unit" "$tmp" 0644
    if ((WROTE)); then
      RELOAD=1
      log "installed /etc/systemd/system/$name (hugetlbfs of $PAGE_LABEL pages at /dev/hugepages$size)"
    fi
    enable_for_sysinit "/etc/systemd/system/$name"
  done
  for unit in "$(under_root /etc/systemd/system)"/dev-hugepages*.mount; do
    [[ -f $unit && ! -L $unit ]] || continue
    size=${unit##*/dev-hugepages}
    size=${size%.mount}
    if [[ -n $size && $want == *" $size "* ]]; then continue; fi
    # Only a unit carrying this script's mark is taken out: someone else's stays.
    grep -qxF "$MARK" "$unit" || continue
    link=$(under_root "/etc/systemd/system/sysinit.target.wants/${unit##*/}")
    remove_file "$link"
    remove_file "$unit"
    RELOAD=1
    log "removed /etc/systemd/system/${unit##*/}: no --hugetlbfs-mount ${size:-<default>}"
  done
}

# Would a reboot bring the planned state? Yes when /proc/cmdline lacks the arguments, when a
# node holds another number of pages than the unit reserves at boot, or when a planned
# hugetlbfs mount is missing (its unit mounts it at boot). reboot.sh decides the same way.
reboot_needed() {
  local f words=()
  f=$(under_root /proc/cmdline)
  [[ -r $f ]] || die "cannot read $f"
  read -ra words <"$f"
  if ! args_satisfied "${words[@]}"; then
    log "reboot_reason=/proc/cmdline lacks ${ARGS[*]}"
    return 0
  fi
  unit_pages_differ
  if [[ -n $REPLY ]]; then
    log "reboot_reason=$REPLY"
    return 0
  fi
  hugetlbfs_mounts_missing
  if ((${#MOUNT_REASONS[@]})); then
    log "reboot_reason=${MOUNT_REASONS[0]}"
    return 0
  fi
  return 1
}

kernel_args_option() {
  case $1 in
  --os)
    need_value "$1" $#
    os_family_option "$1" "$2"
    FAMILY=$2 TAKEN=2
    ;;
  *) boot_option "$@" ;;
  esac
}

main() {
  FAMILY='' ARGS=() ARGS_GIVEN=0 UNIT_ENTRIES=() MOUNT_SIZES=() RELOAD=0
  USAGE="--os <family> --args \"<args>\" [--hugepages-unit 0:4:1G,1:4:1G,0:512:2M,1:512:2M] [--hugetlbfs-mount 2M]... [--root DIR]"
  parse_options kernel_args_option "$@"
  [[ -n $FAMILY ]] || usage_error "--os is required"
  ((ARGS_GIVEN)) || usage_error "--args is required (it may be \"\")"
  local p
  OWN_KEYS=()
  for p in "${ARGS[@]}"; do OWN_KEYS+=("${p%%=*}"); done
  if ((${#UNIT_ENTRIES[@]})); then
    for p in "${ARGS[@]}"; do
      [[ ${p%%=*} != hugepages ]] || usage_error "--args sets $p while --hugepages-unit reserves the pages; give one or the other"
    done
    OWN_KEYS+=(hugepages)
  fi
  check_os_family "$FAMILY"
  pending_begin kernel-args

  if ((${#OWN_KEYS[@]})); then
    # RHEL's boot entries need no record: update_boot_entries compares them themselves.
    if [[ $FAMILY != rhel-* ]]; then needs_after_change update-grub; fi
    edit_default_grub
    update_boot_entries "$GRUB_CHANGED"
  fi
  needs_after_change systemctl daemon-reload
  sync_hugepages_unit
  sync_mount_units
  if ((RELOAD)); then run_system systemctl daemon-reload; fi
  pending_done
  if reboot_needed; then log reboot_needed=yes; else log reboot_needed=no; fi
  finish
}

main "$@"
