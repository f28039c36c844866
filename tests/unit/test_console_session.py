"""The console's sign-in (api/console/sessions.py, access.py) through the guard (api/guard.py):
a session cookie stands in for the token on the console's routes only, a state-changing request
needs its CSRF token, sessions expire and end, and the token works as before."""
import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from control_plane.api.console.access import allowed
from control_plane.api.console.routes import router
from control_plane.api.console.sessions import COOKIE, Sessions
from control_plane.api.guard import SESSION, Guard
from control_plane.jobs import ACTOR

TOKEN = "t0ken-abcdef"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


class Clock:
    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self):
        return self.now


def client(sessions: Sessions, base_url: str = "http://testserver") -> TestClient:
    api = FastAPI(docs_url=None, redoc_url=None)
    api.include_router(router(sessions))
    ran: list[str] = []

    @api.get("/v1/apps")
    def apps(request: Request):
        return {"via": "session" if request.scope.get(SESSION) else "token"}

    @api.post("/v1/apps/{name}/scale")
    def scale(name: str):
        ran.append(f"scale {name} by {ACTOR.get()}")
        return {"scaled": name}

    @api.post("/v1/apps/{name}/db/sql")
    def sql(name: str):
        ran.append("sql")
        return {}

    @api.delete("/v1/cluster")
    def destroy():
        ran.append("destroy")
        return {}

    c = TestClient(Guard(api, lambda: TOKEN, sessions=sessions), base_url=base_url)
    c.ran = ran
    return c


def sign_in(c: TestClient) -> str:
    r = c.post("/console/session", headers=BEARER)
    assert r.status_code == 200, r.text
    return r.json()["csrf"]


def test_the_token_is_exchanged_for_an_httponly_strict_cookie_and_a_csrf_token():
    c = client(Sessions())
    r = c.post("/console/session", headers=BEARER)
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http on 127.0.0.1: a Secure cookie would not come back
    assert "Max-Age=43200" in cookie
    assert len(r.json()["csrf"]) >= 40 and r.json()["csrf"] not in cookie
    assert r.headers["cache-control"] == "no-store"


def test_over_https_the_cookie_is_secure():
    c = client(Sessions(), base_url="https://testserver")
    assert "Secure" in c.post("/console/session", headers=BEARER).headers["set-cookie"]
    c = client(Sessions())
    r = c.post("/console/session", headers={**BEARER, "X-Forwarded-Proto": "https"})
    assert "Secure" in r.headers["set-cookie"]


