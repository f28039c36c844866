"""A lost control plane restored, cluster scaling, a dead worker, and destroy: run last, after
the app tests."""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import NAME

pytestmark = pytest.mark.e2e


def alive(pid: int) -> bool:
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()
    except FileNotFoundError:
        return False


def states(platform) -> dict[str, str]:
    return {n["name"]: n["state"] for n in platform.json("cluster", "inspect")["nodes"]}


def test_a_lost_control_plane_resumes_from_its_sealed_copy(platform, todos):
    """The control plane's machine is lost (stopped, its home gone): the apps keep serving; its
    state, copied sealed to the backup node, is restored on a "new machine" (an empty home) with
    the recovery key, and a canary in flight and a point-in-time restore then work."""
    app, domain = "todos", todos
    platform.cli("canary", "rollback", app, "--yes", check=False)  # none is left running, normally
    key = platform.json("server", "recovery-key")["recovery_key"]
    assert platform.http(domain, "/api/todos", method="POST", json={"title": "before"}).status_code == 201
    image = lambda: next(a for a in platform.json("apps") if a["name"] == app)["image"]
    new = "todo:1" if image().endswith("todo:2") else "todo:2"  # whichever production is not
    platform.cli("canary", "deploy", app, "--image", new, "--weight", "20", "--yes")
    changed = time.time()
    deadline = time.monotonic() + 90  # a copy every 30 s when the state changed
    while (platform.json("cluster", "inspect")["state_copy"].get("at") or 0) <= changed:
        assert time.monotonic() < deadline, platform.cli("cluster", "inspect").stdout
        time.sleep(3)

    platform.cli("server", "stop")
    lost = platform.home.with_name(platform.home.name + "-lost")
    platform.home.rename(lost)
    try:
        # Running apps never depend on the control plane.
        assert platform.http(domain, "/api/todos").status_code == 200
        wrong = platform.cli("server", "restore", "--cluster", NAME, "--key",
                             "sentinel-recovery-key-" + "A" * 43, check=False)
        assert wrong.returncode == 1 and "does not open that copy" in wrong.stderr
        assert not (platform.home / "state.db").exists()

        restored = platform.json("server", "restore", "--cluster", NAME, "--key", key)
        assert app in restored["apps"] and app in restored["canaries"], restored
        canary = platform.json("canary", "status", app)["canary"]
        assert canary["weight"] == 20, canary
        platform.cli("canary", "promote", app, "--yes")
        assert image().endswith(new), image()

        platform.http(domain, "/api/todos", method="POST", json={"title": "kept"})
        time.sleep(1.5)
        target = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z"
        time.sleep(1.5)
        platform.http(domain, "/api/todos", method="POST", json={"title": "discarded"})
        platform.cli("db", "restore", app, "--to", target, "--yes")
        titles = [t["title"] for t in platform.http(domain, "/api/todos").json()]
        assert titles[-2:] == ["before", "kept"] and "discarded" not in titles, titles
    finally:
        if not platform.home.exists():  # the restore failed: the lost home back, for the tests after
            lost.rename(platform.home)
            platform.cli("server", "start", check=False)
        shutil.rmtree(lost, ignore_errors=True)


def test_scale_down_to_one_removes_the_node(platform):
    """2 -> 3 -> 2 with three managers is tested in test_data under writes; here the leaving
    node's container is gone for good once no database needs it."""
    for app in platform.json("apps"):
        platform.cli("delete", "app", app["name"], "--delete-data", "--yes", check=False)
    platform.cli("cluster", "scale", "--nodes", "1", "--yes")
    assert states(platform) == {f"{NAME}-node-0": "ready"}
    names = subprocess.run(["docker", "ps", "-a", "--format", "{{.Names}}"], capture_output=True,
                           text=True).stdout.split()
    assert f"{NAME}-node-1" not in names


def test_a_node_whose_engine_died_is_healed_by_itself(platform):
    """The machine answers, its engine does not (killed): the swarm lists the node down, and the
    control plane restarts its engine after a minute, with an event."""
    platform.cli("cluster", "scale", "--nodes", "2", "--yes")
    node = f"{NAME}-node-1"
    subprocess.run(["docker", "exec", node, "pkill", "-9", "-x", "dockerd"], check=True,
                   capture_output=True)
    deadline = time.monotonic() + 90
    while states(platform).get(node) != "down":
        assert time.monotonic() < deadline, states(platform)
        time.sleep(2)
    deadline = time.monotonic() + 300  # a minute down, half a minute answering, 20 s rounds, the restart
    while states(platform).get(node) != "ready":
        assert time.monotonic() < deadline, platform.cli("cluster", "inspect").stdout
        time.sleep(3)
    events = [e for e in platform.json("cluster", "inspect")["events"] if e["kind"] == "node-heal"]
    assert events and events[-1]["message"].startswith(f"{node} was listed down for"), events
    assert "its engine was restarted" in platform.cli("cluster", "inspect").stdout


def test_a_killed_worker_shows_down(platform):
    platform.cli("cluster", "scale", "--nodes", "2", "--yes")  # as it is already, unless the test above failed
    subprocess.run(["docker", "kill", f"{NAME}-node-1"], check=True, capture_output=True)
    deadline = time.monotonic() + 60
    while states(platform).get(f"{NAME}-node-1") != "down":
        assert time.monotonic() < deadline, states(platform)
        time.sleep(2)


def test_zz_destroy_leaves_nothing_behind(platform):
    pid = int((platform.home / "control-plane.pid").read_text().split()[0])
    os.kill(pid, 0)  # the control plane runs before
    platform.cli("destroy", "--delete-data", "--yes")
    # Whole names: another platform of the suite (e2e1) may be up beside this one.
    out = lambda *a: subprocess.run(a, capture_output=True, text=True).stdout.split()
    assert not [n for n in out("docker", "ps", "-a", "--format", "{{.Names}}") if n.startswith(f"{NAME}-")]
    assert f"sentinel-{NAME}" not in out("docker", "network", "ls", "--format", "{{.Name}}")
    assert not [n for n in out("docker", "volume", "ls", "--format", "{{.Name}}") if n.startswith(f"{NAME}-")]
    assert not platform.home.exists()  # state, Terraform state, keys, pid file: all gone
    deadline = time.monotonic() + 30  # the control plane stops itself last
    while alive(pid):
        assert time.monotonic() < deadline, f"the control plane (pid {pid}) still runs after destroy"
        time.sleep(0.5)
