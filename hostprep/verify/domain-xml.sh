#!/usr/bin/env bash
# Prints the libvirt domain XML of one instance, read-only. The libvirt domain UUID is the
# Nova instance UUID. Exits 3 when this host does not run the instance, so the caller can try
# the next candidate host.
#
#   domain-xml.sh <instance-uuid>
set -euo pipefail

uuid=${1:-}
[[ $uuid =~ ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]] || {
  printf 'domain-xml.sh: %q is not an instance UUID\n' "$uuid" >&2
  exit 2
}
if ! virsh --connect qemu:///system domstate "$uuid" >/dev/null 2>&1; then
  echo "domain-xml.sh: no domain $uuid on $(hostname)" >&2
  exit 3
fi
virsh --connect qemu:///system dumpxml "$uuid"
