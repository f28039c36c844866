"""Typed API models: what the CLI sends and what the control plane answers."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClusterCreate(Strict):
    name: str = "sentinel"
    provider: Literal["local", "aws", "digitalocean", "hetzner"] = "local"
    nodes: int = 2
    http_port: int = 80
    https_port: int = 443
    domain: str = "localhost"
    email: str | None = None
    acme_server: str | None = None
    acme_ca: str | None = Field(default=None, description="PEM bundle Traefik trusts for the ACME "
                                "server's HTTPS (test CAs such as pebble)")
    region: str | None = None
    size: str | None = None
    image_set: Literal["local", "upstream"] = "local"
    endpoint_mode: Literal["dnsrr", "vip"] = "dnsrr"
    publish_mode: Literal["host", "ingress"] = "host"
    subnet: str = "172.29.0.0/24"
    scrape_interval: str = "2s"


class ClusterScale(Strict):
    nodes: int


class AppDeploy(Strict):
    name: str
    image: str
    port: int = 8000
    domain: str | None = None
    db: Literal["postgres"] | None = None
    db_schema: str | None = Field(default=None, description="SQL applied once before the first task starts")
    db_ha: bool | None = Field(default=None, description="a standby on another node (default: when "
                               "the cluster has 2 nodes or more)")
    env: list[str] = []
    replicas: int = 1
    health_path: str | None = "/healthz"


class AppScale(Strict):
    replicas: int


class CanaryDeploy(Strict):
    image: str
    weight: int = 10
    env: list[str] = []
    replicas: int = 1
    sticky: bool = True
    baseline: bool = False
    steps: list[int] | None = None
    interval: float | None = None
    analysis: dict | None = None
    auto_promote: bool = False


class CanaryTraffic(Strict):
    weight: int


class OperationPublic(BaseModel):
    id: str
    target: str
    kind: str
    status: str
    actor: str
    started_at: float
    finished_at: float | None = None
    error: str | None = None
    result: object = None
    events: list[dict] = []


class DbBackup(Strict):
    type: Literal["full", "diff", "incr"] = "full"


class DbRestore(Strict):
    to: str = Field(description="ISO 8601 time (UTC unless it says), `latest`, or a restore point name")
    into: str | None = Field(default=None, description="a new app to restore into; production untouched")


class DbSwitchover(Strict):
    to: str | None = Field(default=None, description="the member to promote (default: the sync standby)")


class DbSql(Strict):
    sql: str = Field(max_length=1_000_000)


class DbHa(Strict):
    enabled: bool
    node: str | None = Field(default=None, description="where the new standby goes (default: the "
                             "first ready node without a member)")
