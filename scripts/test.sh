#!/usr/bin/env bash
# README command 2: install what is missing, build images (cached by content hash), run every test:
# unit tests, then end-to-end tests against a real swarm, Traefik, Postgres and Prometheus.
#
# With arguments, they go to one pytest run as they are (e.g. `scripts/test.sh tests/unit -x`).
# Without, the suite runs as three groups side by side, each on its own platform(s): one module
# after another waits more than it works (1.1 of 2 cores busy on average, 43 min); side by side
# the cores are used (24 min). SENTINEL_TEST_GROUPS=1 runs one module after another.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
bash scripts/install.sh
export PATH="$here/.venv/bin:$PATH"
python -m control_plane.images build
mkdir -p artifacts

if [ "$#" -gt 0 ]; then
  exec python -m pytest -p no:cacheprovider "$@"
fi
if [ "${SENTINEL_TEST_GROUPS:-3}" = 1 ]; then
  exec python -m pytest -p no:cacheprovider tests
fi

e2e=tests/e2e
# Slot 0 and slot 1 each share one 2-node platform between their modules (tests/e2e/conftest.py);
# the third group's end-to-end modules bring their own platforms (ACME, remote control plane,
# object storage).
groups=(
  "0|$e2e/test_api_live.py $e2e/test_platform.py $e2e/test_isolation.py $e2e/test_policy.py $e2e/test_progressive.py $e2e/test_report_ui.py $e2e/test_console.py $e2e/test_build.py $e2e/test_zz_cluster.py"
  "1|$e2e/test_data.py $e2e/test_release.py $e2e/test_copies.py $e2e/test_previews.py $e2e/test_docker_engine.py"
  "-|tests/unit $e2e/test_https.py $e2e/test_remote_control_plane.py $e2e/test_object_storage.py"
)
# Every module must be in one group: a new one that is not would silently never run.
listed=" ${groups[*]} "
for f in tests/e2e/test_*.py; do
  case "$listed" in *" $f "* | *"|$f "*) ;; *) echo "scripts/test.sh: $f is in no group" >&2; exit 2 ;; esac
done

pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' INT TERM
for i in "${!groups[@]}"; do
  slot="${groups[$i]%%|*}"
  read -r -a paths <<<"${groups[$i]#*|}"
  (
    [ "$slot" = "-" ] || export SENTINEL_E2E_SLOT="$slot"
    set +e
    python -m pytest -p no:cacheprovider "${paths[@]}" 2>&1 | sed -u "s/^/[group $i] /"
    exit "${PIPESTATUS[0]}"
  ) &
  pids+=("$!")
done

status=0
for i in "${!pids[@]}"; do
  if wait "${pids[$i]}"; then
    echo "[group $i] passed"
  else
    code=$?
    echo "[group $i] FAILED (pytest exit $code)"
    status=1
  fi
done
exit "$status"
