"""Routes of `sentinel apply`, `diff` and `export`: thin, each parses a model and hands the work
to control_plane/services/manifest.py."""
from __future__ import annotations

from fastapi import APIRouter, Depends

from ...models import ManifestApply
from ...services.manifest import ManifestService
from ..responses import ERRORS, ManifestApplied, ManifestDiff, ManifestExport


def router(manifests: ManifestService, auth) -> APIRouter:
    r = APIRouter(prefix="/v1", dependencies=[Depends(auth)], responses=ERRORS)

    @r.post("/manifest/diff", response_model=ManifestDiff)
    def diff(body: ManifestApply):
        """What applying the manifest would change, and nothing else."""
        return manifests.diff(body)

    @r.post("/manifest/apply", status_code=202, response_model=ManifestApplied)
    def apply(body: ManifestApply):
        """The changes, and the operation making them (none when nothing changes)."""
        return manifests.start_apply(body)

    @r.get("/apps/{name}/manifest", response_model=ManifestExport)
    def export(name: str):
        return manifests.export(name)

    return r
