#!/usr/bin/env bash
# On the controller: makes nova-scheduler run the two filters RT flavors need,
# NUMATopologyFilter (pinning, huge pages, NUMA fit) and AggregateInstanceExtraSpecsFilter
# (RT flavors only on hosts of the RT aggregate). Nova's default list has neither.
#
#   scheduler.sh [--conf /etc/nova/nova.conf] [--root DIR]
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

main() {
  local conf=/etc/nova/nova.conf
  while (($#)); do
    case $1 in
    --conf)
      need_value "$1" $#
      case $2 in
      /etc/nova/nova.conf) conf=$2 ;;
      *) usage_error "--conf must be /etc/nova/nova.conf (got $(shown "$2"))" ;;
      esac
      shift 2
      ;;
    --root)
      need_value "$1" $#
      set_root "$2"
      shift 2
      ;;
    *) usage_error "unknown argument $(shown "$1"); usage: $PROG [--conf /etc/nova/nova.conf] [--root DIR]" ;;
    esac
  done

  local f
  f=$(under_root "$conf")
  [[ -f $f ]] || die "$f not found: is nova-scheduler installed?"
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
    replace_file "$f" "$WORK/nova.conf" 0640
    openstack_service nova-scheduler
    run_system systemctl restart "$SERVICE"
  fi
  finish
}

main "$@"
