"""Domain records passed between services as typed values (not dicts); each says how the API
shows it (`public`). The store reads and writes App and Canary (with the Database, Members and
Plan inside them) as these models; stored JSON keeps the same keys, so a store written before
them reads back unchanged."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field

from .pgbackrest import Target
from . import names


class Record(BaseModel):
    # Unknown keys of an older store are dropped; assigning a field that does not exist raises.
    model_config = ConfigDict(extra="ignore")

    def changed(self, **fields: Any) -> Self:
        """A copy with `fields` replaced (the record itself is left as it was)."""
        return self.model_copy(update=fields, deep=True)


class Node(Record):
    """A machine of the cluster: an app node (swarm role manager|worker) or the backup node."""
    name: str
    role: str  # manager | worker | backup
    address: str
    private_address: str | None = None  # on the nodes' own network (Terraform's output)
    state: str = "unknown"  # joining | ready | down | unreachable ... as the swarm says

    @property
    def inner_address(self) -> str:
        return self.private_address or self.address


class NodeStatus(Node):
    """A node as the swarm reports it now (`docker node inspect`), for `cluster inspect`."""
    availability: str = ""
    cpus: float = 0.0
    memory_bytes: int = 0
    leader: bool = False


class Task(Record):
    """A swarm task as `docker inspect` reports it."""
    id: str
    slot: int | None = None
    state: str = ""  # swarm's TaskState: running, starting, failed, ...
    desired: str = ""
    error: str = ""
    node_id: str | None = None
    node: str = ""  # its node's hostname, when asked for
    since: float | None = None  # when it entered its state
    exit_code: int | None = None


class Member(Record):
    """One Postgres member of an app's database: its index (names.member) and node."""
    index: int
    node: str
    stopped: bool = False  # its service runs 0 replicas (a standby not yet started, a restore)

    @property
    def key(self) -> str:
        return names.member(self.index)


class Database(Record):
    user: str
    name: str
    secret: str  # the swarm secret holding the app role's password
    ha: bool = False
    members: list[Member] = Field(default_factory=list)

    def running(self) -> list[Member]:
        return [m for m in self.members if not m.stopped]

    def member(self, key: str) -> Member | None:
        return next((m for m in self.members if m.key == key), None)


class App(Record):
    name: str
    image: str | None = None  # None: a database restored --into, nothing deployed on it yet
    cluster_image: str | None = None
    port: int = 8000
    domain: str | None = None
    domains: list[str] = Field(default_factory=list)
    replicas: int = 1
    resources: dict | None = None  # validation.resources: {"cpu", "memory"}
    backups: dict | None = None  # a DbBackups's dump; None: the default schedule
    env: dict[str, str] = Field(default_factory=dict)
    health_path: str | None = None
    db: Database | None = None
    created_at: float = 0.0
    edge_slot: int | None = None  # None: on no edge network (a copy nothing is deployed on)
    last_release: dict | None = None
    policy: dict | None = None  # sentinel.yaml's release/canary/notify/hooks, in the file's form
    internal: bool = False  # a scratch copy of the platform's own (the release check)
    restored_from: dict | None = None  # a copy restored --into: {"app", "target"}

    def need_db(self) -> Database:
        """The database, for code that runs only where the app has one."""
        assert self.db is not None, f"app {self.name} has no database"
        return self.db


class Plan(Record):
    """A progressive canary's walk through its steps (services/plan.py decides, the driver saves)."""
    steps: list[int]
    step_index: int = 0
    interval: float | None = None
    intervals: list[float | None] | None = None
    pauses: list[Any] | None = None  # None, "approve" or seconds per step
    auto_promote: bool = False
    step_started: float = 0.0
    next_at: float = 0.0
    holds: int = 0
    data_holds: int = 0
    state: str = "running"
    gate_passed: int | None = None
    resume_at: float = 0.0
    poll_at: float = 0.0

    @property
    def weight(self) -> int:
        return self.steps[self.step_index]


class Canary(Record):
    app: str
    image: str
    cluster_image: str | None = None
    weight: int = 0
    env: dict[str, str] = Field(default_factory=dict)
    env_unset: list[str] = Field(default_factory=list)
    mirror: int = 0
    resources: dict | None = None
    replicas: int = 1
    sticky: bool = True
    baseline: bool = False
    started_at: float = 0.0
    state: str = "starting"  # releasing | starting | running
    analysis: dict | None = None
    post_promote_command: str | None = None
    release: dict | None = None  # the release phase's record (restore_point, ...)
    progressive: Plan | None = None

    @property
    def restore_point(self) -> str | None:
        """The release phase's restore point, once it recorded one."""
        return (self.release or {}).get("restore_point")

    def resources_or(self, production: dict | None) -> dict | None:
        """Its resources; a record from before canaries had their own runs with production's."""
        return self.resources if "resources" in self.model_fields_set else production


@dataclass(frozen=True)
class Window:
    """The span a database can be restored to: from the end of its first good backup to its
    last archived change (None when unknown)."""
    start: str | None
    end: str | None

    def public(self) -> dict:
        return {"from": self.start, "to": self.end}


@dataclass(frozen=True)
class RestorePlan:
    """What `sentinel db restore` would do, checked before anything starts, and what the restore
    then does: the same record, so the target the user saw is the target restored to."""
    app: str
    to: str  # as the user wrote it
    target: Target
    window: Window
    primary: str | None  # the running primary's member, if any
    into: str | None = None  # a new app, or None for in place
    discards: dict | None = None  # in place only: the span and writes thrown away

    @property
    def primary_running(self) -> bool:
        return self.primary is not None

    def public(self) -> dict:
        return {"app": self.app, "into": self.into, "to": self.to, "target": self.target.public(),
                "target_text": self.target.describe(), "window": self.window.public(),
                "primary_running": self.primary_running, "primary": self.primary,
                "discards": self.discards}
