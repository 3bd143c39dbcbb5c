#!/usr/bin/env bash
# Points TuneD's realtime-virtual-host profile at the isolated CPUs and activates it. The
# profile turns isolated_cores into isolcpus/nohz_full/rcu_nocbs/irqaffinity on the kernel
# command line and moves kernel threads and IRQs off those CPUs. On Debian and Ubuntu it also
# bans those CPUs from irqbalance, which TuneD cannot do there (see ban_from_irqbalance).
#
#   tuned.sh --profile realtime-virtual-host --isolated-cores <cpulist> [--stalld on|off] [--root DIR]
#
# --stalld on: stalld watches the isolated CPUs (CLIST in /etc/sysconfig/stalld), enabled and
# running, and kernel.sched_rt_runtime_us is -1 (RT throttling off; the realtime profile's value,
# and stalld's unit sets it too). --stalld off: no stalld (one installed and running is stopped
# and disabled) and the profile's own value stands: -1 under the realtime profiles, the kernel's
# 950000 under cpu-partitioning. The plan's step always gives it; without it stalld is left as it is.
# (--profile also takes realtime-virtual-guest and cpu-partitioning, the profile of pinned-only
# hosts without an RT kernel, whose variables files work the same way.)
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

# Keeps irqbalance from moving device interrupts onto the isolated CPUs. The profiles'
# [irqbalance] banned_cpus does that through TuneD's irqbalance plugin, which imports the perf
# Python module: Debian and Ubuntu do not package it, so there the plugin never loads and this
# step sets IRQBALANCE_BANNED_CPULIST (irqbalance 1.8 and later) in /etc/default/irqbalance
# itself, replacing a previous setting, and try-restarts irqbalance when the file changed. On
# RHEL-family hosts TuneD's plugin writes /etc/sysconfig/irqbalance: nothing to do here. Without
# irqbalance (no /etc/default/irqbalance) there is nothing to ban from.
ban_from_irqbalance() { # <cpulist>
  read_os_release
  if [[ " $OS_ID $OS_ID_LIKE " != *" debian "* && " $OS_ID $OS_ID_LIKE " != *" ubuntu "* ]]; then return 0; fi
  local conf f line done_key=0 re='^[[:space:]]*IRQBALANCE_BANNED_(CPULIST|CPUS)='
  conf=/etc/default/irqbalance
  f=$(under_root "$conf")
  if [[ ! -e $f ]]; then
    log "irqbalance is not installed ($conf missing): no IRQ balancer to keep off $1"
    return 0
  fi
  : >"$WORK/irqbalance"
  while IFS= read -r line || [[ -n $line ]]; do
    if [[ $line =~ $re ]]; then
      if ((done_key == 0)); then printf 'IRQBALANCE_BANNED_CPULIST=%s\n' "$1" >>"$WORK/irqbalance"; fi
      done_key=1
    else
      printf '%s\n' "$line" >>"$WORK/irqbalance"
    fi
  done <"$f"
  if ((done_key == 0)); then printf 'IRQBALANCE_BANNED_CPULIST=%s\n' "$1" >>"$WORK/irqbalance"; fi
  needs_after_change systemctl try-restart irqbalance.service
  replace_file "$f" "$WORK/irqbalance" 0644
  if ((WROTE)); then
    log "set IRQBALANCE_BANNED_CPULIST=$1 in $conf"
    run_system systemctl try-restart irqbalance.service
  fi
}

# stalld's settings, read by its unit (EnvironmentFile=/etc/sysconfig/stalld) as the words of
# its command line; the RHEL package ships this file with CLIST= (every CPU) and the defaults
# BP/BR/BD (a 20 us slice per 1 s for 3 s) and THRESH (60 s) that stay as they are.
STALLD_CONF=/etc/sysconfig/stalld
STALLD_UNIT=stalld.service
# Is stalld enabled? On the host systemd says; under --root, the symlink `systemctl enable`
# makes for its WantedBy=multi-user.target.
stalld_enabled() {
  if [[ $ROOT == / ]]; then
    systemctl is-enabled --quiet "$STALLD_UNIT" 2>/dev/null
  else
    [[ -L $(under_root "/etc/systemd/system/multi-user.target.wants/$STALLD_UNIT") ]]
  fi
}
stalld_active() {
  if [[ $ROOT == / ]]; then systemctl is-active --quiet "$STALLD_UNIT" 2>/dev/null; else stalld_enabled; fi
}

