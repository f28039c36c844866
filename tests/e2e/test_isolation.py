"""Isolation and injection, end to end as an intruder would try them: from a task of one app,
another app and the platform's insides are out of reach; from outside, the internal routers
are not routable; forced requests do not move what the judge reads; free-text inputs are
refused with their key path or passed through verbatim; first deploys at once keep every
password."""
from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from control_plane.metrics import promql

from .conftest import ROOT
from .test_platform import one_clear_error
from .test_progressive import prometheus

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def apps(platform):
    platform.cli("deploy", "--name", "alpha", "--image", "todo:1", "--port", "8000", "--yes")
    platform.cli("deploy", "--name", "beta", "--image", "todo:1", "--port", "8000", "--db", "postgres",
                 "--no-db-ha", "--db-schema", str(ROOT / "examples/todo/schema.sql"), "--yes")
    yield
    for app in ("alpha", "beta"):
        platform.cli("delete", "app", app, "--delete-data", "--yes", check=False)


def from_alpha(platform, code: str) -> str:
    """Python run inside one of alpha's tasks; its stdout."""
    node, cid = platform.task_container("alpha_web")
    p = platform.node_exec(node, "docker", "exec", cid, "python3", "-c", code)
    return p.stdout.strip() + p.stderr.strip()


PROBE = """
import socket, urllib.request, urllib.error
def probe(host, port, path="/"):
    try:
        socket.getaddrinfo(host, port)
    except socket.gaierror:
        return "unresolvable"
    try:
        return str(urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=3).status)
    except urllib.error.HTTPError as e:
        return str(e.code)
    except Exception as e:
        return type(e).__name__
"""


def test_an_apps_tasks_reach_neither_other_apps_nor_the_platforms_insides(platform, apps):
    checks = {"beta_web:8000/version": "unresolvable", "beta_db:5432": "unresolvable",
              "sentinel_prometheus:9090/-/healthy": "unresolvable",
              "sentinel_task-exporter:9323/metrics": "unresolvable",
              "sentinel_node-exporter:9100/metrics": "unresolvable",
              "sentinel_traefik:8082/metrics": "401", "sentinel_traefik:8082/api/overview": "401"}
    code = PROBE + "import json\nprint(json.dumps({" + ",".join(
        f"{k!r}: probe({k.split(':')[0]!r}, {int(k.split(':')[1].split('/')[0])}, "
        f"{('/' + k.split('/', 1)[1]) if '/' in k else '/'!r})" for k in checks) + "}))"
    got = json.loads(from_alpha(platform, code).splitlines()[-1])
    assert got == checks
    # Traefik's former open metrics port is gone altogether
    assert from_alpha(platform, PROBE + "print(probe('sentinel_traefik', 8083))").splitlines()[-1] in (
        "URLError", "ConnectionRefusedError")


def test_an_apps_tasks_reach_its_database_only_through_haproxy(platform, apps):
    """The members and the repository are on the database's own network: from a task of the
    app, neither their services nor their aliases resolve; HAProxy does, and serves the app."""
    node, cid = platform.task_container("beta_web")
    checks = ["beta_pg-0:5432", "pg-0:5432", "beta_backup:8432", "backup:8432", "beta_db:5432"]
    code = PROBE + "import json\nprint(json.dumps({" + ",".join(
        f"{k!r}: probe({k.split(':')[0]!r}, {int(k.split(':')[1])})" for k in checks) + "}))"
    p = platform.node_exec(node, "docker", "exec", cid, "python3", "-c", code)
    got = json.loads(p.stdout.strip().splitlines()[-1])
    assert {k: v for k, v in got.items() if k != "beta_db:5432"} == {
        "beta_pg-0:5432": "unresolvable", "pg-0:5432": "unresolvable",
        "beta_backup:8432": "unresolvable", "backup:8432": "unresolvable"}, got
    assert got["beta_db:5432"] != "unresolvable", got  # Postgres behind it (not HTTP: any error)
    assert platform.http("beta.localhost", "/api/todos").status_code == 200


