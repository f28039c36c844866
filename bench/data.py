"""Figures of the data issue, on a throwaway 2-node platform (own ports, subnet, SENTINEL_HOME).

    .venv/bin/python bench/data.py [--kills 5] [--gib 1.0] [--skip-size]

- failover: the node holding the primary is killed (`docker kill`) while one client writes
  through the app (POST, each acknowledged row recorded); seconds until a write is acknowledged
  again, and acknowledged rows missing afterwards. After each kill the node is started again,
  the member rejoins and the primary is handed back to the worker (node 0 carries the edge).
- the cost of synchronous replication: write latency through the app, an HA app and a single-copy
  app measured alternately in one run (p50 and p99 ratios).
- no HA: the only member's node killed under writes, the database restored with `--to latest`:
  acknowledged rows missing (the archive is at most archive_timeout behind).
- size: a ~1 GiB database (pgbench tables): full backup time, restore into a new app, drill time.
- archive lag under steady writes: now minus the last archived WAL's time, sampled every 5 s.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import HTTP, ROOT, cli, deploy_db_app, fill, init, new_home, psql, sjson, summary  # noqa: E402

BASE = f"http://127.0.0.1:{HTTP}"
WRITE_SECONDS = 90  # longer than archive_timeout (60 s): what is older must survive


class Writer(threading.Thread):
    def __init__(self, host: str, prefix: str, pause: float = 0.01):
        super().__init__(daemon=True)
        self.host, self.prefix, self.pause = host, prefix, pause
        self.acked: list[tuple[float, int, float]] = []  # (sent at, id, latency)
        self.failed_at: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        i = 0
        with httpx.Client(timeout=5, headers={"Host": self.host}) as c:
            while not self.stop.is_set():
                i += 1
                t = time.monotonic()
                try:
                    r = c.post(f"{BASE}/api/todos", json={"title": f"{self.prefix}-{i}"})
                    if r.status_code == 201:
                        self.acked.append((t, r.json()["id"], time.monotonic() - t))
                    else:
                        self.failed_at.append(t)
                except httpx.HTTPError:
                    self.failed_at.append(t)
                time.sleep(self.pause)

    def first_after(self, t: float) -> float | None:
        """Seconds from `t` (a kill) to the first acknowledged write sent after the first failure
        that followed it (0 when nothing failed)."""
        first_fail = next((f for f in self.failed_at if f > t), None)
        if first_fail is None:
            return 0.0 if any(a > t for a, _, _ in self.acked) else None
        return next((a - t for a, _, _ in self.acked if a > first_fail), None)


def count_present(home: Path, app: str, ids: list[int]) -> int:
    out = psql(home, app, f"select count(*) from todos where id in ({','.join(map(str, ids))})")
    return int(out.split()[2])


def status(home: Path, app: str) -> dict:
    return sjson(home, "db", "status", app)


def wait_pair(home: Path, app: str, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        s = status(home, app)
        if s["primary"] and s["standbys"] and s["standbys"][0]["sync"]:
            return s
        if time.monotonic() > deadline:
            raise SystemExit(f"{app}'s standby did not come back: {s['members']}")
        time.sleep(2)


def failover(home: Path, kills: int) -> None:
    app, host = "ha", "ha.localhost"
    gaps, lost, writes = [], 0, 0
    for k in range(kills):
        s = wait_pair(home, app)
        if s["primary"]["node"] != "bench-node-1":
            cli(home, "db", "switchover", app, "--yes")
            wait_pair(home, app)  # only a synchronous standby may take over
        w = Writer(host, f"kill{k}")
        w.start()
        time.sleep(5)
        killed = time.monotonic()
        subprocess.run(["docker", "kill", "bench-node-1"], check=True, capture_output=True)
        deadline = killed + 120
        while (w.first_after(killed) is None or time.monotonic() - killed < 5) and \
                time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(3)
        w.stop.set()
        w.join()
        gap = w.first_after(killed)
        # As after a real crash and reboot: back once the swarm has marked the node down (a node
        # back within the heartbeat window can stay marked down: docs/benchmarks.md).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and subprocess.run(
                ["docker", "exec", "bench-node-0", "docker", "node", "inspect", "bench-node-1",
                 "--format", "{{.Status.State}}"], capture_output=True, text=True).stdout.strip() != "down":
            time.sleep(1)
        subprocess.run(["docker", "start", "bench-node-1"], check=True, capture_output=True)
        ids = [i for _, i, _ in w.acked]
        missing = len(ids) - count_present(home, app, ids)
        gaps.append(gap if gap is not None else float("inf"))
        lost += missing
        writes += len(ids)
        print(f"kill {k + 1}: writes back after {gap:.2f} s; {len(ids)} acknowledged, {missing} missing",
              flush=True)
    print(f"primary's node killed, writes back after, s: {summary(gaps)}")
    print(f"acknowledged rows lost: {lost} of {writes} in {kills} kills")
    wait_pair(home, app)


def sync_cost(home: Path, rounds: int = 8, per_round: int = 300) -> None:
    lat = {"ha": [], "single": []}
    for r in range(rounds):
        for app in (("ha", "single") if r % 2 == 0 else ("single", "ha")):
            with httpx.Client(timeout=10, headers={"Host": f"{app}.localhost"}) as c:
                for i in range(per_round):
                    t = time.perf_counter()
                    resp = c.post(f"{BASE}/api/todos", json={"title": f"lat-{r}-{i}"})
                    if resp.status_code == 201:
                        lat[app].append(time.perf_counter() - t)

    def pct(xs, q):
        xs = sorted(xs)
        return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000

    for app in lat:
        print(f"write latency through the app, {app}: p50 {pct(lat[app], .5):.2f} ms, "
              f"p99 {pct(lat[app], .99):.2f} ms (n={len(lat[app])})")
    print(f"synchronous replication cost: p50 ratio {pct(lat['ha'], .5) / pct(lat['single'], .5):.2f}, "
          f"p99 ratio {pct(lat['ha'], .99) / pct(lat['single'], .99):.2f} (HA / single copy)")


def no_ha_loss(home: Path) -> None:
    """The single copy's node lost for good: the database comes back from the repository onto
    the other node (`db restore --to latest`); acknowledged rows missing afterwards."""
    app, host = "single", "single.localhost"
    if status(home, app)["primary"]["node"] != "bench-node-1":  # node 0 carries the edge
        cli(home, "db", "ha", app, "--on", "--node", "bench-node-1", "--yes")
        wait_pair(home, app)
        cli(home, "db", "switchover", app, "--yes")
        cli(home, "db", "ha", app, "--off", "--yes")
    w = Writer(host, "noha", pause=0.05)
    w.start()
    time.sleep(WRITE_SECONDS)
    killed = time.monotonic()
    subprocess.run(["docker", "kill", "bench-node-1"], check=True, capture_output=True)
    time.sleep(2)
    w.stop.set()
    w.join()
    deadline = time.monotonic() + 120
    while not any("--to latest" in a for a in status(home, app)["actions"]):
        if time.monotonic() > deadline:
            raise SystemExit("the lost node was never reported")
        time.sleep(2)
    took = cli(home, "db", "restore", app, "--to", "latest", "--yes")
    subprocess.run(["docker", "start", "bench-node-1"], check=True, capture_output=True)
    present = set(map(int, psql(home, app, "select id from todos").split()[2:-2]))
    lost = [t for t, i, _ in w.acked if i not in present]
    oldest = f"; the oldest lost row was written {killed - min(lost):.0f} s before the kill" if lost else ""
    print(f"no HA, the only member's node lost: {len(lost)} of {len(w.acked)} acknowledged rows lost "
          f"(written over {WRITE_SECONDS} s at ~{len(w.acked) / WRITE_SECONDS:.0f}/s){oldest}; "
          f"restore --to latest onto the other node {took:.1f} s")


def size(home: Path, gib: float) -> None:
    app = "big"
    deploy_db_app(home, app)
    dbsize = fill(home, app, gib)
    backup = cli(home, "db", "backup", app, "--type", "full")
    restore = cli(home, "db", "restore", app, "--to", "latest", "--into", "bigcopy", "--yes")
    drill = cli(home, "db", "verify", app)
    print(f"database of {dbsize}: full backup {backup:.1f} s, restore into a new app "
          f"{restore:.1f} s, restore drill {drill:.1f} s")
    cli(home, "delete", "app", "bigcopy", "--delete-data", "--yes")


def archive_lag(home: Path) -> None:
    lags = []
    w = Writer("ha.localhost", "steady", pause=0.05)
    w.start()
    for _ in range(36):
        time.sleep(5)
        a = status(home, "ha").get("archive") or {}
        if a.get("archive_lag_seconds") is not None:
            lags.append(a["archive_lag_seconds"])
    w.stop.set()
    w.join()
    print(f"archive lag under ~{len(w.acked) / 180:.0f} writes/s, s: {summary(lags)}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kills", type=int, default=5)
    ap.add_argument("--gib", type=float, default=1.0)
    ap.add_argument("--skip-size", action="store_true")
    ap.add_argument("--parts", default="sync,failover,noha,size,lag",
                    help="comma-separated: sync, failover, noha, size, lag")
    a = ap.parse_args()
    parts = set(a.parts.split(","))
    home = new_home()
    try:
        t = init(home, 2)
        print(f"init {t:.0f} s", flush=True)
        print(f"deploy with an HA database: {deploy_db_app(home, 'ha'):.1f} s")
        print(f"deploy with a single copy:  {deploy_db_app(home, 'single', '--no-db-ha'):.1f} s", flush=True)
        wait_pair(home, "ha")
        for app in ("ha", "single"):
            cli(home, "db", "backup", app)
        if "sync" in parts:
            sync_cost(home)
        if "failover" in parts:
            failover(home, a.kills)
        if "noha" in parts:
            no_ha_loss(home)
        if "size" in parts and not a.skip_size:
            size(home, a.gib)
        if "lag" in parts:
            archive_lag(home)
    finally:
        cli(home, "destroy", "--delete-data", "--yes")


if __name__ == "__main__":
    main()
