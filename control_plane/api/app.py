"""FastAPI app: thin routes that parse a model, record intent and hand work to services."""
from __future__ import annotations

import hmac
import logging

from fastapi import Depends, FastAPI, Request
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .. import secrets
from ..errors import InvalidInput, NotFound, Unauthorized
from ..jobs import Jobs
from ..models import (AppDeploy, AppRun, AppScale, CanaryDeploy, CanaryPromote, CanaryRollback,
                      CanaryTraffic, ClusterCreate, ClusterScale)
from ..paths import sentinel_home
from ..platform import Platform
from ..services.apps import AppService
from ..services.canary import CanaryService
from ..services.analysis import Analyzer
from ..services.cluster import ClusterService
from ..services.progressive import ProgressiveDriver
from ..services.report import ReportService
from ..store import Store
from . import error_body, ui
from .responses import (ERRORS, AppDetail, AppListItem, AppSettings, CanaryReport, CanaryStatus,
                        ClusterExisting, ClusterInfo, Health, Judgment, JudgmentRecord, LogLines,
                        Operation, OperationDetail, OperationStarted)

log = logging.getLogger("sentinel.api")
bearer = HTTPBearer(auto_error=False)


def duration(text: str, what: str) -> float:
    from ..metrics import parse_duration

    try:
        seconds = parse_duration(text)
    except ValueError:
        raise InvalidInput(f"{what} {text!r} is not a duration like 90s, 5m or 1h.")
    if not 10 <= seconds <= 7 * 86400:
        raise InvalidInput(f"{what} must be between 10s and 7d.")
    return seconds


