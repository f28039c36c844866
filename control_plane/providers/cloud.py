"""Cloud providers: their modules live in terraform/<name>/ (checked statically here)."""
from __future__ import annotations

import os

from .. import executor
from ..errors import Precondition
from ..models import ClusterCreate
from .base import Provider


class CloudProvider(Provider):
    # Keys for the cluster's backup bucket (terraform/<name>/backups.tf), all required, and
    # where to get them. They are part of credential_env_all too, so a remote control plane
    # gets them with the rest.
    backup_env: tuple[str, ...] = ()
    backup_env_hint = ""

    def preflight(self, spec: ClusterCreate, existing: bool) -> None:
        if not any(os.environ.get(v) for v in self.credential_env):
            raise Precondition(f"no {self.name} credentials found: set "
                               f"{' or '.join(self.credential_env)} and try again.")
        missing = [v for v in self.backup_env if not os.environ.get(v)]
        if missing:
            raise Precondition(f"{' and '.join(missing)} not set: {self.backup_env_hint}")

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
    # The Spaces key is read by the Terraform provider itself (the Spaces API that creates
    # the backup bucket does not take the API token); it never enters `extra`.
    backup_env = ("SPACES_ACCESS_KEY_ID", "SPACES_SECRET_ACCESS_KEY")
    backup_env_hint = ("the cluster's backup bucket is created through the Spaces API, which "
                       "takes a Spaces access key: make one with full access in the control "
                       "panel (Spaces Object Storage, Access Keys) and set both variables.")
    credential_env_all = ("DIGITALOCEAN_TOKEN", "DIGITALOCEAN_ACCESS_TOKEN") + backup_env


class HetznerProvider(CloudProvider):
    name = "hetzner"
    credential_env = ("HCLOUD_TOKEN",)
    # Hetzner's Object Storage keys can only be made in the Cloud Console; the module gets
    # them (and an optional location) through `extra`.
    backup_env = ("HETZNER_S3_ACCESS_KEY", "HETZNER_S3_SECRET_KEY")
    backup_env_hint = ("the cluster's backups live in Hetzner Object Storage, whose S3 keys only "
                       "the Cloud Console makes (in the cluster's project: Security, S3 "
                       "credentials); set both variables.")
    credential_env_all = ("HCLOUD_TOKEN",) + backup_env + ("HETZNER_S3_LOCATION",)

    def extra(self, spec: ClusterCreate, images: dict[str, str]) -> dict[str, str]:
        return backup_extra(os.environ)


def backup_extra(environ) -> dict[str, str]:
    """terraform/hetzner's `extra` keys for the backup bucket, from the environment (empty
    values left out, so the module's validation names what is missing)."""
    keys = {"s3_access_key_id": "HETZNER_S3_ACCESS_KEY",
            "s3_secret_access_key": "HETZNER_S3_SECRET_KEY",
            "s3_location": "HETZNER_S3_LOCATION"}
    out = {k: environ[v] for k, v in keys.items() if environ.get(v)}
    executor.register_secret(out.get("s3_secret_access_key", ""))
    return out
