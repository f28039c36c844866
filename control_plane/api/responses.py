"""What the API answers: one model per JSON payload, so the OpenAPI document is the contract.

Each model declares the fields the CLI (cli/) and the web pages (console/static, static/) read,
with their types. A route's answer is validated against its model on the way out: a service
that drifts from its contract fails in the unit tests (test_api_fuzz.py), not in a client.
Models whose payload is open-ended (records a service keeps growing) allow extra fields, so
nothing a client might read is silently filtered out; every other model declares all the keys
its service returns (tests/unit/test_api_contract.py checks that none is dropped)."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..analysis.judge import Classification, Verdict


# ---- errors -----------------------------------------------------------------------------------
class ErrorDetail(BaseModel):
    code: str = Field(description="machine-readable, e.g. not_found, busy, invalid_input")
    message: str = Field(description="one sentence: what is wrong and how to fix it")


class ErrorBody(BaseModel):
    """Every refusal of the control plane (errors.py, guard.py)."""
    error: ErrorDetail


# ---- health, operations -------------------------------------------------------------------------
class Health(BaseModel):
    ok: bool


class OperationStarted(BaseModel):
    """A long change started in the background: follow it at /v1/operations/{operation}."""
    operation: str


class Event(BaseModel):
    id: int
    op_id: str | None = None
    target: str
    kind: str
    actor: str
    at: float
    message: str


class Operation(BaseModel):
    id: str
    target: str
    kind: str
    status: Literal["running", "succeeded", "failed", "interrupted"]
    actor: str
    started_at: float
    finished_at: float | None = None
    error: str | None = None
    error_code: str | None = None
    result: Any = Field(default=None, description="what the operation's service returned "
                        "(an app summary, a canary status, a backup...): differs by kind")


class OperationDetail(Operation):
    events: list[Event] = Field(description="the operation's events after `after`, oldest first")


# ---- cluster ----------------------------------------------------------------------------------
class Node(BaseModel):
    """A node as the swarm reports it; usage fields only when the node answered over ssh, error
    only when the swarm did not answer (then the stored record is shown)."""
    name: str
    role: str
    state: str
    address: str | None = None
    availability: str | None = None
    cpus: float | None = None
    memory_bytes: int | None = None
    leader: bool | None = None
    disk_bytes: int | None = None
    disk_used_bytes: int | None = None
    load1: float | None = None
    memory_used_bytes: int | None = None
    updated_at: float | None = None
    error: str | None = None


class Ingress(BaseModel):
    http: str
    https: str
    prometheus: str


class StateCopy(BaseModel):
    """The control plane's own state, copied sealed to the backup node (docs/operations.md)."""
    state: Literal["waiting", "copied", "failing", "off"]
    at: float | None = Field(default=None, description="when the newest copy was taken (epoch s)")
    bytes: int | None = None
    to: str | None = Field(default=None, description="the node that holds it")
    reason: str | None = Field(default=None, description="why off or failing")


class RecoveryKeySet(BaseModel):
    public_key: str
    state_copy: StateCopy


class EdgeInfo(BaseModel):
    addresses: list[str] = Field(description="where users point DNS: the floating address where "
                                 "there is one, else the nodes that serve 80/443")
    floating_address: str = Field(default="", description="the address that moves between the "
                                  "managers (VRRP), \"\" where there is none")
    managers: list[str] = Field(description="the nodes Traefik answers on")
    behind: list[str] = Field(default=[], description="managers that missed route changes; they "
                              "get them back within a minute of answering again")


class ClusterInfo(BaseModel):
    name: str
    provider: str
    state: str | None = None
    nodes: list[Node]
    backup_node: Node | None = None
    backups: str = Field(default="", description="where the apps' backup repositories are: "
                         "s3://bucket/folder at an endpoint, or the backup node")
    ingress: Ingress
    edge: EdgeInfo | None = None
    events: list[Event] = Field(default=[], description="the platform's own latest events: "
                                "nodes down, nodes healed")
    state_copy: StateCopy | None = None
    single_points: list[str] = Field(default=[], description="what losing one node costs here, "
                                     "and the fix where there is one")


class SigningKey(BaseModel):
    key: str = Field(description="HMAC-SHA256 key of X-Sentinel-Signature for hooks and JSON "
                                 "notifications that name no secret_env")
    header: str


class ClusterExisting(BaseModel):
    """`sentinel init` again with the same settings: nothing started."""
    existing: bool
    cluster: ClusterInfo


