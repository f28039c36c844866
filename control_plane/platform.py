"""The running platform as services see it: spec, nodes, and clients for the manager."""
from __future__ import annotations

import base64
import json
from functools import cached_property
from pathlib import Path

from . import names, secrets, tunnel
from .docker_cli import Docker, container_ls_argv, node_ls_argv
from .errors import CommandFailed, Precondition


class NotRunning(CommandFailed):
    """A service that should have a running task has none (its node is down, or it is starting)."""
from .metrics import Prometheus, parse_duration
from .models import ClusterCreate
from .records import ClusterOutputs
from .paths import cluster_dir
from .registry import Registry
from .store import Store
from .swarm_state import tasks
from .traefik import TraefikWriter

REGISTRY_USER = "sentinel"
ADMIN_USER = "admin"


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

    @property
    def manager(self) -> str:
        return self.outputs.manager_address

    @property
    def registry_host(self) -> str:
        return f"{self.outputs.manager_private_address}:5000"

    @cached_property
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
        return TraefikWriter(self.manager, (ADMIN_USER, secrets.get("admin_password")))

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
        manager = self.manager

        def push_via() -> str:
            """Where pushes go: the registry through an ssh forward to the manager."""
            local = f"127.0.0.1:{tunnel.local_port(manager, 5000)}"
            creds.write_text(json.dumps({"auths": {local: {"auth": token}}}))
            return local

        return Registry(self.registry_host, cert_dir, creds, push_via=push_via)

    def edge_url(self, domain: str, https: bool = False) -> str:
        spec = self.spec
        if https:
            return f"https://{domain}" + ("" if spec.https_port == 443 else f":{spec.https_port}")
        return f"http://{domain}" + ("" if spec.http_port == 80 else f":{spec.http_port}")
