"""Routes of `sentinel preview` (docs/previews.md): thin, over services/previews.py."""
from __future__ import annotations

from fastapi import APIRouter, Depends

from ...models import PreviewCreate, PreviewUpdate
from ...services.previews import PreviewService
from ..responses import ERRORS, OperationStarted, PreviewList


def router(previews: PreviewService, auth) -> APIRouter:
    r = APIRouter(prefix="/v1", dependencies=[Depends(auth)], responses=ERRORS)

    @r.get("/previews", response_model=PreviewList)
    def list_previews(app: str | None = None):
        """Every preview (of one app with ?app=): its address, data and time left."""
        return {"previews": previews.list(app)}

    @r.post("/apps/{name}/previews", response_model=OperationStarted, status_code=202)
    def create(name: str, body: PreviewCreate):
        """A preview of the app: the image at <preview>.<app's domain>, with its own copy of the
        app's data (or an empty database)."""
        return {"operation": previews.start_create(name, body)}

    @r.post("/apps/{name}/previews/{preview}/update", response_model=OperationStarted,
            status_code=202)
    def update(name: str, preview: str, body: PreviewUpdate):
        """A new version of the preview; its data stays."""
        return {"operation": previews.start_update(name, preview, body.image, body.processes)}

    @r.post("/apps/{name}/previews/{preview}/refresh", response_model=OperationStarted,
            status_code=202)
    def refresh(name: str, preview: str):
        """Its data copied again from the app now; its version stays."""
        return {"operation": previews.start_refresh(name, preview)}

    @r.delete("/apps/{name}/previews/{preview}", response_model=OperationStarted, status_code=202)
    def delete(name: str, preview: str):
        """The preview and all it has: services, routes, network, its database copy, volumes."""
        return {"operation": previews.start_delete(name, preview)}

    return r
