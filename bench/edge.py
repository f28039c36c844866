"""The edge on every manager, on a throwaway 3-node platform (own ports, subnet, SENTINEL_HOME).

    .venv/bin/python bench/edge.py [--kills 3]

Each round kills (`docker kill`) the manager that holds the edge's floating address while one
client reads (GET) and one writes (POST) through that address; it prints the seconds until each
is answered again, the acknowledged rows missing afterwards, and how long after the node is
started again its Traefik has every route (`cluster inspect`: nothing behind). The node comes
back once the swarm has marked it down, as after a real crash and reboot.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cli, deploy_db_app, init, psql, sjson, summary, throwaway  # noqa: E402

APP, HOST = "ha", "ha.localhost"


class Client(threading.Thread):
    """GETs (or POSTs rows) through `base` as fast as answers come; records when each request
    that was answered well, and each that failed, was sent."""

    def __init__(self, base: str, write: bool):
        super().__init__(daemon=True)
        self.base, self.write = base, write
        self.ok: list[tuple[float, int]] = []
        self.failed: list[float] = []
        self.why: Counter = Counter()  # what the failures were (status, version, text)
        self.stop = threading.Event()

    def run(self) -> None:
        i = 0
        with httpx.Client(timeout=5, headers={"Host": HOST}) as c:
            while not self.stop.is_set():
                i += 1
                t = time.monotonic()
                try:
                    if self.write:
                        r = c.post(f"{self.base}/api/todos", json={"title": f"edge-{i}"})
                        good = r.status_code == 201
                        row = r.json()["id"] if good else 0
                    else:
                        r = c.get(f"{self.base}/api/todos")
                        good, row = r.status_code == 200, 0
                    if good:
                        self.ok.append((t, row))
                    else:
                        self.failed.append(t)
                        self.why[f"{r.status_code} v{r.headers.get('x-app-version')} {r.text[:60]}"] += 1
                except httpx.HTTPError as e:
                    self.failed.append(t)
                    self.why[type(e).__name__] += 1
                time.sleep(0.01)

    def back_after(self, t: float) -> float | None:
        """Seconds from `t` to the first good answer sent after the first failure after `t`."""
        first = min((f for f in self.failed if f > t), default=None)
        if first is None:
            return 0.0
        return next((s - t for s, _ in self.ok if s > first), None)

    def last_failure_after(self, t: float) -> float:
        return max((f - t for f in self.failed if f > t), default=0.0)


def holder(floating: str) -> str:
    """The node container whose interface holds the floating address."""
    for i in range(3):
        node = f"bench-node-{i}"
        out = subprocess.run(["docker", "exec", node, "ip", "-4", "-o", "addr", "show"],
                             capture_output=True, text=True).stdout
        if f" {floating}/" in out:
            return node
    raise SystemExit(f"no manager holds {floating}")


def node_state(home: Path, node: str) -> tuple[str, list[str]]:
    c = sjson(home, "cluster", "inspect")
    return next(n["state"] for n in c["nodes"] if n["name"] == node), c["edge"]["behind"]


def rounds(home: Path, kills: int) -> None:
    floating = sjson(home, "cluster", "inspect")["edge"]["floating_address"]
    base = f"http://{floating}"
    reads, writes, caught, lost, acked = [], [], [], 0, 0
    for k in range(kills):
        victim = holder(floating)
        readers = [Client(base, write=False), Client(base, write=True)]
        for c in readers:
            c.start()
        time.sleep(5)
        killed = time.monotonic()
        subprocess.run(["docker", "kill", victim], check=True, capture_output=True)
        deadline = killed + 120
        # until both are back and nothing has failed for 5 s (later bursts are counted too)
        while time.monotonic() < deadline and (
                time.monotonic() - killed < 8 or any(c.back_after(killed) is None for c in readers)
                or any(time.monotonic() - killed - c.last_failure_after(killed) < 5 for c in readers)):
            time.sleep(0.2)
        for c in readers:
            c.stop.set()
            c.join()
        r, w = (c.back_after(killed) for c in readers)
        ids = [i for _, i in readers[1].ok]
        missing = len(ids) - int(psql(home, APP, "select count(*) from todos where id in "
                                      f"({','.join(map(str, ids))})").split()[2])
        reads.append(r if r is not None else float("inf"))
        writes.append(w if w is not None else float("inf"))
        lost, acked = lost + missing, acked + len(ids)
        # back after a crash: once the swarm lists it down, then until its Traefik has every route
        other = next(f"bench-node-{i}" for i in range(3) if f"bench-node-{i}" != victim)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and subprocess.run(
                ["docker", "exec", other, "docker", "node", "inspect", victim, "--format",
                 "{{.Status.State}}"], capture_output=True, text=True).stdout.strip() != "down":
            time.sleep(1)
        cli(home, "canary", "traffic", APP, "--weight", str(10 + 10 * k))  # a change it misses
        started = time.monotonic()
        subprocess.run(["docker", "start", victim], check=True, capture_output=True)
        deadline = started + 300
        while node_state(home, victim) != ("ready", []):
            if time.monotonic() > deadline:
                raise SystemExit(f"{victim} did not come back with every route")
            time.sleep(2)
        caught.append(time.monotonic() - started)
        print(f"kill {k + 1} ({victim}): reads back after {reads[-1]:.2f} s, writes after "
              f"{writes[-1]:.2f} s; {len(ids)} rows acknowledged, {missing} missing; back with "
              f"every route {caught[-1]:.0f} s after it was started", flush=True)
        for c in readers:
            print(f"   {'writes' if c.write else 'reads'}: {len(c.failed)} failed, the last "
                  f"{c.last_failure_after(killed):.1f} s after the kill: {dict(c.why)}", flush=True)
    print(f"edge holder killed, reads back after, s:  {summary(reads)}")
    print(f"edge holder killed, writes back after, s: {summary(writes)}")
    print(f"acknowledged rows lost: {lost} of {acked} in {kills} kills")
    print(f"a node started again has every route after, s: {summary(caught)}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kills", type=int, default=3)
    a = ap.parse_args()
    with throwaway() as home:
        print(f"init, 3 nodes: {init(home, 3):.0f} s", flush=True)
        print(f"deploy with an HA database: {deploy_db_app(home, APP):.1f} s", flush=True)
        cli(home, "canary", "deploy", APP, "--image", "todo:2", "--weight", "5", "--yes")
        rounds(home, a.kills)


if __name__ == "__main__":
    main()
