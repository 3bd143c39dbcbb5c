#!/usr/bin/env bash
# Runs inside an RT guest: reports its kernel and TuneD settings, then measures latency with
# cyclictest on the RT vCPUs while stress-ng loads the housekeeping vCPUs (the RHEL for Real
# Time stress guidance), and prints cyclictest's JSON result. With --observe-only it reports
# the kernel, TuneD and cloud-init's state and measures nothing: what a refresh and the wait
# for a ready guest read.
#
#   guest-latency.sh --rt-cpus <cpulist> --housekeeping-cpus <cpulist> [--seconds N | --observe-only]
#
# It runs as the image's login user (debian, cloud-user, ...): the tools live in sbin, which
# that user's PATH lacks, and cyclictest needs root for SCHED_FIFO (the user's RLIMIT_RTPRIO is
# 0). Cloud images give that user passwordless sudo.
set -euo pipefail
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin
as_root() { if ((EUID == 0)); then "$@"; else sudo -n "$@"; fi; }

rt=''
hk=''
seconds=60
observe_only=false
while [[ $# -gt 0 ]]; do
  case $1 in
    --rt-cpus) rt=${2:-}; shift 2 ;;
    --housekeeping-cpus) hk=${2:-}; shift 2 ;;
    --seconds) seconds=${2:-}; shift 2 ;;
    --observe-only) observe_only=true; shift ;;
    *) printf 'guest-latency.sh: unknown argument %q\n' "$1" >&2; exit 2 ;;
  esac
done
for list in "$rt" "$hk"; do
  [[ $list =~ ^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$ ]] || { printf 'guest-latency.sh: %q is not a CPU list\n' "$list" >&2; exit 2; }
done
[[ $seconds =~ ^[0-9]{1,6}$ && $seconds -gt 0 ]] || { echo "guest-latency.sh: --seconds must be a positive number" >&2; exit 2; }

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

section uname-v; uname -v
section tuned-active; as_root tuned-adm active 2>&1 || true
section tuned-variables; cat /etc/tuned/realtime-virtual-guest-variables.conf 2>/dev/null || true
section cloud-init
if command -v cloud-init >/dev/null; then cloud-init status 2>&1 || true; else echo 'status: absent'; fi
if [[ $observe_only == true ]]; then
  section end
  exit 0
fi
for tool in cyclictest stress-ng; do
  command -v "$tool" >/dev/null || { echo "guest-latency.sh: $tool is not installed (rt-tests, stress-ng)" >&2; exit 1; }
done
# cyclictest runs as root: it writes into a directory of ours, not a file of ours in /tmp, where
# fs.protected_regular keeps root from opening another user's file.
result_dir=$(mktemp -d)
result=$result_dir/cyclictest.json
trap 'rm -rf -- "$result_dir"; kill "${stress_pid:-}" 2>/dev/null || true' EXIT
as_root stress-ng --cpu "$(count_cpus "$hk")" --taskset "$hk" --timeout "$((seconds + 5))s" >/dev/null 2>&1 &
stress_pid=$!
as_root cyclictest -m -q -p95 --policy=fifo -D "$seconds" -h60 -i 200 \
  -t "$(count_cpus "$rt")" -a "$rt" --mainaffinity "$hk" --json="$result" >/dev/null
section cyclictest-json; cat -- "$result"
section end
