"""A new database is protected from its first second, and copies of an app's data stay in their
own networks, end to end: a release with a migration right after the first deploy (its check
restores a copy), a point-in-time restore right after the deploy, a copy restored --into and
an app deployed on it, the networks of every task of those copies, and the credentials a
deleted app leaves behind (none)."""
from __future__ import annotations

import json
import threading
import time

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.e2e

APP, COPY = "fresh", "fresh-copy"
DOMAIN, COPY_DOMAIN = "fresh.localhost", "fresh-copy.localhost"
PLATFORM_STACKS = {"sentinel", "sentinel-registry", "sentinel-dcs"}


def secret_keys(platform) -> set[str]:
    return set(json.loads((platform.home / "secrets.json").read_text()))


def task_networks(platform, stack: str) -> dict[str, set[str]]:
    """service -> the names of the networks its tasks are attached to, read from the swarm
    (task inspect on the manager) for every service of `stack`."""
    ls = platform.node_exec("0", "docker", "service", "ls", "--format", "{{.Name}}", "--filter",
                            f"label=com.docker.stack.namespace={stack}")
    out: dict[str, set[str]] = {}
    for service in ls.stdout.split():
        ids = platform.node_exec("0", "docker", "service", "ps", "-q", "--no-trunc", service).stdout.split()
        if not ids:
            continue
        tasks = json.loads(platform.node_exec("0", "docker", "inspect", *ids).stdout or "[]")
        out[service] = {a["Network"]["Spec"]["Name"] for t in tasks
                        for a in t.get("NetworksAttachments") or []}
    return out


def other_apps_networks(platform, own: set[str]) -> set[str]:
    """Every app, database and edge network in the swarm that some other stack's service (or
    another app's copy source) is attached to."""
    services = json.loads(platform.node_exec("0", "sh", "-c",
                                             "docker service inspect $(docker service ls -q)").stdout)
    nets = {n["ID"]: n["Name"] for n in map(json.loads, platform.node_exec(
        "0", "docker", "network", "ls", "--format", "{{json .}}").stdout.splitlines())}
    used = set()
    for s in services:
        stack = s["Spec"].get("Labels", {}).get("com.docker.stack.namespace")
        if stack in own or stack in PLATFORM_STACKS:  # Traefik joins every edge network
            continue
        for n in s["Spec"]["TaskTemplate"].get("Networks") or []:
            name = nets.get(n["Target"], n["Target"])
            if name.startswith(("app-", "db-", "sentinel-edge-")):
                used.add(name)
    return used


@pytest.fixture(scope="module")
def fresh(platform):
    before = secret_keys(platform)
    platform.cli("deploy", "--name", APP, "--image", "todo:1", "--port", "8000", "--db", "postgres",
                 "--db-schema", str(ROOT / "examples/todo/schema.sql"), "--replicas", "1",
                 "--no-db-ha", "--yes")  # one member: nothing here needs a standby, CI's cores do
    yield before
    for app in (COPY, APP):
        platform.cli("delete", "app", app, "--delete-data", "--yes", check=False)


def test_a_release_right_after_the_first_deploy_passes_its_check_on_a_copy_in_its_own_network(platform, fresh):
    backups = platform.json("db", "backups", APP)["backups"]
    assert [b["type"] for b in backups if not b["error"]] == ["full"]  # taken by the deploy itself

    seen: dict[str, set[str]] = {}
    others: set[str] = set()
    done = threading.Event()

    def watch() -> None:  # the scratch copy lives only while the check runs
        nonlocal others
        while not done.is_set():
            ls = platform.node_exec("0", "docker", "stack", "ls", "--format", "{{.Name}}").stdout.split()
            for stack in [s for s in ls if s.startswith("sentinel-check-")]:
                for service, nets in task_networks(platform, stack).items():
                    if nets and service.endswith("_web"):
                        seen[service] = nets
                        others = other_apps_networks(platform, {stack})
            time.sleep(1)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        platform.cli("canary", "deploy", APP, "--image", "todo:3", "--release-command",
                     "python3 migrate.py up", "--weight", "10", "--yes")
    finally:
        done.set()
        watcher.join(timeout=60)
    status = platform.json("canary", "status", APP)["canary"]
    assert status["release"]["check"]["passed"] is True
    assert seen, "the check's scratch copy ran no production task that could be inspected"
    for service, nets in seen.items():
        scratch = service.rsplit("_", 1)[0]
        # Its own network only: no edge network, no other app's network.
        assert nets == {f"app-{scratch}"}, (service, nets)
        assert not nets & others
    platform.cli("canary", "rollback", APP, "--yes")


def test_a_point_in_time_restore_right_after_the_deploy_lands_on_the_target(platform, fresh):
    first = platform.http(DOMAIN, "/api/todos", method="POST", json={"title": "kept"}).json()
    time.sleep(1.5)
    target = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z"
    time.sleep(1.5)
    platform.http(DOMAIN, "/api/todos", method="POST", json={"title": "discarded"})
    platform.cli("db", "restore", APP, "--to", target, "--yes")
    assert [t["title"] for t in platform.http(DOMAIN, "/api/todos").json()] == ["kept"]
    assert first["title"] == "kept"


def test_an_app_deployed_on_a_copy_answers_with_the_copied_rows_in_networks_of_its_own(platform, fresh):
    platform.cli("db", "restore", APP, "--to", "latest", "--into", COPY, "--yes")
    copy_nets = task_networks(platform, COPY)
    assert copy_nets and all(not any(n.startswith("sentinel-edge-") for n in nets)
                             for nets in copy_nets.values()), copy_nets  # nothing deployed yet
    assert [b["type"] for b in platform.json("db", "backups", COPY)["backups"]] == ["full"]

    platform.cli("deploy", "--name", COPY, "--image", "todo:1", "--port", "8000", "--yes")
    rows = platform.http(COPY_DOMAIN, "/api/todos").json()
    assert [t["title"] for t in rows] == ["kept"]
    # A row written to the copy is not in production.
    assert platform.http(COPY_DOMAIN, "/api/todos", method="POST", json={"title": "copy only"}).status_code == 201
    assert "copy only" not in [t["title"] for t in platform.http(DOMAIN, "/api/todos").json()]

    nets = task_networks(platform, COPY)
    edges = {n for ns in nets.values() for n in ns if n.startswith("sentinel-edge-")}
    assert nets[f"{COPY}_web"] - {f"app-{COPY}"} == edges and len(edges) == 1, nets
    assert not (edges | {f"app-{COPY}"}) & other_apps_networks(platform, {COPY})


def test_deleting_apps_data_deletes_their_credentials(platform, fresh):
    for app in (COPY, APP):
        platform.cli("delete", "app", app, "--delete-data", "--yes")
    after = secret_keys(platform)
    assert after == fresh, sorted(after ^ fresh)
    assert not [k for k in after if k.startswith(("db_fresh", "db_sentinel-check-"))]
