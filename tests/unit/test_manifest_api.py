"""The routes of apply / diff / export / approve (control_plane/api/manifest.py) on a real ASGI
app and a real store; nothing reaches a swarm (diff and export only read the store)."""
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from control_plane import manifest as mf
from control_plane.api.routes import canary
from control_plane.api.routes.manifest import router
from control_plane.errors import SentinelError
from control_plane.records import App
from control_plane.services import wiring
from control_plane.store import Store


class Spec:
    domain = "localhost"
    email = None


class Platform:
    state = "ready"
    scrape_seconds = 2.0
    spec = Spec()

    def __init__(self, store):
        self.store = store

    def require_ready(self):
        pass


def client(tmp_path):
    store = Store(tmp_path / "state.db")
    platform = Platform(store)
    api = FastAPI()

    @api.exception_handler(SentinelError)
    async def _err(_: Request, e: SentinelError):
        return JSONResponse({"error": {"code": e.code, "message": e.message}}, status_code=e.status)

    services = wiring.build(platform, jobs=None)
    api.include_router(router(services.manifests, auth=lambda: None))
    api.include_router(canary.router(services, auth=lambda: None))  # approve
    return TestClient(api), store


def body(text):
    return {"manifest": mf.loads(text).model_dump(mode="json", by_alias=True), "files": {},
            "source": "sentinel.yaml"}


def test_diff_of_a_new_app_and_of_an_unchanged_one(tmp_path):
    c, store = client(tmp_path)
    r = c.post("/v1/manifest/diff", json=body("app: todos\nimage: todo:1\n"))
    assert r.status_code == 200 and r.json()["lines"] == ["+ app todos (todo:1, 1 replica(s))"]
    store.put_app(App(name="todos", image="todo:1", port=8000, domain="todos.localhost",
                      replicas=1, env={}, health_path="/healthz"))
    assert c.post("/v1/manifest/diff", json=body("app: todos\nimage: todo:1\n")).json()["changes"] == []
    exported = c.get("/v1/apps/todos/manifest").json()
    assert exported["canary"] is False
    assert c.post("/v1/manifest/diff", json={"manifest": __import__("yaml").safe_load(exported["yaml"])}
                  ).json()["changes"] == []


def test_a_bad_manifest_is_one_sentence_with_its_key_path(tmp_path):
    c, _ = client(tmp_path)
    raw = {"app": "todos", "image": "todo:1", "canary": {"steps": [{"weight": 5}, {"weight": 500}],
                                                         "interval": "1m"}}
    r = c.post("/v1/manifest/diff", json={"manifest": raw, "source": "todos.yaml"})
    assert r.status_code == 422
    assert r.json()["error"] == {"code": "invalid_input",
                                 "message": "todos.yaml: canary.steps[1].weight: must be 0..100"}
    r = c.post("/v1/manifest/apply", json={"manifest": raw, "extra": 1})
    assert r.status_code == 422  # the request itself refuses unknown keys


def test_approve_without_a_canary_says_so(tmp_path):
    c, store = client(tmp_path)
    store.put_app(App(name="todos", image="todo:1"))
    r = c.post("/v1/apps/todos/canary/approve")
    assert r.status_code == 404 and "has no canary" in r.json()["error"]["message"]
