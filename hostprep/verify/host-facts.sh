#!/usr/bin/env bash
# Collects, read-only, what the host checks compare with the plan. Each fact is printed as a
# section "=== name ===" followed by the command's output, so one SSH session gathers all.
#
#   host-facts.sh [--nova-conf PATH] [--tuned-profile NAME]
#
# The latency stages (hwlatdetect, cyclictest, oslat) run apart, through guest-latency.sh --stage.
# A missing command or file gives an empty section (the check then says what is missing);
# the script itself fails only on bad arguments.
set -euo pipefail

nova_conf=/etc/nova/nova.conf
tuned_profile=realtime-virtual-host
while [[ $# -gt 0 ]]; do
  case $1 in
    --nova-conf) nova_conf=${2:-}; shift 2 ;;
    --tuned-profile) tuned_profile=${2:-}; shift 2 ;;
    *) printf 'host-facts.sh: unknown argument %q\n' "$1" >&2; exit 2 ;;
  esac
done
# The file nova-compute reads: /etc/nova/nova.conf, or the deployment tool's (nova.configPath,
# such as kolla's /etc/kolla/nova-compute/nova.conf). The same shape nova-compute.sh --conf takes.
re_path='^(/[A-Za-z0-9._+-]+)+$'
[[ $nova_conf =~ $re_path && /$nova_conf/ != */../* && /$nova_conf/ != */./* ]] || {
  echo "host-facts.sh: --nova-conf must be an absolute path of letters, digits and ._+- without . or .. components" >&2
  exit 2
}

case $tuned_profile in
  realtime-virtual-host | cpu-partitioning) ;;
  *) echo "host-facts.sh: --tuned-profile must be realtime-virtual-host or cpu-partitioning" >&2; exit 2 ;;
esac

section() { printf '=== %s ===\n' "$1"; }
# Prints a file if it exists; a missing file is an empty section, not a failure.
show() { if [[ -r $1 ]]; then cat -- "$1"; fi; }

# Right after a reboot the host may still be starting its services: TuneD takes half a minute
# on a slow host, and tuned-adm without its daemon cannot verify ("Not supported in no_daemon
# mode"). Wait for the boot to finish, up to 5 minutes, then collect whatever state there is.
if command -v systemctl >/dev/null; then
  for _ in $(seq 1 300); do
    case $(systemctl is-system-running 2>/dev/null || true) in
      initializing | starting) sleep 1 ;;
      *) break ;;
    esac
  done
fi

section uname-v; uname -v
section tuned-active; tuned-adm active 2>&1 || true
section tuned-verify
# --ignore-missing: a setting the running kernel does not have cannot be applied, and is no
# failure. realtime-virtual-host inherits network-latency's busy-polling sysctls, which
# PREEMPT_RT kernels do not build (seen on Debian 12's 6.1 RT kernel: net.core.busy_read absent).
# tuned-adm only says that something differs; TuneD logs what ("verify: failed: ...") and what
# it skipped ("verify: skipped, missing: ..."). The lines this run added follow its output (a
# rotated log gives none).
tuned_log=/var/log/tuned/tuned.log
log_lines=0
if [[ -r $tuned_log ]]; then log_lines=$(wc -l <"$tuned_log"); fi
set +e
verify_out=$(tuned-adm verify --ignore-missing 2>&1)
verify_rc=$?
set -e
printf 'exit=%s\n%s\n' "$verify_rc" "$verify_out"
if [[ -r $tuned_log ]]; then
  verify_log=$(tail -n +"$((log_lines + 1))" "$tuned_log" | grep -E 'verify: (failed|skipped, missing)' | head -n 40 || true)
  if [[ -n $verify_log ]]; then printf '%s\n' "$verify_log"; fi
  # TuneD 2.20's sysctl plugin reports a sysctl the kernel does not have as "= 'None'" even
  # with --ignore-missing: say which of those are absent from /proc/sys.
  while IFS= read -r name; do
    if [[ $name =~ ^[A-Za-z0-9_.-]+$ && ! -e /proc/sys/${name//.//} ]]; then printf 'absent sysctl: %s\n' "$name"; fi
  done < <(grep -oE "verify: failed: '[A-Za-z0-9_.-]+' = 'None'" <<<"$verify_log" | cut -d"'" -f2 || true)
fi
section cmdline; show /proc/cmdline
# The default boot entry, which the next boot starts: a kernel update or an edit since the last
# boot may have left the planned arguments or the RT kernel out of it. RHEL-family hosts answer
# with grubby (BLS entries); elsewhere the check reads grub.cfg as GRUB does, with grubenv's
# next_entry, saved_entry and TuneD's tuned_params.
section boot-grubby
if command -v grubby >/dev/null; then grubby --info=DEFAULT 2>&1 || true; else echo '<absent>'; fi
section boot-grub-cfg
grub_cfg=''
for f in /boot/grub/grub.cfg /boot/grub2/grub.cfg; do if [[ -r $f ]]; then grub_cfg=$f && break; fi; done
if [[ -n $grub_cfg ]]; then cat -- "$grub_cfg"; else echo '<absent>'; fi
section boot-grubenv
for f in /boot/grub/grubenv /boot/grub2/grubenv; do
  if [[ -r $f ]]; then grep -aE '^[A-Za-z_][A-Za-z0-9_]*=' -- "$f" || true; break; fi
done
section isolated; show /sys/devices/system/cpu/isolated
section nohz-full
if [[ -r /sys/devices/system/cpu/nohz_full ]]; then cat /sys/devices/system/cpu/nohz_full; else echo '<absent>'; fi
# The CPU power state the latency mode sets (lib/checks/host-power.ts), as path:value lines: the
# online CPUs (always there: proof the section was read), the cpuidle driver (absent under idle=poll), intel_pstate's mode (absent when disabled), each CPU's
# idle states and cpufreq governor (absent without cpufreq). A missing file prints nothing.
section cpu-power
cpu_dir=/sys/devices/system/cpu
grep -H . "$cpu_dir"/online "$cpu_dir"/cpuidle/current_driver "$cpu_dir"/intel_pstate/status "$cpu_dir"/cpu[0-9]*/cpuidle/state[0-9]*/name \
  "$cpu_dir"/cpu[0-9]*/cpuidle/state[0-9]*/disable "$cpu_dir"/cpu[0-9]*/cpufreq/scaling_governor 2>/dev/null || true
# Every page size's count per node (1 GiB, and 2 MiB beside them), named by its file.
section hugepages
grep -H . /sys/devices/system/node/node*/hugepages/hugepages-*/nr_hugepages 2>/dev/null || true
# The hugetlbfs mounts: libvirt backs guests only with the page sizes mounted when it started.
section hugetlbfs
awk '$3 == "hugetlbfs"' /proc/mounts 2>/dev/null || true
# stalld and RT throttling (lib/checks/host-stalld.ts): whether systemd runs stalld and the
# command line of the running daemon (its -c is the CPU list it watches; NUL-separated words
# joined by spaces), "<absent>" without the unit; and kernel.sched_rt_runtime_us.
section stalld
if command -v systemctl >/dev/null && systemctl cat stalld.service >/dev/null 2>&1; then
  printf 'active=%s\n' "$(systemctl is-active stalld.service 2>/dev/null || true)"
  stalld_pid=$(systemctl show -p MainPID --value stalld.service 2>/dev/null || true)
  if [[ $stalld_pid =~ ^[1-9][0-9]*$ && -r /proc/$stalld_pid/cmdline ]]; then
    printf 'cmdline=%s\n' "$(tr '\0' ' ' <"/proc/$stalld_pid/cmdline")"
  fi
else
  echo '<absent>'
fi
section rt-throttling; show /proc/sys/kernel/sched_rt_runtime_us
section nova-conf; show "$nova_conf"
# What the services run with, beside what the files say: a service reads its files when it
# starts, so one started before the file's last change runs the settings from before it (a
# step cut off between the edit and the restart). Times in seconds since the epoch.
section applied
mtime() { stat -c %Y -- "$1" 2>/dev/null || true; }
printf 'nova_conf_changed=%s\n' "$(mtime "$nova_conf")"
# When host prep's nova-compute step last changed nova-compute's settings in it (absent where
# host prep does not edit nova.conf).
printf 'nova_settings_changed=%s\n' "$(mtime /var/lib/openstack-rt/nova-compute.settings-changed)"
# nova-compute: the systemd unit's last activation (Debian, Ubuntu, RDO), else the oldest
# process of that name (a container, kolla's nova_compute).
nova_seen=none nova_started=''
for unit in nova-compute.service openstack-nova-compute.service; do
  if [[ $(systemctl show -p ActiveState --value "$unit" 2>/dev/null) == active ]]; then
    nova_seen=$unit
    since=$(systemctl show -p ActiveEnterTimestamp --value "$unit" 2>/dev/null || true)
    if [[ -n $since ]]; then nova_started=$(date -d "$since" +%s 2>/dev/null || true); fi
    break
  fi
done
if [[ $nova_seen == none ]]; then
  pid=$(pgrep -o -x nova-compute 2>/dev/null || true)
  if [[ -n $pid ]]; then
    nova_seen="process $pid"
    since=$(ps -o lstart= -p "$pid" 2>/dev/null || true)
    if [[ -n $since ]]; then nova_started=$(date -d "$since" +%s 2>/dev/null || true); fi
  fi
fi
printf 'nova_compute=%s\nnova_compute_started=%s\n' "$nova_seen" "$nova_started"
# TuneD rewrites /etc/tuned/active_profile each time it applies a profile, after reading the
# profile's variables file.
printf 'tuned_variables_changed=%s\n' "$(mtime "/etc/tuned/$tuned_profile-variables.conf")"
printf 'tuned_applied=%s\n' "$(mtime /etc/tuned/active_profile)"
section tuned-variables; show "/etc/tuned/$tuned_profile-variables.conf"
# Kernel-thread priorities (lib/checks/host-kthreads.ts). kthreads: the per-CPU kernel threads
# TuneD's realtime profiles give an RT priority, as "pid class rtprio allowed-cpus name" (ps's
# CLS and RTPRIO columns; the CPU list from /proc/<pid>/status), children of kthreadd only, at
# most 8192 lines (then "<truncated>"); "<absent>" without ps.
section kthreads
if command -v ps >/dev/null; then
  ps -eo pid=,ppid=,cls=,rtprio=,comm= 2>/dev/null | awk '
    ($2 == 2) && $5 ~ /^(ksoftirqd|ktimers|ktimersoftd|rcuc|rcub)\/[0-9]+$/ {
      if (++n > 8192) { print "<truncated>"; exit }
      cpus = "?"; f = "/proc/" $1 "/status"
      while ((getline line < f) > 0) if (line ~ /^Cpus_allowed_list:/) { split(line, w, /[ \t]+/); cpus = w[2] }
      close(f)
      print $1, $3, $4, cpus, $5
    }' || true
else
  echo '<absent>'
fi
# tuned-scheduler: what TuneD's scheduler plugin would apply. "active=" the names in
# /etc/tuned/active_profile; "perf=" whether python3 imports the perf module, without which the
# plugin does not load (Debian); then each profile file in the order TuneD's loader merges them
# (includes first, /etc/tuned before /usr/lib/tuned, each file once) as "file=<path>" followed by
# its [scheduler] lines that set group rules, replace or drop. At most 32 files of 2000 lines.
section tuned-scheduler
tuned_files=()
scheduler_of() { # <profile name>
  local name=${1#-} dir file='' skipped=0 line part='' includes=() inc
  [[ $name =~ ^[A-Za-z0-9._-]+$ && $name != . && $name != .. ]] || { printf 'bad-name=%s\n' "$1"; return 0; }
  for dir in /etc/tuned /usr/lib/tuned; do
    [[ -f $dir/$name/tuned.conf ]] || continue
    if [[ " ${tuned_files[*]} " == *" $dir/$name/tuned.conf "* ]]; then skipped=1; continue; fi
    file=$dir/$name/tuned.conf && break
  done
  if [[ -z $file ]]; then
    if ((skipped == 0)) && [[ $1 != -* ]]; then printf 'missing=%s\n' "$name"; fi
    return 0
  fi
  ((${#tuned_files[@]} < 32)) || { echo '<truncated>'; return 0; }
  tuned_files+=("$file")
  while IFS= read -r line; do
    line=${line#"${line%%[![:space:]]*}"}
    if [[ $line =~ ^\[(.*)\] ]]; then part=${BASH_REMATCH[1]}; fi
    if [[ $part == main && $line =~ ^include[[:space:]]*=[[:space:]]*(.*)$ ]]; then
      IFS=',;' read -ra includes <<<"${BASH_REMATCH[1]}"
    fi
  done < <(head -n 2000 -- "$file")
  for inc in "${includes[@]}"; do
    inc=${inc#"${inc%%[![:space:]]*}"} && inc=${inc%"${inc##*[![:space:]]}"}
    if [[ -n $inc ]]; then scheduler_of "$inc"; fi
  done
  printf 'file=%s\n' "$file"
  part=''
  while IFS= read -r line; do
    line=${line#"${line%%[![:space:]]*}"}
    if [[ $line =~ ^\[(.*)\] ]]; then part=${BASH_REMATCH[1]}; fi
    if [[ $part == scheduler && $line =~ ^(group\.|replace|drop) ]]; then printf '%s\n' "$line"; fi
  done < <(head -n 2000 -- "$file")
}
if [[ -r /etc/tuned/active_profile ]]; then
  IFS= read -r tuned_active </etc/tuned/active_profile || true
  printf 'active=%s\n' "${tuned_active:-}"
  if python3 -c 'import perf' >/dev/null 2>&1; then echo perf=yes; else echo perf=no; fi
  read -ra tuned_names <<<"${tuned_active:-}"
  for name in "${tuned_names[@]}"; do scheduler_of "$name"; done
else
  echo '<absent>'
fi
section interrupts; show /proc/interrupts
# The topology, read with the commands facts.sh runs for `npm run discover`: the check compares
# it with the one the stack declares.
section lscpu; lscpu -p=CPU,CORE,SOCKET,NODE 2>/dev/null || true
section node-meminfo
shopt -s nullglob
node_meminfo=(/sys/devices/system/node/node[0-9]*/meminfo)
shopt -u nullglob
if ((${#node_meminfo[@]})); then
  grep -h '^Node [0-9]* MemTotal:' "${node_meminfo[@]}" || true
else
  # A kernel built without NUMA has no node directory: all of it is node 0, as facts.sh says.
  awk '$1 == "MemTotal:" { print "Node 0 MemTotal: " $2 " kB" }' /proc/meminfo 2>/dev/null || true
fi
section end
