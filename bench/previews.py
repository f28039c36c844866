"""Figures of preview apps (docs/previews.md), on a throwaway 2-node platform.

    .venv/bin/python bench/previews.py [--runs 3] [--gib 1.0]

For the demo database (a few rows) and a ~1 GiB one, side by side in one run: the time from
`sentinel preview create` (an image, its data copied and masked) to the preview answering at its
address, the copy's own part of it (as the preview reports it), and the extra disk its copy
takes on its node; each preview deleted before the next.
"""
from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import HTTP, cli, deploy_db_app, fill, init, run, throwaway  # noqa: E402

import httpx  # noqa: E402

COPIED = re.compile(r"restored into \S+ at .* in ([0-9.]+) s")
MASK = "UPDATE todos SET title = 'masked ' || id;\n"


def answers(domain: str, timeout: float = 60) -> float:
    """Seconds until the preview answers 200 at its address (it should already)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            if httpx.get(f"http://127.0.0.1:{HTTP}/api/todos", headers={"Host": domain},
                         timeout=5).status_code == 200:
                return time.monotonic() - t0
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{domain} did not answer within {timeout} s")


def volumes_bytes(name: str) -> int:
    """Bytes under every node's Docker volumes whose name holds `name` (its database's)."""
    total = 0
    for node in ("bench-node-0", "bench-node-1"):
        proc = subprocess.run(["docker", "exec", node, "sh", "-c",
                               f"du -sb /var/lib/docker/volumes/*{name}* 2>/dev/null | "
                               "awk '{s+=$1} END {print s+0}'"],
                              capture_output=True, text=True, timeout=120)
        total += int((proc.stdout or "0").strip() or 0)
    return total


def one(home: Path, app: str, name: str, mask: Path) -> tuple[float, float, int]:
    took, out = run(home, "preview", "create", app, "--name", name, "--image", "todo:1",
                    "--mask", str(mask))
    took += answers(f"{name}.{app}.localhost")
    m = COPIED.search(out)
    copied = float(m.group(1)) if m else float("nan")
    disk = volumes_bytes(f"{app}-{name}")
    cli(home, "preview", "delete", app, name, "--yes")
    return took, copied, disk


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--gib", type=float, default=1.0)
    ap.add_argument("--keep-on-failure", action="store_true", help="leave the platform up to look at")
    a = ap.parse_args()
    with throwaway(a.keep_on_failure) as home:
        mask = home / "mask.sql"
        print(f"init {init(home, 2):.0f} s", flush=True)
        mask.write_text(MASK)
        deploy_db_app(home, "small")
        deploy_db_app(home, "big")
        fill(home, "big", a.gib)  # prints the size Postgres reports
        for app in ("small", "big"):
            cli(home, "db", "backup", app)  # the copies start from a backup that holds the rows
        results: dict[str, list[tuple[float, float, int]]] = {"small": [], "big": []}
        for r in range(a.runs):
            for app in (("small", "big") if r % 2 == 0 else ("big", "small")):
                res = one(home, app, f"b{r}", mask)
                results[app].append(res)
                print(f"run {r + 1}, {app}: answering after {res[0]:.1f} s (copy {res[1]:.1f} s), "
                      f"copy's volumes {res[2] / 2**20:.0f} MiB", flush=True)
        base = statistics.median(t for t, _, _ in results["small"])
        for app, xs in results.items():
            t = statistics.median(x[0] for x in xs)
            print(f"preview of {app}: median {t:.1f} s to answering (copy median "
                  f"{statistics.median(x[1] for x in xs):.1f} s, disk median "
                  f"{statistics.median(x[2] for x in xs) / 2**20:.0f} MiB), ratio to small "
                  f"{t / base:.2f}")

if __name__ == "__main__":
    main()
