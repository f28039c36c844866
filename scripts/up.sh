#!/usr/bin/env bash
# README command 1: install what is missing, build images, `sentinel init`, deploy the demo app.
# Ports: SENTINEL_HTTP_PORT / SENTINEL_HTTPS_PORT (default 80 / 443).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
SENTINEL_EXTRAS="${SENTINEL_EXTRAS:-images}" bash scripts/install.sh
export PATH="$here/.venv/bin:$PATH"
python -m control_plane.images build
http="${SENTINEL_HTTP_PORT:-80}"
https="${SENTINEL_HTTPS_PORT:-443}"
sentinel init --provider local --nodes "${SENTINEL_NODES:-2}" --http-port "$http" --https-port "$https" --yes
if sentinel apps --json | grep -q '"name": "todos"'; then
  echo "the demo app is already deployed"
else
  sentinel deploy --name todos --image todo:1 --port 8000 --db postgres \
    --db-schema examples/todo/schema.sql --replicas 2 --yes
fi
port_suffix=""; [ "$http" = 80 ] || port_suffix=":$http"
echo
echo "Sentinel is up. The demo app: http://todos.localhost$port_suffix/"
echo "Try a canary:  .venv/bin/sentinel canary deploy todos --image todo:2 --weight 20 --yes"
