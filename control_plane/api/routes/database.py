"""Routes of `sentinel db`: thin, each parses a model and hands work to the database services."""
from __future__ import annotations

from fastapi import APIRouter, Depends

from ...models import DbBackup, DbHa, DbRestore, DbSql, DbSwitchover
from ...services.wiring import Services
from ..responses import (ERRORS, BackupListing, DbStatus, OperationStarted, RestorePlan,
                        SqlResult)


def router(services: Services, auth) -> APIRouter:
    r = APIRouter(prefix="/v1/apps/{name}/db", dependencies=[Depends(auth)], responses=ERRORS)
    ops = services.db_ops

    @r.get("", response_model=DbStatus)
    def status(name: str):
        return ops.status(name)

    @r.get("/backups", response_model=BackupListing)
    def backups(name: str):
        return services.backups.listing(name)

    @r.post("/backups", status_code=202, response_model=OperationStarted)
    def backup(name: str, body: DbBackup):
        return {"operation": ops.start_backup(name, body.type)}

    @r.get("/restore-plan", response_model=RestorePlan)
    def restore_plan(name: str, to: str, into: str | None = None):
        return ops.restore_plan(name, to, into)

    @r.post("/restore", status_code=202, response_model=OperationStarted)
    def restore(name: str, body: DbRestore):
        return {"operation": ops.start_restore(name, body.to, body.into)}

    @r.post("/verify", status_code=202, response_model=OperationStarted)
    def verify(name: str):
        return {"operation": ops.start_verify(name)}

    @r.post("/switchover", status_code=202, response_model=OperationStarted)
    def switchover(name: str, body: DbSwitchover):
        return {"operation": ops.start_switchover(name, body.to)}

    @r.post("/rebuild", status_code=202, response_model=OperationStarted)
    def rebuild(name: str):
        return {"operation": ops.start_rebuild(name)}

    @r.post("/ha", status_code=202, response_model=OperationStarted)
    def ha(name: str, body: DbHa):
        return {"operation": ops.start_ha(name, body.enabled, body.node)}

    @r.post("/sql", response_model=SqlResult)
    def sql(name: str, body: DbSql):
        return ops.psql(name, body.sql)

    return r
