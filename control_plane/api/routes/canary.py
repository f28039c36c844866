"""Routes of `sentinel canary`: deploy, status, traffic, promote, rollback, approve, analyze,
and the report the /ui page draws."""
from __future__ import annotations

from fastapi import APIRouter, Depends

from ...errors import InvalidInput
from ...metrics import parse_duration
from ...models import CanaryDeploy, CanaryPromote, CanaryRollback, CanaryTraffic
from ...services.wiring import Services
from ..responses import ERRORS, CanaryReport, CanaryStatus, Judgment, OperationStarted


def duration(text: str, what: str) -> float:
    try:
        seconds = parse_duration(text)
    except ValueError:
        raise InvalidInput(f"{what} {text!r} is not a duration like 90s, 5m or 1h.")
    if not 10 <= seconds <= 7 * 86400:
        raise InvalidInput(f"{what} must be between 10s and 7d.")
    return seconds


def router(services: Services, auth) -> APIRouter:
    r = APIRouter(prefix="/v1/apps/{name}", dependencies=[Depends(auth)], responses=ERRORS)
    canary = services.canary

    @r.post("/canary", response_model=OperationStarted, status_code=202)
    def canary_deploy(name: str, body: CanaryDeploy):
        return {"operation": canary.start_deploy(name, body)}

    @r.get("/canary", response_model=CanaryStatus)
    def canary_status(name: str):
        return canary.status(name)

    @r.post("/canary/traffic", response_model=OperationStarted, status_code=202)
    def canary_traffic(name: str, body: CanaryTraffic):
        return {"operation": canary.start_traffic(name, body.weight)}

    @r.post("/canary/promote", response_model=OperationStarted, status_code=202)
    def canary_promote(name: str, body: CanaryPromote | None = None):
        return {"operation": canary.start_promote(name, (body or CanaryPromote()).post_promote_command)}

    @r.post("/canary/rollback", response_model=OperationStarted, status_code=202)
    def canary_rollback(name: str, body: CanaryRollback | None = None):
        return {"operation": canary.start_rollback(name, restore_db=(body or CanaryRollback()).restore_db)}

    @r.post("/canary/approve", response_model=CanaryStatus)
    def approve(name: str):
        """Pass the gate a progressive canary waits at (`pause: approve`)."""
        return canary.approve(name)

    @r.post("/canary/analyze", response_model=Judgment)
    def canary_analyze(name: str, window: str = "5m"):
        return services.analyzer.analyze(name, canary.require(name), duration(window, "--window"))

    @r.get("/report", response_model=CanaryReport)
    def report(name: str, window: str = "15m"):
        return services.reports.report(name, duration(window, "window"))

    return r
