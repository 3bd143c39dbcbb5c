#!/usr/bin/env bash
# Tells nova-compute which CPUs guests are pinned to and what the host keeps for itself:
#   [compute] cpu_dedicated_set   pinned guest vCPUs (placement PCPU inventory)
#   [compute] cpu_shared_set      floating vCPUs and emulator threads; removed when not given
#   [DEFAULT] reserved_host_memory_mb
#   [DEFAULT] reserved_huge_pages one line per entry (an oslo.config MultiOpt); removed when
#                                 not given
# and removes vcpu_pin_set wherever it is: it is deprecated, and nova-compute refuses to start
# when it is set together with cpu_dedicated_set. Every other line and comment stays.
#
#   nova-compute.sh --dedicated <cpulist> [--shared <cpulist>] --reserved-host-memory-mb <N>
#                   [--reserved-huge-pages "node:0,size:1GB,count:1;node:1,size:1GB,count:1"]
#                   [--conf /etc/nova/nova.conf|/etc/nova/nova-compute.conf] [--root DIR]
#
# Output: each option set or removed, the nova-compute restart (only when the file changed;
# skipped under --root), then "changed" or "unchanged".
set -euo pipefail

# >>> hostprep common: the same text in every hostprep/*.sh (test/hostprep-common.test.ts
# compares them), so each script can be copied to a host and run on its own.
PROG=${0##*/}
ROOT=/
CHANGED=0
BACKUPS=()
CREATED_DIRS=()
PENDING_TMP=''
WORK=$(mktemp -d "${TMPDIR:-/tmp}/hostprep.XXXXXX")

log() { printf '%s\n' "$*"; }
# Shows a value the way bash would need it quoted, so newlines and $(...) in bad input are
# visible in messages instead of being printed raw.
shown() { printf '%q' "$1"; }
# Bad input exits 2 and a failure exits 1, so a caller can tell "you asked for something this
# script refuses" from "the host did not do it".
usage_error() {
  printf '%s: invalid input: %s\n' "$PROG" "$*" >&2
  exit 2
}
die() {
  printf '%s: error: %s\n' "$PROG" "$*" >&2
  exit 1
}
need_value() { # <option> <number of arguments left, the option included>
  if (($2 < 2)); then usage_error "$1 needs a value"; fi
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
is_cpulist() {
  local list=$1 item lo hi items
  local re='^(0|[1-9][0-9]{0,3})(-(0|[1-9][0-9]{0,3}))?(,(0|[1-9][0-9]{0,3})(-(0|[1-9][0-9]{0,3}))?)*$'
  [[ $list =~ $re ]] || return 1
  IFS=, read -ra items <<<"$list"
  for item in "${items[@]}"; do
    lo=${item%-*} hi=${item#*-}
    if ((lo > hi || hi > 8191)); then return 1; fi
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
is_os_family() {
  case $1 in
  debian-12 | ubuntu-22.04 | ubuntu-24.04 | rhel-8 | rhel-9) return 0 ;;
  *) return 1 ;;
  esac
}

# Kernel arguments as the plan writes them: "key" or "key=value" from a small alphabet,
# separated by single spaces. Quotes, $, backticks, ;, tabs and newlines are refused outright,
# so nothing here can be read as shell or split differently by GRUB.
parse_kernel_args() { # <string> -> ARGS array
  local s=$1 a k seen=" " re_all='^[A-Za-z0-9_.,:/+@= -]*$' re_one='^[A-Za-z][A-Za-z0-9_.-]*(=[A-Za-z0-9_.,:/+@=-]+)?$'
  [[ $s =~ $re_all ]] || usage_error "--args may hold only letters, digits, spaces and _.,:/+@=- (got $(shown "$s"))"
  read -ra ARGS <<<"$s"
  ((${#ARGS[@]} <= 64)) || usage_error "--args holds ${#ARGS[@]} arguments; 64 at most"
  for a in "${ARGS[@]}"; do
    [[ $a =~ $re_one && ${#a} -le 256 ]] || usage_error "kernel argument $(shown "$a") is not key or key=value"
    k=${a%%=*}
    # One value per key: the edit replaces by key, so two values for one key cannot both stay.
    [[ $seen != *" $k "* ]] || usage_error "--args names $k twice"
    seen+="$k "
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

# Saves a file's state before this run first changes it. When a later step fails (say
# update-grub or a service restart), the EXIT trap puts every saved file back, so a re-run sees
# the same difference and retries the whole step instead of reporting "unchanged" over a
# half-applied change. Directories the run created go again too.
backup_once() {
  local f=$1 i
  for i in "${!BACKUPS[@]}"; do
    if [[ ${BACKUPS[i]} == "$f" ]]; then return 0; fi
  done
  i=${#BACKUPS[@]}
  mkdir -p -- "$WORK/backup"
  if [[ -e $f || -L $f ]]; then cp -a -- "$f" "$WORK/backup/$i"; fi
  BACKUPS+=("$f")
}
on_exit() {
  local rc=$? i f
  if ((rc != 0)); then
    for i in "${!BACKUPS[@]}"; do
      f=${BACKUPS[i]}
      rm -f -- "$f"
      if [[ -e $WORK/backup/$i || -L $WORK/backup/$i ]]; then cp -a -- "$WORK/backup/$i" "$f"; fi
      printf '%s: put back %s as it was before this run\n' "$PROG" "$f" >&2
    done
    for ((i = ${#CREATED_DIRS[@]} - 1; i >= 0; i--)); do
      rmdir -- "${CREATED_DIRS[i]}" 2>/dev/null || true
    done
  fi
  if [[ -n $PENDING_TMP ]]; then rm -f -- "$PENDING_TMP"; fi
  rm -rf -- "$WORK"
  exit "$rc"
}
trap on_exit EXIT

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
# output goes to stderr, so stdout carries only this script's report lines.
run_system() {
  CHANGED=1
  if [[ $ROOT != / ]]; then
    log "skipped (--root $ROOT): $*"
    return 0
  fi
  log "running: $*"
  local rc=0
  "$@" >&2 || rc=$?
  ((rc == 0)) || die "'$*' failed with exit status $rc"
}

finish() {
  if ((CHANGED)); then log changed; else log unchanged; fi
}
# <<< hostprep common

# >>> hostprep ini: the same text in nova-compute.sh and scheduler.sh (compared by
# test/hostprep-common.test.ts). A line editor for oslo.config files: configparser would drop
# every comment of Debian's 10,000-line nova.conf, and sed cannot see sections or
# continuation lines. It reads lines the way oslo_config/iniparser.py does: "[name]" opens a
# section, "#" or ";" in column 0 is a comment, a line starting with a space or tab continues
# the previous value, a blank line ends it, and the key ends at the first "=" or ":". Every
# line it does not own is written back byte for byte.
INI_LINES=()
ini_load() { # <file>
  INI_LINES=()
  mapfile -t INI_LINES <"$1"
  ini_scan
}
ini_write() { # <file> -> the lines, each ending in a newline
  if ((${#INI_LINES[@]})); then printf '%s\n' "${INI_LINES[@]}" >"$1"; else : >"$1"; fi
}
# Fills INI_KIND (blank|section|comment|key|cont|other) and INI_SECT for every line, and for
# key lines INI_KEY and INI_END (the index of the entry's last continuation line); INI_KEYS
# lists the key lines. Cheap tests first: most of a sample nova.conf is comments.
ini_scan() {
  local i line c section='' owner=-1 k
  INI_KIND=() INI_SECT=() INI_KEY=() INI_END=() INI_KEYS=()
  for i in "${!INI_LINES[@]}"; do
    line=${INI_LINES[i]}
    c=${line:0:1}
    INI_SECT[i]=$section
    if [[ $c == [\#\;] ]]; then
      INI_KIND[i]=comment owner=-1
    elif [[ $line != *[![:space:]]* ]]; then
      INI_KIND[i]=blank owner=-1
    elif [[ $c == [[:blank:]] ]]; then
      if ((owner >= 0)); then
        INI_KIND[i]=cont INI_END[owner]=$i
      else
        INI_KIND[i]=other
      fi
    elif [[ $c == '[' ]]; then
      owner=-1
      line=${line%"${line##*[![:space:]]}"}
      if [[ $line == *']' && ${#line} -gt 2 ]]; then section=${line:1:${#line}-2}; fi
      INI_KIND[i]=section INI_SECT[i]=$section
    elif [[ $line == *[=:]* ]]; then
      k=${line%%[=:]*}
      k=${k%"${k##*[![:space:]]}"}
      INI_KIND[i]=key INI_KEY[i]=$k INI_END[i]=$i owner=$i
      INI_KEYS+=("$i")
    else
      INI_KIND[i]=other owner=-1
    fi
  done
}
# REPLY: the value of key line <i> as oslo.config reads it: after the separator, stripped,
# one pair of matching quotes removed; continuation lines joined with newlines.
ini_value() {
  local i=$1 j line v
  line=${INI_LINES[i]}
  v=${line#*[=:]}
  v=${v#"${v%%[![:space:]]*}"}
  v=${v%"${v##*[![:space:]]}"}
  if ((${#v} >= 2)) && [[ ${v:0:1} == "${v: -1}" && ${v:0:1} == [\"\'] ]]; then v=${v:1:${#v}-2}; fi
  for ((j = i + 1; j <= INI_END[i]; j++)); do
    line=${INI_LINES[j]}
    line=${line#"${line%%[![:space:]]*}"}
    v+=$'\n'${line%"${line##*[![:space:]]}"}
  done
  REPLY=$v
}
ini_entries() { # <section or *> <key> -> ENTRIES: indices of its key lines, in file order
  local i
  ENTRIES=()
  for i in "${INI_KEYS[@]}"; do
    if [[ ${INI_KEY[i]} == "$2" && ($1 == '*' || ${INI_SECT[i]} == "$1") ]]; then
      ENTRIES+=("$i")
    fi
  done
}
# Replaces lines <from>..<to> with the given lines; to = from - 1 inserts before <from>.
ini_splice() {
  local from=$1 to=$2
  shift 2
  INI_LINES=("${INI_LINES[@]:0:from}" "$@" "${INI_LINES[@]:to+1}")
}
# REPLY: where a new <key> goes in <section>: right after its commented-out default
# ("#key = ...", as oslo-config-generator writes it; "#    key = ..." is an example inside
# the help text), which is where a reader of Debian's or the sample nova.conf looks for it,
# else after the section's last non-blank line. -1 when the section does not exist.
ini_insert_at() {
  local section=$1 key=$2 i last=-1 re
  re="^#${key}[[:space:]]*[=:]"
  for i in "${!INI_LINES[@]}"; do
    [[ ${INI_SECT[i]} == "$section" ]] || continue
    if [[ ${INI_KIND[i]} == comment && ${INI_LINES[i]} =~ $re ]]; then
      REPLY=$((i + 1))
      return 0
    fi
    if [[ ${INI_KIND[i]} == section && $last -ge 0 ]]; then break; fi
    if [[ ${INI_KIND[i]} != blank ]]; then last=$i; fi
  done
  REPLY=$((last >= 0 ? last + 1 : -1))
}
# Sets <key> in <section> to the values given, one "key = value" line each (several for an
# oslo.config MultiOpt such as reserved_huge_pages); no value removes the key. Existing lines
# that already say exactly that stay as they are. INI_CHANGED=1 when the lines changed.
# shellcheck disable=SC2034 # INI_CHANGED is read by nova-compute.sh; scheduler.sh needs no flag
ini_set() { # <section> <key> [value...]
  local section=$1 key=$2 n i j at
  shift 2
  local values=("$@") lines=()
  INI_CHANGED=0
  for i in "$@"; do lines+=("$key = $i"); done
  ini_entries "$section" "$key"
  n=${#ENTRIES[@]}
  if ((n == $#)); then
    j=0
    for i in "${ENTRIES[@]}"; do
      ini_value "$i"
      [[ $REPLY == "${values[j]}" ]] || break
      j=$((j + 1))
    done
    if ((j == n)); then return 0; fi
  fi
  if ((n > 0)); then
    at=${ENTRIES[0]}
    for ((j = n - 1; j >= 0; j--)); do
      i=${ENTRIES[j]}
      ini_splice "$i" "${INI_END[i]}"
    done
  elif (($# == 0)); then
    return 0
  else
    ini_insert_at "$section" "$key"
    at=$REPLY
    if ((at < 0)); then
      # No such section: add it at the end, after a blank line.
      if ((${#INI_LINES[@]})) && [[ -n ${INI_LINES[-1]} ]]; then INI_LINES+=(""); fi
      INI_LINES+=("[$section]")
      at=${#INI_LINES[@]}
    fi
  fi
  ini_splice "$at" $((at - 1)) "${lines[@]}"
  ini_scan
  INI_CHANGED=1
}
# <<< hostprep ini

# The files nova-compute reads its options from on the supported distributions (Debian and
# Ubuntu start it with nova.conf and nova-compute.conf; RDO with nova.conf); nova.conf.d is
# the --config-dir some deployments add.
CONF_FILES=(/etc/nova/nova.conf /etc/nova/nova-compute.conf)
MANAGED=("DEFAULT vcpu_pin_set" "DEFAULT reserved_host_memory_mb" "DEFAULT reserved_huge_pages"
  "compute cpu_dedicated_set" "compute cpu_shared_set")

# Another config file that sets one of these options would override or contradict the edit
# (oslo.config lets the later file win), so the step stops before changing anything.
check_other_files() { # <the file being edited>
  local f m others=()
  for f in "${CONF_FILES[@]}"; do
    if [[ $f != "$1" ]]; then others+=("$(under_root "$f")"); fi
  done
  shopt -s nullglob
  others+=("$(under_root /etc/nova/nova.conf.d)"/*.conf)
  shopt -u nullglob
  for f in "${others[@]}"; do
    [[ -f $f ]] || continue
    ini_load "$f"
    for m in "${MANAGED[@]}"; do
      ini_entries "${m% *}" "${m#* }"
      if ((${#ENTRIES[@]})); then
        die "${f#"${ROOT%/}"} sets [${m% *}] ${m#* } (line $((ENTRIES[0] + 1))), which would override or conflict with $1; remove it there and run this step again"
      fi
    done
  done
}

# nova-compute runs as nova-compute on Debian and Ubuntu and as openstack-nova-compute from RDO.
service_name() {
  read_os_release
  if [[ " $OS_ID $OS_ID_LIKE " == *" rhel "* || " $OS_ID $OS_ID_LIKE " == *" fedora "* ]]; then
    SERVICE=openstack-nova-compute.service
  else
    SERVICE=nova-compute.service
  fi
}

main() {
  local dedicated='' shared='' memory='' conf=/etc/nova/nova.conf pages=()
  # One entry as Nova's reserved_huge_pages takes it; entries are joined with ';' here.
  local re_entry='node:(0|[1-9][0-9]{0,2}),size:[1-9][0-9]{0,7}(KB|kB|MB|GB|K|M|G)?,count:(0|[1-9][0-9]{0,5})'
  while (($#)); do
    case $1 in
    --dedicated | --shared)
      need_value "$1" $#
      is_cpulist "$2" || usage_error "$1 must be a CPU list such as 4-11 or 2,4-7 (got $(shown "$2"))"
      if [[ $1 == --dedicated ]]; then dedicated=$2; else shared=$2; fi
      shift 2
      ;;
    --reserved-host-memory-mb)
      need_value "$1" $#
      is_uint "$2" || usage_error "$1 must be a whole number of MiB (got $(shown "$2"))"
      memory=$2
      shift 2
      ;;
    --reserved-huge-pages)
      need_value "$1" $#
      pages=()
      if [[ -n $2 ]]; then
        # The whole value is checked before splitting: `read` would stop at a newline and
        # silently drop whatever follows it.
        [[ $2 =~ ^${re_entry}(\;${re_entry})*$ ]] ||
          usage_error "$1 takes entries like node:0,size:1GB,count:1 separated by ';' (got $(shown "$2"))"
        IFS=';' read -ra pages <<<"$2"
      fi
      shift 2
      ;;
    --conf)
      need_value "$1" $#
      case $2 in
      /etc/nova/nova.conf | /etc/nova/nova-compute.conf) conf=$2 ;;
      *) usage_error "--conf must be /etc/nova/nova.conf or /etc/nova/nova-compute.conf (got $(shown "$2"))" ;;
      esac
      shift 2
      ;;
    --root)
      need_value "$1" $#
      set_root "$2"
      shift 2
      ;;
    *) usage_error "unknown argument $(shown "$1"); usage: $PROG --dedicated <cpulist> [--shared <cpulist>] --reserved-host-memory-mb <N> [--reserved-huge-pages <entries>] [--conf PATH] [--root DIR]" ;;
    esac
  done
  [[ -n $dedicated ]] || usage_error "--dedicated is required"
  [[ -n $memory ]] || usage_error "--reserved-host-memory-mb is required"
  check_cpus_online --dedicated "$dedicated"
  if [[ -n $shared ]]; then
    check_cpus_online --shared "$shared"
    # Nova refuses to start when a CPU is in both sets.
    local cpu d
    cpulist_expand "$dedicated"
    d=" $REPLY "
    cpulist_expand "$shared"
    for cpu in $REPLY; do
      [[ $d != *" $cpu "* ]] || usage_error "CPU $cpu is in both --dedicated $dedicated and --shared $shared"
    done
  fi

  local f
  f=$(under_root "$conf")
  [[ -f $f ]] || die "$f not found: is nova-compute installed?"
  check_other_files "$conf"
  ini_load "$f"

  local modified=0 sect
  # vcpu_pin_set is a [DEFAULT] option; a copy in another section means nothing to Nova but
  # would mislead a reader, so it goes wherever it is.
  ini_entries '*' vcpu_pin_set
  while ((${#ENTRIES[@]})); do
    sect=${INI_SECT[ENTRIES[0]]}
    ini_set "$sect" vcpu_pin_set
    modified=1
    log "removed vcpu_pin_set from [$sect] of $conf"
    ini_entries '*' vcpu_pin_set
  done

  ini_set compute cpu_dedicated_set "$dedicated"
  if ((INI_CHANGED)); then
    modified=1
    log "set [compute] cpu_dedicated_set = $dedicated in $conf"
  fi
  if [[ -n $shared ]]; then
    ini_set compute cpu_shared_set "$shared"
  else
    ini_set compute cpu_shared_set
  fi
  if ((INI_CHANGED)); then
    modified=1
    log "${shared:+set [compute] cpu_shared_set = $shared in $conf}${shared:-removed [compute] cpu_shared_set from $conf}"
  fi
  ini_set DEFAULT reserved_host_memory_mb "$memory"
  if ((INI_CHANGED)); then
    modified=1
    log "set [DEFAULT] reserved_host_memory_mb = $memory in $conf"
  fi
  ini_set DEFAULT reserved_huge_pages "${pages[@]}"
  if ((INI_CHANGED)); then
    modified=1
    if ((${#pages[@]})); then
      log "set [DEFAULT] reserved_huge_pages = ${pages[*]} in $conf (one line each)"
    else
      log "removed [DEFAULT] reserved_huge_pages from $conf"
    fi
  fi

  if ((modified)); then
    ini_write "$WORK/nova.conf"
    replace_file "$f" "$WORK/nova.conf" 0640
    service_name
    run_system systemctl restart "$SERVICE"
  fi
  finish
}

main "$@"
