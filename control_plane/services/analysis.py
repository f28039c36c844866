"""Canary analysis on live data: Prometheus series of canary vs control, judged, archived.

The control is the baseline when the canary has one (like with like, as Kayenta advises),
else production. Every judgment is stored with its inputs so it can be re-judged later
with `sentinel canary judge`.
"""
from __future__ import annotations

import time

from ..analysis import AnalysisConfig, AnalysisError, default_analysis, judge
from ..analysis.config import analysis_from_dict
from ..errors import InvalidInput
from ..metrics import METRICS, promql, rate_window
from ..platform import Platform
from ..traefik import MIRRORED_METHODS
from ..records import Canary


def analysis_config(raw: dict | None) -> AnalysisConfig:
    """The canary's analysis (default when none), checked against the metrics we can query."""
    try:
        config = analysis_from_dict(raw) if raw else default_analysis()
    except AnalysisError as e:
        raise InvalidInput(f"analysis: {e.message}")
    for i, m in enumerate(config.metrics):
        if m.name not in METRICS:
            raise InvalidInput(f"analysis: metrics[{i}].name: {m.name!r} is not a metric Sentinel "
                               f"collects (one of {', '.join(METRICS)}).")
    return config


def control_role(canary: Canary) -> str:
    return "baseline" if canary.baseline else "production"


def judged_methods(canary: Canary) -> tuple[str, ...] | None:
    """A shadow canary (mirrored, no weight) sees only the GET/HEAD requests copied to it: both
    sides are judged on those methods alone, so production's writes do not skew the comparison."""
    return MIRRORED_METHODS if canary.mirror and not canary.weight else None


def only_critical(config: AnalysisConfig) -> AnalysisConfig | None:
    """The early check's config: the metrics marked critical, or None if there are none."""
    crit = [m for m in config.metrics if m.critical]
    if not crit:
        return None
    return AnalysisConfig.model_validate({"metrics": [m.model_dump() for m in crit],
                                          "thresholds": config.thresholds.model_dump(by_alias=True),
                                          "confidence": config.confidence,
                                          "inconclusive": config.inconclusive.model_dump()})


class Analyzer:
    def __init__(self, platform: Platform):
        self.p = platform

    def collect(self, app: str, canary: Canary, config: AnalysisConfig, start: float,
                end: float) -> dict[str, dict[str, list]]:
        """metric -> {"control": [...], "experiment": [...]}, one point per scrape interval."""
        prom = self.p.prometheus()
        step = self.p.scrape_seconds
        window = rate_window(step)
        control = control_role(canary)
        methods = judged_methods(canary)
        data = {}
        for m in config.metrics:
            series = {side: prom.range(promql(m.name, app, role, window, methods), start, end, step)
                      for side, role in (("control", control), ("experiment", "canary"))}
            data[m.name] = {side: [v for _, v in points] for side, points in series.items()}
        return data

    def requests(self, app: str, canary: Canary, start: float, end: float) -> dict[str, float]:
        """Requests each side served in [start, end] and how many failed (`<side>_errors`),
        estimated from the rate series (mean rate x duration; no series means none)."""
        prom = self.p.prometheus()
        step = self.p.scrape_seconds
        window = rate_window(step)
        out = {}
        methods = judged_methods(canary)
        for side, role in (("control", control_role(canary)), ("experiment", "canary")):
            for key, metric in ((side, "request_rate"), (f"{side}_errors", "error_rate")):
                rates = [v or 0.0 for _, v in prom.range(promql(metric, app, role, window, methods),
                                                         start, end, step)]
                out[key] = round(sum(rates) / len(rates) * max(0.0, end - start), 1) if rates else 0.0
        return out

    def judge(self, app: str, canary: Canary, config: AnalysisConfig, start: float, end: float,
              kind: str = "analysis", archive: bool = True, count_requests: bool = True) -> dict:
        data = self.collect(app, canary, config, start, end)
        # Too few canary requests make a judgment inconclusive (config.inconclusive), and so do
        # too few to rule out a doubling of the baseline's errors.
        requests = self.requests(app, canary, start, end) if count_requests else None
        result = judge(config, data, requests).model_dump()
        result.update({"at": end, "window": [start, end], "control": control_role(canary),
                       "kind": kind, "points": {k: len(v["experiment"]) for k, v in data.items()}})
        if archive:
            self.p.store.add_judgment(app, {"config": config.model_dump_config(), "data": data,
                                            **({"requests": requests} if requests else {})}, result)
        return result

    def analyze(self, app: str, canary: Canary, window_seconds: float) -> dict:
        """`sentinel canary analyze`: the canary's last `window` (never before it started)."""
        end = time.time()
        start = max(end - window_seconds, canary.started_at)
        config = analysis_config(canary.analysis)
        return self.judge(app, canary, config, start, end, kind="analyze")