def create_app():
    store = Store(sentinel_home() / "state.db")
    jobs = Jobs(store)
    platform = Platform(store)
    clusters = ClusterService(platform)
    apps = AppService(platform)
    canary = CanaryService(platform, jobs)
    analyzer = Analyzer(platform)
    reports = ReportService(platform)
    driver = ProgressiveDriver(canary, jobs)
    import threading

    from ..services.release import ReleaseService

    # Reads the swarm over ssh: in the background, so the API answers at once.
    threading.Thread(target=ReleaseService(platform).report_interrupted, name="interrupted-releases",
                     daemon=True).start()
    driver.start()  # resumes progressive canaries left by a previous run from the store
    from ..services.backup_schedule import BackupScheduler

    BackupScheduler(platform, jobs).start()
    token = secrets.get("api_token")

    from .console.routes import router as console_router
    from .console.sessions import Sessions
    from .guard import SESSION

    sessions = Sessions()

    def auth(request: Request, cred: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        if request.scope.get(SESSION):  # the guard checked the console's cookie (and CSRF token)
            return
        if cred is None or not hmac.compare_digest(cred.credentials, token):
            raise Unauthorized("the API token was not accepted: check SENTINEL_HOME/config.json "
                               "(or run `sentinel init` on this machine).")

    # The OpenAPI document is the contract and needs the token like every route (guard.py); the
    # interactive pages would load scripts from another origin, so they are off.
    api = FastAPI(title="Sentinel control plane", version="0.1.0", docs_url=None, redoc_url=None)

    error_body.install(api)  # one error body for every refusal

    @api.get("/healthz", response_model=Health)
    def healthz():
        return {"ok": True}

    api.include_router(ui.router)  # /ui: the canary report page; its data calls need the token
    api.include_router(console_router(sessions))  # /console: the web console and its sign-in
    from . import database

    api.include_router(database.router(platform, jobs, auth))
    from . import manifest

    api.include_router(manifest.router(platform, jobs, canary, auth))  # apply, diff, export, approve

    deps = [Depends(auth)]
    v1 = {"dependencies": deps, "responses": ERRORS}  # every /v1 route: the token, the error body

    @api.get("/v1/operations/{op_id}", response_model=OperationDetail, **v1)
    def operation(op_id: str, after: int = 0):
        op = store.operation(op_id)
        if not op:
            raise NotFound(f"no operation {op_id}.")
        op["events"] = store.events(op_id=op_id, after=after)
        return op

    @api.get("/v1/operations", response_model=list[Operation], **v1)
    def operations(target: str | None = None, limit: int = 20):
        """The latest operations (of one target, e.g. app:todos or cluster), newest first."""
        return store.operations(target=target, limit=max(1, min(limit, 100)))

    # cluster
    @api.post("/v1/cluster", response_model=OperationStarted | ClusterExisting, status_code=202, **v1)
    def init(spec: ClusterCreate):
        spec = clusters.validate(spec)
        if platform.state == "ready" and store.get("cluster") == spec.model_dump():
            return {"existing": True, "cluster": clusters.inspect()}
        return {"operation": jobs.start("cluster", "init", lambda op: clusters.init(op, spec))}

    @api.get("/v1/cluster", response_model=ClusterInfo, **v1)
    def inspect():
        platform.spec  # raises when there is none
        return clusters.inspect()

    @api.post("/v1/cluster/scale", response_model=OperationStarted, status_code=202, **v1)
    def scale(body: ClusterScale):
        from .. import validation

        clusters.check_scale(body.nodes)  # refuses a scale-down that would lose a copy
        # A cluster change excludes every app operation (and waits for none to be running).
        app_locks = tuple(f"app:{a['name']}" for a in store.apps())
        return {"operation": jobs.start("cluster", "scale", lambda op: clusters.scale(op, body.nodes),
                                        also_lock=app_locks)}

    @api.delete("/v1/cluster", response_model=OperationStarted, status_code=202, **v1)
    def destroy(delete_data: bool = False):
        with_db = [a["name"] for a in store.apps() if a.get("db")]
        if with_db and not delete_data:
            raise InvalidInput(f"destroying the platform deletes the databases of {', '.join(with_db)} "
                               "and all their backups: add --delete-data to confirm that loss (copy "
                               "what you need first, e.g. with `sentinel db psql`).")
        app_locks = tuple(f"app:{a['name']}" for a in store.apps())
        return {"operation": jobs.start("cluster", "destroy", clusters.destroy, also_lock=app_locks)}

    # apps
    @api.get("/v1/apps", response_model=list[AppListItem], **v1)
    def list_apps(live: bool = True):
        # live=false: the store's record only, at once and also when the swarm does not answer
        return apps.list(live=live)

    @api.post("/v1/apps", response_model=OperationStarted, status_code=202, **v1)
    def deploy(body: AppDeploy):
        body = apps.validate(body)
        return {"operation": jobs.start(f"app:{body.name}", "deploy",
                                        lambda op: apps.deploy(op, body), also_lock=())}

    @api.get("/v1/apps/{name}", response_model=AppDetail, **v1)
    def inspect_app(name: str):
        return apps.inspect(name)

    @api.get("/v1/apps/{name}/settings", response_model=AppSettings, **v1)
    def app_settings(name: str):
        return apps.settings(name)

    @api.get("/v1/apps/{name}/logs", response_model=LogLines, **v1)
    def logs(name: str, role: str = "production", tail: int | None = 200, since: str | None = None):
        return {"lines": apps.logs(name, role=role, tail=tail, since=since)}

    # Plain text streamed, not JSON: its 200 says so instead of naming a model.
    @api.get("/v1/apps/{name}/logs/follow", dependencies=deps, response_class=StreamingResponse,
             responses={**ERRORS, 200: {"description": "the lines as the tasks write them, until the "
                                        "client goes away",
                                        "content": {"text/plain": {"schema": {"type": "string"}}}}})
    def follow_logs(name: str, role: str = "production", tail: int | None = 100,
                    since: str | None = None):
        return StreamingResponse(apps.follow_logs(name, role=role, tail=tail, since=since),
                                 media_type="text/plain; charset=utf-8")

    @api.post("/v1/apps/{name}/scale", response_model=OperationStarted, status_code=202, **v1)
    def scale_app(name: str, body: AppScale):
        apps.require(name)
        from .. import validation

        validation.replicas(body.replicas)
        return {"operation": jobs.start(f"app:{name}", "scale",
                                        lambda op: apps.scale(op, name, body.replicas))}

    @api.delete("/v1/apps/{name}", response_model=OperationStarted, status_code=202, **v1)
    def delete_app(name: str, keep_data: bool = False, delete_data: bool = False):
        app = apps.require(name)
        if app.get("db") and keep_data == delete_data:
            raise InvalidInput(f"app {name!r} has a database: add --keep-data to keep its data and "
                               "backups, or --delete-data to delete them with the app."
                               if not keep_data else "--keep-data and --delete-data exclude each other.")
        return {"operation": jobs.start(f"app:{name}", "delete",
                                        lambda op: apps.delete(op, name, keep_data))}

    # canary
    @api.post("/v1/apps/{name}/canary", response_model=OperationStarted, status_code=202, **v1)
    def canary_deploy(name: str, body: CanaryDeploy):
        return {"operation": canary.start_deploy(name, body)}

    @api.get("/v1/apps/{name}/canary", response_model=CanaryStatus, **v1)
    def canary_status(name: str):
        return canary.status(name)

    @api.post("/v1/apps/{name}/canary/traffic", response_model=OperationStarted, status_code=202, **v1)
    def canary_traffic(name: str, body: CanaryTraffic):
        return {"operation": canary.start_traffic(name, body.weight)}

    @api.post("/v1/apps/{name}/canary/promote", response_model=OperationStarted, status_code=202, **v1)
    def canary_promote(name: str, body: CanaryPromote | None = None):
        return {"operation": canary.start_promote(name, (body or CanaryPromote()).post_promote_command)}

    @api.post("/v1/apps/{name}/canary/rollback", response_model=OperationStarted, status_code=202, **v1)
    def canary_rollback(name: str, body: CanaryRollback | None = None):
        return {"operation": canary.start_rollback(name, restore_db=(body or CanaryRollback()).restore_db)}

    @api.post("/v1/apps/{name}/run", response_model=OperationStarted, status_code=202, **v1)
    def run(name: str, body: AppRun):
        from .. import validation
        from ..services.release import ReleaseService

        apps.require(name)
        if body.image:
            validation.image(body.image)
        if not 1 <= body.timeout <= 24 * 3600:
            raise InvalidInput("--timeout must be between 1s and 24h.")
        import secrets as pysecrets

        return {"operation": jobs.start(f"run:{name}:{pysecrets.token_hex(3)}", "run",
                                        lambda op: ReleaseService(platform).run(
                                            op, name, body.command, body.image, body.timeout))}

    @api.post("/v1/apps/{name}/canary/analyze", response_model=Judgment, **v1)
    def canary_analyze(name: str, window: str = "5m"):
        return analyzer.analyze(name, canary.require(name), duration(window, "--window"))

    @api.get("/v1/apps/{name}/judgments", response_model=list[JudgmentRecord], **v1)
    def judgments(name: str, limit: int = 20):
        apps.require(name)
        return store.judgments(name, limit=max(1, min(limit, 500)))

    @api.get("/v1/apps/{name}/report", response_model=CanaryReport, **v1)
    def report(name: str, window: str = "15m"):
        return reports.report(name, duration(window, "window"))

    from .guard import Guard

    return Guard(api, lambda: token, sessions=sessions)