def test_the_internal_routers_are_not_routable_from_outside(platform, apps):
    for host in ("alpha-production.sentinel.internal", "beta-production.sentinel.internal"):
        assert platform.http(host, "/version").status_code == 404
    assert platform.http("alpha.localhost", "/version").status_code == 200


def test_forced_requests_do_not_move_what_the_judge_reads(platform, apps):
    platform.cli("canary", "deploy", "alpha", "--image", "todo:2", "--weight", "0", "--yes")
    try:
        for _ in range(150):
            r = platform.http("alpha.localhost", "/version", headers={"X-Sentinel-Version": "canary"})
            assert r.headers["x-app-version"] == "2"
        time.sleep(8)  # a few scrapes
        raw = prometheus(platform, 'sum(increase(traefik_service_requests_total{service="alpha-canary@swarm"}[2m]))').json()
        judged = prometheus(platform, promql("request_rate", "alpha", "canary", "2m")).json()
        seen = float(raw["data"]["result"][0]["value"][1])
        rate = float(judged["data"]["result"][0]["value"][1]) if judged["data"]["result"] else 0.0
        assert seen >= 100  # the canary did serve them
        assert rate < 0.05  # but they are not in what the judge reads (150 over 2 min would be 1.25/s)
    finally:
        platform.cli("canary", "rollback", "alpha", "--yes")


@pytest.mark.parametrize("args,key", [
    (("--health-path", '/healthz"'), "health path"),
    (("--health-path", "/healthz; touch /tmp/pwned #"), "health path"),
    (("--domain", "x.localhost\ninjected: 1"), "domain"),
    (("--env", "BAD KEY=1"), "environment entry"),
])
def test_free_text_inputs_are_refused_with_what_is_wrong(platform, apps, args, key):
    one_clear_error(platform.cli("deploy", "--name", "gamma", "--image", "todo:1", *args, "--yes",
                                 check=False), key)
    assert "gamma" not in [a["name"] for a in platform.json("apps")]


def test_env_values_reach_the_task_verbatim(platform, apps):
    value = 'a $HOME ${PATH} "quoted" #not-a-comment\nsecond line'
    platform.cli("deploy", "--name", "alpha", "--image", "todo:1", "--port", "8000",
                 "--env", f"ODD={value}", "--yes")
    got = from_alpha(platform, "import os; print(repr(os.environ['ODD']))")
    assert got.splitlines()[-1] == repr(value)


def test_a_database_apps_tasks_get_its_url_as_a_file_too(platform, apps):
    node, cid = platform.task_container("beta_web")
    code = ("import os; u = open(os.environ['DATABASE_URL_FILE']).read(); "
            "print(u == os.environ['DATABASE_URL'], u.startswith('postgresql://beta:'))")
    p = platform.node_exec(node, "docker", "exec", cid, "python3", "-c", code)
    assert p.stdout.split() == ["True", "True"], p.stdout + p.stderr


def test_first_deploys_with_databases_at_once_keep_every_password(platform, apps):
    names = ["con-a", "con-b", "con-c", "con-d"]

    def deploy(name):
        return platform.cli("deploy", "--name", name, "--image", "todo:1", "--port", "8000", "--db",
                            "postgres", "--no-db-ha", "--db-schema", str(ROOT / "examples/todo/schema.sql"),
                            "--yes", check=False)

    try:
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(deploy, names))
        assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
        for name in names:  # each app's own password works: it writes and reads its rows
            r = platform.http(f"{name}.localhost", "/api/todos", method="POST", json={"title": name})
            assert r.status_code == 201, (name, r.text)
            assert name in platform.http(f"{name}.localhost", "/api/todos").text
        edges = set()
        for name in names:  # and each got an edge network of its own
            inspect = json.loads(platform.node_exec("0", "docker", "service", "inspect",
                                                    f"{name}_web").stdout)[0]
            labels = inspect["Spec"]["Labels"]
            edges.add(labels["traefik.swarm.network"])
        assert len(edges) == len(names)
    finally:
        for name in names:
            platform.cli("delete", "app", name, "--delete-data", "--yes", check=False)
