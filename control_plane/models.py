"""Typed API models: what the CLI sends (what the control plane answers: api/responses.py)."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ObjectStorage(Strict):
    """An S3-compatible bucket that holds every app's backup repository (pgBackRest's
    repo1-type=s3) instead of the backup node: off the platform's machines."""
    bucket: str
    prefix: str = Field(default="", description="folder inside the bucket")
    endpoint: str = Field(description="host or host:port of the S3 API (HTTPS)")
    region: str = "us-east-1"
    uri_style: Literal["path", "host"] = Field(default="path", description="path: "
                                               "https://endpoint/bucket (MinIO and most others)")
    ca: str | None = Field(default=None, description="PEM: the endpoint's certificate "
                           "authority, when it is not a public one")
    address: str | None = Field(default=None, description="the endpoint's IPv4 address, when "
                                "the nodes' DNS does not know its name (written into the "
                                "/etc/hosts of the tasks that reach it)")
    access_key_id: str = Field(repr=False)
    secret_access_key: str = Field(repr=False)


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
    edge_networks: int = Field(default=32, description="how many apps the edge can hold: one "
                               "network per app, made at init")
    backup_repo: ObjectStorage | None = Field(default=None, description="object storage for the "
                                              "backups (default: the backup node, or the "
                                              "cloud module's bucket)")


class ClusterScale(Strict):
    nodes: int


class RecoveryKey(Strict):
    """The public half of a new recovery key (`sentinel server recovery-key` makes the pair and
    keeps the private half with the user)."""
    public_key: str = Field(max_length=200)


class ReleaseOptions(Strict):
    """A release phase: a command (run once from the new image) or SQL (one transaction, as the
    app's role) that changes the schema before the new version takes traffic."""
    command: str | None = Field(default=None, max_length=4096)
    sql: str | None = Field(default=None, max_length=1_000_000, description="the SQL file's text")
    sql_name: str = "release.sql"
    timeout: float = Field(default=600, description="seconds")
    allow_destructive: bool = False
    skip_check: bool = False
    smoke_command: str | None = Field(default=None, max_length=4096)
    check_path: str | None = Field(default=None, description="the production image must answer "
                                   "it (below 500) on the migrated copy (default: the app's "
                                   "health path and /)")


class Resources(Strict):
    """CPU and memory of each task: the limit, and as much reserved, so the scheduler only places
    a task where its share is free and a node is never overcommitted."""
    cpu: float | None = Field(default=None, description="cores, e.g. 0.5")
    memory: str | None = Field(default=None, description="e.g. 256Mi or 1Gi")


class DbBackups(Strict):
    schedule: Literal["daily", "weekly"] = Field(default="weekly", description="how often a full "
                                                 "backup runs (differentials daily in between)")
    keep: int = Field(default=2, description="full backups kept (older ones expire with their WAL)")


class ProcessSpec(Strict):
    """A process type besides web, with its settings (sentinel.yaml's `processes:`)."""
    command: str
    replicas: int | None = Field(default=None, description="default: what runs keeps its "
                                 "own, a new type gets 1")
    resources: Resources | None = Field(default=None, description="default: web's")


class AppDeploy(Strict):
    name: str
    image: str
    port: int = 8000
    domain: str | None = None
    domains: list[str] | None = Field(default=None, description="every domain of the app, the "
                                      "first being its main one (default: [domain])")
    resources: Resources | None = None
    db_backups: DbBackups | None = None
    db: Literal["postgres"] | None = None
    db_schema: str | None = Field(default=None, description="SQL applied once before the first task starts")
    db_ha: bool | None = Field(default=None, description="a standby on another node (default: when "
                               "the cluster has 2 nodes or more)")
    env: list[str] = []
    replicas: int = 1
    health_path: str | None = "/healthz"
    release: ReleaseOptions | None = None
    processes: dict[str, str | ProcessSpec] | None = Field(
        default=None, description="process types besides web (the Procfile's), name -> command "
                                  "or a spec with replicas and resources; each runs as "
                                  "its own service without traffic. None: the app's current ones")
    keep_env: bool = Field(default=False, description="an update keeps the app's current "
                           "variables (the console never sees their values, so cannot resend them)")


class AppScale(Strict):
    replicas: int


class ProcessScale(Strict):
    replicas: dict[str, int] = Field(description="process type -> replicas, e.g. {\"worker\": 3}")


