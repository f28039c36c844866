"""Shared by the bench scripts: a throwaway platform on its own ports, subnet and SENTINEL_HOME."""
from __future__ import annotations

import json
import os
from contextlib import contextmanager
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SENTINEL = str(Path(sys.executable).parent / "sentinel")
HTTP, HTTPS = 38080, 38443


def env(home: Path) -> dict:
    # Scheduled backups off: one starting between two steps would hold an app (their own cost is
    # measured directly).
    return {**os.environ, "SENTINEL_HOME": str(home), "SENTINEL_PORT": "38765",
            "SENTINEL_BACKUP_SCHEDULE": "off"}


def run(home: Path, *args: str, timeout: float = 3600) -> tuple[float, str]:
    """Run sentinel; return (seconds taken, what it printed); raise on failure."""
    t = time.monotonic()
    p = subprocess.run([SENTINEL, *args], env=env(home), capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, timeout=timeout)
    if p.returncode != 0:
        raise SystemExit(f"sentinel {' '.join(args)} failed: {p.stderr.strip()}")
    return time.monotonic() - t, p.stdout + p.stderr


def cli(home: Path, *args: str) -> float:
    """Run sentinel; return seconds taken; raise on failure."""
    return run(home, *args)[0]


def sjson(home: Path, *args: str):
    return json.loads(run(home, *args, "--json", timeout=300)[1])


def psql(home: Path, app: str, sql: str) -> str:
    return run(home, "db", "psql", app, "-c", sql)[1]


def deploy_db_app(home: Path, app: str, *extra: str) -> float:
    """The demo app (todo:1, 2 replicas) with its Postgres (HA unless --no-db-ha is in `extra`)."""
    return cli(home, "deploy", "--name", app, "--image", "todo:1", "--port", "8000", "--db", "postgres",
               "--db-schema", str(ROOT / "examples/todo/schema.sql"), "--replicas", "2", *extra, "--yes")


def fill(home: Path, app: str, gib: float) -> str:
    """Load about `gib` GiB of pgbench tables into the app's database, on its primary; returns
    the database's size as Postgres reports it."""
    primary = sjson(home, "db", "status", app)["primary"]
    node, member = primary["node"], primary["member"]
    cid = subprocess.run(["docker", "exec", node, "docker", "ps", "-q", "--filter",
                          f"label=com.docker.swarm.service.name={app}_{member}"],
                         capture_output=True, text=True, check=True).stdout.split()[0]
    scale = max(1, int(gib * 68))  # pgbench: ~15 MB per scale unit
    t = time.monotonic()
    subprocess.run(["docker", "exec", node, "docker", "exec", "-u", "postgres", cid, "pgbench", "-i",
                    "-s", str(scale), "-q", "-U", app, app], check=True, capture_output=True)
    size = " ".join(psql(home, app, "select pg_size_pretty(pg_database_size(current_database()))")
                    .split()[2:4])
    print(f"{app}: loaded pgbench scale {scale} ({size}) in {time.monotonic() - t:.0f} s", flush=True)
    return size


def init(home: Path, nodes: int = 2, *extra: str) -> float:
    return cli(home, "init", "--provider", "local", "--name", "bench", "--subnet", "172.27.0.0/24",
               "--nodes", str(nodes), "--http-port", str(HTTP), "--https-port", str(HTTPS), *extra,
               "--yes")


def new_home() -> Path:
    return Path(tempfile.mkdtemp(prefix="sentinel-bench-"))


def summary(xs: list[float]) -> str:
    return f"median {statistics.median(xs):.3f}  min {min(xs):.3f}  max {max(xs):.3f}  (n={len(xs)})"


@contextmanager
def throwaway(keep_on_failure: bool = False):
    """A new SENTINEL_HOME whose platform is destroyed at the end (left up after a failure with
    `keep_on_failure`, to look at)."""
    home = new_home()
    ok = False
    try:
        yield home
        ok = True
    finally:
        if ok or not keep_on_failure:
            cli(home, "destroy", "--delete-data", "--yes")
        else:
            print(f"left up for a look: SENTINEL_HOME={home} SENTINEL_PORT=38765")
