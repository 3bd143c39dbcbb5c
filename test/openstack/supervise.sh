#!/usr/bin/env bash
# Keeps one service of the test cloud running the way systemd runs Debian's nova units
# (Type=notify): starts the command again each time it exits, so that restart-service.sh (the
# stack's nova.restartCommand) can restart it by ending it, and gives each start a NOTIFY_SOCKET.
# When the service says READY=1 there (oslo.service does once its RPC server consumes), its pid
# goes to <pidfile>.ready. Stops, and ends the service, on SIGTERM.
#
#   supervise.sh <pidfile> <command> [args...]
set -euo pipefail

pidfile=$1
shift
socket=$pidfile.notify
child=''
receiver=''
stopping=0
trap 'stopping=1; kill $child $receiver 2>/dev/null || true' TERM
# Receives datagrams on the socket until one carries READY=1 (sd_notify(3)'s protocol), then
# writes the pid of the service it was started for (in <pidfile> by then) to <pidfile>.ready.
ready_receiver() {
  python3 -c '
import os, socket, sys
sock, pidfile = sys.argv[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sock)
while b"READY=1" not in s.recv(4096).split(b"\n"):
    pass
with open(pidfile + ".ready.new", "w") as f:
    f.write(open(pidfile).read())
os.replace(pidfile + ".ready.new", pidfile + ".ready")
' "$socket" "$pidfile" &
  receiver=$!
}
while ((!stopping)); do
  rm -f "$socket"
  ready_receiver
  while [[ ! -S $socket ]]; do sleep 0.05; done
  NOTIFY_SOCKET=$socket "$@" &
  child=$!
  echo "$child" >"$pidfile.new"
  mv "$pidfile.new" "$pidfile"
  # wait returns early when the trap runs; the second wait collects the ended service.
  wait "$child" || true
  wait "$child" 2>/dev/null || true
  kill "$receiver" 2>/dev/null || true
  if ((!stopping)); then sleep 1; fi
done