class CanaryStep(Strict):
    """One step of a progressive canary (Argo's setWeight + pause, Flagger's stepWeights)."""
    weight: int
    pause: Literal["approve"] | float | None = Field(
        default=None, description="after the step passes: wait for `sentinel canary approve`, or "
        "this many seconds, before the next step (or the promotion)")
    interval: float | None = Field(default=None, description="seconds this step runs before it is "
                                   "judged (default: the canary's interval)")


class CanaryDeploy(Strict):
    image: str
    weight: int = 10
    env: list[str] = []
    env_unset: list[str] = Field(default=[], description="production's variables the new version "
                                 "no longer has")
    replicas: int = 1
    sticky: bool = True
    baseline: bool = False
    steps: list[int | CanaryStep] | None = None
    mirror: int = Field(default=0, description="a shadow canary: this percent of production's GET "
                        "and HEAD requests copied to it while its weight is 0")
    resources: Resources | None = Field(default=None, description="default: production's")
    interval: float | None = None
    analysis: dict | None = None
    auto_promote: bool = False
    release: ReleaseOptions | None = None
    post_promote_command: str | None = Field(default=None, max_length=4096)
    processes: dict[str, str | ProcessSpec] | None = Field(
        default=None, description="the new version's process types besides web (command or "
                                  "spec); None: production's")


class BuildOptions(Strict):
    """sentinel.yaml's `build:` (or `sentinel build`'s flags): how the source is built."""
    context: str = Field(default=".", max_length=1000, description="the folder of the source "
                         "the build runs in (a monorepo's app)")
    dockerfile: str | None = Field(default=None, max_length=1000, description="a Dockerfile "
                                   "path in the context (default: ./Dockerfile, else generated)")
    args: dict[str, str] = Field(default={}, description="build arguments (ARG)")
    base: str | None = Field(default=None, max_length=500, description="the image a generated "
                             "Dockerfile starts FROM (default: the platform's Debian base)")


class PreviewCreate(Strict):
    name: str = Field(description="the preview's name, a DNS label (pr-42): the app is "
                      "<app>-<name>, at <name>.<app's domain>")
    image: str = Field(description="the version it runs (the CLI builds --source first)")
    data: Literal["copy", "empty", "seed"] | None = Field(
        default=None, description="a copy of the app's data as of now, from its copy source or "
                                  "its backup repository (the default for an app with a "
                                  "database), an empty database, or one made by the seed SQL")
    seed: str | None = Field(default=None, max_length=10_000_000, description="with data seed: "
                             "SQL (schema and rows) run once in the preview's new database")
    mask: str | None = Field(default=None, max_length=1_000_000, description="SQL run on the "
                             "copy, as the preview's role, before any of its tasks start")
    mask_name: str | None = Field(default=None, max_length=200)
    ttl: str | None = Field(default=None, description="how long it lives, e.g. 72h (default), "
                            "10m..30d; an update or refresh starts it again")
    max: int | None = Field(default=None, ge=1, le=50, description="previews the app may have "
                            "(default 5): one more is refused")
    env: list[str] = Field(default=[], description="the preview's own variables, NAME=value")
    inherit_env: bool = Field(default=False, description="production's variables too (they may "
                              "hold production's secrets: off unless asked)")
    processes: dict[str, str] | None = Field(default=None, description="the version's process "
                                             "types besides web (a built source's); None: the "
                                             "app's. One task each")


class PreviewUpdate(Strict):
    image: str
    processes: dict[str, str] | None = Field(default=None, description="None: the preview's own")


class GitBuild(Strict):
    source: str = Field(max_length=2200, description="a git URL the control plane fetches, with "
                        "#branch, #tag or #commit (default: the repository's default branch)")
    build: BuildOptions | None = None


class ManifestApply(Strict):
    """sentinel.yaml as the API takes it: the parsed file, and the text of each file it names
    (release SQL, schema, analysis), by the path the manifest gives."""
    manifest: dict
    files: dict[str, str] = {}
    source: str = Field(default="sentinel.yaml", max_length=200, description="the file's name, "
                        "for error messages")
    processes: dict[str, str] | None = Field(default=None, description="the process types "
                                             "besides web of the source the image was built "
                                             "from (its Procfile's); None: the app's current ones")


class CanaryPromote(Strict):
    post_promote_command: str | None = Field(default=None, max_length=4096,
                                             description="the contract step: runs once after all "
                                             "traffic is on the new version")


class CanaryRollback(Strict):
    restore_db: bool = Field(default=False, description="also return the database to the restore "
                             "point taken just before the release command")


class AppRun(Strict):
    command: list[str] = Field(min_length=1, max_length=200)
    image: str | None = None
    timeout: float = 600


class CanaryTraffic(Strict):
    weight: int


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
