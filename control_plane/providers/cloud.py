"""Cloud providers: their modules live in terraform/<name>/ (checked statically here)."""
from __future__ import annotations

import os

from ..errors import Precondition
from ..models import ClusterCreate
from .base import Provider


class CloudProvider(Provider):
    credential_env: tuple[str, ...] = ()

    def preflight(self, spec: ClusterCreate, existing: bool) -> None:
        if not any(os.environ.get(v) for v in self.credential_env):
            raise Precondition(f"no {self.name} credentials found: set "
                               f"{' or '.join(self.credential_env)} and try again.")


class AWSProvider(CloudProvider):
    name = "aws"
    ssh_user = "admin"
    credential_env = ("AWS_ACCESS_KEY_ID", "AWS_PROFILE")


class DigitalOceanProvider(CloudProvider):
    name = "digitalocean"
    credential_env = ("DIGITALOCEAN_TOKEN",)


class HetznerProvider(CloudProvider):
    name = "hetzner"
    credential_env = ("HCLOUD_TOKEN",)
