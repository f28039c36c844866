"""Per-version metrics from Prometheus: the PromQL for each metric and role, and the one client.

Roles are production, canary and baseline. Traefik labels its per-service series
`<app>-<role>@swarm`; the task exporter labels CPU and memory with `app` and `role`.
The control plane reaches Prometheus through Traefik's admin entrypoint (basic auth), the same
door it uses for Traefik's own API, so no extra port is opened.
"""
from __future__ import annotations

import math
import re

import httpx

from .errors import CommandFailed
from .names import SECURE_SUFFIX, TraefikObjects, traefik_ref

PROMETHEUS_HOST = "prometheus.sentinel.internal"
# What the report charts and the judge's default analysis know how to query.
METRICS = ("request_rate", "error_ratio", "latency_p50", "latency_p99", "cpu", "memory")
def parse_duration(text: str | int | float) -> float:
    """'90s', '5m', '1h', '1m30s' or a number of seconds -> seconds."""
    if isinstance(text, (int, float)):
        if text <= 0:
            raise ValueError("must be positive")
        return float(text)
    s = str(text).strip()
    if re.fullmatch(r"\d+(\.\d+)?", s):
        return parse_duration(float(s))
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)", s)
    if not parts or "".join(a + b for a, b in parts) != s:
        raise ValueError(f"{text!r} is not a duration like 30s, 5m or 1h")
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    return parse_duration(sum(float(a) * scale[b] for a, b in parts))


def rate_window(scrape_seconds: float) -> str:
    """A rate() window holding at least 5 scrapes, and never under 10 s."""
    return f"{int(max(10, math.ceil(5 * scrape_seconds)))}s"


def forced_routers(app: str, role: str) -> str:
    """The routers that carry requests forced to a version by header or cookie (testers)."""
    # app: a DNS label, nothing to escape in the regex
    return f'router=~"{TraefikObjects(app).force_router(role)}({SECURE_SUFFIX})?@file"'


def _unforced(expr: str, family: str, svc: str, forced: str, window: str,
              by: str = "", extra: str = "") -> str:
    """rate of `family` for the service minus the same for the forced routers: what the weights
    sent. `or` keeps the service's own when no forced request was ever counted."""
    grouping = f" by ({by})" if by else ""
    mine = f"sum{grouping}(rate(traefik_service_{family}{{{svc}{extra}}}[{window}]))"
    theirs = f"sum{grouping}(rate(traefik_router_{family}{{{forced}{extra}}}[{window}]))"
    return f"(({mine} - {theirs}) or {mine})"


def method_filter(methods: tuple[str, ...] | None) -> str:
    """A label matcher keeping only these HTTP methods (letters only: nothing to escape)."""
    if not methods:
        return ""
    assert all(m.isalpha() and m.isupper() for m in methods), methods
    return f',method=~"{"|".join(methods)}"'


def promql(metric: str, app: str, role: str, window: str,
           methods: tuple[str, ...] | None = None) -> str:
    """The PromQL of one metric of one version of an app (a single series, or none). Requests
    forced to a version by the tester header or cookie are left out: they did not come by the
    weights, and counting them would let anyone dilute (or inflate) a canary's errors.
    methods: only requests of these methods (a shadow canary is judged on the GET/HEAD requests
    it was mirrored, against the GET/HEAD requests of its control)."""
    svc = f'service="{traefik_ref(app, role)}"'
    forced = forced_routers(app, role)
    task = f'app="{app}",role="{role}"'
    only = method_filter(methods)
    reqs = _unforced("", "requests_total", svc, forced, window, extra=only)
    if metric == "request_rate":
        return reqs
    # No 5xx series at all means no errors, not no data.
    errors = _unforced("", "requests_total", svc, forced, window, extra=',code=~"5.."' + only)
    if metric == "error_rate":  # 5xx per second (counted for the judge, not a metric to judge)
        return f"({errors} or vector(0))"
    if metric == "error_ratio":  # no requests at all gives NaN (no data)
        return f"({errors} or vector(0)) / {reqs}"
    if metric in ("latency_p50", "latency_p99"):
        q = 0.5 if metric == "latency_p50" else 0.99
        buckets = _unforced("", "request_duration_seconds_bucket", svc, forced, window, by="le",
                            extra=only)
        return f"histogram_quantile({q}, {buckets})"
    if metric == "cpu":  # cores per task, so versions with different replica counts compare
        return f"avg(rate(sentinel_task_cpu_seconds_total{{{task}}}[{window}]))"
    if metric == "memory":
        return f"avg(sentinel_task_memory_bytes{{{task}}})"
    raise ValueError(f"unknown metric {metric!r}")


def values_of(result: list[dict]) -> list[list[float | None]]:
    """A query_range matrix with one series -> [[t, v], ...] (NaN/Inf become None)."""
    if not result:
        return []
    out = []
    for t, v in result[0].get("values", []):
        f = float(v)
        out.append([float(t), f if math.isfinite(f) else None])
    return out


def range_params(query: str, start: float, end: float, step: float) -> dict[str, str]:
    # Plain seconds: a Prometheus duration ("3.75s") must be a whole number of its unit.
    return {"query": query, "start": f"{start:.3f}", "end": f"{end:.3f}",
            "step": f"{max(step, 0.001):g}"}


class Prometheus:
    def __init__(self, base_url, auth: tuple[str, str], host: str = PROMETHEUS_HOST,
                 on_error=None):
        """base_url: a string, or a function giving it (a tunnel that can be made again);
        on_error: called when the server could not be reached, before the one retry."""
        self._base = base_url
        self.auth = auth
        self.headers = {"Host": host}
        self.on_error = on_error

    @property
    def base(self) -> str:
        return (self._base() if callable(self._base) else self._base).rstrip("/")

    def _get(self, path: str, params: dict) -> dict:
        for attempt in (1, 2):
            try:
                r = httpx.get(f"{self.base}{path}", params=params, auth=self.auth,
                              headers=self.headers, timeout=10)
                break
            except httpx.HTTPError as e:
                if attempt == 1 and self.on_error:
                    self.on_error()
                    continue
                raise CommandFailed(f"Prometheus could not be reached ({e.__class__.__name__}): "
                                    "check `sentinel cluster inspect`.")
        if r.status_code != 200:
            raise CommandFailed(f"Prometheus answered {r.status_code}: {r.text[:200]}")
        body = r.json()
        if body.get("status") != "success":
            raise CommandFailed(f"Prometheus refused a query: {body.get('error', 'unknown error')}")
        return body["data"]

    def range(self, query: str, start: float, end: float, step: float) -> list[list[float | None]]:
        data = self._get("/api/v1/query_range", range_params(query, start, end, step))
        return values_of(data.get("result", []))

    def ready(self) -> bool:
        try:
            self._get("/api/v1/query", {"query": "up"})
            return True
        except CommandFailed:
            return False

    def series(self, app: str, roles: list[str], metrics: tuple[str, ...] | list[str], start: float,
               end: float, step: float, window: str) -> dict[str, dict[str, list]]:
        """metric -> role -> [[t, v], ...]"""
        return {m: {r: self.range(promql(m, app, r, window), start, end, step) for r in roles}
                for m in metrics}
