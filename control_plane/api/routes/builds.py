"""Routes of `sentinel build`: the source arrives as a gzip tarball in the request body."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool

from ...errors import InvalidInput
from ...models import GitBuild
from ...build.source import SOURCE_LIMIT
from ...services.builds import BuildService
from ..responses import ERRORS, BuildList, BuildPlan, OperationStarted

SOURCE_BODY = {"requestBody": {"required": True, "content": {"application/octet-stream": {
    "schema": {"type": "string", "format": "binary",
               "description": "the app's folder as a gzip tarball (`sentinel build` packs it)"}}}}}


def router(builds: BuildService, auth) -> APIRouter:
    r = APIRouter(prefix="/v1/apps/{name}", dependencies=[Depends(auth)], responses=ERRORS)

    async def source_of(request: Request) -> bytes:
        source = await request.body()
        if len(source) > SOURCE_LIMIT:
            raise InvalidInput(f"the source archive is over {SOURCE_LIMIT // 2**20} MiB: list what "
                               "the build does not need in .dockerignore.")
        return source

    @r.post("/build-plan", response_model=BuildPlan, openapi_extra=SOURCE_BODY)
    async def build_plan(name: str, request: Request):
        """What building the source would build: the kind detected, the Dockerfile, the processes."""
        return builds.plan(name, await source_of(request))

    @r.post("/builds", response_model=OperationStarted, status_code=202, openapi_extra=SOURCE_BODY)
    async def build(name: str, request: Request):
        """Build the source on the cluster into an image in the cluster registry (the
        operation's result names it); nothing is deployed."""
        source = await source_of(request)
        return {"operation": await run_in_threadpool(builds.start, name, source)}

    @r.post("/builds/git", response_model=OperationStarted, status_code=202)
    def build_git(name: str, body: GitBuild):
        """Build a commit of a git repository the control plane fetches; nothing is deployed."""
        return {"operation": builds.start_git(name, body.source)}

    @r.get("/builds", response_model=BuildList)
    def history(name: str):
        return {"app": name, "builds": [b.model_dump() for b in builds.history(name)]}

    return r
