"""Prints CLI start time, init time (2 nodes), scale-up and scale-down time: medians of runs.

    .venv/bin/python bench/cluster.py [--runs 3]
"""
from __future__ import annotations

import argparse
import subprocess

from common import SENTINEL, cli, init, new_home, summary


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    runs = ap.parse_args().runs
    starts = []
    for _ in range(10):
        import time

        t = time.monotonic()
        subprocess.run([SENTINEL, "--help"], capture_output=True, check=True)
        starts.append(time.monotonic() - t)
    print(f"CLI start (sentinel --help), s: {summary(starts)}")
    inits, ups, downs = [], [], []
    for i in range(runs):
        home = new_home()
        try:
            inits.append(init(home, 2))
            ups.append(cli(home, "cluster", "scale", "--nodes", "3", "--yes"))
            downs.append(cli(home, "cluster", "scale", "--nodes", "2", "--yes"))
        finally:
            cli(home, "destroy", "--delete-data", "--yes")
        print(f"run {i + 1}: init {inits[-1]:.1f} s, scale-up {ups[-1]:.1f} s, scale-down {downs[-1]:.1f} s",
              flush=True)
    print(f"init, 2 nodes, cached images, s: {summary(inits)}")
    print(f"scale-up by one node, s:        {summary(ups)}")
    print(f"scale-down by one node, s:      {summary(downs)}")


if __name__ == "__main__":
    main()