# ---- apps -------------------------------------------------------------------------------------
class Resources(BaseModel):
    cpu: float | None = None
    memory: str | None = None


class ProcessInfo(BaseModel):
    command: str
    replicas: int
    resources: Resources | None = Field(default=None, description="its own; null: web's")


class ProcessHealth(BaseModel):
    replicas: int
    healthy: str


class AppSummary(BaseModel):
    name: str
    image: str | None = Field(default=None, description="null for a restored copy of a database")
    domain: str
    domains: list[str]
    port: int | None = None
    replicas: int | None = None
    health_path: str | None = None
    resources: Resources | None = None
    db: bool
    url: str
    processes: dict[str, ProcessInfo] = Field(default={}, description="process types besides "
                                              "web (a Procfile's), each its own service")
    preview_of: str | None = Field(default=None, description="the app this is a preview of")


class AppListItem(AppSummary):
    ready: str | None = Field(description="running/desired tasks, as the swarm says, e.g. 2/2; "
                              "null with live=false (the swarm was not asked)")
    canary: bool
    canary_image: str | None = None
    canary_weight: int | None = None
    db_members: int


class DbMemberPlace(BaseModel):
    member: str
    node: str


class DbPlacement(BaseModel):
    members: list[DbMemberPlace]


class ProgressivePlan(BaseModel):
    """A progressive canary's steps and where it is."""
    # Open-ended: services/progressive.py keeps more (pauses, holds...); all of it passes through.
    model_config = ConfigDict(extra="allow")
    steps: list[int]
    step_index: int
    state: str
    auto_promote: bool = False
    interval: float | None = None
    next_at: float | None = None
    blind_since: float | None = Field(default=None, description="since when no judgment is "
                                      "possible (Prometheus unreachable…): it holds, and rolls "
                                      "back if that lasts")
    blind_error: str | None = None


class CanaryBrief(BaseModel):
    image: str
    weight: int
    state: str | None = None
    baseline: bool = False
    progressive: ProgressivePlan | None = None


class AppSettings(BaseModel):
    """The app as recorded (no swarm call): variable names, never their values."""
    app: AppSummary
    env: list[str]
    db_env: list[str]
    db: DbPlacement | None = None
    canary: CanaryBrief | None = None


class ServiceRow(BaseModel):
    name: str
    image: str
    replicas: str


class TaskRow(BaseModel):
    name: str
    node: str | None = None
    state: str
    desired: str | None = None
    error: str | None = None
    age_seconds: int | None = None


class AppDetail(BaseModel):
    app: AppSummary
    services: list[ServiceRow]
    tasks: list[TaskRow]
    nodes: list[Node]


class LogLines(BaseModel):
    lines: list[str]


class BuildPlan(BaseModel):
    """What building a source would build (docs/build.md)."""
    app: str
    kind: str = Field(description="dockerfile (the source's own), python, node, go or static")
    dockerfile: str = Field(description="the source's Dockerfile, or the one generated for its kind")
    dockerfile_path: str | None = Field(default=None, description="null: generated")
    processes: dict[str, str] = Field(description="Procfile process types (or the detected web) -> command")
    release: str | None = Field(default=None, description="the release phase's command, if any")
    health_path: str | None = None
    notes: list[str] = Field(description="what was detected, one line each")
    files: int = Field(description="files in the source, after its ignore rules")


class BuildRecord(BaseModel):
    """One build from source (`sentinel builds`)."""
    id: str = Field(description="its operation")
    app: str
    source: str = Field(description="the source's content hash (12 characters)")
    kind: str = ""
    builder: str = Field(default="", description="buildkit | classic (empty when reused)")
    image: str | None = Field(default=None, description="in the cluster registry, named by its source")
    started_at: float
    seconds: float
    size_bytes: int | None = None
    result: str = Field(description="running | built | reused | failed")
    error: str | None = None


class BuildList(BaseModel):
    app: str
    builds: list[BuildRecord] = Field(description="oldest first, the last 20")


class GitRemote(BaseModel):
    app: str
    path: str = Field(description="the repository's path on the control plane (/git/APP.git)")
    token: str = Field(description="the push token: the password of the remote's URL")
    branch: str = Field(description="the branch whose push deploys")
    exists: bool = Field(description="false: the first push must carry a sentinel.yaml")