# CLIST="-c <cpulist>" set where it is in stalld's file, every other line kept; stalld enabled
# and (re)started when the file changed or it is not running.
configure_stalld() { # <cpulist>
  local f line done_key=0 re='^[[:space:]]*CLIST='
  f=$(under_root "$STALLD_CONF")
  [[ -f $f ]] || die "stalld is not installed ($f missing); run packages.sh --stalld first"
  : >"$WORK/stalld"
  while IFS= read -r line || [[ -n $line ]]; do
    if [[ $line =~ $re ]]; then
      if ((done_key == 0)); then printf 'CLIST="-c %s"\n' "$1" >>"$WORK/stalld"; fi
      done_key=1
    else
      printf '%s\n' "$line" >>"$WORK/stalld"
    fi
  done <"$f"
  if ((done_key == 0)); then printf 'CLIST="-c %s"\n' "$1" >>"$WORK/stalld"; fi
  needs_after_change systemctl enable "$STALLD_UNIT"
  needs_after_change systemctl restart "$STALLD_UNIT"
  replace_file "$f" "$WORK/stalld" 0644
  if ((WROTE)); then
    log "set CLIST=\"-c $1\" in $STALLD_CONF"
    run_system systemctl enable "$STALLD_UNIT"
    run_system systemctl restart "$STALLD_UNIT"
  elif ! stalld_enabled || ! stalld_active; then
    run_system systemctl enable --now "$STALLD_UNIT"
  fi
}

# --stalld on: stalld configured and running, and RT throttling off at once (-1, which stalld's
# unit also sets before it starts), so the host need not wait for a reboot.
start_stalld() { # <cpulist>
  local f live=''
  needs_after_change sysctl -w kernel.sched_rt_runtime_us=-1
  configure_stalld "$1"
  # Under --root without a captured /proc there is no live value to compare.
  f=$(under_root /proc/sys/kernel/sched_rt_runtime_us)
  if [[ -r $f ]]; then IFS= read -r live <"$f" || true; else return 0; fi
  if [[ $live != -1 ]]; then
    log "kernel.sched_rt_runtime_us is $live, planned -1"
    run_system sysctl -w kernel.sched_rt_runtime_us=-1
  fi
}

# --stalld off: a stalld left running or enabled is stopped and disabled. Its unit's stop puts
# back the throttling value it saved at start (throttlectl on), which need not be the profile's:
# REPLY=1 tells main to activate the profile again, which sets its own value. The activation is
# recorded as pending first (pending_save), so a run cut right after the stop still does it.
stop_stalld() {
  REPLY=0
  [[ -e $(under_root "/usr/lib/systemd/system/$STALLD_UNIT") ]] || return 0
  if stalld_enabled || stalld_active; then
    pending_save
    run_system systemctl disable --now "$STALLD_UNIT"
    REPLY=1
  fi
}

tuned_option() {
  case $1 in
  --stalld)
    need_value "$1" $#
    case $2 in
    on | off) stalld=$2 ;;
    *) usage_error "--stalld must be on or off (got $(shown "$2"))" ;;
    esac
    TAKEN=2
    ;;
  --profile)
    need_value "$1" $#
    case $2 in
    realtime-virtual-host | realtime-virtual-guest | cpu-partitioning) profile=$2 ;;
    *) usage_error "--profile must be realtime-virtual-host, realtime-virtual-guest or cpu-partitioning (got $(shown "$2"))" ;;
    esac
    TAKEN=2
    ;;
  --isolated-cores)
    need_value "$1" $#
    is_cpulist "$2" || usage_error "--isolated-cores must be a CPU list such as 4-11 or 2,4-7 (got $(shown "$2"))"
    cores=$2 TAKEN=2
    ;;
  esac
}

main() {
  local profile='' cores='' stalld=''
  USAGE='--profile realtime-virtual-host --isolated-cores <cpulist> [--stalld on|off] [--root DIR]'
  parse_options tuned_option "$@"
  [[ -n $profile ]] || usage_error "--profile is required"
  [[ -n $cores ]] || usage_error "--isolated-cores is required"
  check_cpus_online --isolated-cores "$cores"
  pending_begin tuned

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
  needs_after_change systemctl enable --now tuned.service
  needs_after_change tuned-adm profile "$profile"
  replace_file "$vars" "$new" 0644
  if ((WROTE)); then
    file_changed=1
    log "set isolated_cores=$cores in /etc/tuned/$profile-variables.conf"
  fi

  ban_from_irqbalance "$cores"

  local reapply=0
  if [[ $stalld == off ]]; then
    stop_stalld
    reapply=$REPLY
  fi

  # Activate when the profile is not the running one, or when it is but its variables just
  # changed (switching to the same profile makes TuneD re-read them), or a stopped stalld may
  # have left another RT throttling value than the profile's.
  active_profile
  if [[ $REPLY != "$profile" || $file_changed == 1 || $reapply == 1 ]]; then
    log "active profile: ${REPLY:-none}"
    run_system systemctl enable --now tuned.service
    run_system tuned-adm profile "$profile"
  fi
  if [[ $stalld == on ]]; then start_stalld "$cores"; fi
  pending_done
  finish
}

main "$@"
