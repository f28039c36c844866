"""PromQL per metric and role, durations, and Prometheus answers turned into series."""
import math

import pytest

from control_plane.metrics import (METRICS, parse_duration, promql, range_params, rate_window,
                                   values_of)
from control_plane.services.report import report_step


@pytest.mark.parametrize("text,seconds", [("30s", 30), ("5m", 300), ("1h", 3600), ("1m30s", 90),
                                          ("250ms", 0.25), ("45", 45), (12, 12)])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "5 m", "m5", "5x", "-5s", "0s", "5m-", 0, -1])
def test_parse_duration_refuses(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_rate_window_holds_five_scrapes_and_at_least_ten_seconds():
    assert rate_window(1) == "10s"
    assert rate_window(2) == "10s"
    assert rate_window(5) == "25s"
    assert rate_window(0.5) == "10s"


MINE = 'sum(rate(traefik_service_requests_total{service="todos-canary@swarm"}[10s]))'
FORCED = 'sum(rate(traefik_router_requests_total{router=~"todos-force-canary(-secure)?@file"}[10s]))'


def test_traefik_metrics_select_the_role_service_without_forced_requests():
    assert promql("request_rate", "todos", "canary", "10s") == f"(({MINE} - {FORCED}) or {MINE})"
    q = promql("latency_p99", "todos", "baseline", "10s")
    assert q.startswith("histogram_quantile(0.99, ((sum by (le)(rate(")
    assert 'traefik_service_request_duration_seconds_bucket{service="todos-baseline@swarm"}[10s]' in q
    assert 'traefik_router_request_duration_seconds_bucket{router=~"todos-force-baseline(-secure)?@file"}' in q


def test_error_ratio_counts_missing_5xx_as_zero():
    q = promql("error_ratio", "todos", "canary", "10s")
    assert 'code=~"5.."' in q and "or vector(0)" in q
    assert q.endswith(f"/ (({MINE} - {FORCED}) or {MINE})")
    rate = promql("error_rate", "todos", "canary", "10s")
    assert q.startswith(rate) and rate.endswith("or vector(0))") and "/" not in rate.replace("/s", "")


def test_task_metrics_are_per_task_averages_of_the_role():
    assert promql("cpu", "shop", "canary", "10s") == \
        'avg(rate(sentinel_task_cpu_seconds_total{app="shop",role="canary"}[10s]))'
    assert promql("memory", "shop", "production", "10s") == \
        'avg(sentinel_task_memory_bytes{app="shop",role="production"})'


def test_every_metric_has_a_query_and_unknown_ones_are_refused():
    for m in METRICS:
        assert "todos" in promql(m, "todos", "canary", "10s")
    with pytest.raises(ValueError):
        promql("throughput", "todos", "canary", "10s")


def test_values_of_turns_nan_into_missing_points():
    result = [{"metric": {}, "values": [[1.0, "0.5"], [2.0, "NaN"], [3.0, "+Inf"], [4.0, "2"]]}]
    assert values_of(result) == [[1.0, 0.5], [2.0, None], [3.0, None], [4.0, 2.0]]
    assert values_of([]) == []


def test_report_step_keeps_series_small_but_never_below_a_scrape():
    assert report_step(900, 2) == 3.75
    assert report_step(60, 2) == 2
    assert math.ceil(86400 / report_step(86400, 2)) <= 240


def test_range_steps_are_plain_seconds_prometheus_accepts():
    p = range_params("up", 1000.0, 1900.0, 3.75)
    assert p == {"query": "up", "start": "1000.000", "end": "1900.000", "step": "3.75"}
    assert range_params("up", 0, 1, 0)["step"] == "0.001"


def test_a_shadow_canary_is_judged_on_its_mirrored_methods_on_both_sides():
    from control_plane.records import Canary
    from control_plane.services.analysis import judged_methods

    q = promql("latency_p99", "todos", "production", "10s", ("GET", "HEAD"))
    assert 'traefik_service_request_duration_seconds_bucket{service="todos-production@swarm",method=~"GET|HEAD"}' in q
    assert 'traefik_router_request_duration_seconds_bucket{router=~"todos-force-production(-secure)?@file",method=~"GET|HEAD"}' in q
    assert 'code=~"5..",method=~"GET|HEAD"' in promql("error_ratio", "todos", "canary", "10s", ("GET", "HEAD"))
    assert "method" not in promql("cpu", "todos", "canary", "10s", ("GET", "HEAD"))
    assert "method" not in promql("request_rate", "todos", "canary", "10s")
    shadow = Canary(app="todos", image="todo:2", mirror=50, weight=0)
    assert judged_methods(shadow) == ("GET", "HEAD")
    assert judged_methods(shadow.changed(weight=5)) is None
    assert judged_methods(shadow.changed(mirror=0)) is None
