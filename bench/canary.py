"""Prints canary figures on a real platform: time from `canary traffic` / `canary rollback`
start to the first routing change seen by a polling client, promote duration, split error, and
how long a bad progressive canary (10% injected 5xx) takes traffic before the early check
rolls it back (1 s scrapes).

    .venv/bin/python bench/canary.py [--runs 7]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import threading
import time

import httpx

from common import HTTP, ROOT, SENTINEL, cli, env, init, new_home, summary

DOMAIN = "todos.localhost"


def first_change(home, args: list[str], want: str) -> float:
    """Seconds from starting `sentinel *args` to the first response of version `want`."""
    seen = threading.Event()
    stamp = {}

    def poll():
        with httpx.Client(timeout=5, headers={"Host": DOMAIN}) as c:
            while not seen.is_set():
                c.cookies.clear()
                if c.get(f"http://127.0.0.1:{HTTP}/version").headers.get("x-app-version") == want:
                    stamp["t"] = time.monotonic()
                    seen.set()

    t0 = time.monotonic()
    th = threading.Thread(target=poll, daemon=True)
    proc = subprocess.Popen([SENTINEL, *args], env=env(home), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    th.start()
    seen.wait(30)
    proc.wait(60)
    return stamp.get("t", float("inf")) - t0


def split(home, weight: int, n: int = 2000) -> float:
    cli(home, "canary", "traffic", "todos", "--weight", str(weight))
    v2 = 0
    with httpx.Client(timeout=5, headers={"Host": DOMAIN}) as c:
        for _ in range(n):
            c.cookies.clear()
            v2 += c.get(f"http://127.0.0.1:{HTTP}/version").headers["x-app-version"] == "2"
    return 100 * v2 / n - weight


def bad_canary(home) -> float:
    """Seconds the bad canary took traffic before the early check rolled it back (from the
    store's events: `deploy` is written once traffic is routed)."""
    import json

    stop = threading.Event()

    def load():  # the judge needs requests to judge
        with httpx.Client(timeout=5, headers={"Host": DOMAIN}) as c:
            while not stop.is_set():
                c.cookies.clear()
                c.get(f"http://127.0.0.1:{HTTP}/api/todos")

    threads = [threading.Thread(target=load, daemon=True) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        cli(home, "canary", "deploy", "todos", "--image", "todo:2", "--env", "FAULT_ERROR_RATE=0.1",
            "--steps", "20,50", "--interval", "300s", "--yes")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            out = subprocess.run([SENTINEL, "canary", "status", "todos", "--json"], env=env(home),
                                 capture_output=True, text=True).stdout
            status = json.loads(out)
            if status["canary"] is None:
                at = lambda kind: max(e["at"] for e in status["events"] if e["kind"] == kind)
                return at("rollback") - at("deploy")
            time.sleep(0.5)
        raise SystemExit("the bad canary was not rolled back within 120 s")
    finally:
        stop.set()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    runs = ap.parse_args().runs
    home = new_home()
    try:
        init(home, 2, "--scrape-interval", "1s")
        cli(home, "deploy", "--name", "todos", "--image", "todo:1", "--port", "8000", "--db", "postgres",
            "--db-schema", str(ROOT / "examples/todo/schema.sql"), "--replicas", "2", "--yes")
        traffic, rollback, promote = [], [], []
        for _ in range(runs):
            cli(home, "canary", "deploy", "todos", "--image", "todo:2", "--weight", "0", "--yes")
            traffic.append(first_change(home, ["canary", "traffic", "todos", "--weight", "100"], "2"))
            rollback.append(first_change(home, ["canary", "rollback", "todos", "--yes"], "1"))
        print(f"canary traffic 0->100: start to first routed request, s: {summary(traffic)}")
        print(f"canary rollback:       start to first routed request, s: {summary(rollback)}")
        cli(home, "canary", "deploy", "todos", "--image", "todo:2", "--weight", "1", "--yes")
        errors = {w: split(home, w) for w in (1, 5, 30, 50)}
        print("split error (observed - weight, percentage points, 2000 cookie-less requests): "
              + ", ".join(f"w={w}: {e:+.2f}" for w, e in errors.items()))
        promote.append(cli(home, "canary", "promote", "todos", "--yes"))
        cli(home, "canary", "deploy", "todos", "--image", "todo:1", "--weight", "10", "--yes")
        promote.append(cli(home, "canary", "promote", "todos", "--yes"))
        print(f"promote duration (2 replicas, start-first), s: {summary(promote)}")
        early = [bad_canary(home) for _ in range(max(3, runs // 2))]
        print(f"bad canary (10% 5xx at 20%): traffic start to rollback, s: {summary(early)}")
    finally:
        cli(home, "destroy", "--delete-data", "--yes")


if __name__ == "__main__":
    main()
