"""The canary report's data: per-version series, the latest judgment, the event history."""
from __future__ import annotations

import time

from .. import names
from ..errors import CommandFailed
from ..metrics import METRICS, rate_window
from ..platform import Platform

MAX_POINTS = 240  # per series: enough for a chart, small enough to refresh every few seconds


def report_step(window: float, scrape: float) -> float:
    return max(scrape, round(window / MAX_POINTS, 3))


class ReportService:
    def __init__(self, platform: Platform):
        self.p = platform

    def report(self, name: str, window: float = 900) -> dict:
        app = self.p.store.require_app(name)
        c = self.p.store.canary(name)
        roles = ["production"] + (["baseline"] if c and c.baseline else []) + \
                (["canary"] if c else [])
        now = time.time()
        scrape = self.p.scrape_seconds
        step = report_step(window, scrape)
        error = None
        try:
            series = self.p.prometheus().series(name, roles, METRICS, now - window, now, step,
                                                rate_window(scrape))
        except CommandFailed as e:  # the page still shows judgments and events
            series, error = {m: {r: [] for r in roles} for m in METRICS}, e.message
        latest = self.p.store.judgments(name, limit=1)
        judgment = latest[0]["result"] if latest and c and latest[0]["at"] >= c.started_at else None
        canary = None
        if c:
            canary = {"image": c.image, "weight": c.weight, "state": c.state,
                      "since": c.started_at, "baseline": c.baseline,
                      "progressive": c.progressive.model_dump() if c.progressive else None,
                      "release": c.release}
        return {"app": name, "now": now, "window": window, "step": step, "roles": roles,
                "canary": canary, "production": {"image": app.image}, "series": series,
                "judgment": judgment, "metrics_error": error,
                "events": self.p.store.events(target=names.canary_target(name), limit=50)}
