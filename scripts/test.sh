#!/usr/bin/env bash
# README command 2: install what is missing, build images (cached by content hash), run every test:
# unit tests, then end-to-end tests against a real swarm, Traefik, Postgres and Prometheus.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
bash scripts/install.sh
export PATH="$here/.venv/bin:$PATH"
python -m control_plane.images build
mkdir -p artifacts
python -m pytest tests -p no:cacheprovider "$@"
