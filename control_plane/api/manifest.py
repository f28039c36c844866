"""Routes of `sentinel apply`, `diff`, `export` and `canary approve`: thin, each parses a model
and hands the work to control_plane/services/manifest.py (or the canary's gate)."""
from __future__ import annotations

from fastapi import APIRouter, Depends

from ..jobs import Jobs
from ..models import ManifestApply
from ..platform import Platform
from ..services.canary import CanaryService
from ..services.manifest import ManifestService
from .responses import ERRORS, CanaryStatus, ManifestApplied, ManifestDiff, ManifestExport


def router(platform: Platform, jobs: Jobs, canary: CanaryService, auth) -> APIRouter:
    r = APIRouter(prefix="/v1", dependencies=[Depends(auth)], responses=ERRORS)
    manifests = ManifestService(platform, jobs, canary)

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

    @r.post("/apps/{name}/canary/approve", response_model=CanaryStatus)
    def approve(name: str):
        """Pass the gate a progressive canary waits at (`pause: approve`)."""
        return canary.approve(name)

    return r
