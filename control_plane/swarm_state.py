"""The swarm's state read as data: `docker inspect` JSON of services and tasks, never the CLI's
human text ("Running 5 seconds ago"). Runs through the one Docker wrapper (docker_cli.Docker)."""
from __future__ import annotations

import datetime as dt

from .docker_cli import Docker, node_ls_argv, task_ids_argv, task_inspect_argv
from .records import NodeStatus, SwarmService, Task


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


# Task states before it is gone for good (swarm's TaskState values).
ACTIVE = {"new", "pending", "assigned", "accepted", "ready", "preparing", "starting", "running"}
# A task that ended badly: it crashed, swarm found it unhealthy, or no node would take it.
FAILED = {"failed", "rejected"}


def task_rows(tasks: list[dict], nodes: dict[str, str] | None = None) -> list[Task]:
    """Task inspect JSON -> Tasks (`nodes`: node ID -> hostname, to name each task's node)."""
    out = []
    for t in tasks:
        st = t.get("Status") or {}
        out.append(Task(id=t.get("ID", ""), slot=t.get("Slot"), state=st.get("State", ""),
                        desired=t.get("DesiredState", ""), error=st.get("Err", ""),
                        node_id=t.get("NodeID"), node=(nodes or {}).get(t.get("NodeID"), ""),
                        since=parse_time(st.get("Timestamp")),
                        exit_code=(st.get("ContainerStatus") or {}).get("ExitCode"),
                        service_id=t.get("ServiceID", "")))
    return out


# UpdateStatus states of an update still moving tasks (swarm's UpdateState values).
UPDATING = {"updating", "paused", "rollback_started", "rollback_paused"}


def swarm_service(d: dict) -> SwarmService | None:
    """`docker service inspect` JSON of one service -> SwarmService; None for a global service."""
    spec = d.get("Spec") or {}
    replicated = (spec.get("Mode") or {}).get("Replicated")
    if replicated is None:
        return None
    labels = spec.get("Labels") or {}
    placement = (spec.get("TaskTemplate") or {}).get("Placement") or {}
    named = ("node.hostname==", "node.id==")
    pinned = bool(placement.get("MaxReplicas")) or any(
        c.replace(" ", "").startswith(named) for c in placement.get("Constraints") or [])
    return SwarmService(id=d.get("ID", ""), name=spec.get("Name", ""),
                        app=labels.get("sentinel.app", ""), role=labels.get("sentinel.role", ""),
                        replicas=replicated.get("Replicas", 0), pinned=pinned,
                        updating=(d.get("UpdateStatus") or {}).get("State", "") in UPDATING)


def swarm_node(d: dict) -> NodeStatus:
    """`docker node inspect` JSON of one node -> NodeStatus (role: the swarm's)."""
    res = (d.get("Description") or {}).get("Resources") or {}
    status = d.get("Status") or {}
    spec = d.get("Spec") or {}
    return NodeStatus(name=d["Description"]["Hostname"], role=spec.get("Role", ""),
                      state=status.get("State", "unknown"), address=status.get("Addr", ""),
                      availability=spec.get("Availability", ""), cpus=res.get("NanoCPUs", 0) / 1e9,
                      memory_bytes=res.get("MemoryBytes", 0),
                      leader=bool((d.get("ManagerStatus") or {}).get("Leader")))


def node_names(docker: Docker) -> dict[str, str]:
    """Node ID -> hostname."""
    rows = docker.json_lines(node_ls_argv(), check=False,
                             timeout=20)
    return {r["ID"]: r["Hostname"] for r in rows}


def engine_version(text: str) -> tuple[int, int] | None:
    """"26.1.5+dfsg1" -> (26, 1); None when it is not a version."""
    major, _, rest = text.partition(".")
    minor = rest.split(".")[0].split("+")[0].split("-")[0]
    return (int(major), int(minor)) if major.isdigit() and minor.isdigit() else None


def oldest_engine(docker: Docker) -> tuple[int, int] | None:
    """The oldest Docker Engine among the swarm's nodes (a task may land on any of them);
    None when a node's cannot be told. A failed `docker node ls` raises: a guess would flip the
    apps' health checks between two stack files, an update of every task each time."""
    rows = docker.json_lines(node_ls_argv(), timeout=20)
    versions = [engine_version(r.get("EngineVersion", "")) for r in rows]
    return None if not versions or None in versions else min(versions)


def tasks(docker: Docker, service: str, *, running_only: bool = False,
          with_nodes: bool = False) -> list[Task]:
    """A service's tasks (those swarm wants running, or all it still lists), with their actual
    states; [] when the service does not exist."""
    ids = docker.out(task_ids_argv(service, running_only=running_only), check=False,
                     timeout=30).split()
    if not ids:
        return []
    return task_rows(docker.inspect(task_inspect_argv(ids), timeout=30),
                     node_names(docker) if with_nodes else None)


def running_tasks(docker: Docker, service: str) -> list[Task]:
    return tasks(docker, service, running_only=True)
