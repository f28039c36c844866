"""Where a platform's cores go at rest: N demo apps (single-copy databases, one task each) on
2 nodes, nothing asked of them.

    .venv/bin/python bench/idle.py [--apps 10] [--seconds 30]

Prints the cores busy at rest (from /proc/stat) and the processes that use them (this machine
sees every node's processes: the nodes are containers), then the same with Traefik polling the
swarm every 10 s instead of 2 s (`--providers.swarm.refreshSeconds`: each poll lists every
service, task and network through the engine), then with the apps' container health checks
switched off as well (`docker service update --no-healthcheck`; each probe is a container exec),
so all are measured side by side on one platform. Both are changed only on this throwaway
platform, which is destroyed at the end.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cli, init, new_home  # noqa: E402
from scale import busy_cores, deploy  # noqa: E402


def cpu_ticks() -> dict[str, tuple[str, int]]:
    """pid -> (command name, user + system ticks so far)."""
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        out[pid] = (name, int(fields[11]) + int(fields[12]))
    return out


def at_rest(seconds: float) -> tuple[float, list[tuple[str, float]]]:
    """Cores busy over `seconds`, and the cores of the busiest command names among the processes
    alive at both ends (short-lived ones, such as a probe's runc and curl, are only in the total)."""
    before = cpu_ticks()
    busy = busy_cores(seconds)
    after = cpu_ticks()
    by_name: collections.Counter = collections.Counter()
    for pid, (name, ticks) in after.items():
        by_name[name] += ticks - before.get(pid, (name, 0))[1]
    hz = os.sysconf("SC_CLK_TCK")
    return busy, [(n, t / hz / seconds) for n, t in by_name.most_common(8)]


def show(title: str, busy: float, top: list[tuple[str, float]]) -> None:
    print(f"{title}: {busy:.2f} cores busy; " + ", ".join(f"{n} {c:.3f}" for n, c in top), flush=True)


def traefik_refresh(manager: str, seconds: int) -> None:
    """Set how often Traefik polls the swarm (its other arguments unchanged)."""
    argv = ["docker", "exec", manager, "docker", "service", "inspect", "sentinel_traefik", "--format",
            "{{json .Spec.TaskTemplate.ContainerSpec.Args}}"]
    args = json.loads(subprocess.run(argv, check=True, capture_output=True, text=True).stdout)
    args = [a for a in args if not a.startswith("--providers.swarm.refreshSeconds=")]
    args.append(f"--providers.swarm.refreshSeconds={seconds}")
    subprocess.run(["docker", "exec", manager, "docker", "service", "update", "--detach",
                    "--args", " ".join(args), "sentinel_traefik"], check=True, capture_output=True)


def probe_interval(manager: str, service: str) -> float:
    """Seconds between two container health probes of a healthy task of `service`."""
    argv = ["docker", "exec", manager, "docker", "service", "inspect", service, "--format",
            "{{json .Spec.TaskTemplate.ContainerSpec.Healthcheck.Interval}}"]
    return int(subprocess.run(argv, check=True, capture_output=True, text=True).stdout) / 1e9


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--apps", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=30)
    args = ap.parse_args()
    home = new_home()
    try:
        init(home, 2)
        for i in range(1, args.apps + 1):
            deploy(home, f"app-{i}")  # as bench/scale.py: a single-copy database, one task
        time.sleep(30)  # let the last deploy's after-work settle
        with_probes = at_rest(args.seconds)
        show(f"{args.apps} apps at rest, health checks on", *with_probes)
        traefik_refresh("bench-node-0", 10)
        time.sleep(30)  # Traefik restarted (stop-first) and found every service again
        slow_poll = at_rest(args.seconds)
        show(f"{args.apps} apps at rest, Traefik polling the swarm every 10 s", *slow_poll)
        print(f"Traefik's swarm polling every 2 s instead of 10 s: {with_probes[0] - slow_poll[0]:.2f} cores",
              flush=True)
        interval = probe_interval("bench-node-0", "app-1_web")
        for i in range(1, args.apps + 1):
            subprocess.run(["docker", "exec", "bench-node-0", "docker", "service", "update", "--detach",
                            "--no-healthcheck", f"app-{i}_web"], check=True, capture_output=True)
        time.sleep(60)  # the tasks restart without the check
        without = at_rest(args.seconds)
        show(f"{args.apps} apps at rest, health checks off", *without)
        cost = (slow_poll[0] - without[0]) / args.apps
        print(f"the health checks: {slow_poll[0] - without[0]:.2f} cores for {args.apps} apps "
              f"({cost * 1000:.0f} millicores per app, a probe every {interval:g} s at rest: "
              f"~{cost * interval * 1000:.0f} ms of CPU each)")
    finally:
        cli(home, "destroy", "--delete-data", "--yes")


if __name__ == "__main__":
    main()
