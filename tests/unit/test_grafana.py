import importlib.util
import json
import re

import yaml

from control_plane.paths import MONITORING_DIR, PROJECT_ROOT
from control_plane.services.cluster import GRAFANA_FILES

GRAFANA = MONITORING_DIR / "grafana"
_spec = importlib.util.spec_from_file_location(
    "task_exporter", PROJECT_ROOT / "images" / "task-exporter" / "exporter.py")
exporter = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(exporter)

KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
            "bool", "offset"}


def dashboard() -> dict:
    return json.loads((GRAFANA / "dashboards" / "sentinel.json").read_text())


def graph_panels() -> list[dict]:
    return [p for p in dashboard()["panels"] if p["type"] != "row"]  # rows only group panels


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: identifiers left once strings, label
    matchers, ranges and grouping clauses are gone, that are not function calls or keywords."""
    expr = re.sub(r'"(\\.|[^"\\])*"', "", expr)
    expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    found = re.finditer(r"(?<![\w.$])([a-zA-Z_:][\w:]*)\b(?!\s*\()", expr)
    return {m.group(1) for m in found} - KEYWORDS


def produced(name: str) -> bool:
    return name in exporter.METRICS or name.startswith(("traefik_service_", "node_"))


def test_metric_names_helper():
    assert metric_names('sum by (role, le) (rate(a_total{x="b(c)"}[$__rate_interval])) '
                        '* on (instance) group_left (nodename) node_uname_info') == {
        "a_total", "node_uname_info"}


def test_every_panel_queries_prometheus_for_metrics_the_platform_produces():
    panels = graph_panels()
    assert len(panels) >= 9
    for p in panels:
        assert p["datasource"]["uid"] == "sentinel-prometheus", p["title"]
        assert p["targets"], p["title"]
        for t in p["targets"]:
            names = metric_names(t["expr"])
            assert names, (p["title"], t["expr"])
            assert all(produced(n) for n in names), (p["title"], names)


def test_the_dashboard_covers_traffic_tasks_and_nodes():
    exprs = " ".join(t["expr"] for p in graph_panels() for t in p["targets"])
    for name in ("traefik_service_requests_total", "traefik_service_request_duration_seconds_bucket",
                 "sentinel_task_cpu_seconds_total", "sentinel_task_memory_bytes",
                 "node_cpu_seconds_total", "node_memory_MemAvailable_bytes",
                 "node_filesystem_avail_bytes"):
        assert name in exprs, name
    assert "histogram_quantile(0.5," in exprs and "histogram_quantile(0.99," in exprs
    assert 'code=~"5.."' in exprs


def test_app_variable_is_defined_and_used():
    (var,) = [v for v in dashboard()["templating"]["list"] if v["name"] == "app"]
    assert var["query"]["query"] == "label_values(sentinel_task_cpu_seconds_total, app)"
    app_panels = [p for p in graph_panels()
                  if not all(n.startswith("node_") for t in p["targets"]
                             for n in metric_names(t["expr"]))]
    assert app_panels
    for p in app_panels:
        assert all("$app" in t["expr"] for t in p["targets"]), p["title"]


def test_each_role_appears_side_by_side():
    for p in graph_panels():
        text = json.dumps(p)
        if "traefik_service_" in text:
            # the service label <app>-<role>@swarm becomes a role label, one series per role
            for t in p["targets"]:
                assert "$app-(production|baseline|canary)@swarm" in t["expr"]
                assert "{{role}}" in t["legendFormat"]
    overrides = json.dumps([p["fieldConfig"]["overrides"] for p in graph_panels()])
    for role in ("production", "baseline", "canary"):
        assert role in overrides


def test_datasource_and_dashboard_provider_yaml():
    ds = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    assert ds["apiVersion"] == 1
    (source,) = ds["datasources"]
    assert source["type"] == "prometheus" and source["uid"] == "sentinel-prometheus"
    assert source["url"] == "http://sentinel_prometheus:9090"
    prov = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "sentinel.yml").read_text())
    (provider,) = prov["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/etc/sentinel/grafana/dashboards"


def test_the_control_plane_ships_every_grafana_file():
    shipped = {p.relative_to(GRAFANA).as_posix() for p in GRAFANA.rglob("*") if p.is_file()}
    assert shipped == set(GRAFANA_FILES)
