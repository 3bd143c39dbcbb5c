#!/usr/bin/env bash
# Runs one stage of the latency proof (lib/checks/latency-stages.ts decides which, and whether
# to go on), inside an RT guest or on an RT host, and prints that tool's result in a section
# named after the stage:
#   hwlatdetect  the longest stall of the CPUs that no code of theirs caused (firmware; in a
#                guest, the hypervisor too)
#   cyclictest   timer wake-up latency on the RT CPUs, its JSON result
#   oslat        interruptions of a busy loop on the RT CPUs, its JSON result
# cyclictest and oslat run while stress-ng loads the housekeeping CPUs (the RHEL for Real Time
# stress guidance), except with --no-load: a host's housekeeping CPUs run the cloud's services.
# With --observe-only it measures nothing and reports the guest's kernel, TuneD settings and
# cloud-init's state: what a refresh and the wait for a ready guest read. Every tool runs for a
# bounded time (--seconds), so a run whose SSH session is cut ends on its own.
#
#   guest-latency.sh --rt-cpus <cpulist> --housekeeping-cpus <cpulist>
#                    (--observe-only | --stage <hwlatdetect|cyclictest|oslat> --seconds N [--threshold-us N] [--no-load])
#
# It runs as the image's login user (debian, cloud-user, ...), or the host's SSH user: the tools
# live in sbin, which that user's PATH lacks, and they need root (SCHED_FIFO: the user's
# RLIMIT_RTPRIO is 0; hwlatdetect: the tracing files). Cloud images give that user passwordless sudo.
set -euo pipefail
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin
as_root() { if ((EUID == 0)); then "$@"; else sudo -n "$@"; fi; }

rt=''
hk=''
seconds=60
threshold_us=20
stage=''
observe_only=false
load=true
while [[ $# -gt 0 ]]; do
  case $1 in
    --rt-cpus) rt=${2:-}; shift 2 ;;
    --housekeeping-cpus) hk=${2:-}; shift 2 ;;
    --seconds) seconds=${2:-}; shift 2 ;;
    --threshold-us) threshold_us=${2:-}; shift 2 ;;
    --stage) stage=${2:-}; shift 2 ;;
    --observe-only) observe_only=true; shift ;;
    --no-load) load=false; shift ;;
    *) printf 'guest-latency.sh: unknown argument %q\n' "$1" >&2; exit 2 ;;
  esac
done
for list in "$rt" "$hk"; do
  [[ $list =~ ^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$ ]] || { printf 'guest-latency.sh: %q is not a CPU list\n' "$list" >&2; exit 2; }
done
[[ $seconds =~ ^[0-9]{1,6}$ && $seconds -gt 0 ]] || { echo "guest-latency.sh: --seconds must be a positive number" >&2; exit 2; }
[[ $threshold_us =~ ^[0-9]{1,7}$ && $threshold_us -gt 0 ]] || { echo "guest-latency.sh: --threshold-us must be a positive number" >&2; exit 2; }
case $stage in
  hwlatdetect | cyclictest | oslat) ;;
  '') [[ $observe_only == true ]] || { echo "guest-latency.sh: give --observe-only or --stage" >&2; exit 2; } ;;
  *) printf 'guest-latency.sh: --stage must be hwlatdetect, cyclictest or oslat, not %q\n' "$stage" >&2; exit 2 ;;
esac

section() { printf '=== %s ===\n' "$1"; }
# Counts the CPUs of a cpulist: cyclictest needs one thread per RT CPU.
count_cpus() {
  local n=0 part
  IFS=, read -ra parts <<<"$1"
  for part in "${parts[@]}"; do
    if [[ $part == *-* ]]; then n=$((n + ${part#*-} - ${part%-*} + 1)); else n=$((n + 1)); fi
  done
  echo "$n"
}

if [[ $observe_only == true ]]; then
  section uname-v; uname -v
  section tuned-active; as_root tuned-adm active 2>&1 || true
  section tuned-variables; cat /etc/tuned/realtime-virtual-guest-variables.conf 2>/dev/null || true
  section cloud-init
  if command -v cloud-init >/dev/null; then cloud-init status 2>&1 || true; else echo 'status: absent'; fi
  section end
  exit 0
fi
need() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "guest-latency.sh: $tool is not installed (rt-tests, stress-ng)" >&2; exit 1; }
  done
}
# The tools run as root: they write into a directory of ours, not a file of ours in /tmp, where
# fs.protected_regular keeps root from opening another user's file.
result_dir=$(mktemp -d)
trap 'rm -rf -- "$result_dir"; kill "${stress_pid:-}" 2>/dev/null || true' EXIT
# tracefs is at /sys/kernel/tracing, and under debugfs where hwlatdetect looks for it.
# OPENSTACK_RT_TRACING_DIRS points the tests at a directory tree of their own.
stop_hwlat_tracer() {
  local dir
  for dir in ${OPENSTACK_RT_TRACING_DIRS:-/sys/kernel/tracing /sys/kernel/debug/tracing}; do
    if [[ $(as_root cat "$dir/current_tracer" 2>/dev/null) == hwlat ]]; then
      echo nop | as_root tee "$dir/current_tracer" >/dev/null
    fi
  done
}
load_housekeeping() {
  [[ $load == true ]] || return 0
  as_root stress-ng --cpu "$(count_cpus "$hk")" --taskset "$hk" --timeout "$((seconds + 5))s" >/dev/null 2>&1 &
  stress_pid=$!
}
case $stage in
  hwlatdetect)
    need hwlatdetect
    # A hwlatdetect killed mid-run (its session cut, a timeout) leaves the hwlat tracer spinning
    # with interrupts off on a CPU: switched off before a run (a leftover) and after it, however
    # this script ends.
    trap 'stop_hwlat_tracer; rm -rf -- "$result_dir"' EXIT
    stop_hwlat_tracer
    section hwlatdetect
    # Its report says why when it cannot run (no hwlat tracer, no debugfs): the check reads that.
    as_root hwlatdetect --duration="$seconds" --threshold="$threshold_us" 2>&1 || true
    ;;
  cyclictest)
    need cyclictest
    if [[ $load == true ]]; then need stress-ng; fi
    load_housekeeping
    as_root cyclictest -m -q -p95 --policy=fifo -D "$seconds" -h60 -i 200 \
      -t "$(count_cpus "$rt")" -a "$rt" --mainaffinity "$hk" --json="$result_dir/cyclictest.json" >/dev/null
    section cyclictest; cat -- "$result_dir/cyclictest.json"
    ;;
  oslat)
    need oslat
    if [[ $load == true ]]; then need stress-ng; fi
    load_housekeeping
    # SCHED_FIFO 1 for the busy loops, as cnf-tests run it; the main thread on a housekeeping CPU.
    as_root oslat -q -D "$seconds" -f 1 -c "$rt" -C "${hk%%[,-]*}" --json="$result_dir/oslat.json" >/dev/null
    section oslat; cat -- "$result_dir/oslat.json"
    ;;
esac
section end
