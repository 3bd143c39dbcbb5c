#!/usr/bin/env bash
# Runs in the e2e RT guest at boot, before cloud-init's config and final stages: points apt at
# the harness's mirror proxy, whose address qemu hands in as the fw_cfg entry
# opt/openstack-rt/apt-proxy ("http://10.0.2.2:<port>"; the port changes from run to run, the
# image does not). Without the entry apt goes straight to the mirror, as in a stock image.
set -euo pipefail

entry=/sys/firmware/qemu_fw_cfg/by_name/opt/openstack-rt/apt-proxy/raw
conf=/etc/apt/apt.conf.d/80e2e-proxy

modprobe qemu_fw_cfg 2>/dev/null || true
if [[ ! -r $entry ]]; then
  rm -f -- "$conf"
  echo "e2e-apt-proxy: no fw_cfg entry opt/openstack-rt/apt-proxy: apt uses the mirror directly"
  exit 0
fi
proxy=$(cat -- "$entry")
if [[ ! $proxy =~ ^http://[0-9.]+:[0-9]+$ ]]; then
  echo "e2e-apt-proxy: fw_cfg entry opt/openstack-rt/apt-proxy is not http://<address>:<port>: $proxy" >&2
  exit 1
fi
printf 'Acquire::http::Proxy "%s";\nAcquire::https::Proxy "%s";\n' "$proxy" "$proxy" >"$conf"
echo "e2e-apt-proxy: apt goes through $proxy"
