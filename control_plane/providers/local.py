"""Local provider: nodes are Docker-in-Docker containers on this host (terraform/local)."""
from __future__ import annotations

import socket
from typing import Callable

from .. import firewall, images
from ..errors import Precondition
from ..models import ClusterCreate
from .base import Provider

CONTROLPLANE_IMAGE = "controlplane-node"  # images/controlplane-node: systemd + sshd


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def controlplane_image(log: Callable[[str], None] = lambda m: None) -> str:
    """Tag of the control plane's server image, built from the local base when missing."""
    specs = images.default_specs()
    spec = images.ImageSpec(CONTROLPLANE_IMAGE, images.IMAGES / CONTROLPLANE_IMAGE)
    selected = {"base": specs["base"], CONTROLPLANE_IMAGE: spec}
    try:
        images.ensure_docker()
        hashes = images.image_hashes(selected)
        base_tag = images.image_tag(specs["base"], hashes["base"])
        tag = images.image_tag(spec, hashes[CONTROLPLANE_IMAGE])
        if not images.is_built(base_tag, hashes["base"]):
            images.build_all(names=["base"], log=log)
        if not images.is_built(tag, hashes[CONTROLPLANE_IMAGE]):
            log(f"building {CONTROLPLANE_IMAGE} as {tag}")
            images._build_image(spec, tag, hashes[CONTROLPLANE_IMAGE], base_tag)
    except (images.ImageError, KeyError) as e:
        raise Precondition(f"building the control plane's server image failed: {e}")
    return tag


class LocalProvider(Provider):
    name = "local"
    # The server is a container on this host: its HTTPS port 443 is published on
    # 127.0.0.1:<api_port>, and the host's Docker engine (the "cloud API") is mounted.
    # iptables: the server filters its own traffic to the nodes as a cloud firewall would.
    controlplane_packages = ("docker.io", "iptables")
    controlplane_host_docker = True
    vrrp_interface = "eth0"  # each node container's one network (terraform/local/main.tf)

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

    def controlplane_preflight(self, settings: dict) -> None:
        if settings.get("existing"):
            return
        port = int(settings["api_port"])
        if not port_free(port):
            raise Precondition(f"port {port} on this machine is already in use: stop what "
                               "listens there or choose another with --server-port.")

    def controlplane_extra(self, settings: dict, log: Callable[[str], None]) -> dict[str, str]:
        return {"image": controlplane_image(log), "subnet": settings["subnet"],
                "api_port": str(settings["api_port"])}

    def controlplane_firewall(self, settings: dict) -> str:
        # The server shares the nodes' network, where nothing filters: it imposes on itself
        # what the clouds' firewalls impose, so the local platform proves the same path works.
        return firewall.server_rules(settings["subnet"])
