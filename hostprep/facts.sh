#!/usr/bin/env bash
# Prints what the host is, for the plan and the later steps to compare against: key=value lines
# (os_id, os_version_id, os_family, kernel, kernel_rt, boot_id, cmdline), then the CPU/NUMA
# topology between marker lines, in the shape lib/cpu/topology.ts parses. Changes nothing.
#
#   facts.sh [--root DIR]
#
# Output:
#   os_id=debian
#   os_version_id=12
#   os_family=debian-12            (empty when not a family this project supports)
#   kernel=6.1.0-28-rt-amd64       (uname -r)
#   kernel_rt=yes                  (uname -v says PREEMPT_RT or "PREEMPT RT")
#   boot_id=<uuid>                 (changes on every boot: the reboot step waits for that)
#   cmdline=<the running kernel's command line>
#   --- lscpu ---
#   <lscpu -p=CPU,CORE,SOCKET,NODE>
#   --- meminfo ---
#   Node 0 MemTotal: ... kB        (one line per NUMA node)
#   --- end ---
#   unchanged
set -euo pipefail

PROG=facts.sh
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

main() {
  while (($#)); do
    case $1 in
    --root)
      need_value "$1" $#
      set_root "$2"
      shift 2
      ;;
    *) usage_error "unknown argument $(shown "$1"); usage: $PROG [--root DIR]" ;;
    esac
  done

  read_os_release
  log "os_id=$OS_ID"
  log "os_version_id=$OS_VERSION_ID"
  log "os_family=$OS_FAMILY"
  first_line /proc/sys/kernel/osrelease
  log "kernel=$REPLY"
  first_line /proc/sys/kernel/version
  if [[ $REPLY == *PREEMPT_RT* || $REPLY == *"PREEMPT RT"* ]]; then log kernel_rt=yes; else log kernel_rt=no; fi
  first_line /proc/sys/kernel/random/boot_id
  log "boot_id=$REPLY"
  first_line /proc/cmdline
  log "cmdline=$REPLY"

  log "--- lscpu ---"
  if [[ $ROOT == / ]]; then
    lscpu -p=CPU,CORE,SOCKET,NODE || die "lscpu -p=CPU,CORE,SOCKET,NODE failed"
  else
    lscpu --sysroot "$ROOT" -p=CPU,CORE,SOCKET,NODE || die "lscpu --sysroot $ROOT failed"
  fi
  log "--- meminfo ---"
  local files=() f nodes
  nodes=$(under_root /sys/devices/system/node)
  shopt -s nullglob
  files=("$nodes"/node[0-9]*/meminfo)
  shopt -u nullglob
  if ((${#files[@]})); then
    # -h: with several files grep would prefix each line with its file name.
    grep -h '^Node [0-9]* MemTotal:' "${files[@]}" || die "no MemTotal line in $nodes/node*/meminfo"
  else
    # A kernel built without NUMA has no node directory: report it all as node 0.
    f=$(under_root /proc/meminfo)
    [[ -r $f ]] || die "neither $nodes/node*/meminfo nor $f is readable"
    local kb
    kb=$(awk '$1 == "MemTotal:" { print $2 }' "$f")
    [[ $kb =~ ^[0-9]+$ ]] || die "no MemTotal line in $f"
    log "Node 0 MemTotal: $kb kB"
  fi
  log "--- end ---"
  finish
}

main "$@"