# ---- canary -----------------------------------------------------------------------------------
class MetricJudgment(BaseModel):
    name: str
    classification: Classification
    critical: bool
    estimate: float | None = None
    ci: list[float | None] | None = None
    ratio: float | None = None
    p_value: float | None = None
    points: list[int] | None = Field(default=None, description="[control, experiment]; older "
                                     "archived judgments have none")
    muted: bool = False


class Judgment(BaseModel):
    """A judgment of canary against control (analysis/judge.py), with when and on what."""
    # Open-ended: the analyzer and the driver add keys as judgments grow; all pass through.
    model_config = ConfigDict(extra="allow")
    score: float
    verdict: Verdict
    metrics: list[MetricJudgment]
    groups: dict[str, float | None] = {}
    reason: str | None = None
    requests: dict[str, float | None] | None = None
    at: float | None = None
    window: list[float] | None = None
    control: str | None = Field(default=None, description="baseline or production")
    kind: str | None = Field(default=None, description="analyze, step or early")
    points: dict[str, int] | None = Field(default=None, description="values per metric series")


class JudgmentRecord(BaseModel):
    id: int
    at: float
    input: dict[str, Any] = Field(description="config, data and requests: `sentinel canary "
                                  "judge` input")
    result: Judgment


class ReleaseInfo(BaseModel):
    """The canary's release phase."""
    # Open-ended: services/release.py records what ran and the schema diff; all passes through.
    model_config = ConfigDict(extra="allow")
    restore_point: str | None = None


class ProductionStatus(BaseModel):
    image: str | None = None
    replicas: int | None = None
    healthy: str = Field(description="running/wanted tasks, e.g. 2/2")


class CanaryState(BaseModel):
    image: str
    weight: int
    weights: dict[str, int]
    replicas: int
    healthy: str
    sticky: bool
    baseline: bool
    mirror: int = 0
    resources: Resources | None = None
    since: float
    state: str | None = None
    progressive: ProgressivePlan | None = None
    release: ReleaseInfo | None = None
    post_promote_command: str | None = None
    processes: dict[str, ProcessHealth] = Field(default={}, description="the new version's "
                                                "process types besides web: tasks it should run "
                                                "(in proportion to the weight, at least one) and "
                                                "how many do")


class CanaryStatus(BaseModel):
    app: str
    production: ProductionStatus
    canary: CanaryState | None = None
    events: list[Event]
    judgment: Judgment | None = None


class ReportCanary(BaseModel):
    image: str
    weight: int
    state: str | None = None
    since: float
    baseline: bool = False
    progressive: ProgressivePlan | None = None
    release: ReleaseInfo | None = None


class ReportProduction(BaseModel):
    image: str | None = None


class CanaryReport(BaseModel):
    """The report page's data: per-role series of each metric, the judgment, the events."""
    app: str
    now: float
    window: float
    step: float
    roles: list[str]
    canary: ReportCanary | None = None
    production: ReportProduction
    series: dict[str, dict[str, list[list[float | None]]]] = Field(
        description="metric -> role -> [[time, value]...] (value null where Prometheus had none)")
    judgment: Judgment | None = None
    metrics_error: str | None = None
    events: list[Event]


# ---- database ---------------------------------------------------------------------------------
class DbMember(BaseModel):
    member: str
    node: str
    role: str = Field(description="primary, standby or unknown")
    state: str
    timeline: int | None = None
    lag_bytes: int | None = None
    sync: bool
    node_state: str


class Window(BaseModel):
    """A recoverable window of point-in-time restores (UTC ISO 8601)."""
    model_config = ConfigDict(populate_by_name=True)
    from_: str | None = Field(alias="from", description="null: no backup yet (a restore then "
                              "takes one first and reaches only the latest change)")
    to: str | None = Field(default=None, description="null: up to the last archived change")


class Backup(BaseModel):
    label: str | None = None
    type: str | None = None
    start: str | None = None
    stop: str | None = None
    size_bytes: int | None = None
    repo_bytes: int | None = None
    lsn_stop: str | None = None
    error: bool = False
    timeline: int | None = None


class WalRange(BaseModel):
    min: str | None = None
    max: str | None = None


class Repository(BaseModel):
    status: str = Field(description="ok, missing, error or unreachable")
    message: str = ""
    archive: WalRange | None = None


class Archiver(BaseModel):
    last_archived_wal: str | None = None
    last_archived_at: str | None = None
    failed_count: int | None = None
    last_failed_at: str | None = None
    archive_lag_seconds: float | None = None


