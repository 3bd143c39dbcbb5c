# shellcheck shell=bash
# hostprep common: the helpers every hostprep/*.sh sources. A script run from a checkout sources
# this file from next to itself; sent to a host over SSH it travels as one text on stdin
# (`bash -s`), so bundleScript() in lib/hostprep/scripts.ts puts this file's text in place of
# the script's source line. Each script sets PROG to its own name before sourcing: under
# `bash -s` $0 is "bash", which would say nothing in an error message.
#
# Sourcing runs the lines below outside any function: the state every script starts from, a
# private work directory, and the EXIT trap that puts files back when a run fails.
ROOT=/
CHANGED=0
BACKUPS=()
CREATED_DIRS=()
PENDING_TMP=''
WORK=$(mktemp -d "${TMPDIR:-/tmp}/hostprep.XXXXXX")
# Sent over SSH, the script's stdout and stderr are the connection: when it drops, the next
# write would kill the script with SIGPIPE, possibly between a file change and the action the
# change needs (a service restart). Ignored, a write to the closed pipe fails instead, which
# log() and the relay of run_system() let pass: the run completes what it started.
trap '' PIPE

log() { printf '%s\n' "$*" 2>/dev/null || true; }
# Shows a value the way bash would need it quoted, so newlines and $(...) in bad input are
# visible in messages instead of being printed raw.
shown() { printf '%q' "$1"; }
# Bad input exits 2 and a failure exits 1, so a caller can tell "you asked for something this
# script refuses" from "the host did not do it".
usage_error() {
  printf '%s: invalid input: %s\n' "$PROG" "$*" >&2 2>/dev/null || true
  exit 2
}
die() {
  printf '%s: error: %s\n' "$PROG" "$*" >&2 2>/dev/null || true
  exit 1
}
# A message to stderr, which a closed connection cannot turn into an exit.
warn() { printf '%s: %s\n' "$PROG" "$*" >&2 2>/dev/null || true; }
need_value() { # <option> <number of arguments left, the option included>
  if (($2 < 2)); then usage_error "$1 needs a value"; fi
}

