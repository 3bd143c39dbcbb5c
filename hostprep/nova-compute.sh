#!/usr/bin/env bash
# Tells nova-compute which CPUs guests are pinned to and what the host keeps for itself:
#   [compute] cpu_dedicated_set   pinned guest vCPUs (placement PCPU inventory)
#   [compute] cpu_shared_set      floating vCPUs and emulator threads; removed when not given
#   [DEFAULT] reserved_host_memory_mb
#   [DEFAULT] reserved_huge_pages one line per entry (an oslo.config MultiOpt); removed when
#                                 not given
#   [libvirt] cpu_power_management false, with cpu_power_management_strategy removed, when
#                                 --cpu-power-management off is given (Nova 2023.1+; the
#                                 plan refuses Nova's strategies on TuneD-tuned hosts)
# and removes vcpu_pin_set wherever it is: it is deprecated, and nova-compute refuses to start
# when it is set together with cpu_dedicated_set. Every other line and comment stays.
#
#   nova-compute.sh --dedicated <cpulist> [--shared <cpulist>] --reserved-host-memory-mb <N>
#                   [--reserved-huge-pages "node:0,size:1GB,count:1;node:1,size:1GB,count:1"]
#                   [--cpu-power-management off]
#                   [--conf /etc/nova/nova.conf|/etc/nova/nova-compute.conf|<absolute path>]
#                   [--restart-command "<command words>" | --check] [--root DIR]
#
# --conf names the file nova-compute reads: a containerized nova-compute (kolla-ansible) reads
# the file its deployment renders, such as /etc/kolla/nova-compute/nova.conf. Only for the
# distribution's own files are the other distribution files checked for overriding options.
# --check (nova.configMode verify) writes nothing: it fails, naming each setting to make in
# the file, unless the file already has them all.
# --restart-command replaces the restart of the distribution's nova-compute service, such as
# "docker restart nova_compute" or "podman restart nova_compute": words separated by single
# spaces, run without a shell. Under --root the restart is skipped, unless
# NOVA_COMPUTE_SH_RESTART_UNDER_ROOT=1 (the tests' way to run the configured command).
#
# Output: each option set or removed, the nova-compute restart (only when the file changed;
# skipped under --root), then "changed" or "unchanged".
set -euo pipefail

PROG=nova-compute.sh
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# shellcheck source-path=SCRIPTDIR source=ini.sh
. "$(dirname "${BASH_SOURCE[0]}")/ini.sh"

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

# The restart: the configured command or the distribution's service. Under --root it is only
# logged, unless NOVA_COMPUTE_SH_RESTART_UNDER_ROOT=1 runs a configured command (the tests;
# never systemctl, which would reach the services of the machine running the test).
restart_nova_compute() { # <command words...>
  if [[ $ROOT != / && ${NOVA_COMPUTE_SH_RESTART_UNDER_ROOT:-} == 1 && $1 != systemctl ]]; then
    CHANGED=1
    log "running: $*"
    run_relayed "$@"
    ((REPLY == 0)) || die "'$*' failed with exit status $REPLY; nova-compute still runs with the old settings: restart it by hand"
  else
    run_system "$@"
  fi
}

# Each difference: logged when editing; with --check collected for the error instead.
NEEDED=()
report() {
  if ((CHECK)); then NEEDED+=("$1"); else log "$1"; fi
}