class Drill(BaseModel):
    at: str
    passed: bool
    summary: str
    backup: str | None = None
    target: str | None = None
    tables: int | None = None
    rows: int | None = None
    seconds: float | None = None
    how: str | None = None


class ScheduleFailure(BaseModel):
    kind: str = Field(description="db-backup or db-verify")
    at: float
    error: str
    operation: str


class DbStatus(BaseModel):
    app: str
    ha: bool
    primary: DbMember | None = None
    standbys: list[DbMember]
    members: list[DbMember]
    repository: Repository
    archive: Archiver | None = None
    recoverable: Window | None = None
    backups: list[Backup] = Field(description="the latest five")
    last_backup: Backup | None = None
    last_drill: Drill | None = None
    schedule_failure: ScheduleFailure | None = Field(
        default=None, description="the scheduled backup or drill that failed last, while "
                                  "none has succeeded since")
    actions: list[str] = Field(description="what to do about what is wrong, one sentence each")


class BackupListing(BaseModel):
    app: str
    repository: Repository
    backups: list[Backup]
    recoverable: Window | None = None


class RestoreTarget(BaseModel):
    kind: str = Field(description="latest, time, lsn, name or immediate")
    value: str | None = None
    timeline: int | None = None
    exclusive: bool = False
    set: str | None = None


class Discards(BaseModel):
    """What an in-place restore throws away."""
    model_config = ConfigDict(populate_by_name=True)
    from_: str | None = Field(default=None, alias="from")
    to: str
    transactions: int | None = None
    transactions_at_least: bool = False
    seconds: float | None = None


class RestorePlan(BaseModel):
    app: str
    into: str | None = None
    to: str
    target: RestoreTarget
    target_text: str
    window: Window
    primary_running: bool
    primary: str | None = None
    discards: Discards | None = Field(default=None, description="null for a restore into a new app")


class SqlResult(BaseModel):
    output: str
    error: str
    exit_code: int


# ---- manifest ---------------------------------------------------------------------------------
class Change(BaseModel):
    path: str
    before: Any = None
    after: Any = None
    how: str = Field(description="create, canary, rolling, database, settings or policy")


class ManifestDiff(BaseModel):
    app: str
    changes: list[Change]
    lines: list[str]


class ManifestApplied(ManifestDiff):
    operation: str | None = Field(default=None, description="null when nothing changes")


class ManifestExport(BaseModel):
    app: str
    yaml: str
    canary: bool = Field(description="a canary runs: the file describes production")


# ---- console ----------------------------------------------------------------------------------
class ConsoleSession(BaseModel):
    csrf: str
    expires_at: float
    idle_seconds: float


class SignedOut(BaseModel):
    signed_out: bool


# The refusals a /v1 route may give, all in the uniform error body (api/guard.py answers 401,
# 403, 411 and 413 before any route; the routes the rest): which of them a given route gives
# depends on what it checks (a route reading no app never says 404, say).
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "the request body is not JSON"},
    401: {"model": ErrorBody, "description": "the API token (or console session) was not accepted"},
    403: {"model": ErrorBody, "description": "a console session may not do this, or sent no "
          "valid CSRF token"},
    404: {"model": ErrorBody, "description": "no such app, operation or file"},
    409: {"model": ErrorBody, "description": "busy (another operation on the target) or a conflict"},
    411: {"model": ErrorBody, "description": "a request body without a Content-Length"},
    412: {"model": ErrorBody, "description": "the platform is not ready for this"},
    413: {"model": ErrorBody, "description": "the request body is larger than the limit (2 MiB)"},
    422: {"model": ErrorBody, "description": "invalid input: one sentence naming what is wrong "
          "and where (a body field or query parameter)"},
    500: {"model": ErrorBody, "description": "a command on the platform failed (e.g. docker)"},
}


class PreviewRow(BaseModel):
    app: str = Field(description="the app it previews")
    name: str
    preview_app: str = Field(description="the app the preview is (<app>-<name>)")
    image: str | None
    url: str
    data: str = Field(description="copy | empty | none")
    data_point: str | None = Field(description="the app's point in time its copy holds")
    data_age_seconds: int | None
    masked: str | None = Field(description="the masking script that ran on the copy; null: "
                               "not masked")
    created_at: float
    expires_in_seconds: int | None
    seconds: float | None = None


class PreviewList(BaseModel):
    previews: list[PreviewRow]
