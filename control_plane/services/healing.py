"""Nodes that heal (docs/operations.md): a node the swarm has listed as down for a minute while
the machine has answered for half a minute (a node back inside the heartbeat window, a hung swarm agent, an engine that
stopped) gets its engine restarted, which brings it back; a node that cannot be reached is named once, with the
command that replaces it. A manager that missed route changes while away gets every route file
again (services/edge.py). Those are events of the cluster. An app whose tasks all ended up on one
node is spread again (services/spread.py), also an event of the cluster.

One loop per control plane, started with the API. It never touches a node while a cluster
operation (init, scale, destroy) runs, and restarts a node's engine at most once every
RETRY_AFTER seconds.
"""
from __future__ import annotations

from .. import names, ssh
from ..errors import CommandFailed
from ..jobs import Jobs
from ..loops import Loop
from ..platform import Platform
from .edge import Edge
from .spread import Spreader

EVERY = 20.0
# A node that comes back by itself (a restart, a short network cut) is listed ready again
# within seconds: only one down this long is helped.
DOWN_FOR = 60.0
RETRY_AFTER = 300.0
# A machine that has just come back (a node restarted) answers ssh while its engine is still
# starting: it is left this long to join by itself before its engine is restarted.
ANSWERING_FOR = 30.0


def engine_restart_argv() -> list[str]:
    """The node's engine restarted through its init system (Debian's service wraps systemd's)."""
    return ["service", "docker", "restart"]


def due(states: dict[str, str], down_since: dict[str, float], healed_at: dict[str, float],
        now: float) -> tuple[dict[str, float], list[str]]:
    """(when each down node was first seen down, the nodes to help now) (pure)."""
    since = {n: down_since.get(n, now) for n, s in states.items() if s == "down"}
    ready = [n for n, t in since.items() if now - t >= DOWN_FOR
             and now - healed_at.get(n, 0.0) >= RETRY_AFTER]
    return since, sorted(ready)


class NodeHealer(Loop):
    NAME, EVERY = "healing", EVERY

    def __init__(self, platform: Platform, jobs: Jobs):
        super().__init__()
        self.p = platform
        self.store = platform.store
        self.jobs = jobs
        self.edge = Edge(platform)
        self.spreader = Spreader(platform, lambda target: self.jobs.busy(target))
        self._down_since: dict[str, float] = {}
        self._healed_at: dict[str, float] = {}
        self._named: set[str] = set()
        self._answering_since: dict[str, float] = {}

    def round(self, now: float) -> list[str]:
        """The nodes whose engine this round restarted."""
        if self.p.state != "ready" or self.jobs.busy(names.CLUSTER_TARGET):
            self._down_since.clear()  # a cluster operation may take nodes down on purpose
            return []
        for address in self.edge.catch_up():
            node = next((n.name for n in self.store.nodes() if address in
                         (n.address, n.private_address)), f"the manager at {address}")
            self._event("edge-caught-up", f"{node} missed route changes while "
                        "it was away: it has every app's routes again")
        try:
            states = self.p.node_states()
        except CommandFailed:
            return []  # the manager does not answer: `cluster inspect` says so
        self._down_since, ready = due(states, self._down_since, self._healed_at, now)
        self._named &= set(self._down_since)  # a node back up is named again if it goes again
        self._answering_since = {n: t for n, t in self._answering_since.items()
                                 if n in self._down_since}
        healed = []
        for node in ready:
            address = self.p.node_address(node)
            if not address:
                continue
            if self._heal(node, address, now):
                healed.append(node)
        try:
            self.spreader.round(now)
        except CommandFailed:
            pass  # the manager stopped answering: the next round looks again
        return healed

    def _heal(self, node: str, address: str, now: float) -> bool:
        down = now - self._down_since[node]
        try:
            reached = ssh.run(address, "true", check=False, timeout=20,
                              what=f"reaching {node}").returncode == 0
        except CommandFailed:  # timed out
            reached = False
        if not reached:
            self._answering_since.pop(node, None)
            # The machine itself does not answer: nothing here can bring it back.
            if node not in self._named:
                self._named.add(node)
                self._event("node-down", f"{node} has been down for {down:.0f} s and cannot be "
                            "reached: if it is gone for good, replace it with `sentinel cluster "
                            "scale` (its database members move to the other nodes)")
            return False
        if now - self._answering_since.setdefault(node, now) < ANSWERING_FOR:
            return False  # it may be joining by itself
        # The machine answers, the swarm does not see it: its engine (hung, or stopped) is
        # restarted, which joins it again.
        self._healed_at[node] = now
        try:
            ssh.run(address, *engine_restart_argv(), timeout=120, what=f"restarting {node}'s engine")
        except CommandFailed as e:
            self._event("node-heal", f"{node} is listed down while it answers; restarting its "
                                     f"engine failed: {e.message}")
            return False
        self._event("node-heal", f"{node} was listed down for {down:.0f} s while it answered: "
                                 "its engine was restarted")
        return True

    def _event(self, kind: str, message: str) -> None:
        self.store.add_event(names.CLUSTER_TARGET, kind, message, "sentinel")