def test_no_session_without_the_token():
    c = client(Sessions())
    assert c.post("/console/session").status_code == 401
    assert c.post("/console/session", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert COOKIE not in c.cookies


def test_the_cookie_is_accepted_for_reads_and_csrf_protected_writes():
    c = client(Sessions())
    csrf = sign_in(c)
    assert c.get("/v1/apps").json() == {"via": "session"}
    r = c.post("/v1/apps/todos/scale", json={}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200
    assert c.ran == ["scale todos by console"]  # operations started here say who asked
    assert c.get("/console/session").json()["csrf"] == csrf  # a reloaded page gets it again


@pytest.mark.parametrize("headers", [{}, {"X-CSRF-Token": ""}, {"X-CSRF-Token": "forged"}])
def test_a_write_without_the_right_csrf_token_is_refused_unrun(headers):
    c = client(Sessions())
    csrf = sign_in(c)
    r = c.post("/v1/apps/todos/scale", json={}, headers=headers)
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf"
    assert c.ran == []
    # another session's CSRF token is no better
    other = client(Sessions())
    assert sign_in(other) != csrf


def test_a_csrf_token_of_another_session_is_refused():
    sessions = Sessions()
    a, b = client(sessions), client(sessions)
    sign_in(a)
    csrf_b = sign_in(b)
    r = a.post("/v1/apps/todos/scale", json={}, headers={"X-CSRF-Token": csrf_b})
    assert r.status_code == 403 and a.ran == []


def test_routes_no_console_page_uses_are_closed_to_a_session():
    c = client(Sessions())
    csrf = sign_in(c)
    for method, path in [("post", "/v1/apps/todos/db/sql"), ("delete", "/v1/cluster")]:
        r = c.request(method.upper(), path, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden", path
    assert c.get("/openapi.json").status_code == 403
    assert c.ran == []
    # the token still opens them
    assert c.delete("/v1/cluster", headers=BEARER).status_code == 200


def test_a_session_cannot_make_another():
    c = client(Sessions())
    csrf = sign_in(c)
    r = c.post("/console/session", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 403


def test_sessions_expire_when_idle_and_after_their_lifetime():
    clock = Clock()
    c = client(Sessions(idle=60, lifetime=300, clock=clock))
    sign_in(c)
    clock.now += 59
    assert c.get("/v1/apps").status_code == 200  # use restarts the idle time
    clock.now += 59
    assert c.get("/v1/apps").status_code == 200
    clock.now += 61
    r = c.get("/v1/apps")
    assert r.status_code == 401 and "sentinel console" in r.json()["error"]["message"]

    sign_in(c)
    for _ in range(5):
        clock.now += 59
        assert c.get("/v1/apps").status_code == 200
    clock.now += 59  # 354 s since sign-in: over the lifetime however busy
    assert c.get("/v1/apps").status_code == 401


def test_sign_out_ends_the_session_and_clears_the_cookie():
    c = client(Sessions())
    csrf = sign_in(c)
    cookie = c.cookies[COOKIE]
    assert c.delete("/console/session").status_code == 403  # needs the CSRF token too
    r = c.delete("/console/session", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and 'Max-Age=0' in r.headers["set-cookie"]
    c.cookies.set(COOKIE, cookie)  # the old cookie, kept by someone: dead
    assert c.get("/v1/apps").status_code == 401


def test_the_token_still_works_and_a_wrong_token_is_not_rescued_by_a_cookie():
    c = client(Sessions())
    sign_in(c)
    assert c.get("/v1/apps", headers=BEARER).json() == {"via": "token"}
    r = c.get("/v1/apps", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401
    c.cookies.clear()
    assert c.get("/v1/apps").status_code == 401
    assert c.post("/v1/apps/todos/scale", json={}, headers=BEARER).status_code == 200
    assert c.ran == ["scale todos by cli"]


def test_a_forged_cookie_is_refused():
    c = client(Sessions())
    c.cookies.set(COOKIE, "made-up")
    r = c.get("/v1/apps")
    assert r.status_code == 401 and "expired or was ended" in r.json()["error"]["message"]


def test_the_console_page_is_public_but_not_its_session():
    c = client(Sessions())
    assert c.get("/console").status_code == 200
    assert c.get("/console/").status_code == 200
    assert c.get("/console/session").status_code == 401
    assert c.get("/console/static/nope.js").status_code == 404


@pytest.mark.parametrize("method,path,ok", [
    ("GET", "/v1/apps", True), ("GET", "/v1/apps/todos", True), ("GET", "/v1/apps/todos/logs/follow", True),
    ("HEAD", "/v1/apps/todos/report", True), ("POST", "/v1/apps", True), ("DELETE", "/v1/apps/todos", True),
    ("POST", "/v1/apps/todos/canary/traffic", True), ("POST", "/v1/apps/todos/db/restore", True),
    ("GET", "/v1/apps/todos/db/restore-plan", True), ("POST", "/v1/cluster/scale", True),
    ("GET", "/v1/operations/abc123", True), ("GET", "/v1/previews", True),
    ("POST", "/v1/apps/todos/previews", True), ("DELETE", "/v1/apps/todos/previews/pr-1", True),
    ("POST", "/v1/apps/todos/previews/pr-1/refresh", False), ("DELETE", "/v1/apps/todos/previews/../x", False),
    ("GET", "/v1/signing-key", False), ("PUT", "/v1/recovery-key", False),
    ("POST", "/v1/apps/todos/run", False), ("POST", "/v1/apps/todos/db/sql", False),
    ("POST", "/v1/apps/todos/db/switchover", False), ("DELETE", "/v1/cluster", False),
    ("POST", "/v1/cluster", False), ("GET", "/openapi.json", False), ("PUT", "/v1/apps", False),
    ("GET", "/v1/apps/../cluster", False), ("GET", "/v1/apps/todos/report/x", False),
])
def test_what_a_session_may_call(method, path, ok):
    assert allowed(method, path) is ok


def test_the_real_app_accepts_the_session_on_its_routes(tmp_path, monkeypatch):
    """create_app's own auth dependency lets the guard's session through (no swarm needed)."""
    import json

    monkeypatch.setenv("SENTINEL_HOME", str(tmp_path))
    (tmp_path / "secrets.json").write_text(json.dumps({"api_token": TOKEN}))
    from control_plane.api.app import create_app

    c = TestClient(create_app())
    assert c.get("/v1/apps").status_code == 401
    csrf = sign_in(c)
    assert c.get("/v1/apps").json() == []
    assert c.get("/v1/operations").json() == []
    r = c.post("/v1/cluster/scale", json={"nodes": 3}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 412 and "sentinel init" in r.json()["error"]["message"]
    assert c.get("/v1/apps", headers=BEARER).json() == []
