"""Many apps on one small platform: 30 apps, each with a database, on 2 nodes.

    .venv/bin/python bench/scale.py [--apps 30]

Prints the deploy time of each app (first vs last), the canary routing change (from command
start to the first request routed the new way) with 1 app and with all of them, the memory
of Traefik and of the control plane at 1 app and at the end, and how long the web console's
apps page takes to list every app (from the store) and to fill in their tasks (from the swarm) in
headless Chromium (a fresh browser context each time). Databases are single copies
(--no-db-ha) and apps run one task, so the 2 cores hold them all.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import HTTP, ROOT, cli, init, new_home, summary  # noqa: E402


def deploy(home: Path, name: str) -> float:
    return cli(home, "deploy", "--name", name, "--image", "todo:1", "--port", "8000", "--db", "postgres",
               "--no-db-ha", "--db-schema", str(ROOT / "examples/todo/schema.sql"), "--yes")


def routing_change(home: Path, app: str, runs: int = 3) -> list[float]:
    """Seconds from `canary traffic` starting to the first forced-free request answered by v2."""
    cli(home, "canary", "deploy", app, "--image", "todo:2", "--weight", "0", "--yes")
    out = []
    try:
        for i in range(runs):
            weight = 100 if i % 2 == 0 else 0
            want = "2" if weight == 100 else "1"
            t = time.monotonic()
            proc = subprocess.Popen([str(Path(sys.executable).parent / "sentinel"), "canary", "traffic",
                                     app, "--weight", str(weight)],
                                    env={**__import__("os").environ, **__import__("common").env(home)},
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            with httpx.Client(timeout=5, headers={"Host": f"{app}.localhost"}) as c:
                while True:
                    c.cookies.clear()
                    if c.get(f"http://127.0.0.1:{HTTP}/version").headers.get("x-app-version") == want:
                        break
                    time.sleep(0.01)
            out.append(time.monotonic() - t)
            proc.wait(timeout=60)
    finally:
        cli(home, "canary", "rollback", app, "--yes")
    return out


def deploy_steps(home: Path, name: str) -> list[tuple[str, float]]:
    """The deploy operation's steps (the control plane's events, read from its store) and the
    seconds each took until the next: where a slower deploy spends its time."""
    import sqlite3

    db = sqlite3.connect(home / "state.db")
    try:
        start, end = db.execute("SELECT started_at, finished_at FROM operations WHERE target = ? AND "
                                "kind = 'deploy' ORDER BY started_at LIMIT 1", (f"app:{name}",)).fetchone()
        rows = db.execute("SELECT at, message FROM events WHERE target = ? AND kind = 'deploy' "
                          "ORDER BY id", (f"app:{name}",)).fetchall()
    finally:
        db.close()
    marks = [(start, "(before the first step)"), *rows, (end, "")]
    return [(msg[:40], nxt[0] - at) for (at, msg), nxt in zip(marks, marks[1:])]


def show_steps(home: Path, names: list[str]) -> None:
    for name in names:
        print(f"  {name}: " + "; ".join(f"{m} {t:.1f}s" for m, t in deploy_steps(home, name)), flush=True)


def memory(name_filter: str) -> float:
    """MiB of the containers whose name contains `name_filter`, across the nodes."""
    total = 0.0
    for node in ("bench-node-0", "bench-node-1"):
        out = subprocess.run(["docker", "exec", node, "docker", "stats", "--no-stream", "--format",
                              "{{.Name}} {{.MemUsage}}"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            name, usage = line.split(" ", 1)
            if name_filter in name:
                v = usage.split("/")[0].strip()
                n = float(v[:-3]) if v.endswith(("MiB", "GiB", "KiB")) else 0.0
                total += n * (1024 if v.endswith("GiB") else 1 / 1024 if v.endswith("KiB") else 1)
    return total


def console_load(home: Path, apps: int, runs: int = 5) -> tuple[list[float], list[float]]:
    """Seconds from opening the console (signed in by the token) until its apps page lists
    `apps` apps (from the store), and until every app's tasks ready/desired is filled in (from
    the swarm), in Debian's Chromium; a new browser context (no cache, no cookie) each run. The
    first run, which also starts the browser's renderer, is not counted."""
    from playwright.sync_api import sync_playwright

    cfg = json.loads((home / "config.json").read_text())
    want = f"{apps} app{'' if apps == 1 else 's'}"
    listed, filled = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                          "--disable-component-update", "--disable-sync"])
        try:
            for _ in range(runs + 1):
                ctx = browser.new_context()
                page = ctx.new_page()
                t = time.monotonic()
                page.goto(f"{cfg['url']}/console#token={cfg['token']}")
                page.wait_for_function("w => document.body.innerText.includes(w)", arg=want, timeout=30000)
                listed.append(time.monotonic() - t)
                page.wait_for_function("n => document.querySelectorAll('td.ready').length === n && "
                                       "![...document.querySelectorAll('td.ready')].some(c => c.textContent === 'checking…')",
                                       arg=apps, timeout=30000)
                filled.append(time.monotonic() - t)
                ctx.close()
        finally:
            browser.close()
    return listed[1:], filled[1:]


