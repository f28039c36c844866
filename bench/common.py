"""Shared by the bench scripts: a throwaway platform on its own ports, subnet and SENTINEL_HOME."""
from __future__ import annotations

import os
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
    return {**os.environ, "SENTINEL_HOME": str(home), "SENTINEL_PORT": "38765"}


def cli(home: Path, *args: str) -> float:
    """Run sentinel; return seconds taken; raise on failure."""
    t = time.monotonic()
    p = subprocess.run([SENTINEL, *args], env=env(home), capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, timeout=900)
    if p.returncode != 0:
        raise SystemExit(f"sentinel {' '.join(args)} failed: {p.stderr.strip()}")
    return time.monotonic() - t


def init(home: Path, nodes: int = 2, *extra: str) -> float:
    return cli(home, "init", "--provider", "local", "--name", "bench", "--subnet", "172.27.0.0/24",
               "--nodes", str(nodes), "--http-port", str(HTTP), "--https-port", str(HTTPS), *extra,
               "--yes")


def new_home() -> Path:
    return Path(tempfile.mkdtemp(prefix="sentinel-bench-"))


def summary(xs: list[float]) -> str:
    return f"median {statistics.median(xs):.3f}  min {min(xs):.3f}  max {max(xs):.3f}  (n={len(xs)})"
