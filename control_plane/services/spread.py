"""An app's tasks kept on more than one node (docs/operations.md, "What survives what").

When a node dies the swarm starts its tasks elsewhere, and when the node comes back it moves none
of them back: after a few losses every task of an app can sit on one node, and that node's death
then leaves the app with nothing to answer until the swarm has started them all again (about a
minute). So each healing round looks at every app's replicated services, and one whose tasks run
on fewer nodes than it could (at most its replicas, at most the nodes that take app tasks and are
ready) is spread out the way the swarm itself balances: scaled up by the nodes it lacks (the
scheduler puts each new task on a node with the fewest of the service's tasks), then back down
(swarm removes the tasks on the nodes holding the most copies first). No task is restarted and
the service never has fewer tasks than before; a forced rolling restart was tried first and,
start-first, can put every new task on the same node again (the old tasks still count while
they are replaced). An event of the cluster says so.

Left alone: a service pinned to nodes (database members, the proxy capped per node), one whose
update is under way or whose tasks are not all running (the swarm is still placing them), and an
app an operation is working on. A service the dance left crowded (resources keep it where it
is) is not tried again for RETRY_AFTER.
"""
from __future__ import annotations

from collections.abc import Callable

from .. import names, topology
from ..docker_cli import (node_ls_argv, running_task_ids_argv, service_ids_argv,
                          service_inspect_argv, service_replicas_argv, task_inspect_argv)
from ..errors import CommandFailed
from ..platform import Platform
from ..records import Record, SwarmService, Task
from ..swarm_state import swarm_service, task_rows, tasks

RETRY_AFTER = 600.0


class Crowded(Record):
    """A service whose running tasks sit on fewer nodes than they could."""
    service: SwarmService
    nodes: list[str]  # the nodes its tasks run on now
    could: int  # on how many nodes they could run


def crowded(services: list[SwarmService], tasks: list[Task], eligible: set[str]) -> list[Crowded]:
    """The services to spread (pure): replicated over 2 tasks or more, not pinned, settled (no
    update under way, as many running tasks as replicas), on fewer of the `eligible` nodes than
    min(replicas, eligible nodes)."""
    out = []
    for svc in services:
        if svc.pinned or svc.updating or svc.replicas < 2:
            continue
        running = [t for t in tasks if t.service_id == svc.id and t.state == "running"
                   and t.desired == "running"]
        could = min(svc.replicas, len(eligible))
        on = sorted({t.node for t in running})
        if len(running) == svc.replicas and set(on) <= eligible and len(on) < could:
            out.append(Crowded(service=svc, nodes=on, could=could))
    return out


def app_node_names(rows: list[dict], backup: str | None) -> set[str]:
    """The nodes that take app tasks now (pure): ready, active, not the backup node
    (`docker node ls` JSON rows)."""
    return {r["Hostname"] for r in rows if r.get("Status", "").lower() == "ready"
            and r.get("Availability", "").lower() == "active" and r["Hostname"] != backup}


def scaled_out(c: Crowded) -> int:
    """The replicas that give each node the service lacks one new task (pure)."""
    return c.service.replicas + c.could - len(c.nodes)


class Spreader:
    def __init__(self, platform: Platform, busy: Callable[[str], object]):
        self.p = platform
        self.busy = busy  # operation target -> truthy while an operation works on it
        self._stuck_until: dict[str, float] = {}

    def round(self, now: float) -> list[Crowded]:
        """Spread the crowded services of apps nobody is working on; those spread."""
        docker = self.p.docker
        ids = docker.out(service_ids_argv("sentinel.app"), check=False, timeout=30).split()
        if not ids:
            return []
        services = [s for s in map(swarm_service, docker.inspect(service_inspect_argv(ids),
                                                                   timeout=30)) if s]
        rows = docker.json_lines(node_ls_argv(), timeout=20)
        backup = topology.backup_node(self.p.outputs)
        eligible = app_node_names(rows, backup.name if backup else None)
        task_ids = docker.out(running_task_ids_argv(s.id for s in services), check=False,
                              timeout=30).split()
        if len(eligible) < 2 or not task_ids:
            return []
        tasks = task_rows(docker.inspect(task_inspect_argv(task_ids), timeout=30),
                          {r["ID"]: r["Hostname"] for r in rows})
        spread = []
        for c in crowded(services, tasks, eligible):
            svc = c.service
            if now < self._stuck_until.get(svc.id, 0) or self.busy(names.app_target(svc.app)):
                continue
            where = " and ".join(c.nodes)
            failed = None
            try:
                docker.run(service_replicas_argv(svc.name, scaled_out(c)), timeout=180)
            except CommandFailed as e:
                failed = e.message
            finally:
                # Back to its replicas (swarm removes the crowded copies), unless an operation
                # that started meanwhile set them to what it wants.
                if replicas_of(docker, svc.id) == scaled_out(c):
                    docker.run(service_replicas_argv(svc.name, svc.replicas), timeout=180,
                               check=False)
            if failed:
                self._stuck_until[svc.id] = now + RETRY_AFTER
                self._event(svc.app, f"the {svc.role} tasks run on {where} only; spreading them "
                                     f"failed: {failed}")
                continue
            on = sorted({t.node for t in tasks_of(docker, svc.name)})
            if len(on) < c.could:
                self._stuck_until[svc.id] = now + RETRY_AFTER
                self._event(svc.app, f"the {svc.replicas} {svc.role} tasks run on {where} only "
                                     f"and could not be spread (now on {' and '.join(on)}): "
                                     "the other nodes may lack the CPU or memory they reserve")
                continue
            self._event(svc.app, f"the {svc.replicas} {svc.role} tasks ran on {where} only: "
                                 f"spread to {' and '.join(on)}, so losing a node leaves the app "
                                 "answering")
            spread.append(c)
        return spread

    def _event(self, app: str, message: str) -> None:
        self.p.store.add_event(names.CLUSTER_TARGET, "tasks-spread", f"{app}: {message}",
                               "sentinel")


def replicas_of(docker, service_id: str) -> int | None:
    """The replicas a service is set to now (None when it is gone)."""
    found = [s for s in map(swarm_service, docker.inspect(service_inspect_argv([service_id]),
                                                            timeout=30)) if s]
    return found[0].replicas if found else None


def tasks_of(docker, service: str) -> list[Task]:
    """The running tasks of one service, with their nodes' names."""
    return [t for t in tasks(docker, service, running_only=True, with_nodes=True)
            if t.state == "running"]
