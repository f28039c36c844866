"""Routes of `sentinel build`: the source arrives as a gzip tarball in the request body."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool

from ...errors import InvalidInput
from ...models import BuildOptions, GitBuild
from ...build.source import SOURCE_LIMIT
from ...services.builds import BuildService
from ..responses import ERRORS, BuildList, BuildPlan, OperationStarted

SOURCE_BODY = {"requestBody": {"required": True, "content": {"application/octet-stream": {
    "schema": {"type": "string", "format": "binary",
               "description": "the app's folder as a gzip tarball (`sentinel build` packs it)"}}}}}


def build_options(
        context: str = Query(".", max_length=1000, description="the folder of the source the "
                             "build runs in"),
        dockerfile: str | None = Query(None, max_length=1000, description="a Dockerfile path "
                                       "in the context"),
        base: str | None = Query(None, max_length=500, description="the FROM of a generated "
                                 "Dockerfile"),
        arg: list[str] = Query([], description="a build argument, NAME=value (repeat it)"),
) -> BuildOptions:
    """sentinel.yaml's `build:` beside a tarball body: as query parameters, as Docker's own
    build API takes them."""
    args = {}
    for a in arg:
        key, eq, value = a.partition("=")
        if not eq:
            raise InvalidInput(f"build arg {a!r} is not NAME=value.")
        args[key] = value
    return BuildOptions(context=context, dockerfile=dockerfile, base=base, args=args)


def router(builds: BuildService, auth) -> APIRouter:
    r = APIRouter(prefix="/v1/apps/{name}", dependencies=[Depends(auth)], responses=ERRORS)

    async def source_of(request: Request) -> bytes:
        source = await request.body()
        if len(source) > SOURCE_LIMIT:
            raise InvalidInput(f"the source archive is over {SOURCE_LIMIT // 2**20} MiB: list what "
                               "the build does not need in .dockerignore.")
        return source

    @r.post("/build-plan", response_model=BuildPlan, openapi_extra=SOURCE_BODY)
    async def build_plan(name: str, request: Request,
                         options: BuildOptions = Depends(build_options)):
        """What building the source would build: the kind detected, the Dockerfile, the processes."""
        return builds.plan(name, await source_of(request), options)

    @r.post("/builds", response_model=OperationStarted, status_code=202, openapi_extra=SOURCE_BODY)
    async def build(name: str, request: Request, options: BuildOptions = Depends(build_options)):
        """Build the source on the cluster into an image in the cluster registry (the
        operation's result names it); nothing is deployed."""
        source = await source_of(request)
        return {"operation": await run_in_threadpool(builds.start, name, source, options)}

    @r.post("/builds/git", response_model=OperationStarted, status_code=202)
    def build_git(name: str, body: GitBuild):
        """Build a commit of a git repository the control plane fetches; nothing is deployed."""
        return {"operation": builds.start_git(name, body.source, body.build)}

    @r.get("/builds", response_model=BuildList)
    def history(name: str):
        return {"app": name, "builds": [b.model_dump() for b in builds.history(name)]}

    return r
