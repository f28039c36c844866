"""The swarm's state read as data: `docker inspect` JSON of services and tasks, never the CLI's
human text ("Running 5 seconds ago"). Runs through the one Docker wrapper (docker_cli.Docker)."""
from __future__ import annotations

import datetime as dt

from .docker_cli import Docker, task_inspect_argv


def parse_time(text: str | None) -> float | None:
    """Docker's RFC 3339 times (nanoseconds, Z) as epoch seconds."""
    if not text or text.startswith("0001-"):
        return None
    main, _, frac = text.rstrip("Z").partition(".")
    base = dt.datetime.fromisoformat(main).replace(tzinfo=dt.timezone.utc).timestamp()
    return base + (float("0." + frac[:9]) if frac else 0.0)


def update_state(service: dict, since: float) -> tuple[str, str]:
    """(state, message) of the service's update if it started at or after `since`, else ("", "")."""
    us = service.get("UpdateStatus") or {}
    started = parse_time(us.get("StartedAt"))
    if not us or started is None or started < since - 2:
        return "", ""
    return us.get("State", ""), us.get("Message", "")


def task_rows(tasks: list[dict]) -> list[dict]:
    """Task inspect JSON -> {id, state, desired, error, node_id, exit_code}."""
    return [{"id": t.get("ID"), "state": (t.get("Status") or {}).get("State", ""),
             "desired": t.get("DesiredState", ""), "error": (t.get("Status") or {}).get("Err", ""),
             "node_id": t.get("NodeID"),
             "exit_code": ((t.get("Status") or {}).get("ContainerStatus") or {}).get("ExitCode")}
            for t in tasks]


def running_tasks(docker: Docker, service: str) -> list[dict]:
    """The tasks swarm wants running, with their actual states."""
    ids = docker.out(["docker", "service", "ps", "-q", "--no-trunc", "--filter",
                      "desired-state=running", service], check=False, timeout=30).split()
    return task_rows(docker.inspect(task_inspect_argv(ids), timeout=30)) if ids else []
