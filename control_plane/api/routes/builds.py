"""Routes of `sentinel build`: the source arrives as a gzip tarball in the request body."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from ...errors import InvalidInput
from ...build.source import SOURCE_LIMIT
from ...services.builds import BuildService
from ..responses import ERRORS, BuildPlan

SOURCE_BODY = {"requestBody": {"required": True, "content": {"application/octet-stream": {
    "schema": {"type": "string", "format": "binary",
               "description": "the app's folder as a gzip tarball (`sentinel build` packs it)"}}}}}


def router(builds: BuildService, auth) -> APIRouter:
    r = APIRouter(prefix="/v1/apps/{name}", dependencies=[Depends(auth)], responses=ERRORS)

    @r.post("/build-plan", response_model=BuildPlan, openapi_extra=SOURCE_BODY)
    async def build_plan(name: str, request: Request):
        """What building the source would build: the kind detected, the Dockerfile, the processes."""
        source = await request.body()
        if len(source) > SOURCE_LIMIT:
            raise InvalidInput(f"the source archive is over {SOURCE_LIMIT // 2**20} MiB: list what "
                               "the build does not need in .dockerignore.")
        return builds.plan(name, source)

    return r
