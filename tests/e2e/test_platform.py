"""End to end on the real swarm: cluster, apps, canaries, as a user sees them.

Tests run in file order on one platform (see conftest.py); each asserts on what a user observes.
"""
from __future__ import annotations

import subprocess
import time

import httpx
import pytest

from .conftest import HTTP, INIT, NAME
from .load import MIN_RATE, Load

pytestmark = pytest.mark.e2e


def one_clear_error(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr + proc.stdout
    err = proc.stderr.strip()
    assert err.startswith("error:") and len(err.splitlines()) == 1, err
    for f in fragments:
        assert f in err, err


def count_versions(platform, domain: str, n: int, **headers) -> dict[str, int]:
    """Versions answering n cookie-less requests (4 clients at once, so 2,000 take seconds)."""
    from concurrent.futures import ThreadPoolExecutor

    def one_client(count: int) -> list[str]:
        got = []
        with httpx.Client(timeout=10, headers={"Host": domain, **headers}) as c:
            for _ in range(count):
                c.cookies.clear()
                r = c.get(f"http://127.0.0.1:{HTTP}/version")
                assert r.status_code == 200
                got.append(r.headers["x-app-version"])
        return got

    shares = [n // 4 + (1 if i < n % 4 else 0) for i in range(4)]
    seen: dict[str, int] = {}
    with ThreadPoolExecutor(4) as pool:
        for got in pool.map(one_client, shares):
            for v in got:
                seen[v] = seen.get(v, 0) + 1
    return seen


def test_init_gives_two_ready_nodes_one_manager(platform):
    c = platform.json("cluster", "inspect")
    assert len(c["nodes"]) == 2
    assert [n["state"] for n in c["nodes"]] == ["ready", "ready"]
    assert sorted(n["role"] for n in c["nodes"]) == ["manager", "worker"]
    assert all(n["memory_bytes"] > 0 and n["disk_bytes"] > 0 for n in c["nodes"])


def test_init_again_reports_the_platform_and_changes_nothing(platform):
    before = platform.json("cluster", "inspect")["nodes"]
    out = platform.cli(*INIT)
    assert "already exists" in out.stdout
    # another node count is scale's job: init would drop nodes without moving their databases
    fewer = list(INIT)
    fewer[fewer.index("--nodes") + 1] = "1"
    one_clear_error(platform.cli(*fewer, check=False), "already has 2 node(s)",
                    "sentinel cluster scale --nodes 1")
    assert [n["name"] for n in platform.json("cluster", "inspect")["nodes"]] == [n["name"] for n in before]


def test_deploy_serves_the_app_and_keeps_rows_in_postgres(platform, todos):
    r = platform.http(todos, "/api/todos", method="POST", json={"title": "buy milk"})
    assert r.status_code == 201
    assert "v1" in platform.http(todos, "/").text
    assert platform.psql("todos", "select title from todos") == "buy milk"
    apps = platform.json("apps")
    assert apps[0]["name"] == "todos" and apps[0]["ready"] == "2/2" and apps[0]["db"] is True


def test_bad_input_gets_one_clear_sentence_and_changes_nothing(platform, todos):
    one_clear_error(platform.cli("deploy", "--name", "Bad_Name", "--image", "todo:1", "--port", "8000",
                                 "--yes", check=False), "lowercase letters")
    one_clear_error(platform.cli("deploy", "--name", "other", "--image", "todo:1", "--port", "8000",
                                 "--domain", "todos.localhost", "--yes", check=False), "already used")
    one_clear_error(platform.cli("deploy", "--name", "ghost", "--image", "nosuchimage:9", "--port",
                                 "8000", "--yes", check=False), "was not found")
    one_clear_error(platform.cli("deploy", "--name", "x", "--image", "todo:1", "--env", "NOEQ",
                                 "--yes", check=False), "KEY=VALUE")
    one_clear_error(platform.cli("deploy", "--name", "x", "--image", "todo:1", "--db", "postgres",
                                 "--db-schema", "/nonexistent.sql", "--yes", check=False), "does not exist")
    one_clear_error(platform.cli("delete", "app", "nosuch", "--yes", check=False), "no app named")
    one_clear_error(platform.cli("canary", "traffic", "todos", "--weight", "30", check=False), "has no canary")
    one_clear_error(platform.cli("canary", "deploy", "todos", "--image", "todo:2", "--weight", "101",
                                 "--yes", check=False), "0 to 100")
    one_clear_error(platform.cli("cluster", "scale", "--nodes", "0", "--yes", check=False), "manager")
    assert [a["name"] for a in platform.json("apps")] == ["todos"]


def test_a_failing_schema_leaves_nothing_half_deployed(platform, tmp_path):
    bad = tmp_path / "bad.sql"
    bad.write_text("CREATE TABLE t (id int);\nSELEC nonsense;\n")
    proc = platform.cli("deploy", "--name", "broken", "--image", "todo:1", "--db", "postgres",
                        "--db-schema", str(bad), "--yes", check=False)
    one_clear_error(proc, "syntax error")
    assert "broken" not in [a["name"] for a in platform.json("apps")]
    services = platform.node_exec("0", "docker", "service", "ls", "--format", "{{.Name}}").stdout
    assert "broken_" not in services
    assert "broken" not in platform.node_exec("0", "docker", "secret", "ls").stdout


def test_canary_split_is_exact_sticky_and_forceable(platform, todos):
    platform.cli("canary", "deploy", "todos", "--image", "todo:2", "--weight", "1", "--yes")
    for weight in (1, 5, 30, 50):
        if weight != 1:
            platform.cli("canary", "traffic", "todos", "--weight", str(weight))
        seen = count_versions(platform, todos, 1000)  # Traefik's weighted round robin is exact
        share = 100 * seen.get("2", 0) / 1000
        assert abs(share - weight) <= 1, (weight, seen)
    # Stickiness: a client that keeps its cookie stays on one version.
    with httpx.Client(timeout=10, headers={"Host": todos}) as c:
        versions = {c.get(f"http://127.0.0.1:{HTTP}/version").headers["x-app-version"] for _ in range(200)}
    assert len(versions) == 1
    # Testers force a version by header or cookie.
    assert count_versions(platform, todos, 50, **{"X-Sentinel-Version": "canary"}) == {"2": 50}
    assert count_versions(platform, todos, 50, **{"X-Sentinel-Version": "production"}) == {"1": 50}
    assert count_versions(platform, todos, 50, Cookie="sentinel_version=canary") == {"2": 50}
    # Data written through the canary is visible through production (one database).
    r = platform.http(todos, "/api/todos", method="POST", json={"title": "from canary"},
                      headers={"X-Sentinel-Version": "canary"})
    assert r.status_code == 201 and r.headers["x-app-version"] == "2"
    r = platform.http(todos, "/api/todos", headers={"X-Sentinel-Version": "production"})
    assert "from canary" in r.text and r.headers["x-app-version"] == "1"
    status = platform.json("canary", "status", "todos")
    assert status["canary"]["weight"] == 50 and status["canary"]["healthy"] == "1/1"
    assert [e["kind"] for e in status["events"]][:2] == ["deploy", "traffic"]


def test_rollback_under_load_loses_nothing_and_returns_all_traffic(platform, todos):
    with Load(f"http://127.0.0.1:{HTTP}/api/todos", todos) as load:
        time.sleep(2)
        platform.cli("canary", "traffic", "todos", "--weight", "20")
        time.sleep(2)
        platform.cli("canary", "rollback", "todos", "--yes")
        time.sleep(3)
    assert load.errors == [], load.errors[:5]
    assert load.rate >= MIN_RATE, load.rate
    assert count_versions(platform, todos, 100) == {"1": 100}
    assert platform.json("canary", "status", "todos")["canary"] is None


def test_canary_deploy_and_promote_under_load_lose_nothing(platform, todos):
    with Load(f"http://127.0.0.1:{HTTP}/api/todos", todos) as load:
        platform.cli("canary", "deploy", "todos", "--image", "todo:2", "--weight", "10", "--yes")
        platform.cli("canary", "traffic", "todos", "--weight", "60")
        platform.cli("canary", "promote", "todos", "--yes")
        time.sleep(3)
    assert load.errors == [], load.errors[:5]
    assert load.rate >= MIN_RATE, load.rate
    assert load.versions["2"] > 0
    assert count_versions(platform, todos, 100) == {"2": 100}
    assert "buy milk" in platform.http(todos, "/api/todos").text  # data survived


def test_in_place_update_and_scale_under_load_lose_nothing(platform, todos):
    with Load(f"http://127.0.0.1:{HTTP}/api/todos", todos) as load:
        platform.cli("deploy", "--name", "todos", "--image", "todo:1", "--port", "8000",
                     "--replicas", "2", "--yes")
        platform.cli("scale", "app", "todos", "--replicas", "3")
        time.sleep(3)
    assert load.errors == [], load.errors[:5]
    assert load.rate >= MIN_RATE, load.rate
    assert count_versions(platform, todos, 50) == {"1": 50}
    app = platform.json("inspect", "app", "todos")
    running = [t for t in app["tasks"] if t["name"].startswith("todos_web") and t["state"] == "running"]
    assert len(running) == 3
    assert len({t["node"] for t in running}) == 2  # spread across both nodes
    assert "buy milk" in platform.http(todos, "/api/todos").text


def test_an_update_that_fails_its_health_check_is_rolled_back_under_load(platform, todos):
    """The container health check (the node's prober, exec'd in the task) holds a bad version back:
    its task never takes traffic, swarm rolls back, the deploy says so, and nothing changes."""
    with Load(f"http://127.0.0.1:{HTTP}/api/todos", todos) as load:
        proc = platform.cli("deploy", "--name", "todos", "--image", "todo:2", "--port", "8000",
                            "--replicas", "3", "--env", "FAULT_HEALTH_FAIL=1", "--yes", check=False)
    one_clear_error(proc, "failed its health check", "rolled back")
    assert load.errors == [], load.errors[:5]
    assert count_versions(platform, todos, 50) == {"1": 50}
    app = platform.json("inspect", "app", "todos")
    assert app["app"]["image"] == "todo:1"
    assert len([t for t in app["tasks"] if t["name"].startswith("todos_web") and t["state"] == "running"]) == 3
    assert "buy milk" in platform.http(todos, "/api/todos").text


def test_apps_are_isolated_and_secrets_stay_secret(platform, todos):
    platform.cli("deploy", "--name", "notes", "--image", "todo:1", "--port", "8000", "--db", "postgres",
                 "--yes")
    node, cid = platform.task_container("todos_web")
    probe = platform.node_exec(node, "docker", "exec", cid, "python3", "-c",
                               "import socket; socket.getaddrinfo('notes_db', 5432)")
    assert probe.returncode != 0 and "gaierror" in probe.stderr
    own = platform.node_exec(node, "docker", "exec", cid, "python3", "-c",
                             "import socket; socket.getaddrinfo('todos_db', 5432)")
    assert own.returncode == 0
    secrets = __import__("json").loads((platform.home / "secrets.json").read_text())
    inspect_db = platform.node_exec("0", "docker", "service", "inspect", "todos_db").stdout
    assert secrets["db_todos"] not in inspect_db
    outputs = platform.cli("inspect", "app", "todos").stdout + platform.cli(
        "inspect", "logs", "todos", "--db").stdout + platform.cli("apps").stdout
    assert secrets["db_todos"] not in outputs and secrets["api_token"] not in outputs


def test_delete_app_removes_services_network_secret_and_volume(platform, todos):
    one_clear_error(platform.cli("delete", "app", "notes", "--yes", check=False), "--delete-data")
    platform.cli("delete", "app", "notes", "--delete-data", "--yes")
    assert "notes" not in [a["name"] for a in platform.json("apps")]
    assert platform.http("notes.localhost").status_code == 404
    mgr = lambda *a: platform.node_exec("0", *a).stdout
    assert "notes_" not in mgr("docker", "service", "ls", "--format", "{{.Name}}")
    assert "app-notes" not in mgr("docker", "network", "ls", "--format", "{{.Name}}")
    assert "notes-db-password" not in mgr("docker", "secret", "ls", "--format", "{{.Name}}")
    vols = platform.node_exec("0", "docker", "volume", "ls", "-q").stdout + \
        platform.node_exec("1", "docker", "volume", "ls", "-q").stdout
    assert "notes_pgdata" not in vols
    backups = subprocess.run(["docker", "exec", f"{NAME}-backup", "ls", "/var/lib/sentinel/backups"],
                             capture_output=True, text=True).stdout.split()
    assert "notes" not in backups  # its backup repository went with it