def busy_cores(seconds: float = 15) -> float:
    """Cores this machine keeps busy while nothing is asked of the platform (from /proc/stat)."""
    def sample() -> tuple[int, int]:
        v = list(map(int, Path("/proc/stat").read_text().splitlines()[0].split()[1:]))
        return sum(v), v[3] + v[4]  # total, idle + iowait
    t0, i0 = sample()
    time.sleep(seconds)
    t1, i1 = sample()
    return (1 - (i1 - i0) / (t1 - t0)) * (os.cpu_count() or 1)


def control_plane_mib(home: Path) -> float:
    pid = int((home / "control-plane.pid").read_text().split()[0])
    rss = next(l for l in Path(f"/proc/{pid}/status").read_text().splitlines() if l.startswith("VmRSS"))
    return int(rss.split()[1]) / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--apps", type=int, default=30)
    n = ap.parse_args().apps
    home = new_home()
    try:
        init(home, 2)
        times = [deploy(home, "app-1")]
        one = routing_change(home, "app-1")
        mem_one = (memory("sentinel_traefik"), control_plane_mib(home))
        page_one = console_load(home, 1)
        idle_one = busy_cores()
        print(f"1 app: deploy {times[0]:.1f} s; routing change {summary(one)}; "
              f"Traefik {mem_one[0]:.0f} MiB, control plane {mem_one[1]:.0f} MiB; "
              f"at rest {idle_one:.2f} cores busy", flush=True)
        for i in range(2, n + 1):
            times.append(deploy(home, f"app-{i}"))
            print(f"app {i}: deploy {times[-1]:.1f} s", flush=True)
        idle_n = busy_cores()
        many = routing_change(home, f"app-{n}")
        mem_n = (memory("sentinel_traefik"), control_plane_mib(home))
        page_n = console_load(home, n)
        first, last = statistics.median(times[:3]), statistics.median(times[-3:])
        print(f"deploy, s: first 3 median {first:.1f}, last 3 median {last:.1f}, ratio {last / first:.2f}")
        print("deploy steps (seconds until the next step), first 3 and last 3:")
        show_steps(home, [f"app-{i}" for i in (1, 2, 3, n - 2, n - 1, n)])
        print(f"routing change with {n} apps, s: {summary(many)}; ratio to 1 app "
              f"{statistics.median(many) / statistics.median(one):.2f}")
        print(f"memory with {n} apps: Traefik {mem_n[0]:.0f} MiB (1 app: {mem_one[0]:.0f}), "
              f"control plane {mem_n[1]:.0f} MiB (1 app: {mem_one[1]:.0f})")
        print(f"console apps page listing every app, s: 1 app {summary(page_one[0])}; "
              f"{n} apps {summary(page_n[0])}")
        print(f"console apps page with every app's tasks filled in, s: 1 app {summary(page_one[1])}; "
              f"{n} apps {summary(page_n[1])}")
        print(f"at rest: {idle_one:.2f} cores busy with 1 app, {idle_n:.2f} with {n} apps "
              f"(of {os.cpu_count()})")
    finally:
        cli(home, "destroy", "--delete-data", "--yes")


if __name__ == "__main__":
    main()
