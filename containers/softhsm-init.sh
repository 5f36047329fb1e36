#!/bin/sh
# Initialise the development SoftHSM2 token that uqo signs with (PKCS#11), once: a second run
# finds the token and changes nothing. In production a real HSM's PKCS#11 module replaces it.
#
#   UQO_HSM_PIN=... UQO_HSM_SO_PIN=... softhsm-init          (in the images: /usr/local/bin)
#
# SOFTHSM2_CONF (default /var/lib/softhsm/softhsm2.conf) names the configuration; its directory
# holds the tokens and is the volume shared with the replicas. UQO_HSM_TOKEN is the label
# (default uqo). softhsm2-util takes PINs only as arguments, so run this in its own short-lived
# container (docker-compose.yml's softhsm-init), never beside other users' processes.
set -eu
conf="${SOFTHSM2_CONF:-/var/lib/softhsm/softhsm2.conf}"
label="${UQO_HSM_TOKEN:-uqo}"
: "${UQO_HSM_PIN:?set UQO_HSM_PIN, the token user PIN}"
: "${UQO_HSM_SO_PIN:?set UQO_HSM_SO_PIN, the security officer PIN}"
dir=$(dirname "$conf")
mkdir -p "$dir/tokens"
if [ ! -f "$conf" ]; then
  printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' \
    "$dir" > "$conf"
fi
export SOFTHSM2_CONF="$conf"
if softhsm2-util --show-slots | grep -Eq "^[[:space:]]*Label:[[:space:]]+${label}[[:space:]]*$"; then
  echo "softhsm-init: token '${label}' already initialised"
else
  softhsm2-util --init-token --free --label "$label" \
    --so-pin "$UQO_HSM_SO_PIN" --pin "$UQO_HSM_PIN" >/dev/null
  echo "softhsm-init: token '${label}' initialised in $dir/tokens"
fi
