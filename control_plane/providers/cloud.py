"""Cloud providers: their modules live in terraform/<name>/ (checked statically here)."""
from __future__ import annotations

import os

from ..errors import Precondition
from ..models import ClusterCreate
from .base import Provider


class CloudProvider(Provider):
    def preflight(self, spec: ClusterCreate, existing: bool) -> None:
        if not any(os.environ.get(v) for v in self.credential_env):
            raise Precondition(f"no {self.name} credentials found: set "
                               f"{' or '.join(self.credential_env)} and try again.")

    def control_plane_cidr(self) -> str | None:
        # Set by playbooks/control_plane.yml in the control plane's unit on its server.
        address = os.environ.get("SENTINEL_CONTROL_PLANE_ADDRESS")
        return f"{address}/32" if address else None

    def controlplane_preflight(self, settings: dict) -> None:
        self.preflight(ClusterCreate(provider=self.name), existing=False)
        if not settings.get("admin_cidr"):
            raise Precondition(f"--admin-cidr is required for {self.name}: the address (as "
                               "x.x.x.x/32) allowed to ssh to the control plane's server.")


class AWSProvider(CloudProvider):
    name = "aws"
    ssh_user = "admin"
    credential_env = ("AWS_ACCESS_KEY_ID", "AWS_PROFILE")
    credential_env_all = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                          "AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION")


class DigitalOceanProvider(CloudProvider):
    name = "digitalocean"
    credential_env = ("DIGITALOCEAN_TOKEN",)
    credential_env_all = ("DIGITALOCEAN_TOKEN", "DIGITALOCEAN_ACCESS_TOKEN")


class HetznerProvider(CloudProvider):
    name = "hetzner"
    credential_env = ("HCLOUD_TOKEN",)
    credential_env_all = ("HCLOUD_TOKEN",)
