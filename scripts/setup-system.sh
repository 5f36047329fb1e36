#!/usr/bin/env bash
# Installs the system packages the test suite needs:
#   softhsm2    a real PKCS#11 token (security tests)
#   prometheus  promtool (rule checks and rule unit tests) and the server (the end-to-end alert
#               test scrapes a real `uqo serve`); tests start their own server on a free port.
#   prometheus-alertmanager  amtool: checks ops/alertmanager/alertmanager.yml and tests which
#               receiver each alert's escalation labels reach.
#   etcd-server Debian's etcd 3.4: the replicated log's tests start a real 3-member cluster.
#   chromium    the status page's browser test (Playwright drives it through executable_path,
#               so Playwright downloads no browser of its own).
#   etcd-client etcdctl: backup and restore of a replicated deployment (docs/operations.md).
# Idempotent; needs root (or passwordless sudo) only when something is missing.
set -euo pipefail
need=()
[ -e /usr/lib/softhsm/libsofthsm2.so ] || need+=(softhsm2)
{ command -v promtool && command -v prometheus; } >/dev/null 2>&1 || need+=(prometheus)
command -v amtool >/dev/null 2>&1 || need+=(prometheus-alertmanager)
command -v etcd >/dev/null 2>&1 || [ -x /usr/bin/etcd ] || need+=(etcd-server)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v etcdctl >/dev/null 2>&1 || need+=(etcd-client)
if [ ${#need[@]} -eq 0 ]; then
  echo "system packages: present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
echo "system packages: installing ${need[*]}"
$SUDO apt-get update -qq
# --no-install-recommends: prometheus alone, without node-exporter and friends. policy-rc.d 101
# keeps the package's own service from starting (tests run their own Prometheus); it is removed
# afterwards only if this script created it.
created_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  created_policy=1
fi
rc=0
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" \
  >/dev/null || rc=$?
if [ "$created_policy" = 1 ]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi
exit "$rc"
