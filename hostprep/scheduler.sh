#!/usr/bin/env bash
# On the controller: makes nova-scheduler run the two filters RT flavors need,
# NUMATopologyFilter (pinning, huge pages, NUMA fit) and AggregateInstanceExtraSpecsFilter
# (RT flavors only on hosts of the RT aggregate). Nova's default list has neither.
#
#   scheduler.sh [--conf /etc/nova/nova.conf|<absolute path>] [--restart-command "<words>" | --check] [--root DIR]
#
# --conf names the file nova-scheduler reads (kolla-ansible: /etc/kolla/nova-scheduler/nova.conf).
# --restart-command replaces the restart of the distribution's nova-scheduler service, such as
# "docker restart nova_scheduler": words separated by single spaces, run without a shell.
# --check (nova.configMode verify) writes nothing: it fails, naming the filters to add and the
# file, unless the list already has them.
#
# [filter_scheduler] enabled_filters keeps its entries and their order; missing filters are
# appended. When the option is not set, the list starts from Nova's default (Zed and later):
# ComputeFilter,ComputeCapabilitiesFilter,ImagePropertiesFilter,ServerGroupAntiAffinityFilter,
# ServerGroupAffinityFilter.
# Output: the new list when it changed, the nova-scheduler restart (skipped under --root),
# then "changed" or "unchanged".
set -euo pipefail

PROG=scheduler.sh
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# shellcheck source-path=SCRIPTDIR source=ini.sh
. "$(dirname "${BASH_SOURCE[0]}")/ini.sh"

NOVA_DEFAULT_FILTERS=(ComputeFilter ComputeCapabilitiesFilter ImagePropertiesFilter ServerGroupAntiAffinityFilter ServerGroupAffinityFilter)
REQUIRED_FILTERS=(NUMATopologyFilter AggregateInstanceExtraSpecsFilter)

scheduler_option() {
  case $1 in
  --conf)
    need_value "$1" $#
    local re_path='^(/[A-Za-z0-9._+-]+)+$'
    [[ $2 =~ $re_path && /$2/ != */../* && /$2/ != */./* ]] ||
      usage_error "--conf must be an absolute path of letters, digits and ._+- without . or .. components, such as /etc/nova/nova.conf (got $(shown "$2"))"
    conf=$2
    TAKEN=2
    ;;
  esac
}

main() {
  local conf=/etc/nova/nova.conf
  RESTART_EXAMPLE="docker restart nova_scheduler"
  USAGE="[--conf PATH] [--restart-command WORDS | --check] [--root DIR]"
  parse_options scheduler_option "$@"

  local f
  f=$(under_root "$conf")
  [[ -f $f ]] || die "$f not found: is nova-scheduler installed?"
  if ((!CHECK)); then
    # nova-compute.sh may edit the same file (an all-in-one host); one at a time.
    lock_directory "${f%/*}"
    if ((${#RESTART_COMMAND[@]} == 0)); then
      openstack_service nova-scheduler
      RESTART_COMMAND=(systemctl restart "$SERVICE")
    fi
    pending_begin nova-scheduler
  fi
  ini_load "$f"

  # The last enabled_filters line is the one oslo.config uses; a list may continue on indented
  # lines. Items are split on commas and stripped, as oslo.config's List type does.
  local filters=() item items missing=() want have
  ini_entries filter_scheduler enabled_filters
  if ((${#ENTRIES[@]})); then
    ini_value "${ENTRIES[-1]}"
    IFS=, read -ra items <<<"${REPLY//$'\n'/ }"
    for item in "${items[@]}"; do
      item=${item#"${item%%[![:space:]]*}"}
      item=${item%"${item##*[![:space:]]}"}
      if [[ -n $item ]]; then filters+=("$item"); fi
    done
  else
    filters=("${NOVA_DEFAULT_FILTERS[@]}")
  fi
  for want in "${REQUIRED_FILTERS[@]}"; do
    local found=0
    for have in "${filters[@]}"; do
      if [[ $have == "$want" ]]; then found=1; fi
    done
    if ((found == 0)); then missing+=("$want"); fi
  done

  if ((CHECK)); then
    if ((${#missing[@]})); then
      die "[filter_scheduler] enabled_filters in $conf lacks ${missing[*]}; nova.configMode is verify, so this project writes nothing there: add them through the tool that owns $conf (npm run plan -- --format tripleo|kolla|osa|juju prints the list in its terms), then restart nova-scheduler"
    fi
    log "[filter_scheduler] enabled_filters in $conf has ${REQUIRED_FILTERS[*]}"
    finish
    return 0
  fi
  if ((${#missing[@]})); then
    filters+=("${missing[@]}")
    local joined
    joined=$(
      IFS=,
      printf '%s' "${filters[*]}"
    )
    ini_set filter_scheduler enabled_filters "$joined"
    log "set [filter_scheduler] enabled_filters = $joined in $conf (added ${missing[*]})"
    ini_write "$WORK/nova.conf"
    needs_after_change "${RESTART_COMMAND[@]}"
    replace_file "$f" "$WORK/nova.conf" 0640
    run_system "${RESTART_COMMAND[@]}"
    pending_done
  fi
  finish
}

main "$@"
