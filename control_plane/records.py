"""Domain records passed between services as typed values (not dicts); each says how the API
shows it (`public`). The store reads and writes App and Canary (with the Database, Members and
Plan inside them) as these models; stored JSON keeps the same keys, so a store written before
them reads back unchanged."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator

from . import names


class Record(BaseModel):
    # Unknown keys of an older store are dropped; assigning a field that does not exist raises.
    model_config = ConfigDict(extra="ignore")

    def changed(self, **fields: Any) -> Self:
        """A copy with `fields` replaced (the record itself is left as it was)."""
        return self.model_copy(update=fields, deep=True)


class ClusterOutputs(Record):
    """What a cluster module's Terraform gives back (the contract's outputs, docs/providers.md):
    every module outputs the fields without a default."""
    manager_address: str
    manager_private_address: str
    worker_addresses: list[str]
    worker_private_addresses: list[str]
    ssh_user: str
    edge_addresses: list[str] = Field(default_factory=list)
    floating_address: str = ""  # the edge's VRRP address on the nodes' network ("" for none)
    backup_repository: dict | None = None  # {"type": "node", name, address} | {"type": "s3", ...}


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
    service_id: str = ""


class SwarmService(Record):
    """An app's replicated service as `docker service inspect` reports it (what spreading its
    tasks over the nodes needs to know)."""
    id: str
    name: str
    app: str
    role: str  # the sentinel.role label: production, canary, baseline, production-worker ...
    replicas: int
    pinned: bool  # placed on named nodes or capped per node: the swarm already decides where
    updating: bool  # an update (or its rollback) is under way


class EtcdMember(Record):
    """One member of the platform's etcd (the database members' consensus store)."""
    key: str  # etcd-0 .. etcd-2: its service and volume
    node: str
    initial_cluster: str  # etcd's --initial-cluster when it started
    initial_state: str  # new | existing


class Build(Record):
    """One build from source (`sentinel builds`)."""
    id: str  # its operation
    app: str
    source: str  # the source's content hash (or git sha)
    kind: str = ""  # dockerfile | python | node | go | static
    builder: str = ""  # buildkit | classic
    image: str | None = None
    started_at: float = 0.0
    seconds: float = 0.0
    size_bytes: int | None = None
    result: str = "running"  # built | reused | failed
    error: str | None = None


class Member(Record):
    """One Postgres member of an app's database: its index (names.member) and node."""
    index: int
    node: str
    stopped: bool = False  # its service runs 0 replicas (a standby not yet started, a restore)
    # A copy taken from a copy source: its data is this folder of its node (bind-mounted), not
    # a volume, so the copy shares the source's blocks until it writes them.
    path: str | None = None

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


class Process(Record):
    """A process type of the app besides `web` (the Procfile's `worker`, …): its own swarm
    service on the app's network, running the app's image with this command, without traffic."""
    command: str
    replicas: int = 1
    resources: dict | None = None  # validation.resources; None: the app's (web's)


class ProcessSpec(Record):
    """A process type as a new version asks for it: its command, and replicas and resources
    where the version says them (None: what runs keeps its own, a new type gets 1 and web's)."""
    command: str
    replicas: int | None = None
    resources: dict | None = None


