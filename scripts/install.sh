#!/usr/bin/env bash
# Installs what Sentinel needs on a fresh Debian machine and starts the Docker engine.
# Idempotent: a second run installs nothing and leaves a running engine alone.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${SENTINEL_VENV:-$here/.venv}"

# pebble: the ACME test server standing in for Let's Encrypt in tests/e2e/test_https.py.
# git: the apps' repositories (`git push`, served by git http-backend) and git URLs as sources.
# haproxy: TLS in front of moto's S3 server in tests/e2e/test_object_storage.py.
apt_packages=(docker.io debootstrap skopeo hey wrk openssh-client sqlite3 curl ca-certificates
              chromium postgresql-client pebble git haproxy)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The engine: start dockerd in the background when nothing answers on the socket.
if ! docker info >/dev/null 2>&1; then
  echo "starting the Docker engine"
  mkdir -p /var/log
  nohup dockerd >/var/log/dockerd.log 2>&1 &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { echo "error: dockerd did not start; see /var/log/dockerd.log" >&2; exit 1; }
fi

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
# The extras: README command 1 (scripts/up.sh) needs no test tools (a fifth of pip's time);
# the suite's command installs them. A venv that has more than asked for is left as it is.
extras="${SENTINEL_EXTRAS:-images,test}"
stamp="$venv/.sentinel-installed"
sum="$(sha256sum "$here/pyproject.toml" | cut -c1-16)"
have="$(cat "$stamp" 2>/dev/null || true)"
if [ "${have%% *}" != "$sum" ] || { [ "$extras" != "${have#* }" ] && [ "${have#* }" != "images,test" ]; }; then
  "$venv/bin/pip" install -q --upgrade pip >/dev/null
  "$venv/bin/pip" install -q -e "$here[$extras]"
  echo "$sum $extras" >"$stamp"
fi
