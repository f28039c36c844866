"""Figures of preview apps (docs/previews.md), on a throwaway 2-node platform.

    .venv/bin/python bench/previews.py [--runs 3] [--gib 1.0]

For the demo database (a few rows) and a ~1 GiB one, side by side in one run: the time from
`sentinel preview create` (an image, its data copied and masked) to the preview answering at its
address, the copy's own part of it (as the preview reports it: from the request to its database
started), the copy source's two steps (taking the files, recovering them to a consistent
primary), and the disk the copy takes on the backup node while the preview runs; each preview
deleted before the next. A run's first preview of each app also makes that app's copy source
(a restore of its newest backup, once), so run 1 is reported apart.
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
TOOK = re.compile(r"copy: took the files with (reflinks|a plain copy).* in ([0-9.]+) s")
RECOVERED = re.compile(r"copy: consistent and stopped in ([0-9.]+) s")
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


def fast_used() -> int:
    """Bytes in use on the backup node's filesystem for copies (shared blocks counted once,
    which `du` would count per file)."""
    proc = subprocess.run(["docker", "exec", "bench-backup", "df", "-B1", "--output=used",
                           "/var/lib/sentinel/fast"], capture_output=True, text=True, timeout=60)
    return int(proc.stdout.split()[-1])


def fast_kind() -> str:
    proc = subprocess.run(["docker", "exec", "bench-backup", "df", "--output=fstype",
                           "/var/lib/sentinel/fast"], capture_output=True, text=True, timeout=60)
    return proc.stdout.split()[-1]


def found(pattern: re.Pattern, out: str, group: int = 1) -> float:
    m = pattern.search(out)
    return float(m.group(group)) if m else float("nan")


def one(home: Path, app: str, name: str, mask: Path) -> dict:
    before = fast_used()
    took, out = run(home, "preview", "create", app, "--name", name, "--image", "todo:1",
                    "--mask", str(mask))
    took += answers(f"{name}.{app}.localhost")
    m = TOOK.search(out)
    res = {"answering": took, "copy": found(COPIED, out), "files": found(TOOK, out, 2),
           "how": m.group(1) if m else "a restore", "recovery": found(RECOVERED, out),
           "disk": fast_used() - before}
    cli(home, "preview", "delete", app, name, "--yes")
    return res


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
        print(f"the backup node's filesystem for copies: {fast_kind()}", flush=True)
        results: dict[str, list[dict]] = {"small": [], "big": []}
        for r in range(a.runs):
            for app in (("small", "big") if r % 2 == 0 else ("big", "small")):
                res = one(home, app, f"b{r}", mask)
                results[app].append(res)
                print(f"run {r + 1}, {app}: answering after {res['answering']:.1f} s (copy "
                      f"{res['copy']:.1f} s: files by {res['how']} {res['files']:.2f} s, recovery "
                      f"{res['recovery']:.2f} s), disk {res['disk'] / 2**20:.0f} MiB"
                      + ("  [also made the app's copy source]" if r == 0 else ""), flush=True)
        if a.runs < 2:
            return
        # Run 1 made each app's copy source: the medians are of the copies after it.
        later = {app: xs[1:] for app, xs in results.items()}
        base = statistics.median(x["answering"] for x in later["small"])
        for app, xs in later.items():
            t = statistics.median(x["answering"] for x in xs)
            med = {k: statistics.median(x[k] for x in xs) for k in ("copy", "files", "recovery", "disk")}
            print(f"preview of {app} (runs 2-{a.runs}): median {t:.1f} s to answering (copy "
                  f"{med['copy']:.1f} s: files {med['files']:.2f} s, recovery {med['recovery']:.2f} "
                  f"s; disk {med['disk'] / 2**20:.0f} MiB), ratio to small {t / base:.2f}")

if __name__ == "__main__":
    main()
