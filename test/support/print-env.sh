#!/usr/bin/env bash
# Sources a shell environment file (such as /etc/default/irqbalance, which systemd and the
# init script read) in a clean shell and prints the IRQBALANCE_* variables it sets.
set -euo pipefail
# shellcheck disable=SC2016 # $1 expands in the inner shell
env -i bash -c 'set -a; . "$1"; env' _ "$1" | grep '^IRQBALANCE_' | sort
