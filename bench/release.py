"""Figures of releases that change the schema, on a throwaway 2-node platform.

    .venv/bin/python bench/release.py [--runs 3] [--gib 1.0] [--skip-size]

- canary deploy time without a release, with a no-op release command (`true`, which also runs the
  compatibility check on a restored copy), and with the same release and `--skip-check`:
  alternated in one run, medians and ratios;
- the compatibility check's own time (as the release reports it) on the demo database and on a
  ~1 GiB one;
- `canary rollback --restore-db` time (the database back to the release's restore point);
- failed requests, and the request rate, through release (expand) -> canary -> promote ->
  contract (the demo's migrate.py) under a steady GET load and one writer.
"""
from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import HTTP, cli, deploy_db_app, fill, init, run, throwaway  # noqa: E402

from tests.e2e.load import Load, Writer  # noqa: E402  (the bounded loopback load of the e2e tests)

BASE = f"http://127.0.0.1:{HTTP}"
CHECK = re.compile(r"compatibility check passed in ([0-9.]+) s")


def check_seconds(out: str) -> float:
    m = CHECK.search(out)
    if not m:
        raise SystemExit(f"no compatibility check time in the output:\n{out[-2000:]}")
    return float(m.group(1))


def canary_deploy_ratio(home: Path, app: str, runs: int) -> None:
    kinds = {"none": [], "no-op release": [], "no-op release, --skip-check": []}
    extra = {"none": [], "no-op release": ["--release-command", "true"],
             "no-op release, --skip-check": ["--release-command", "true", "--skip-check"]}
    checks = []
    for r in range(runs):
        order = list(kinds) if r % 2 == 0 else list(reversed(kinds))
        for kind in order:
            took, out = run(home, "canary", "deploy", app, "--image", "todo:2", "--weight", "10",
                            *extra[kind], "--yes")
            kinds[kind].append(took)
            if kind == "no-op release":
                checks.append(check_seconds(out))
                if r == 0:  # where the check's time goes (the CLI prints each step's time)
                    print("\n".join(f"    {l.strip()}" for l in out.splitlines()
                                     if "compatibility check" in l or "restor" in l), flush=True)
            cli(home, "canary", "rollback", app, "--yes")
            print(f"run {r + 1}, {kind}: {took:.1f} s", flush=True)
    base = statistics.median(kinds["none"])
    for kind, xs in kinds.items():
        print(f"canary deploy, {kind}: median {statistics.median(xs):.1f} s "
              f"(min {min(xs):.1f}, max {max(xs):.1f}, n={len(xs)}); ratio to none "
              f"{statistics.median(xs) / base:.2f}")
    print(f"compatibility check on the demo database: median {statistics.median(checks):.1f} s "
          f"(min {min(checks):.1f}, max {max(checks):.1f})")


def restore_db(home: Path, app: str, runs: int) -> None:
    times = []
    for _ in range(runs):
        cli(home, "canary", "deploy", app, "--image", "todo:3", "--release-command",
            "python3 migrate.py up", "--weight", "10", "--skip-check", "--yes")
        times.append(cli(home, "canary", "rollback", app, "--restore-db", "--yes"))
    print(f"canary rollback --restore-db: median {statistics.median(times):.1f} s "
          f"(min {min(times):.1f}, max {max(times):.1f}, n={len(times)})")


def under_load(home: Path, app: str) -> None:
    with Load(f"{BASE}/api/todos", f"{app}.localhost") as load, \
            Writer(BASE, f"{app}.localhost", "release") as w:
        cli(home, "canary", "deploy", app, "--image", "todo:3", "--release-command",
            "python3 migrate.py up", "--weight", "20", "--yes")
        time.sleep(5)
        cli(home, "canary", "promote", app, "--post-promote-command", "python3 migrate.py contract",
            "--yes")
        time.sleep(3)
    print(f"release -> canary -> promote -> contract: {len(load.errors)} failed of {load.total} "
          f"requests at {load.rate:.0f}/s, {len(w.failures)} failed of {len(w.acked) + len(w.failures)} "
          f"writes; versions seen {dict(load.versions)}")
    if load.errors or w.failures:
        print(f"  first failures: {load.errors[:3]} {w.failures[:3]}")


def size(home: Path, gib: float) -> None:
    app = "big"
    deploy_db_app(home, app)
    fill(home, app, gib)
    cli(home, "db", "backup", app, "--type", "full")
    took, out = run(home, "canary", "deploy", app, "--image", "todo:2", "--release-command", "true",
                    "--weight", "0", "--yes")
    print(f"compatibility check on {app}: {check_seconds(out):.1f} s (canary deploy {took:.1f} s)")
    cli(home, "canary", "rollback", app, "--yes")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--gib", type=float, default=1.0)
    ap.add_argument("--skip-size", action="store_true")
    ap.add_argument("--keep-on-failure", action="store_true", help="leave the platform up to look at")
    a = ap.parse_args()
    with throwaway(a.keep_on_failure) as home:
        print(f"init {init(home, 2):.0f} s", flush=True)
        deploy_db_app(home, "rel")
        cli(home, "db", "backup", "rel")
        canary_deploy_ratio(home, "rel", a.runs)
        restore_db(home, "rel", a.runs)
        under_load(home, "rel")
        if not a.skip_size:
            size(home, a.gib)


if __name__ == "__main__":
    main()
