"""Release policy as code, end to end: `apply` of a file creates the app, `export` round-trips,
an image change walks the file's steps, waits at the approval gate (across a control-plane
restart) and at a confirm-promotion hook answering 500, and every event reaches a webhook
receiver with a valid signature; a shadow canary sees mirrored GETs and no POSTs while clients
only get production's answers."""
from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from .conftest import HTTP, ROOT
from .load import Load
from .test_platform import count_versions
from .test_progressive import prometheus

pytestmark = pytest.mark.e2e

APP, DOMAIN, SECRET = "board", "board.localhost", "hook-secret-0123456789"


class Receiver:
    """A real HTTP server on this machine that records signed hook calls; `status` is what it
    answers (the confirm-promotion hook reads it)."""

    def __init__(self):
        self.calls: list[dict] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                want = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                receiver.calls.append({"path": self.path, "body": json.loads(body or b"{}"),
                                       "signed": hmac.compare_digest(
                                           self.headers.get("X-Sentinel-Signature", ""), want)})
                code = receiver.status if self.path.startswith("/confirm") else 200
                self.send_response(code)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def manifest(tmp_path, receiver: Receiver, **changes) -> str:
    doc = {
        "app": APP, "image": "todo:1", "port": 8000, "domains": [DOMAIN], "replicas": 2,
        "resources": {"cpu": 0.25, "memory": "128Mi"}, "health": {"path": "/healthz"},
        "database": {"engine": "postgres", "ha": False, "schema": "schema.sql"},
        "canary": {"steps": [{"weight": 10}, {"weight": 30, "pause": "approve"}], "interval": "15s",
                   # The test's light load gives a 10% step ~100 requests: enough for a 5% floor
                   # of the error rate to rule out (the default 2% needs ~200 without an error).
                   "analysis": {"metrics": "default", "min_requests": 20,
                                "inconclusive": {"rule_out_floor": 0.05}}, "promote": "auto"},
        "hooks": {"secret_env": "HOOK_SECRET",
                  "event": f"http://127.0.0.1:{receiver.port}/event",
                  "confirm_promotion": f"http://127.0.0.1:{receiver.port}/confirm"},
    }
    doc.update(changes)
    shutil.copy(ROOT / "examples/todo/schema.sql", tmp_path / "schema.sql")
    path = tmp_path / "sentinel.yaml"
    path.write_text(json.dumps(doc))  # JSON is YAML
    return str(path)


@pytest.fixture(scope="module")
def receiver(platform):
    r = Receiver()
    # The control plane reads the hook secret from its own environment.
    platform.cli("server", "stop", check=False)
    platform.env["HOOK_SECRET"] = SECRET
    platform.cli("server", "start")
    yield r
    platform.cli("delete", "app", APP, "--delete-data", "--yes", check=False)
    r.server.shutdown()


def test_apply_creates_the_app_and_its_export_round_trips(platform, receiver, tmp_path):
    path = manifest(tmp_path, receiver)
    assert platform.cli("diff", "-f", path, check=False).returncode == 1
    platform.cli("apply", "-f", path, "--yes")
    assert platform.http(DOMAIN, "/version").json()["version"] == "1"
    spec = json.loads(platform.node_exec("0", "docker", "service", "inspect", f"{APP}_web").stdout)[0]
    limits = spec["Spec"]["TaskTemplate"]["Resources"]["Limits"]
    assert limits["NanoCPUs"] == 250_000_000 and limits["MemoryBytes"] == 128 * 2**20
    exported = tmp_path / "exported.yaml"
    exported.write_text(platform.cli("export", APP).stdout)
    shutil.copy(ROOT / "examples/todo/schema.sql", tmp_path / "schema.sql")
    assert platform.cli("diff", "-f", str(exported), check=False).returncode == 0
    assert platform.cli("diff", "-f", path, check=False).returncode == 0


def test_an_image_change_walks_the_steps_waits_for_approval_and_the_hook(platform, receiver, tmp_path):
    path = manifest(tmp_path, receiver, image="todo:2")
    receiver.status = 500  # confirm-promotion says no, for now
    with Load(f"http://127.0.0.1:{HTTP}/api/todos", DOMAIN, workers=4, max_seconds=400) as load:
        platform.cli("apply", "-f", path, "--yes")
        deadline = time.monotonic() + 150
        while (plan := (platform.json("canary", "status", APP)["canary"] or {}).get("progressive") or {}) \
                .get("state") != "awaiting_approval":
            assert time.monotonic() < deadline, plan
            time.sleep(2)
        assert platform.json("canary", "status", APP)["canary"]["weight"] == 30
        platform.cli("server", "stop")  # the gate's state lives in the store
        platform.cli("server", "start")
        time.sleep(3)
        assert platform.json("canary", "status", APP)["canary"]["progressive"]["state"] == "awaiting_approval"
        platform.cli("canary", "approve", APP)
        time.sleep(35)  # the hook is asked and answers 500: the canary holds
        held = platform.json("canary", "status", APP)["canary"]
        assert held is not None and held["image"] == "todo:2"
        receiver.status = 200
        deadline = time.monotonic() + 120
        while platform.json("canary", "status", APP)["canary"] is not None:
            assert time.monotonic() < deadline
            time.sleep(2)
    assert count_versions(platform, DOMAIN, 20) == {"2": 20}
    assert load.errors == [], load.errors[:3]
    assert receiver.calls and all(c["signed"] for c in receiver.calls)
    kinds = {c["body"]["event"]["kind"] for c in receiver.calls if c["path"] == "/event"}
    assert {"deploy", "promote"} <= kinds, kinds
    assert any(c["path"] == "/confirm" for c in receiver.calls)


def test_a_shadow_canary_sees_mirrored_gets_and_no_posts(platform, receiver, tmp_path):
    path = manifest(tmp_path, receiver, image="todo:1",
                    canary={"mirror": 100, "steps": [{"weight": 0}], "interval": "15s", "promote": "manual"})
    platform.cli("apply", "-f", path, "--yes")
    try:
        for i in range(40):
            assert platform.http(DOMAIN, "/version").json()["version"] == "2"  # production answers
            assert platform.http(DOMAIN, "/api/todos", method="POST", json={"title": f"m{i}"}).status_code == 201
        time.sleep(6)
        by_method = {s["metric"]["method"]: float(s["value"][1]) for s in prometheus(
            platform, f'sum by (method) (increase(traefik_service_requests_total{{service="{APP}-canary@swarm"}}[2m]))'
        ).json()["data"]["result"]}
        assert by_method.get("GET", 0) >= 30, by_method
        assert by_method.get("POST", 0) == 0, by_method
    finally:
        platform.cli("canary", "rollback", APP, "--yes", check=False)


def test_the_demo_file_reads_against_the_live_demo_app(platform, todos):
    """examples/todo/sentinel.yaml, as README shows it, against the app README command 1 deploys
    with flags: the live control plane reads it whole (schema file, canary, analysis) and `diff`
    names what the file adds, never the port, domain or health check they share."""
    proc = platform.cli("diff", "-f", str(ROOT / "examples/todo/sentinel.yaml"), "--json", check=False)
    assert proc.returncode == 1, proc.stderr  # 1: something would change (0: nothing, 2: an error)
    plan = json.loads(proc.stdout)
    paths = {c["path"] for c in plan["changes"]}
    assert plan["app"] == "todos" and {"env", "resources", "canary"} <= paths, paths
    assert not paths & {"port", "domains", "health"}, paths
