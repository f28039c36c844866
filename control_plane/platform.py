"""The running platform as services see it: spec, nodes, and clients for the manager.

From 3 nodes on there are 3 managers: the control plane talks to the first that answers (node 0
while it lives), so `deploy`, `canary traffic` and `db status` work while any one is away."""
from __future__ import annotations

import base64
import json
import threading
import time
from pathlib import Path

from . import names, secrets, ssh, topology, tunnel
from .docker_cli import Docker, container_ls_argv, node_ls_argv
from .errors import CommandFailed, Precondition


class NotRunning(CommandFailed):
    """A service that should have a running task has none (its node is down, or it is starting)."""
from .metrics import Prometheus, parse_duration
from .models import ClusterCreate
from .records import ClusterOutputs, Node
from .paths import cluster_dir
from .registry import Registry
from .store import Store
from .swarm_state import tasks
from .traefik import TraefikWriter

REGISTRY_USER = "sentinel"
ADMIN_USER = "admin"

# How long a node's answer (or silence) on ssh's port is believed: a dead manager costs one
# 1-s connect per ALIVE_FOR[False] seconds, not one per command.
ALIVE_FOR = {True: 5.0, False: 10.0}
_alive: dict[str, tuple[bool, float]] = {}
_alive_lock = threading.Lock()
_chosen: dict[str, str] = {}  # node 0's address -> the manager in use (see Platform.manager)


def answering(address: str, now: float | None = None) -> bool:
    """Whether the machine at `address` answers now (cached, ALIVE_FOR). One that stops
    answering loses its ssh master and forwards, which would hang until ssh's keep-alives gave up."""
    now = time.monotonic() if now is None else now
    with _alive_lock:
        known = _alive.get(address)
    if known and now - known[1] < ALIVE_FOR[known[0]]:
        return known[0]
    ok = ssh.answers(address)
    with _alive_lock:
        _alive[address] = (ok, now)
    if not ok and (known is None or known[0]):
        ssh.forget_master(address)
        tunnel.forget(address)
    return ok


