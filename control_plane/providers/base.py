from __future__ import annotations

from typing import Callable

from ..models import ClusterCreate


class Provider:
    name = ""
    ssh_user = "root"
    # Credential variables read from the environment (the first group is what preflight asks for).
    credential_env: tuple[str, ...] = ()
    credential_env_all: tuple[str, ...] = ()

    # The control plane's own server (terraform/<name>/controlplane, playbooks/control_plane.yml).
    controlplane_api_port = 443
    controlplane_packages: tuple[str, ...] = ()
    controlplane_host_docker = False  # the Docker CLI talks to a mounted engine socket
    # The nodes' interface on their own network, where the edge's floating address (Terraform's
    # `floating_address`) lives; "" where the provider has none.
    vrrp_interface = ""

    def extra(self, spec: ClusterCreate, images: dict[str, str]) -> dict[str, str]:
        """The module's provider-specific settings (Terraform variable `extra`)."""
        return {}

    def preflight(self, spec: ClusterCreate, existing: bool) -> None:
        """Raise Precondition when this machine or account cannot host the cluster."""

    def control_plane_cidr(self) -> str | None:
        """The control plane's address as Terraform's `control_plane_cidr`, when it has one."""
        return None

    def controlplane_preflight(self, settings: dict) -> None:
        """Raise Precondition when the control plane's server cannot be created from here."""

    def controlplane_extra(self, settings: dict, log: Callable[[str], None]) -> dict[str, str]:
        """Terraform variable `extra` of the control-plane module (may prepare things first)."""
        return {}

    def controlplane_firewall(self, settings: dict) -> str:
        """iptables-restore rules the server applies to itself toward the nodes; empty where the
        cloud's own firewall does it (terraform/<cloud>/main.tf)."""
        return ""