nova_compute_option() {
  case $1 in
  --dedicated | --shared)
    need_value "$1" $#
    is_cpulist "$2" || usage_error "$1 must be a CPU list such as 4-11 or 2,4-7 (got $(shown "$2"))"
    if [[ $1 == --dedicated ]]; then dedicated=$2; else shared=$2; fi
    TAKEN=2
    ;;
  --reserved-host-memory-mb)
    need_value "$1" $#
    is_uint "$2" || usage_error "$1 must be a whole number of MiB (got $(shown "$2"))"
    memory=$2
    TAKEN=2
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
    TAKEN=2
    ;;
  --cpu-power-management)
    need_value "$1" $#
    [[ $2 == off ]] || usage_error "$1 takes off (got $(shown "$2"))"
    power=$2
    TAKEN=2
    ;;
  --conf)
    need_value "$1" $#
    case $2 in
    /etc/nova/nova.conf | /etc/nova/nova-compute.conf) conf=$2 std=1 ;;
    *)
      local re_path='^(/[A-Za-z0-9._+-]+)+$'
      [[ $2 =~ $re_path && /$2/ != */../* && /$2/ != */./* ]] ||
        usage_error "--conf must be an absolute path of letters, digits and ._+- without . or .. components, such as /etc/kolla/nova-compute/nova.conf (got $(shown "$2"))"
      conf=$2 std=0
      ;;
    esac
    TAKEN=2
    ;;
  esac
}

main() {
  local dedicated='' shared='' memory='' conf=/etc/nova/nova.conf pages=() action=() std=1 power=''
  # One entry as Nova's reserved_huge_pages takes it; entries are joined with ';' here.
  local re_entry='node:(0|[1-9][0-9]{0,2}),size:[1-9][0-9]{0,7}(KB|kB|MB|GB|K|M|G)?,count:(0|[1-9][0-9]{0,5})'
  RESTART_EXAMPLE="docker restart nova_compute"
  USAGE="--dedicated <cpulist> [--shared <cpulist>] --reserved-host-memory-mb <N> [--reserved-huge-pages <entries>] [--cpu-power-management off] [--conf PATH] [--restart-command WORDS | --check] [--root DIR]"
  parse_options nova_compute_option "$@"
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
  if ((!CHECK)); then
    # scheduler.sh may edit the same file (an all-in-one host); one at a time.
    lock_directory "${f%/*}"
    action=("${RESTART_COMMAND[@]}")
    if ((${#action[@]} == 0)); then
      openstack_service nova-compute
      action=(systemctl restart "$SERVICE")
    fi
    pending_begin nova-compute restart_nova_compute
  fi
  if [[ -n $power ]]; then MANAGED+=("libvirt cpu_power_management" "libvirt cpu_power_management_strategy"); fi
  if ((std)); then check_other_files "$conf"; fi
  ini_load "$f"

  local modified=0 sect
  # vcpu_pin_set is a [DEFAULT] option; a copy in another section means nothing to Nova but
  # would mislead a reader, so it goes wherever it is.
  ini_entries '*' vcpu_pin_set
  while ((${#ENTRIES[@]})); do
    sect=${INI_SECT[ENTRIES[0]]}
    ini_set "$sect" vcpu_pin_set
    modified=1
    report "removed vcpu_pin_set from [$sect] of $conf"
    ini_entries '*' vcpu_pin_set
  done

  ini_set compute cpu_dedicated_set "$dedicated"
  if ((INI_CHANGED)); then
    modified=1
    report "set [compute] cpu_dedicated_set = $dedicated in $conf"
  fi
  if [[ -n $shared ]]; then
    ini_set compute cpu_shared_set "$shared"
  else
    ini_set compute cpu_shared_set
  fi
  if ((INI_CHANGED)); then
    modified=1
    if [[ -n $shared ]]; then
      report "set [compute] cpu_shared_set = $shared in $conf"
    else
      report "removed [compute] cpu_shared_set from $conf"
    fi
  fi
  ini_set DEFAULT reserved_host_memory_mb "$memory"
  if ((INI_CHANGED)); then
    modified=1
    report "set [DEFAULT] reserved_host_memory_mb = $memory in $conf"
  fi
  ini_set DEFAULT reserved_huge_pages "${pages[@]}"
  if ((INI_CHANGED)); then
    modified=1
    if ((${#pages[@]})); then
      report "set [DEFAULT] reserved_huge_pages = ${pages[*]} in $conf (one line each)"
    else
      report "removed [DEFAULT] reserved_huge_pages from $conf"
    fi
  fi
  if [[ -n $power ]]; then
    ini_set libvirt cpu_power_management false
    if ((INI_CHANGED)); then
      modified=1
      report "set [libvirt] cpu_power_management = false in $conf"
    fi
    ini_set libvirt cpu_power_management_strategy
    if ((INI_CHANGED)); then
      modified=1
      report "removed [libvirt] cpu_power_management_strategy from $conf"
    fi
  fi

  if ((CHECK)); then
    if ((modified)); then
      local needed
      printf -v needed '%s; ' "${NEEDED[@]// in $conf/}"
      die "$conf lacks the planned settings; nova.configMode is verify, so this project writes nothing there: ${needed%; }. Set them in $conf through the tool that owns it (npm run plan -- --format tripleo|kolla|osa|juju prints them in its terms), then restart nova-compute"
    fi
    log "$conf has the planned settings"
    finish
    return 0
  fi
  if ((modified)); then
    ini_write "$WORK/nova.conf"
    needs_after_change "${action[@]}"
    # When this step last changed nova-compute's settings, for the host check to compare with
    # nova-compute's start: nova.conf's own time also moves for scheduler.sh's filters on an
    # all-in-one host, which nova-compute does not read.
    local stamp
    stamp=$(under_root /var/lib/openstack-rt/nova-compute.settings-changed)
    mkdir -p -- "${stamp%/*}"
    touch -- "$stamp"
    replace_file "$f" "$WORK/nova.conf" 0640
    restart_nova_compute "${action[@]}"
    pending_done
  fi
  finish
}

main "$@"
