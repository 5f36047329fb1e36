#!/usr/bin/env bash
# Installs the system packages the test suite needs: SoftHSM2 (a real PKCS#11 token) and
# etcd-server (Debian's etcd 3.4: the replicated log's tests start a real 3-member cluster).
# Idempotent; needs root (or passwordless sudo) only when something is missing.
set -euo pipefail
need=()
[ -e /usr/lib/softhsm/libsofthsm2.so ] || need+=(softhsm2)
command -v etcd >/dev/null 2>&1 || [ -x /usr/bin/etcd ] || need+=(etcd-server)
if [ ${#need[@]} -eq 0 ]; then
  echo "system packages: present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
echo "system packages: installing ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
