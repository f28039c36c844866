"""Local provider: nodes are Docker-in-Docker containers on this host (terraform/local)."""
from __future__ import annotations

import socket

from ..errors import Precondition
from ..models import ClusterCreate
from .base import Provider


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


class LocalProvider(Provider):
    name = "local"

    def extra(self, spec: ClusterCreate, images: dict[str, str]) -> dict[str, str]:
        return {"node_image": images["node"], "subnet": spec.subnet,
                "http_port": str(spec.http_port), "https_port": str(spec.https_port)}

    def preflight(self, spec: ClusterCreate, existing: bool) -> None:
        if existing:  # our own manager holds the ports on a re-run
            return
        for port, flag in ((spec.http_port, "--http-port"), (spec.https_port, "--https-port")):
            if not port_free(port):
                raise Precondition(f"port {port} on this machine is already in use: stop what "
                                   f"listens there or choose another with {flag}.")
