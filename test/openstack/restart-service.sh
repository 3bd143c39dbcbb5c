#!/usr/bin/env bash
# The test cloud's restart command (the stack's nova.restartCommand, run by nova-compute.sh and
# scheduler.sh): ends the service supervise.sh keeps running and waits until the new process
# has said READY=1, as `systemctl restart` does for Debian's nova units (Type=notify): oslo.service
# says it once the service's RPC server consumes, so a caller never sees the service half up.
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
for _ in $(seq 1 1800); do
  if [[ ! -e /proc/$old && -f $pidfile.ready && $(<"$pidfile.ready") != "$old" ]]; then
    echo "restarted: pid $old -> $(<"$pidfile.ready")"
    exit 0
  fi
  sleep 0.1
done
echo "restart-service.sh: the service (pid $old) was not ready again within 180 s" >&2
exit 1
