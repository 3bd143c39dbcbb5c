#!/usr/bin/env bash
# Points TuneD's realtime-virtual-host profile at the isolated CPUs and activates it. The
# profile turns isolated_cores into isolcpus/nohz_full/rcu_nocbs/irqaffinity on the kernel
# command line and moves kernel threads and IRQs off those CPUs.
#
#   tuned.sh --profile realtime-virtual-host --isolated-cores <cpulist> [--root DIR]
#
# (--profile also takes realtime-virtual-guest, whose variables file works the same way.)
# Output: the line written to /etc/tuned/<profile>-variables.conf, the activation command run
# (or skipped under --root), then "changed" or "unchanged".
set -euo pipefail

PROG=tuned.sh
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# REPLY: the profile TuneD is running. On the host that is `tuned-adm active` (the daemon's
# own answer; "" when the daemon is not running). Under --root there is no daemon to ask, so
# it is <root>/etc/tuned/active_profile, the file TuneD records its profile in.
active_profile() {
  local line
  REPLY=''
  if [[ $ROOT == / ]]; then
    while IFS= read -r line; do
      if [[ $line =~ ^Current\ active\ profile:\ (.*)$ ]]; then REPLY=${BASH_REMATCH[1]}; fi
    done < <(tuned-adm active 2>/dev/null || true)
  else
    local f
    f=$(under_root /etc/tuned/active_profile)
    if [[ -r $f ]]; then IFS= read -r REPLY <"$f" || true; fi
  fi
}

main() {
  local profile='' cores=''
  while (($#)); do
    case $1 in
    --profile)
      need_value "$1" $#
      case $2 in
      realtime-virtual-host | realtime-virtual-guest) profile=$2 ;;
      *) usage_error "--profile must be realtime-virtual-host or realtime-virtual-guest (got $(shown "$2"))" ;;
      esac
      shift 2
      ;;
    --isolated-cores)
      need_value "$1" $#
      is_cpulist "$2" || usage_error "--isolated-cores must be a CPU list such as 4-11 or 2,4-7 (got $(shown "$2"))"
      cores=$2
      shift 2
      ;;
    --root)
      need_value "$1" $#
      set_root "$2"
      shift 2
      ;;
    *) usage_error "unknown argument $(shown "$1"); usage: $PROG --profile realtime-virtual-host --isolated-cores <cpulist> [--root DIR]" ;;
    esac
  done
  [[ -n $profile ]] || usage_error "--profile is required"
  [[ -n $cores ]] || usage_error "--isolated-cores is required"
  check_cpus_online --isolated-cores "$cores"

  # TuneD 2.x keeps profiles in /usr/lib/tuned/<name>, 2.23 and later in
  # /usr/lib/tuned/profiles/<name>; /etc/tuned/<name> is a local one.
  local dir found=''
  for dir in /usr/lib/tuned/profiles /usr/lib/tuned /etc/tuned; do
    if [[ -f $(under_root "$dir/$profile/tuned.conf") ]]; then found=$dir/$profile; fi
  done
  [[ -n $found ]] || die "TuneD profile $profile is not installed (no $(under_root "/usr/lib/tuned/$profile/tuned.conf")); run packages.sh first"

  # Set the key where it is. TuneD reads this file with configparser: "key=value" from column
  # 0, the last of several lines winning, an indented line continuing the previous value. The
  # seeds appended with `echo >>`, which adds one line per run; here the first isolated_cores
  # line is replaced, later ones are dropped and every other line stays as it was.
  local vars new line done_key=0 re='^isolated_cores[[:space:]]*='
  vars=$(under_root "/etc/tuned/$profile-variables.conf")
  new=$WORK/variables.conf
  : >"$new"
  if [[ -e $vars ]]; then
    while IFS= read -r line || [[ -n $line ]]; do
      if [[ $line =~ $re ]]; then
        if ((done_key == 0)); then printf 'isolated_cores=%s\n' "$cores" >>"$new"; fi
        done_key=1
      else
        printf '%s\n' "$line" >>"$new"
      fi
    done <"$vars"
  fi
  if ((done_key == 0)); then printf 'isolated_cores=%s\n' "$cores" >>"$new"; fi
  local file_changed=0
  replace_file "$vars" "$new" 0644
  if ((WROTE)); then
    file_changed=1
    log "set isolated_cores=$cores in /etc/tuned/$profile-variables.conf"
  fi

  # Activate when the profile is not the running one, or when it is but its variables just
  # changed (switching to the same profile makes TuneD re-read them).
  active_profile
  if [[ $REPLY != "$profile" || $file_changed == 1 ]]; then
    log "active profile: ${REPLY:-none}"
    run_system systemctl enable --now tuned.service
    run_system tuned-adm profile "$profile"
  fi
  finish
}

main "$@"
