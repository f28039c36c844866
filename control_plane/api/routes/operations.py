"""Routes of `sentinel operations` and of following one operation's events."""
from __future__ import annotations

from fastapi import APIRouter, Depends

from ...errors import NotFound
from ...services.wiring import Services
from ..responses import ERRORS, Operation, OperationDetail


def router(services: Services, auth) -> APIRouter:
    r = APIRouter(prefix="/v1", dependencies=[Depends(auth)], responses=ERRORS)
    store = services.platform.store

    @r.get("/operations/{op_id}", response_model=OperationDetail)
    def operation(op_id: str, after: int = 0):
        op = store.operation(op_id)
        if not op:
            raise NotFound(f"no operation {op_id}.")
        op["events"] = store.events(op_id=op_id, after=after)
        return op

    @r.get("/operations", response_model=list[Operation])
    def operations(target: str | None = None, limit: int = 20):
        """The latest operations (of one target, e.g. app:todos or cluster), newest first."""
        return store.operations(target=target, limit=max(1, min(limit, 100)))

    return r