class Platform:
    def __init__(self, store: Store):
        self.store = store

    @property
    def spec(self) -> ClusterCreate:
        raw = self.store.get(names.CLUSTER_KEY)
        if not raw:
            raise Precondition("no platform yet: run `sentinel init` first.")
        return ClusterCreate(**raw)

    @property
    def state(self) -> str | None:
        return self.store.get(names.CLUSTER_STATE_KEY)

    def require_ready(self) -> None:
        if self.state != "ready":
            raise Precondition("the platform is not ready: run `sentinel init` (again) first.")

    @property
    def dir(self) -> Path:
        return cluster_dir(self.spec.name)

    @property
    def outputs(self) -> ClusterOutputs:
        raw = self.store.get(names.TERRAFORM_OUTPUTS_KEY)
        if not raw:
            raise Precondition("the platform has no nodes yet: run `sentinel init`.")
        return ClusterOutputs.model_validate(raw)

    def manager_nodes(self) -> list[Node]:
        """The swarm managers in node order (node 0 first)."""
        managers = [n for n in self.store.nodes() if n.role == "manager"]
        return managers or [Node(name="", role="manager", address=self.outputs.manager_address)]

    def live_managers(self) -> list[Node]:
        """The managers whose machine answers now, node 0 first."""
        return [n for n in self.manager_nodes() if answering(n.address)]

    @property
    def manager(self) -> str:
        """The address of the manager the control plane talks to: the one it used last while
        that answers (a manager that comes back answers ssh before its engine has rejoined the
        swarm), else the first that answers (node 0 when all are away, so errors name it)."""
        nodes = self.manager_nodes()
        chosen = _chosen.get(nodes[0].address)
        if chosen in {n.address for n in nodes} and answering(chosen):
            return chosen
        live = [n for n in nodes if answering(n.address)]
        _chosen[nodes[0].address] = (live[0] if live else nodes[0]).address
        return _chosen[nodes[0].address]

    @property
    def registry_node(self) -> Node:
        """Where the cluster registry and Prometheus run: the backup node where there is one (so
        losing node 0 stops neither deploys nor the judge's metrics), else node 0. A platform
        made before this recorded nothing: its registry is on node 0."""
        outputs = self.outputs
        name = self.store.get(names.REGISTRY_NODE_KEY)
        nodes = topology.all_nodes(self.spec.name, outputs)
        return next((n for n in nodes if n.name == name), nodes[0])

    @property
    def registry_host(self) -> str:
        return f"{self.registry_node.inner_address}:5000"

    @property
    def docker(self) -> Docker:
        return Docker(self.manager)

    def node_states(self) -> dict[str, str]:
        """hostname -> ready | down | ... as the swarm sees it now (one `docker node ls`)."""
        rows = self.docker.json_lines(node_ls_argv(),
                                      check=False, timeout=20)
        return {r["Hostname"]: r.get("Status", "").lower() for r in rows}

    def stack_image(self, kind: str) -> str:
        """A platform image (postgres, haproxy, etcd, ...) as the nodes pull it from the cluster
        registry (recorded by `sentinel init`)."""
        images = self.store.get(names.STACK_IMAGES_KEY) or {}
        if kind not in images:
            raise Precondition(f"the platform has no {kind} image recorded: run `sentinel init`.")
        return images[kind]

    def node_address(self, name: str) -> str | None:
        return next((n.address for n in self.store.nodes() if n.name == name), None)

    def task_container(self, service: str) -> tuple[Docker, str, str]:
        """(Docker client of its node, container id, node name) of a running task of `service`."""
        for t in tasks(self.docker, service, running_only=True, with_nodes=True):
            if t.state != "running":
                continue
            address = self.node_address(t.node)
            if not address:
                continue
            d = Docker(address)
            found = d.json_lines(container_ls_argv(label=f"com.docker.swarm.service.name={service}"),
                                 check=False, timeout=20)
            if found:
                return d, found[0]["ID"], t.node
        raise NotRunning(f"{service} has no running task")

    def traefik(self) -> TraefikWriter:
        """Traefik on every manager that answers (services/edge.py brings the others up to date
        when they are back)."""
        managers = self.manager_nodes()
        live = [n.address for n in managers if answering(n.address)]
        for n in managers:
            if live and n.address not in live:
                self.edge_missed(n.address)  # away: whatever is written now, it misses
        return TraefikWriter(live or [managers[0].address], (ADMIN_USER, secrets.get("admin_password")),
                             on_missed=self.edge_missed,
                             behind=frozenset(self.store.get(names.EDGE_BEHIND_KEY) or []))

    def edge_missed(self, address: str) -> None:
        """A manager missed a route write: it gets every route file again when it is back."""
        missed = set(self.store.get(names.EDGE_BEHIND_KEY) or [])
        if address not in missed:
            self.store.put(names.EDGE_BEHIND_KEY, sorted(missed | {address}))

    def prometheus(self) -> Prometheus:
        manager = self.manager
        return Prometheus(lambda: tunnel.url(manager, 8082), (ADMIN_USER, secrets.get("admin_password")),
                          on_error=lambda: tunnel.forget(manager))

    @property
    def scrape_seconds(self) -> float:
        return parse_duration(self.spec.scrape_interval)

    def registry(self) -> Registry:
        tls = self.dir / "registry-tls"
        cert_dir = self.dir / "registry-trust"
        cert_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        (cert_dir / "ca.crt").write_bytes((tls / "ca.crt").read_bytes())
        creds = self.dir / "registry-auth.json"
        token = base64.b64encode(f"{REGISTRY_USER}:{secrets.get('registry_password')}".encode()).decode()
        creds.write_text(json.dumps({"auths": {self.registry_host: {"auth": token}}}))
        creds.chmod(0o600)
        node = self.registry_node.address

        def push_via() -> str:
            """Where pushes go: the registry through an ssh forward to its node."""
            local = f"127.0.0.1:{tunnel.local_port(node, 5000)}"
            creds.write_text(json.dumps({"auths": {local: {"auth": token}}}))
            return local

        return Registry(self.registry_host, cert_dir, creds, push_via=push_via)

    def edge_url(self, domain: str, https: bool = False) -> str:
        spec = self.spec
        if https:
            return f"https://{domain}" + ("" if spec.https_port == 443 else f":{spec.https_port}")
        return f"http://{domain}" + ("" if spec.http_port == 80 else f":{spec.http_port}")
