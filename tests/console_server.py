"""A real control plane process for the console's browser tests, with no platform: a temporary
SENTINEL_HOME whose store is seeded with a cluster, apps, a canary, judgments and events, and a
PATH where `ssh`, `docker` & co. are tests/fixtures/fake_swarm.py (FAKE_SWARM=down: the swarm
does not answer, as when the manager is gone). Nothing here starts Docker or touches a network."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FAKE = ROOT / "tests" / "fixtures" / "fake_swarm.py"
REPORT = json.loads((ROOT / "tests" / "unit" / "fixtures" / "report.json").read_text())
TOKEN = "console-test-token-7c1e"
PROGRAMS = ("ssh", "docker", "skopeo", "terraform", "ansible-playbook", "ssh-keyscan", "ssh-keygen",
            "scp", "umount", "sentinel-terraform")
# Ports of the platform that may run on this machine: never ours.
NOT_OURS = [range(17000, 19000), range(38000, 39000)]


def free_port() -> int:
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if not any(port in r for r in NOT_OURS):
            return port
    raise RuntimeError("no free port outside the platform's ranges")


def fake_bin(folder: Path) -> Path:
    folder.mkdir()
    for name in PROGRAMS:
        p = folder / name
        p.write_text(f"#!/bin/sh\nexec {sys.executable} {FAKE} \"$0\" \"$@\"\n")
        p.chmod(0o755)
    return folder


def seed(home: Path) -> None:
    sys.path.insert(0, str(ROOT))
    from control_plane.records import App, Canary, Node  # after the path is set
    from control_plane.store import Store

    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    (home / "secrets.json").write_text(json.dumps({"api_token": TOKEN, "db_todos": "pw-todos-123456"}))
    s = Store(home / "state.db")
    s.put("cluster", {"name": "sentinel", "provider": "local", "nodes": 2, "domain": "localhost",
                      "http_port": 8080, "https_port": 8443})
    s.put("cluster_state", "ready")
    s.put("terraform_outputs", {"manager_address": "172.29.0.11", "manager_private_address": "10.0.0.11",
                                "worker_addresses": ["172.29.0.12"], "worker_private_addresses": ["10.0.0.12"],
                                "ssh_user": "root"})
    s.set_nodes([Node(name="sentinel-node-0", role="manager", address="172.29.0.11", state="ready"),
                 Node(name="sentinel-node-1", role="worker", address="172.29.0.12", state="ready")])
    base = {"port": 8000, "health_path": "/healthz", "created_at": time.time() - 86400, "edge_slot": 0}
    s.put_app(App.model_validate({**base, "name": "todos", "image": "todo:1", "cluster_image": "127.0.0.1:5000/todo:1",
                        "domain": "todos.localhost", "replicas": 2,
                        "env": {"SECRET_KEY": "do-not-show-me-1234", "FEATURE_X": "on"},
                        "db": {"user": "todos", "name": "todos", "secret": "todos-db-password", "members": [
                            {"index": 0, "node": "sentinel-node-0"}, {"index": 1, "node": "sentinel-node-1"}]}}))
    s.put_app(App.model_validate({**base, "name": "shop", "image": "shop:7",
                                  "cluster_image": "127.0.0.1:5000/shop:7", "domain": "shop.localhost",
                                  "replicas": 1, "env": {}, "db": None, "edge_slot": 1}))
    long = "inventory-service-with-a-long-name"
    s.put_app(App.model_validate({**base, "name": long, "image": f"registry.example.com/acme/{long}:2026.11.27-build.1234",
                     "cluster_image": f"registry.example.com/acme/{long}:2026.11.27-build.1234",
                     "domain": f"{long}.internal.example.com", "replicas": 1, "env": {}, "db": None,
                     "edge_slot": 2}))
    now = time.time()
    s.put_app(App.model_validate({**base, "name": "todos-pr-7", "image": "todo:2",
                                  "cluster_image": "127.0.0.1:5000/todo:2",
                                  "domain": "pr-7.todos.localhost", "replicas": 1, "env": {},
                                  "edge_slot": 3, "created_at": now - 7200,
                                  "db": {"user": "todos-pr-7", "name": "todos-pr-7",
                                         "secret": "todos-pr-7-db-password", "members": [
                                             {"index": 0, "node": "sentinel-node-1"}]},
                                  "preview": {"parent": "todos", "name": "pr-7", "data": "copy",
                                              "copied_at": now - 7200, "masked": "mask.sql",
                                              "expires_at": now + 70 * 3600, "ttl": 72 * 3600}}))
    started = time.time() - 600
    s.put_canary(Canary.model_validate({"app": "todos", "image": "todo:2", "cluster_image": "127.0.0.1:5000/todo:2",
                           "weight": 20, "env": {}, "replicas": 1, "sticky": True, "baseline": False,
                           "started_at": started, "state": "running", "analysis": None,
                           "progressive": {"steps": [5, 20], "step_index": 1, "interval": 300,
                                           "auto_promote": False, "step_started": started + 300,
                                           "next_at": started + 600, "holds": 0,
                                           "state": "awaiting_promotion"}}))
    s.add_judgment("todos", {"config": {}}, {**REPORT["judgment"], "at": time.time() - 30})
    s.add_event("canary:todos", "deploy", "canary todo:2 deployed at 5%, steps 5,20 every 300s", "cli")
    s.add_event("canary:todos", "judgment", "step 2/2 at 20%: pass (score 100) -> wait", "sentinel")
    s.add_event("canary:todos", "progress", "every step passed: promote with `sentinel canary promote todos` or roll back", "sentinel")


@contextmanager
def control_plane(swarm: str = "up"):
    """(base URL, SENTINEL_HOME) of a control plane process on 127.0.0.1; stopped afterwards."""
    with tempfile.TemporaryDirectory(prefix="sentinel-console-") as tmp:
        home = Path(tmp) / "home"
        seed(home)
        port = free_port()
        env = {"SENTINEL_HOME": str(home), "FAKE_SWARM": swarm, "HOME": tmp, "LANG": "C.UTF-8",
               "PATH": f"{fake_bin(Path(tmp) / 'bin')}:/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
        log = open(Path(tmp) / "control-plane.log", "wb")
        # The same app `sentinel server start` runs (control_plane.server), without its PATH
        # change: the fake programs must come first.
        code = ("import uvicorn; from control_plane.api.app import create_app; "
                f"uvicorn.run(create_app(), host='127.0.0.1', port={port}, log_level='warning')")
        proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stdout=log, stderr=log)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    urllib.request.urlopen(base + "/healthz", timeout=1).read()
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("the control plane did not start:\n"
                                           + (Path(tmp) / "control-plane.log").read_text()[-3000:])
                    time.sleep(0.1)
            yield base, home
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()