# The option loop every script shares. A script's main sets USAGE (its usage line after the
# name) and calls `parse_options <handler> "$@"`; the handler gets the words left, takes the
# script's own options and sets TAKEN to how many words it used (0: not one of its options).
# Every script takes --root DIR. A script that restarts a service sets RESTART_EXAMPLE (the
# command its error shows) and takes --restart-command "<words>" (into RESTART_COMMAND, run
# without a shell) or --check (CHECK=1: write nothing), not both.
USAGE=''
RESTART_EXAMPLE=''
RESTART_COMMAND=()
CHECK=0
# A command as words: the same rule as restartCommand in lib/hostprep/rules.ts.
RESTART_WORDS_RE='^[A-Za-z0-9@%+=:,./_-]+( [A-Za-z0-9@%+=:,./_-]+){0,15}$'
parse_options() { # <handler> <args...>
  local handler=$1
  shift
  while (($#)); do
    case $1 in
    --root)
      need_value "$1" $#
      set_root "$2"
      TAKEN=2
      ;;
    --restart-command | --check)
      [[ -n $RESTART_EXAMPLE ]] || usage_error "unknown argument $(shown "$1"); usage: $PROG $USAGE"
      if [[ $1 == --check ]]; then
        CHECK=1 TAKEN=1
      else
        need_value "$1" $#
        [[ $2 =~ $RESTART_WORDS_RE ]] ||
          usage_error "$1 takes a command and its arguments separated by single spaces, without quotes or shell characters, such as \"$RESTART_EXAMPLE\" (got $(shown "$2"))"
        read -ra RESTART_COMMAND <<<"$2"
        TAKEN=2
      fi
      ;;
    *)
      TAKEN=0
      "$handler" "$@"
      ((TAKEN > 0)) || usage_error "unknown argument $(shown "$1"); usage: $PROG $USAGE"
      ;;
    esac
    shift "$TAKEN"
  done
  ((!CHECK || ${#RESTART_COMMAND[@]} == 0)) || usage_error "--check writes nothing, so it restarts nothing: drop --restart-command"
}

# --root DIR: every file path is resolved under DIR. Limited to a plain absolute path without
# . or .. components, so the root cannot be steered somewhere else by its spelling.
set_root() {
  local dir=$1 re='^/[A-Za-z0-9._/+-]*$'
  [[ $dir =~ $re ]] || usage_error "--root must be an absolute path of letters, digits and ._/+- (got $(shown "$dir"))"
  [[ /$dir/ != */../* && /$dir/ != */./* ]] || usage_error "--root must not contain . or .. components (got $(shown "$dir"))"
  [[ -d $dir ]] || usage_error "--root $dir is not a directory"
  ROOT=$(readlink -f -- "$dir")
}
under_root() { # <absolute path on the host> -> that path under --root
  if [[ $ROOT == / ]]; then printf '%s' "$1"; else printf '%s%s' "$ROOT" "$1"; fi
}

# CPU lists as the kernel writes them ("0,2,4-11"): the brief's ^[0-9,-]+$ tightened to whole
# items, ascending ranges, no leading zeros and ids below 8192 (the kernel's NR_CPUS limit),
# which also bounds the work cpulist_expand does.
MAX_CPU_ID=8191 # the kernel's NR_CPUS ceiling, as MAX_CPU in lib/cpu/cpuset.ts
is_cpulist() {
  local list=$1 item lo hi items
  local re='^(0|[1-9][0-9]{0,3})(-(0|[1-9][0-9]{0,3}))?(,(0|[1-9][0-9]{0,3})(-(0|[1-9][0-9]{0,3}))?)*$'
  [[ $list =~ $re ]] || return 1
  IFS=, read -ra items <<<"$list"
  for item in "${items[@]}"; do
    lo=${item%-*} hi=${item#*-}
    if ((lo > hi || hi > MAX_CPU_ID)); then return 1; fi
  done
}
cpulist_expand() { # <valid cpulist> -> REPLY: the CPU ids, space separated
  local item lo hi cpu items
  REPLY=
  IFS=, read -ra items <<<"$1"
  for item in "${items[@]}"; do
    lo=${item%-*} hi=${item#*-}
    for ((cpu = lo; cpu <= hi; cpu++)); do REPLY+="$cpu "; done
  done
  REPLY=${REPLY% }
}
# Refuses CPUs the host does not have: TuneD and nova-compute would fail later, after the
# files were changed. Without <root>/sys (an offline image) there is nothing to check against.
check_cpus_online() { # <option name> <valid cpulist>
  local f online cpu
  f=$(under_root /sys/devices/system/cpu/online)
  if [[ ! -r $f ]]; then
    log "note: $f not readable; not checking $1 against the online CPUs"
    return 0
  fi
  online=$(<"$f")
  is_cpulist "$online" || die "$f holds $(shown "$online"), not a CPU list"
  cpulist_expand "$online"
  online=" $REPLY "
  cpulist_expand "$2"
  for cpu in $REPLY; do
    [[ $online == *" $cpu "* ]] || usage_error "$1 $2 names CPU $cpu, which is not online on this host (online: $(<"$f"))"
  done
}
is_uint() { [[ $1 =~ ^(0|[1-9][0-9]{0,8})$ ]]; }
# The OS families host prep supports: the same list as OS_FAMILIES in lib/hostprep/rules.ts.
OS_FAMILIES=(debian-12 ubuntu-22.04 ubuntu-24.04 rhel-8 rhel-9)
is_os_family() {
  local f
  for f in "${OS_FAMILIES[@]}"; do [[ $1 != "$f" ]] || return 0; done
  return 1
}
os_family_option() { # <option> <value>: the value when it is a supported family, else a usage error
  is_os_family "$2" || usage_error "$1 must be one of ${OS_FAMILIES[*]} (got $(shown "$2"))"
}

# Kernel arguments as the plan writes them: "key" or "key=value" from a small alphabet,
# separated by single spaces. Quotes, $, backticks, ;, tabs and newlines are refused outright,
# so nothing here can be read as shell or split differently by GRUB.
# Every key once (the edit replaces by key, so two values for one key cannot both stay), except
# hugepagesz and hugepages: the kernel reads those as pairs, "hugepages=" counting the pages of
# the "hugepagesz=" before it, one pair per page size
# ("hugepagesz=1G hugepages=0:4,1:4 hugepagesz=2M hugepages=0:512,1:512"). So each size once,
# and at most one count after each size (and one before the first size: the default size's).
# The edits drop every word with a planned key and append the planned words in order, so the
# pairs stay as given.
# One kernel argument, and how many and how long: the same as lib/hostprep/rules.ts.
KERNEL_ARG_RE='^[A-Za-z][A-Za-z0-9_.-]*(=[A-Za-z0-9_.,:/+@=-]+)?$'
MAX_KERNEL_ARGS=64
MAX_KERNEL_ARG_CHARS=256
parse_kernel_args() { # <string> -> ARGS array
  local s=$1 a k v seen=" " sizes=" " size='' counted=0
  local re_all='^[A-Za-z0-9_.,:/+@= -]*$'
  [[ $s =~ $re_all ]] || usage_error "--args may hold only letters, digits, spaces and _.,:/+@=- (got $(shown "$s"))"
  read -ra ARGS <<<"$s"
  ((${#ARGS[@]} <= MAX_KERNEL_ARGS)) || usage_error "--args holds ${#ARGS[@]} arguments; $MAX_KERNEL_ARGS at most"
  for a in "${ARGS[@]}"; do
    [[ $a =~ $KERNEL_ARG_RE && ${#a} -le MAX_KERNEL_ARG_CHARS ]] || usage_error "kernel argument $(shown "$a") is not key or key=value"
    # The kernel reads - and _ in a parameter name alike: nohz-full= is nohz_full=.
    k=${a%%=*} v=${a#*=}
    k=${k//-/_}
    case $k in
    hugepagesz)
      [[ $a == *=* ]] || usage_error "kernel argument hugepagesz needs a page size (hugepagesz=2M)"
      page_size_key "$v"
      [[ $sizes != *" $REPLY "* ]] || usage_error "--args gives hugepagesz=$v for a page size an earlier hugepagesz= names; the kernel takes one hugepagesz= per size"
      sizes+="$REPLY "
      size=$v counted=0
      ;;
    hugepages)
      [[ $a == *=* ]] || usage_error "kernel argument hugepages needs a count (hugepages=<count> or <node>:<count>,...)"
      if ((counted)) && [[ -n $size ]]; then
        usage_error "--args gives two hugepages= counts after hugepagesz=$size; hugepages= counts the pages of the hugepagesz= before it, one count per size"
      elif ((counted)); then
        usage_error "--args gives two hugepages= counts before the first hugepagesz=; hugepages= counts the pages of the hugepagesz= before it, one count per size"
      fi
      counted=1
      ;;
    *)
      [[ $seen != *" $k "* ]] || usage_error "--args names $k twice"
      seen+="$k "
      ;;
    esac
  done
}
# REPLY: a page size as the kernel compares them (memparse: a number with an optional K, M or G
# suffix), so that hugepagesz=1G and hugepagesz=1024M count as one size; another spelling is
# compared as written.
page_size_key() { # <hugepagesz value>
  local re='^([1-9][0-9]{0,8})([KkMmGg]?)$' n
  if [[ $1 =~ $re ]]; then
    n=${BASH_REMATCH[1]}
    case ${BASH_REMATCH[2]} in
    K | k) n=$((n << 10)) ;;
    M | m) n=$((n << 20)) ;;
    G | g) n=$((n << 30)) ;;
    esac
    REPLY=$n
  else
    REPLY=$1
  fi
}

# The huge page sizes these scripts reserve and mount: 1G and 2M, as the plan names them.
# PAGE_DIR: the size's directory under /sys/.../hugepages/; PAGE_LABEL: the size in messages.
page_size_info() { # <1G|2M>
  case $1 in
  1G) PAGE_DIR=hugepages-1048576kB PAGE_LABEL='1 GiB' ;;
  2M) PAGE_DIR=hugepages-2048kB PAGE_LABEL='2 MiB' ;;
  *) die "page size $(shown "$1") is neither 1G nor 2M" ;;
  esac
}

# The per-node huge page counts of the boot-time unit (kernel-args.sh installs it; reboot.sh
# checks what it reserved): "<node>:<count>:<size>,..." with size 1G or 2M -> UNIT_ENTRIES
# ("0:4:1G" "1:4:1G" "0:512:2M" "1:512:2M"), each node and size once. The unit reserves them in
# the order given; the plan puts the 1 GiB pages first, which need contiguous memory that
# 2 MiB pages would fragment.
parse_hugepages_unit() { # <option> <string>
  local e seen=' ' n='(0|[1-9][0-9]{0,2})' c='(0|[1-9][0-9]{0,6})'
  local re="^$n:$c:(1G|2M)(,$n:$c:(1G|2M))*\$" old="^$n:$c(,$n:$c)*\$"
  # The <node>:<count> form of 1 GiB pages only: a caller that still sends it is older than
  # this script, and guessing the size would reserve the wrong pages.
  if [[ $2 =~ $old ]]; then
    usage_error "$1 takes <node>:<count>:<size> entries with size 1G or 2M, such as ${2//,/:1G,}:1G; $2 is the old <node>:<count> form"
  fi
  [[ $2 =~ $re ]] || usage_error "$1 must be <node>:<count>:<size>[,<node>:<count>:<size>...] with size 1G or 2M, such as 0:4:1G,1:4:1G,0:512:2M,1:512:2M (got $(shown "$2"))"
  IFS=, read -ra UNIT_ENTRIES <<<"$2"
  for e in "${UNIT_ENTRIES[@]}"; do
    [[ $seen != *" ${e%%:*}:${e##*:} "* ]] || usage_error "$1 names node ${e%%:*} with ${e##*:} pages twice"
    seen+="${e%%:*}:${e##*:} "
  done
}
# REPLY: why the nodes do not hold what UNIT_ENTRIES reserve at boot, or "" when they all do.
# The unit runs once per boot, so a changed count takes effect with the next reboot.
unit_pages_differ() {
  local e node count size f have
  REPLY=''
  for e in "${UNIT_ENTRIES[@]}"; do
    node=${e%%:*} size=${e##*:} count=${e#*:}
    count=${count%:*}
    page_size_info "$size"
    f=$(under_root "/sys/devices/system/node/node$node/hugepages/$PAGE_DIR/nr_hugepages")
    have=''
    if [[ -r $f ]]; then have=$(<"$f"); fi
    if [[ $have != "$count" ]]; then
      REPLY="node $node holds ${have:-no} pages of $PAGE_LABEL, the boot unit reserves $count"
      return 0
    fi
  done
}

# --hugetlbfs-mount <size>: a hugetlbfs mount of that page size at /dev/hugepages<size>, which
# kernel-args.sh installs as a systemd mount unit. systemd mounts only the default size (at
# /dev/hugepages), and libvirt, so Nova, backs guests only with the page sizes it finds mounted
# when libvirtd starts. MOUNT_SIZES: the sizes, each once.
parse_hugetlbfs_mount() { # <option> <value>
  case $2 in
  1G | 2M) ;;
  *) usage_error "$1 must be 1G or 2M (got $(shown "$2"))" ;;
  esac
  [[ " ${MOUNT_SIZES[*]} " != *" $2 "* ]] || usage_error "$1 $2 is given twice"
  MOUNT_SIZES+=("$2")
}

# The options kernel-args.sh and reboot.sh share, what the next boot must carry (an option
# handler for parse_options): --args -> ARGS (ARGS_GIVEN=1), --hugepages-unit -> UNIT_ENTRIES,
# --hugetlbfs-mount -> MOUNT_SIZES.
boot_option() {
  case $1 in
  --args)
    need_value "$1" $#
    parse_kernel_args "$2"
    # shellcheck disable=SC2034 # ARGS_GIVEN is read by kernel-args.sh and reboot.sh
    ARGS_GIVEN=1 TAKEN=2
    ;;
  --hugepages-unit)
    need_value "$1" $#
    parse_hugepages_unit "$1" "$2"
    TAKEN=2
    ;;
  --hugetlbfs-mount)
    need_value "$1" $#
    parse_hugetlbfs_mount "$1" "$2"
    TAKEN=2
    ;;
  esac
}
# REPLY: the mount unit of a size (systemd names a mount unit after its path), which
# kernel-args.sh installs in /etc/systemd/system.
mount_unit_name() { REPLY=dev-hugepages$1.mount; }
# MOUNT_MISSING: the sizes of MOUNT_SIZES that <root>/proc/mounts shows no hugetlbfs mount of
# at /dev/hugepages<size>, and MOUNT_REASONS why, one line each. The mount unit mounts once per
# boot, before libvirtd starts (which must see the mount), so a missing one comes with the next
# reboot.
hugetlbfs_mounts_missing() {
  local f size want path fstype opts found
  MOUNT_MISSING=() MOUNT_REASONS=()
  ((${#MOUNT_SIZES[@]})) || return 0
  f=$(under_root /proc/mounts)
  [[ -r $f ]] || die "cannot read $f"
  for size in "${MOUNT_SIZES[@]}"; do
    page_size_info "$size"
    # The page size as the kernel prints it in the mount options: in MiB from 1 MiB up, so
    # 1 GiB pages show as pagesize=1024M.
    case $size in
    1G) want=pagesize=1024M ;;
    2M) want=pagesize=2M ;;
    esac
    found=0
    while read -r _ path fstype opts _; do
      if [[ $fstype == hugetlbfs && $path == "/dev/hugepages$size" && ,$opts, == *",$want,"* ]]; then
        found=1
        break
      fi
    done <"$f"
    if ((found == 0)); then
      MOUNT_MISSING+=("$size")
      MOUNT_REASONS+=("/proc/mounts has no hugetlbfs mount of $PAGE_LABEL pages ($want) at /dev/hugepages$size")
    fi
  done
}

# Reads ID, ID_LIKE and VERSION_ID from os-release without sourcing it (sourcing runs code).
read_os_release() {
  local f line key val re='^(ID|ID_LIKE|VERSION_ID)=(.*)$'
  f=$(under_root /etc/os-release)
  [[ -e $f ]] || f=$(under_root /usr/lib/os-release)
  [[ -r $f ]] || die "cannot read $(under_root /etc/os-release) to tell which distribution this is"
  OS_ID='' OS_ID_LIKE='' OS_VERSION_ID=''
  while IFS= read -r line || [[ -n $line ]]; do
    [[ $line =~ $re ]] || continue
    key=${BASH_REMATCH[1]} val=${BASH_REMATCH[2]}
    val=${val#[\"\']}
    val=${val%[\"\']}
    [[ $val =~ ^[A-Za-z0-9._\ -]*$ ]] || die "$f has an unexpected $key value $(shown "$val")"
    case $key in
    ID) OS_ID=$val ;;
    ID_LIKE) OS_ID_LIKE=$val ;;
    VERSION_ID) OS_VERSION_ID=$val ;;
    esac
  done <"$f"
  # The family this project supports, or "" (RHEL rebuilds such as Rocky and AlmaLinux count
  # as rhel through ID_LIKE).
  OS_FAMILY=''
  case $OS_ID in
  debian) if [[ $OS_VERSION_ID == 12 ]]; then OS_FAMILY=debian-12; fi ;;
  ubuntu) if [[ $OS_VERSION_ID == 22.04 || $OS_VERSION_ID == 24.04 ]]; then OS_FAMILY=ubuntu-$OS_VERSION_ID; fi ;;
  *)
    if [[ " $OS_ID $OS_ID_LIKE " == *" rhel "* && ${OS_VERSION_ID%%.*} =~ ^[89]$ ]]; then
      OS_FAMILY=rhel-${OS_VERSION_ID%%.*}
    fi
    ;;
  esac
}
# A step planned for one distribution must not run on another (the package names, the
# bootloader tool and the service names all differ).
check_os_family() { # <family asked for>
  read_os_release
  [[ $OS_FAMILY == "$1" ]] || die "--os $1, but $(under_root /etc/os-release) says ID=$OS_ID VERSION_ID=$OS_VERSION_ID (${OS_FAMILY:-not a supported family})"
}

# SERVICE: the systemd unit of an OpenStack service, <name>.service on Debian and Ubuntu and
# openstack-<name>.service from RDO (RHEL family).
# shellcheck disable=SC2034 # SERVICE is read by the scripts that restart a service
openstack_service() { # <name>: nova-compute, nova-scheduler
  read_os_release
  if [[ " $OS_ID $OS_ID_LIKE " == *" rhel "* || " $OS_ID $OS_ID_LIKE " == *" fedora "* ]]; then
    SERVICE=openstack-$1.service
  else
    SERVICE=$1.service
  fi
}

# Saves a file's state before this run first changes it. When a later step fails (say
# update-grub or a service restart), the EXIT trap puts every saved file back, so a re-run sees
# the same difference and retries the whole step instead of reporting "unchanged" over a
# half-applied change. Directories the run created go again too. Every change passes through
# here first, so this is also where the actions the change will need are recorded
# (pending_save).
backup_once() {
  local f=$1 i
  pending_save
  for i in "${!BACKUPS[@]}"; do
    if [[ ${BACKUPS[i]} == "$f" ]]; then return 0; fi
  done
  i=${#BACKUPS[@]}
  mkdir -p -- "$WORK/backup"
  if [[ -e $f || -L $f ]]; then cp -a -- "$f" "$WORK/backup/$i"; fi
  BACKUPS+=("$f")
}
# Puts a saved file back the way replace_file writes: a copy next to it, renamed over it, so
# the file is whole at every moment, also when the disk is full. RESTORE_FAILED=1 when the
# copy could not be made: the file then stays as this run left it, and the message names the
# saved copy and the command that puts it back.
restore_backup() { # <index>
  local f=${BACKUPS[$1]} saved=$WORK/backup/$1 tmp
  if [[ ! -e $saved && ! -L $saved ]]; then
    if rm -f -- "$f"; then
      warn "removed $f, which this run created"
    else
      warn "could not remove $f, which this run created: remove it by hand"
      RESTORE_FAILED=1
    fi
    return 0
  fi
  tmp=$f.hostprep-restore.$$
  if cp -a -- "$saved" "$tmp" 2>"$WORK/restore.err" && sync -- "$tmp" 2>/dev/null && mv -fT -- "$tmp" "$f" 2>>"$WORK/restore.err"; then
    warn "put back $f as it was before this run"
    return 0
  fi
  rm -f -- "$tmp"
  RESTORE_FAILED=1
  warn "could not put back $f ($(tr '\n' ' ' <"$WORK/restore.err" 2>/dev/null)); it is left as this run wrote it, whole. The copy from before this run is $saved; put it back with: cp -a -- $(shown "$saved") $(shown "$tmp") && mv -fT -- $(shown "$tmp") $(shown "$f")"
}
on_exit() {
  local rc=$? i owed
  RESTORE_FAILED=0
  if ((rc != 0)); then
    for i in "${!BACKUPS[@]}"; do restore_backup "$i"; done
    for ((i = ${#CREATED_DIRS[@]} - 1; i >= 0; i--)); do
      rmdir -- "${CREATED_DIRS[i]}" 2>/dev/null || true
    done
  fi
  if [[ -n $PENDING_TMP ]]; then rm -f -- "$PENDING_TMP"; fi
  if ((rc != 0)) && [[ -n $PENDING_SAVED ]]; then
    # Every file as it was and no action begun: nothing is owed. Otherwise the action may
    # have used the new files (update-grub wrote grub.cfg from them) and runs again first.
    if ((RESTORE_FAILED == 0 && ACTED == 0)); then
      pending_done
    else
      owed=${PENDING_SAVED//$'\t'/ }
      warn "the next run of this step first runs: ${owed//$'\n'/; } ($(pending_file))"
    fi
  fi
  # A copy that could not be put back stays where the message said it is.
  if ((RESTORE_FAILED == 0)); then rm -rf -- "$WORK"; fi
  exit "$rc"
}
trap on_exit EXIT

# Pending actions. A change and the action it needs (restart nova-compute after nova.conf,
# update-grub after /etc/default/grub, tuned-adm profile after the variables) are two steps,
# and a run can end between them (the host loses power, the process is killed). So before its
# first change a run writes down the actions the change will need, in a marker file under
# /var/lib/openstack-rt/pending/ (atomically and synced), and removes the marker only after
# they all succeeded. The next run of the script does what a marker names first: the file it
# would compare already holds the planned settings, and "unchanged" would leave the service
# running with the old ones. Each action is safe to repeat.
PENDING_ID=''
PENDING_WANTED=()
PENDING_SAVED=''
ACTED=0 # an action (run_system, run_relayed) has begun in this run
# Each word of an action as the marker stores it: the characters of the scripts' commands.
PENDING_WORD_RE='^[A-Za-z0-9@%+=:,./_ -]+$'
pending_file() { under_root "/var/lib/openstack-rt/pending/$PENDING_ID"; }
# Names this run's marker and runs what an earlier run of it left pending, through <runner>
# (run_system unless the script has its own), in order; then removes the marker.
pending_begin() { # <id> [runner]
  local runner=${2:-run_system} f line w words=()
  PENDING_ID=$1
  f=$(pending_file)
  [[ -e $f ]] || return 0
  [[ -f $f && -r $f ]] || die "$f is not a readable file; do by hand what it names (nothing if it is empty), then remove it"
  while IFS= read -r line || [[ -n $line ]]; do
    IFS=$'\t' read -ra words <<<"$line"
    for w in "${words[@]}"; do
      [[ $w =~ $PENDING_WORD_RE ]] || die "$f holds $(shown "$line"), which is not an action of this script; do by hand what the previous run left undone, then remove $f"
    done
    ((${#words[@]})) || continue
    log "a previous run changed files and ended before running: ${words[*]}"
    "$runner" "${words[@]}"
  done <"$f"
  pending_done
}
# From here on a change needs this action afterwards (recorded at the next change).
needs_after_change() { # <command words...>
  local line
  line=$(
    IFS=$'\t'
    printf '%s' "$*"
  )
  PENDING_WANTED+=("$line")
}
# Writes the marker when the actions a change would need are not all recorded yet: a
# temporary file, synced, renamed, and the directory synced, so a marker is whole or absent.
pending_save() {
  [[ -n $PENDING_ID ]] || return 0
  ((${#PENDING_WANTED[@]})) || return 0
  local text f dir tmp
  text=$(printf '%s\n' "${PENDING_WANTED[@]}")
  [[ $text != "$PENDING_SAVED" ]] || return 0
  f=$(pending_file)
  dir=${f%/*}
  mkdir -p -- "$dir"
  tmp=$(mktemp "$f.XXXXXX")
  PENDING_TMP=$tmp
  printf '%s\n' "$text" >"$tmp"
  sync -- "$tmp"
  mv -f -- "$tmp" "$f"
  PENDING_TMP=''
  sync -- "$dir"
  PENDING_SAVED=$text
}
# Every recorded action succeeded: the marker goes.
pending_done() {
  local f
  f=$(pending_file)
  if [[ -e $f ]]; then
    rm -f -- "$f"
    sync -- "${f%/*}"
  fi
  PENDING_SAVED='' PENDING_WANTED=()
}

# Serializes the runs that edit files in one directory (nova-compute.sh and scheduler.sh on
# one nova.conf: an all-in-one host, or two hosts declared on one address): each holds a lock
# on the directory itself until it exits, so neither reads the file while the other is between
# reading and renaming it, and neither edit is lost. The directory, not a lock file in it: a
# stray file in /etc/nova could be read as configuration by a tool that globs there.
LOCK_FD=''
lock_directory() { # <directory>
  exec {LOCK_FD}<"$1" || die "cannot open $1 to lock it"
  if ! flock -w 600 "$LOCK_FD"; then
    die "another hostprep step has held the lock on $1 for 600 s (it edits a file there and runs its action); wait for it to finish and run this step again"
  fi
}

make_dirs() { # mkdir -p that remembers what it created, for the EXIT trap
  local d=$1 missing=()
  while [[ -n $d && ! -d $d ]]; do
    missing=("$d" "${missing[@]}")
    d=${d%/*}
  done
  for d in "${missing[@]}"; do
    mkdir -- "$d"
    CREATED_DIRS+=("$d")
  done
}
same_content() { [[ -f $1 && -f $2 && $(sha256sum <"$1") == "$(sha256sum <"$2")" ]]; }
# Makes <dest> hold exactly the bytes of <src>; <mode> applies when <dest> is new. Writes a
# temporary file next to <dest> and renames it over, so a reader never sees half a file; an
# existing file keeps its mode and owner. WROTE=1 when it wrote, 0 when they were equal.
# (Mutating functions report through variables and are never called as an `if` condition:
# bash ignores set -e inside a function called that way, and a failed mv would go unnoticed.)
# shellcheck disable=SC2034 # WROTE is read by the scripts that edit files, not by all.
replace_file() { # <dest> <src> <mode>
  local dest=$1 src=$2 mode=$3 tmp
  WROTE=0
  [[ ! -L $dest ]] || die "$dest is a symlink; edit the file it points to instead"
  if same_content "$dest" "$src"; then return 0; fi
  backup_once "$dest"
  make_dirs "${dest%/*}"
  tmp=$(mktemp "$dest.hostprep.XXXXXX")
  PENDING_TMP=$tmp
  cat -- "$src" >"$tmp"
  sync -- "$tmp"
  if [[ -e $dest ]]; then
    chmod --reference="$dest" -- "$tmp"
    # Only root can give a file away; a non-root test run keeps its own files anyway.
    chown --reference="$dest" -- "$tmp" 2>/dev/null || true
  else
    chmod "$mode" -- "$tmp"
  fi
  mv -f -- "$tmp" "$dest"
  PENDING_TMP=''
  WROTE=1 CHANGED=1
}
# shellcheck disable=SC2034 # as above
remove_file() { # <path>; WROTE=1 when there was something to remove
  WROTE=0
  if [[ -e $1 || -L $1 ]]; then
    backup_once "$1"
    rm -f -- "$1"
    WROTE=1 CHANGED=1
  fi
}

# The one way these scripts act on the live system (services, bootloader, packages, reboot).
# With --root the command is only logged: the file edits ran for real under the root, and
# nothing touches the machine that runs the script (tests, image builds). The command's own
# output goes to stderr, so stdout carries only this script's report lines. Its stdin is
# /dev/null: sent over SSH, the script itself arrives on stdin (`bash -s`), and a command that
# reads stdin (a package manager's prompt) must never see it.
run_system() {
  CHANGED=1 ACTED=1
  if [[ $ROOT != / ]]; then
    log "skipped (--root $ROOT): $*"
    return 0
  fi
  log "running: $*"
  run_relayed "$@"
  ((REPLY == 0)) || die "'$*' failed with exit status $REPLY"
}
# Runs a command with its output on stderr, passed through a relay that keeps reading when
# stderr is closed (the command itself would stop at its next write, maybe half done: SIGPIPE
# is ignored here, and so in the command too). REPLY: its exit status.
# A lock this run holds is not passed on: a daemon the command leaves behind would hold it.
run_relayed() { # <command words...>
  ACTED=1
  set +e
  if [[ -n $LOCK_FD ]]; then
    "$@" </dev/null 2>&1 {LOCK_FD}<&- | relay_output
  else
    "$@" </dev/null 2>&1 | relay_output
  fi
  REPLY=${PIPESTATUS[0]}
  set -e
}
relay_output() { cat >&2 2>/dev/null || cat >/dev/null; }

finish() {
  if ((CHANGED)); then log changed; else log unchanged; fi
}

# The first line of a file under --root. uname -r and uname -v print /proc/sys/kernel/osrelease
# and /proc/sys/kernel/version; reading the files lets --root point at a captured /proc as well.
first_line() { # <host path> -> REPLY
  local f
  f=$(under_root "$1")
  [[ -r $f ]] || die "cannot read $f"
  IFS= read -r REPLY <"$f" || [[ -n $REPLY ]] || die "$f is empty"
}
