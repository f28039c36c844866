"""The API's front door (control_plane/api/guard.py) on a real ASGI app: no token, no reading."""
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from control_plane.api.guard import Guard

TOKEN = "t0ken-abcdef"
seen: list[int] = []


def app(max_body: int = 1024) -> TestClient:
    api = FastAPI(docs_url=None, redoc_url=None)

    @api.post("/v1/echo")
    async def echo(request: Request):
        body = await request.body()
        seen.append(len(body))
        return {"bytes": len(body)}

    @api.get("/healthz")
    def healthz():
        return {"ok": True}

    return TestClient(Guard(api, lambda: TOKEN, max_body=max_body), raise_server_exceptions=False)


def test_no_token_no_body_read():
    seen.clear()
    c = app()
    r = c.post("/v1/echo", content=b"x" * 100)
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    r = c.post("/v1/echo", content=b"x", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401
    assert seen == []  # the route never ran, the body was never parsed


def test_the_openapi_document_needs_the_token_and_health_does_not():
    c = app()
    assert c.get("/openapi.json").status_code == 401
    assert c.get("/openapi.json", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert c.get("/docs", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 404
    assert c.get("/healthz").status_code == 200


def test_bodies_over_the_limit_are_refused():
    c = app(max_body=1024)
    ok = {"Authorization": f"Bearer {TOKEN}"}
    assert c.post("/v1/echo", content=b"x" * 1024, headers=ok).json() == {"bytes": 1024}
    r = c.post("/v1/echo", content=b"x" * 1025, headers=ok)
    assert r.status_code == 413 and "larger than" in r.json()["error"]["message"]

    def chunks():
        for _ in range(10):
            yield b"x" * 512

    r = c.post("/v1/echo", content=chunks(), headers=ok)  # no Content-Length: refused unread
    assert r.status_code == 411
