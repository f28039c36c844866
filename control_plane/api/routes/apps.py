"""Routes of `sentinel deploy`, `apps`, `inspect`, `logs`, `scale`, `delete` and `run`."""
from __future__ import annotations

import secrets as pysecrets

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from ... import names, validation
from ...errors import InvalidInput
from ...models import AppDeploy, AppRun, AppScale, ProcessScale
from ...services.wiring import Services
from ..responses import (ERRORS, AppDetail, AppListItem, AppSettings, JudgmentRecord, LogLines,
                         OperationStarted)


def router(services: Services, auth) -> APIRouter:
    r = APIRouter(prefix="/v1", dependencies=[Depends(auth)], responses=ERRORS)
    jobs, apps, store = services.jobs, services.apps, services.platform.store

    @r.get("/apps", response_model=list[AppListItem])
    def list_apps(live: bool = True):
        # live=false: the store's record only, at once and also when the swarm does not answer
        return apps.list(live=live)

    @r.post("/apps", response_model=OperationStarted, status_code=202)
    def deploy(body: AppDeploy):
        body = apps.validate(body)
        return {"operation": jobs.start(names.app_target(body.name), "deploy",
                                        lambda op: apps.deploy(op, body), also_lock=())}

    @r.get("/apps/{name}", response_model=AppDetail)
    def inspect_app(name: str):
        return apps.inspect(name)

    @r.get("/apps/{name}/settings", response_model=AppSettings)
    def app_settings(name: str):
        return apps.settings(name)

    @r.get("/apps/{name}/logs", response_model=LogLines)
    def logs(name: str, role: str = "production", tail: int | None = 200, since: str | None = None,
             process: str | None = None):
        return {"lines": apps.logs(name, role=role, tail=tail, since=since, process=process)}

    # Plain text streamed, not JSON: its 200 says so instead of naming a model.
    @r.get("/apps/{name}/logs/follow", response_class=StreamingResponse,
           responses={200: {"description": "the lines as the tasks write them, until the "
                                           "client goes away",
                            "content": {"text/plain": {"schema": {"type": "string"}}}}})
    def follow_logs(name: str, role: str = "production", tail: int | None = 100,
                    since: str | None = None, process: str | None = None):
        return StreamingResponse(apps.follow_logs(name, role=role, tail=tail, since=since,
                                                  process=process),
                                 media_type="text/plain; charset=utf-8")

    @r.post("/apps/{name}/scale-processes", response_model=OperationStarted, status_code=202)
    def scale_processes(name: str, body: ProcessScale):
        """Replicas of the app's process types besides web."""
        apps.require(name)
        if not body.replicas:
            raise InvalidInput("name a process type and its replicas, e.g. worker=3.")
        return {"operation": jobs.start(names.app_target(name), "scale",
                                        lambda op: apps.scale_processes(op, name, body.replicas))}

    @r.post("/apps/{name}/scale", response_model=OperationStarted, status_code=202)
    def scale_app(name: str, body: AppScale):
        apps.require(name)
        validation.replicas(body.replicas)
        return {"operation": jobs.start(names.app_target(name), "scale",
                                        lambda op: apps.scale(op, name, body.replicas))}

    @r.delete("/apps/{name}", response_model=OperationStarted, status_code=202)
    def delete_app(name: str, keep_data: bool = False, delete_data: bool = False):
        app = apps.require(name)
        if app.db and keep_data == delete_data:
            raise InvalidInput(f"app {name!r} has a database: add --keep-data to keep its data and "
                               "backups, or --delete-data to delete them with the app."
                               if not keep_data else "--keep-data and --delete-data exclude each other.")
        return {"operation": jobs.start(names.app_target(name), "delete",
                                        lambda op: apps.delete(op, name, keep_data))}

    @r.post("/apps/{name}/run", response_model=OperationStarted, status_code=202)
    def run(name: str, body: AppRun):
        apps.require(name)
        if body.image:
            validation.image(body.image)
        if not 1 <= body.timeout <= 24 * 3600:
            raise InvalidInput("--timeout must be between 1s and 24h.")
        # One-off runs of an app may overlap: each has a target of its own.
        return {"operation": jobs.start(names.run_target(name, pysecrets.token_hex(3)), "run",
                                        lambda op: services.release.run(
                                            op, name, body.command, body.image, body.timeout))}

    @r.get("/apps/{name}/judgments", response_model=list[JudgmentRecord])
    def judgments(name: str, limit: int = 20):
        apps.require(name)
        return store.judgments(name, limit=max(1, min(limit, 500)))

    return r
