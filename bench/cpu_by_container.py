"""Where this machine's CPU goes while something runs (the whole suite, a bench): CPU seconds per
container — the platforms' nodes and, inside them, every swarm task — read from the cgroup v1
`cpuacct` files every few seconds, and grouped by what the container is.

    .venv/bin/python bench/cpu_by_container.py --seconds 3600 [--every 15] > cpu.txt &

It stops by itself after --seconds (or on SIGTERM/SIGINT) and prints: the machine's total, the
share inside containers, then CPU seconds by kind (a Postgres member, an app's web task, Traefik…)
and by container. The nodes are Docker-in-Docker containers sharing the host's cgroup tree
(`--cgroupns host`), so their tasks' cgroups nest under the node's: a node's own figure here is
its engine, containerd and sshd, without its tasks.
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path("/sys/fs/cgroup/cpuacct")
ID = re.compile(r"^[0-9a-f]{64}$")


def usage_by_id() -> dict[str, int]:
    """Nanoseconds of CPU per container id, each container's own: a container whose cgroup nests
    inside another's (a node's tasks, where the node's engine nests them) is subtracted from it."""
    raw: dict[Path, int] = {}
    # os.walk, not Path.rglob: containers come and go while the tree is read, and a folder
    # gone in between is skipped instead of ending the run.
    for folder, _dirs, files in os.walk(ROOT, onerror=lambda e: None):
        here = Path(folder)
        if "cpuacct.usage" in files and ID.match(here.name):
            try:
                raw[here] = int((here / "cpuacct.usage").read_text())
            except (OSError, ValueError):
                continue
    own = {d: ns for d, ns in raw.items()}
    for d, ns in raw.items():
        for up in d.parents:  # the nearest enclosing container pays no more for this one
            if up in raw:
                own[up] -= ns
                break
    return {d.name: ns for d, ns in own.items()}


def ps_argv(docker: list[str]) -> list[str]:
    return [*docker, "ps", "-a", "--no-trunc", "--format",
            '{{.ID}} {{.Names}} {{.Label "com.docker.swarm.service.name"}}']


def names() -> dict[str, str]:
    """Container id → a readable name: `<node>/<swarm service>` inside nodes, else its own name."""
    out: dict[str, str] = {}
    host = subprocess.run(ps_argv(["docker"]), capture_output=True, text=True, timeout=60).stdout
    for line in host.splitlines():
        cid, name, *_ = line.split() + [""]
        out[cid] = name
        if "-node-" in name or name.endswith("-backup"):
            inner = subprocess.run(ps_argv(["docker", "exec", name, "docker"]), capture_output=True,
                                   text=True, timeout=60).stdout
            for ln in inner.splitlines():
                parts = ln.split()
                if len(parts) >= 2:
                    out[parts[0]] = f"{name}/{parts[2] if len(parts) > 2 else parts[1]}"
    return out


def kind(name: str) -> str:
    """What a container is, without the platform, node or app it belongs to."""
    if "/" not in name:
        return "node engine" if "-node-" in name or name.endswith("-backup") else name
    service = name.split("/", 1)[1]
    part = service.split("_", 1)[-1]
    if re.match(r"pg-\d+$", part):
        return "postgres member"
    if part.startswith("copy-") or "copysource" in part:
        return "copy / copy source"
    return re.sub(r"-[0-9a-f]{6,}$", "", part)


def cpu_total() -> int:
    return int((ROOT / "cpuacct.usage").read_text())


def report(wall: float, total: float, last: dict[str, int], label: dict[str, str]) -> str:
    inside = sum(last.values()) / 1e9
    by_kind: dict[str, float] = defaultdict(float)
    by_name: dict[str, float] = defaultdict(float)
    for cid, ns in last.items():
        name = label.get(cid, f"unnamed {cid[:12]}")
        by_kind[kind(name)] += ns / 1e9
        by_name[name] += ns / 1e9
    lines = [f"wall {wall:.0f} s; CPU {total:.0f} s ({total / max(wall, 1e-9):.2f} cores); "
             f"inside containers {inside:.0f} s ({inside / max(total, 1e-9):.0%})",
             "", "by kind (CPU s, share of the machine's CPU):"]
    lines += [f"  {v:8.0f}  {v / max(total, 1e-9):5.1%}  {k}"
              for k, v in sorted(by_kind.items(), key=lambda kv: -kv[1])[:30]]
    lines += ["", "by container (top 40):"]
    lines += [f"  {v:8.0f}  {k}" for k, v in sorted(by_name.items(), key=lambda kv: -kv[1])[:40]]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=3600)
    ap.add_argument("--every", type=float, default=15)
    ap.add_argument("--out", help="also rewrite this file with the figures so far after each round")
    args = ap.parse_args()
    stop = {"now": False}
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.update(now=True))
    first_total, start = cpu_total(), time.monotonic()
    base = usage_by_id()  # what ran before we started is not counted
    last: dict[str, int] = {}
    label: dict[str, str] = {}
    while not stop["now"] and time.monotonic() - start < args.seconds:
        try:
            label.update(names())
        except (subprocess.SubprocessError, OSError):
            pass
        try:
            for cid, ns in usage_by_id().items():
                last[cid] = ns - base.get(cid, 0) if cid in base else ns
        except OSError:
            pass
        if args.out:
            Path(args.out).write_text(report(time.monotonic() - start, (cpu_total() - first_total) / 1e9,
                                             last, label) + "\n")
        end = time.monotonic() + args.every
        while not stop["now"] and time.monotonic() < end:
            time.sleep(0.5)
    print(report(time.monotonic() - start, (cpu_total() - first_total) / 1e9, last, label))

if __name__ == "__main__":
    main()