class Preview(Record):
    """What makes an app a preview of another (`sentinel preview`, docs/previews.md): one
    version, its own copy of the parent's data (or an empty database), never backed up, gone
    when its time is up."""
    parent: str
    name: str                       # the preview's own name (pr-42): the app is <parent>-<name>
    data: str = "copy"              # copy | empty | seed | none (the parent has no database)
    copied_at: float | None = None  # when the data was copied (refresh copies it again)
    data_point: str | None = None   # the parent's point in time the copy holds
    masked: str | None = None       # the masking script's name, once it ran on the copy
    mask_sql: str | None = None     # kept for `refresh`, which copies and masks again
    seed_sql: str | None = None     # data "seed": the schema and rows of its fresh database
    expires_at: float | None = None
    ttl: float | None = None        # seconds; an update or refresh starts it again
    inherit_env: bool = False       # production's variables too (the user asked for them)
    env: dict[str, str] = Field(default_factory=dict)  # the preview's own, over those


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
    restored_from: dict | None = None  # a copy: {"app", "target", "how": repository | copy source}
    processes: dict[str, Process] = Field(default_factory=dict)  # besides web, by name
    preview: Preview | None = None  # set: this app is a preview of another

    @property
    def backed_up(self) -> bool:
        """Whether its database has backups: not a scratch copy, not a preview (a copy made to
        be thrown away, whose data is production's, which has its own)."""
        return not self.internal and self.preview is None

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
    # Since when the driver cannot judge (Prometheus unreachable…), and why: no step is taken
    # meanwhile, and past a limit the canary is rolled back (services/progressive.py).
    blind_since: float | None = None
    blind_error: str | None = None

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
    # The new version's process types besides web; None: production's.
    processes: dict[str, ProcessSpec] | None = None
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

    @field_validator("processes", mode="before")
    @classmethod
    def _commands(cls, v):
        # A store written before process types had settings kept name -> command.
        return {k: {"command": c} if isinstance(c, str) else c for k, c in v.items()} if v else v

    def resources_or(self, production: dict | None) -> dict | None:
        """Its resources; a record from before canaries had their own runs with production's."""
        return self.resources if "resources" in self.model_fields_set else production


@dataclass(frozen=True)
class RestoreTarget:
    """Where a restore stops: `latest` (all archived WAL), a time, an LSN, or a named restore
    point (which records the timeline it was made on)."""

    kind: str  # latest | time | lsn | name | immediate
    value: str | None = None  # the LSN or the restore point's name
    timeline: int | None = None
    exclusive: bool = False
    set: str | None = None  # a backup to start from (else pgBackRest takes the newest)
    at: dt.datetime | None = None  # the time of a `time` target (aware), as text only in argv

    @property
    def text(self) -> str | None:
        """The target as pgBackRest's --target reads it."""
        return pg_time(self.at) if self.kind == "time" else self.value

    def public(self) -> dict:
        """As the API shows it (docs: RestoreTarget)."""
        return {"kind": self.kind, "value": self.text, "timeline": self.timeline,
                "exclusive": self.exclusive, "set": self.set}

    def options(self) -> list[str]:
        if self.kind == "latest":
            return []
        if self.kind == "immediate":
            return ["--type=immediate"]
        opts = [f"--type={self.kind}", f"--target={self.text}"]
        if self.exclusive:
            opts.append("--target-exclusive")
        if self.timeline is not None:
            opts.append(f"--target-timeline={self.timeline}")
        if self.set:
            opts.append(f"--set={self.set}")
        return opts

    def describe(self) -> str:
        return {"latest": "the latest archived change", "immediate": "the end of the backup",
                "time": f"{self.text}", "lsn": f"WAL position {self.value}",
                "name": f"restore point {self.value}"}[self.kind]



def pg_time(when: dt.datetime) -> str:
    """A time as pgBackRest and Postgres read it, in UTC with microseconds."""
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f+00")



class Backup(Record):
    """One backup in an app's repository, as `pgbackrest info` lists it."""
    label: str | None = None
    type: str | None = None  # full | diff | incr
    start: str | None = None  # ISO times (UTC)
    stop: str | None = None
    stop_epoch: float | None = None
    size_bytes: int | None = None
    repo_bytes: int | None = None
    lsn_stop: str | None = None
    error: bool = False
    timeline: int = 1

    @property
    def good(self) -> bool:
        """Finished without error: a restore can start from it."""
        return not self.error and bool(self.stop_epoch)

    def public(self) -> dict:
        return self.model_dump(exclude={"stop_epoch"})


class RepoInfo(Record):
    """An app's repository: its status (ok | error | missing | unreachable), backups, WAL span."""
    status: str
    message: str = ""
    backups: list[Backup] = Field(default_factory=list)
    archive: dict | None = None  # {"min", "max"} WAL segment names

    def good(self) -> list[Backup]:
        return [b for b in self.backups if not b.error]


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
    target: RestoreTarget
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
