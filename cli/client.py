"""HTTP client of the control plane: the server's typed errors come back as ClientError."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path


class ClientError(Exception):
    def __init__(self, message: str, code: str = "error"):
        super().__init__(message)
        self.message, self.code = message, code


def home() -> Path:
    return Path(os.environ.get("SENTINEL_HOME") or Path.home() / ".sentinel")


def config_path() -> Path:
    return home() / "config.json"


def load_config() -> dict:
    p = config_path()
    return json.loads(p.read_text()) if p.exists() else {}


def save_config(cfg: dict) -> None:
    p = config_path()
    p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(cfg, f, indent=2)


class Client:
    def __init__(self, url: str | None = None, token: str | None = None):
        cfg = load_config()
        self.url = (url or os.environ.get("SENTINEL_URL") or cfg.get("url") or "").rstrip("/")
        self.token = token or os.environ.get("SENTINEL_TOKEN") or cfg.get("token") or ""
        if not self.url:
            raise ClientError("no control plane is configured: run `sentinel init` first.")

    def request(self, method: str, path: str, *, json_body=None, params=None, timeout: float = 60):
        import httpx

        try:
            r = httpx.request(method, self.url + path, json=json_body, params=params, timeout=timeout,
                              headers={"Authorization": f"Bearer {self.token}"},
                              verify=os.environ.get("SENTINEL_CA", True))
        except httpx.ConnectError:
            raise ClientError(f"the control plane at {self.url} is not running: start it with "
                              "`sentinel server start`.", "unreachable")
        except httpx.TimeoutException:
            raise ClientError(f"the control plane at {self.url} did not answer in time; check "
                              "`sentinel server status`.", "timeout")
        if r.status_code >= 400:
            try:
                err = r.json()["error"]
                raise ClientError(err["message"], err["code"])
            except (ValueError, KeyError, TypeError):
                if r.status_code == 422:  # FastAPI's own validation answer
                    detail = r.json().get("detail", [{}])[0]
                    loc = ".".join(str(x) for x in detail.get("loc", [])[1:])
                    raise ClientError(f"{loc}: {detail.get('msg', 'invalid')}.", "invalid_input")
                raise ClientError(f"the control plane answered {r.status_code}: {r.text[:200]}")
        return r.json()

    def get(self, path: str, **kw):
        return self.request("GET", path, **kw)

    def post(self, path: str, body=None, **kw):
        return self.request("POST", path, json_body=body, **kw)

    def delete(self, path: str, **kw):
        return self.request("DELETE", path, **kw)

    def wait(self, op_id: str, on_event=None, poll: float = 0.1) -> dict:
        after, op = 0, {}
        while True:
            op = self.get(f"/v1/operations/{op_id}", params={"after": after})
            for ev in op.get("events", []):
                after = max(after, ev["id"])
                if on_event:
                    on_event(ev)
            if op["status"] != "running":
                return op
            time.sleep(poll)
