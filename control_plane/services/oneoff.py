"""One-off tasks: a command run once as a swarm service with no restart, with the networks,
secrets, volumes and placement it needs; its output read back and its exit code reported.

Used by restores (a recovery next to a volume), restore drills, and the release phase and
`sentinel run` of app releases. The service is always removed afterwards.
"""
from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..docker_cli import (one_off_argv, service_logs_argv, service_rm_argv, task_ids_argv,
                          task_inspect_argv)
from ..errors import CommandFailed
from ..platform import Platform

FINAL = {"complete", "failed", "rejected", "shutdown", "orphaned", "remove"}


@dataclass
class OneOffResult:
    state: str            # complete | failed | rejected | timeout | ...
    exit_code: int | None
    output: str
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.state == "complete" and self.exit_code == 0


def run_one_off(p: Platform, name: str, image: str, command: list[str], *, timeout: float = 600,
                on_line: Callable[[str], None] | None = None, **service) -> OneOffResult:
    """Run `command` once; `service` takes one_off_argv's keyword arguments. Lines of output go
    to `on_line` as they come (polled each second)."""
    docker = p.docker
    docker.run(service_rm_argv([name]), check=False)  # a leftover of an interrupted run
    docker.run(one_off_argv(name, image, command, **service), what=f"starting {name}")
    seen = 0
    output: list[str] = []

    def read_new() -> None:
        nonlocal seen
        proc = docker.run(service_logs_argv(name, raw=True, timestamps=True), check=False, timeout=30)
        lines = merged_lines(proc.stdout or "", proc.stderr or "")
        for line in lines[seen:]:
            output.append(line)
            if on_line:
                on_line(line)
        seen = max(seen, len(lines))

    try:
        deadline = time.monotonic() + timeout
        status: dict = {}
        while True:
            ids = docker.out(task_ids_argv(name), check=False,
                             timeout=30).split()
            if ids:
                tasks = docker.inspect(task_inspect_argv(ids[:1]), timeout=30)
                status = (tasks[0].get("Status") if tasks else None) or {}
                if status.get("State") in FINAL:
                    break
            if time.monotonic() > deadline:
                read_new()
                return OneOffResult("timeout", None, "\n".join(output),
                                    f"did not finish within {int(timeout)} s")
            if on_line:
                read_new()
            time.sleep(1)
        # Logs can trail the task's end (they come from the task's node): read until nothing new
        # arrives for two reads in a row.
        ended = time.monotonic()
        quiet = 0
        for _ in range(30):
            before = seen
            read_new()
            quiet = quiet + 1 if seen == before else 0
            if quiet >= 2 and time.monotonic() - ended >= 3:
                break
            time.sleep(0.7)
        code = (status.get("ContainerStatus") or {}).get("ExitCode")
        return OneOffResult(status.get("State", "unknown"), code, "\n".join(output),
                            status.get("Err", "") or "")
    finally:
        docker.run(service_rm_argv([name]), check=False)


def telling_lines(output: str, tail: int = 3) -> list[str]:
    """The lines that say why something failed: errors first, else the last lines; each without
    its timestamp prefix and cut short."""
    lines = [re.sub(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[.,]\d+ (\w+ +)?(\[\d+\] +)?", "", l.strip()).strip()
             for l in output.splitlines() if l.strip()]
    for words in (("ERROR", "FATAL", "PANIC"), ("error:", "recover:")):
        bad = [l for l in lines if any(w in l for w in words)]
        if bad:
            return [l[:240] for l in bad[-tail:]]
    return [l[:240] for l in lines[-tail:]]


def merged_lines(out: str, err: str) -> list[str]:
    """`docker service logs` writes a task's stdout to its stdout and the task's stderr to its
    stderr: both, in the order the task wrote them (by their timestamps), timestamps removed."""
    stamped = []
    for text in (out, err):
        for line in text.splitlines():
            ts, _, rest = line.partition(" ")
            if ts[:2] == "20" and ts.endswith("Z"):
                stamped.append((ts, rest))
    return [rest for _, rest in sorted(stamped, key=lambda x: x[0])]


def require_ok(result: OneOffResult, what: str, tail: int = 6) -> OneOffResult:
    if not result.ok:
        last = telling_lines(result.output, tail)
        why = result.error or (f"exit code {result.exit_code}" if result.exit_code is not None
                               else result.state)
        raise CommandFailed(f"{what} failed ({why})" + (": " + " | ".join(last) if last else ""))
    return result
