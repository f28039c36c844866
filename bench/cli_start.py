"""How long the CLI takes to start: the median of 10 runs of each command, as a user runs it.

  sentinel --help          the top-level help (every command's one line)
  sentinel canary --help   one group's help
  sentinel apps --json     a read, minus its HTTP call: SENTINEL_URL points at a closed local
                           port, so the time is start-up to the one-line "not running" error
  python -c pass           the interpreter alone, the floor under all three

With --imports, also the modules that cost most to import for each command (python -X
importtime, cumulative microseconds, top 8).

Usage: .venv/bin/python bench/cli_start.py [--runs 10] [--imports]
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SENTINEL = str(Path(sys.executable).parent / "sentinel")


def closed_port() -> int:
    """A local port nothing listens on (bound, then released): a connection is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cases(home: str) -> list[tuple[str, list[str], dict, int]]:
    """(label, argv, extra env, expected exit code)."""
    url = {"SENTINEL_URL": f"http://127.0.0.1:{closed_port()}", "SENTINEL_TOKEN": "t"}
    return [
        ("sentinel --help", [SENTINEL, "--help"], {}, 0),
        ("sentinel canary --help", [SENTINEL, "canary", "--help"], {}, 0),
        ("sentinel apps --json (no server)", [SENTINEL, "apps", "--json"], url, 1),
        ("python -c pass", [sys.executable, "-c", "pass"], {}, 0),
    ]


def once(argv: list[str], env: dict, expect: int) -> float:
    t = time.perf_counter()
    p = subprocess.run(argv, env=env, capture_output=True, stdin=subprocess.DEVNULL, cwd=ROOT)
    took = time.perf_counter() - t
    if p.returncode != expect:
        raise SystemExit(f"{' '.join(argv)} exited {p.returncode}, not {expect}: "
                         f"{p.stderr.decode()[-500:]}")
    return took


def top_imports(argv: list[str], env: dict, n: int = 8) -> list[tuple[int, str]]:
    """The n imports with the largest cumulative time (microseconds), outermost names only."""
    cmd = [sys.executable, "-X", "importtime", *argv[1:]] if argv[0] == SENTINEL else argv
    if argv[0] == SENTINEL:
        cmd = [sys.executable, "-X", "importtime", "-c",
               "import sys; from cli.main import run; sys.argv[0] = 'sentinel'; run()", *argv[1:]]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                       cwd=ROOT)
    rows = []
    for line in p.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = (x.strip() for x in line.removeprefix("import time:").split("|"))
        if not name.startswith(" ") and "." not in name.strip() or name == name.lstrip():
            rows.append((int(cumulative), name.strip()))
    return sorted(rows, reverse=True)[:n]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--imports", action="store_true", help="also list the costliest imports")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as home:
        base = {**os.environ, "SENTINEL_HOME": home}
        for var in ("SENTINEL_URL", "SENTINEL_TOKEN", "SENTINEL_DEBUG"):
            base.pop(var, None)
        print(f"CLI start, median of {args.runs} runs (min..max), {os.cpu_count()} cores, "
              f"load {os.getloadavg()[0]:.2f}")
        for label, argv, extra, expect in cases(home):
            env = {**base, **extra}
            once(argv, env, expect)  # warm the file cache and .pyc files
            times = [once(argv, env, expect) for _ in range(args.runs)]
            print(f"  {label:34} {statistics.median(times):.3f} s "
                  f"({min(times):.3f}..{max(times):.3f})")
            if args.imports and argv[0] == SENTINEL:
                for us, name in top_imports(argv, env):
                    print(f"      {us / 1e6:.3f} s  {name}")


if __name__ == "__main__":
    main()
