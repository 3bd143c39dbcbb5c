#!/usr/bin/env bash
# The test cloud's restart command (the stack's nova.restartCommand, run by nova-compute.sh and
# scheduler.sh): ends the service supervise.sh keeps running and waits until supervise.sh has
# started it again, as `systemctl restart` returns once the new process is started.
#
#   restart-service.sh <pidfile>
set -euo pipefail

pidfile=${1:?usage: restart-service.sh <pidfile>}
[[ -f $pidfile ]] || {
  echo "restart-service.sh: $pidfile not found: the service is not running under supervise.sh" >&2
  exit 1
}
old=$(<"$pidfile")
kill "$old"
for _ in $(seq 1 600); do
  if [[ ! -e /proc/$old && -f $pidfile && $(<"$pidfile") != "$old" ]]; then
    echo "restarted: pid $old -> $(<"$pidfile")"
    exit 0
  fi
  sleep 0.1
done
echo "restart-service.sh: the service (pid $old) did not restart within 60 s" >&2
exit 1
