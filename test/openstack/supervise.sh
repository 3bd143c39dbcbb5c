#!/usr/bin/env bash
# Keeps one service of the test cloud running the way systemd would: starts the command again
# each time it exits, so that restart-service.sh (the stack's nova.restartCommand) can restart it
# by ending it. Stops, and ends the service, on SIGTERM.
#
#   supervise.sh <pidfile> <command> [args...]
set -euo pipefail

pidfile=$1
shift
child=''
stopping=0
trap 'stopping=1; if [[ -n $child ]]; then kill "$child" 2>/dev/null || true; fi' TERM
while ((!stopping)); do
  "$@" &
  child=$!
  echo "$child" >"$pidfile.new"
  mv "$pidfile.new" "$pidfile"
  # wait returns early when the trap runs; the second wait collects the ended service.
  wait "$child" || true
  wait "$child" 2>/dev/null || true
  if ((!stopping)); then sleep 1; fi
done
