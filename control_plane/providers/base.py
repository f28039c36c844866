from __future__ import annotations

from ..models import ClusterCreate


class Provider:
    name = ""
    ssh_user = "root"

    def extra(self, spec: ClusterCreate, images: dict[str, str]) -> dict[str, str]:
        """The module's provider-specific settings (Terraform variable `extra`)."""
        return {}

    def preflight(self, spec: ClusterCreate, existing: bool) -> None:
        """Raise Precondition when this machine or account cannot host the cluster."""
