"""HTTP client of the control plane: the server's typed errors come back as ClientError."""
from __future__ import annotations

import hashlib
import json
import os
import ssl
import time
from pathlib import Path


class ClientError(Exception):
    """A failure the CLI reports in one line; `code` is the control plane's (see --json)."""
    code = "error"

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or type(self).code


# One class per code the control plane sends (control_plane/errors.py) and per way the client
# itself fails, so callers catch the failure they mean (a wait retries Unreachable, not a 401).
class InvalidInput(ClientError):
    """The request was refused as it stands: fix what the message names."""
    code = "invalid_input"


class NotFound(ClientError):
    code = "not_found"  # no such app, canary, backup ...


class Conflict(ClientError):
    """The platform's state forbids it now (a canary running, a name taken)."""
    code = "conflict"


class Busy(ClientError):
    code = "busy"  # another operation holds the app: wait for it


class Unauthorized(ClientError):
    """The API token was refused."""
    code = "unauthorized"


class Precondition(ClientError):
    code = "precondition"  # the platform is not ready for it (no nodes, a node down)


class CommandFailed(ClientError):
    """A command the control plane ran failed (its message says which and why)."""
    code = "command_failed"


class Unreachable(ClientError):
    code = "unreachable"  # nothing answers at the control plane's address


class TimedOut(ClientError):
    """The control plane took the request but did not answer in time."""
    code = "timeout"


class TlsFailed(ClientError):
    code = "tls"  # no TLS connection (or the pinned certificate changed)


ERRORS_BY_CODE: dict[str, type[ClientError]] = {
    cls.code: cls for cls in (InvalidInput, NotFound, Conflict, Busy, Unauthorized, Precondition,
                              CommandFailed, Unreachable, TimedOut, TlsFailed)}


def error_for(message: str, code: str | None) -> ClientError:
    """The typed error for a code the control plane answered with (unknown codes stay generic)."""
    return ERRORS_BY_CODE.get(code or "", ClientError)(message, code)


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


class CertificateChanged(ClientError):
    pass


def cert_fingerprint(der: bytes) -> str:
    """SHA-256 of a DER certificate as lowercase hex pairs joined by ':'."""
    d = hashlib.sha256(der).hexdigest()
    return ":".join(d[i:i + 2] for i in range(0, 64, 2))


def check_fingerprint(der: bytes, pinned: str, url: str) -> None:
    """Raise CertificateChanged unless the certificate is the pinned one."""
    got = cert_fingerprint(der)
    if got != pinned.lower():
        raise CertificateChanged(
            f"the control plane's certificate changed (pinned SHA-256 {pinned[:23]}..., the server "
            f"at {url} now shows {got[:23]}...): if you expected this (the server was reinstalled), "
            "run `sentinel server trust`.", "certificate_changed")


class Response:
    """What the CLI needs of an HTTP answer."""

    def __init__(self, status_code: int, body: bytes):
        self.status_code, self.body = status_code, body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body)


class Client:
    """Speaks HTTP with the standard library: httpx alone took ~0.2 s to import, a good part of
    the time between typing `sentinel canary rollback` and traffic moving."""

    def __init__(self, url: str | None = None, token: str | None = None,
                 fingerprint: str | None = None):
        cfg = load_config()
        given = url or os.environ.get("SENTINEL_URL")
        self.url = (given or cfg.get("url") or "").rstrip("/")
        self.token = token or os.environ.get("SENTINEL_TOKEN") or cfg.get("token") or ""
        same_server = not given or given.rstrip("/") == (cfg.get("url") or "").rstrip("/")
        self.fingerprint = (fingerprint or os.environ.get("SENTINEL_FINGERPRINT")
                            or (cfg.get("fingerprint") if same_server else None))
        self.remote = self.url.startswith("https://")
        self._conn = None
        if not self.url:
            raise ClientError("no control plane is configured: run `sentinel init` first.")

    def _connect(self, timeout: float | None):
        """A new connection; for a pinned server the certificate is checked right after the TLS
        handshake, before any byte of a request (and so the token) is sent."""
        import http.client
        from urllib.parse import urlsplit

        u = urlsplit(self.url)
        if u.scheme != "https":
            conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout)
            conn.connect()
            return conn
        if self.fingerprint:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE  # the pin is the verification
        else:
            ctx = ssl.create_default_context(cafile=os.environ.get("SENTINEL_CA"))
        conn = http.client.HTTPSConnection(u.hostname, u.port or 443, timeout=timeout, context=ctx)
        conn.connect()
        if self.fingerprint:
            try:
                check_fingerprint(conn.sock.getpeercert(True), self.fingerprint, self.url)
            except CertificateChanged:
                conn.close()
                raise
        return conn

    def pinned_certificate(self) -> str | None:
        """The control plane's certificate (PEM), checked against the pin, for tools that trust
        a CA file rather than a pin (git); None when the URL is not pinned HTTPS."""
        if not self.url.startswith("https://") or not self.fingerprint:
            return None
        conn = self._call(lambda: self._connect(30))
        try:
            return ssl.DER_cert_to_PEM_cert(conn.sock.getpeercert(True))
        finally:
            conn.close()

    def _unreachable(self) -> Unreachable:
        if self.remote:
            return Unreachable(f"the control plane at {self.url} is not reachable: check that its "
                               "server is up (`systemctl status sentinel-edge "
                               "sentinel-control-plane` there).")
        return Unreachable(f"the control plane at {self.url} is not running: start it with "
                           "`sentinel server start`.")

    def _raise_for(self, r: Response) -> None:
        if r.status_code == 401:
            raise Unauthorized(f"the control plane at {self.url} did not accept the API token: "
                               f"check SENTINEL_TOKEN or {config_path()}.")
        try:
            err = r.json()["error"]
        except (ValueError, KeyError, TypeError):
            raise ClientError(f"the control plane answered {r.status_code}: {r.text[:200]}")
        raise error_for(err["message"], err["code"])

    def _send(self, method: str, path: str, params, json_body, timeout: float | None,
              content: bytes | None = None):
        """Send on the kept-alive connection (a new one if the old was closed); the response."""
        import http.client
        from urllib.parse import urlencode

        query = {k: v for k, v in (params or {}).items() if v is not None}
        target = path + ("?" + urlencode(query, doseq=True) if query else "")
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        body = None
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        elif content is not None:  # an archive (a source tarball): bytes as they are
            body = content
            headers["Content-Type"] = "application/octet-stream"
        for attempt in (1, 2):
            fresh = self._conn is None
            if fresh:
                self._conn = self._connect(timeout)
            self._conn.timeout = timeout
            if self._conn.sock is not None:
                self._conn.sock.settimeout(timeout)
            try:
                self._conn.request(method, target, body=body, headers=headers)
                return self._conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self._conn.close()
                self._conn = None
                if fresh or attempt == 2:  # a kept-alive connection may have timed out: retry once
                    raise

    def _call(self, fn):
        import http.client
        import socket

        try:
            return fn()
        except CertificateChanged:
            raise
        except ssl.SSLError as e:
            raise TlsFailed(f"no TLS connection to the control plane at {self.url}: {e}.")
        except (socket.timeout, TimeoutError):
            self._conn = None
            raise TimedOut(f"the control plane at {self.url} did not answer in time; check "
                           "`sentinel server status`.")
        except (OSError, http.client.HTTPException):
            self._conn = None
            raise self._unreachable()

    def request(self, method: str, path: str, *, json_body=None, params=None, timeout: float = 60,
                content: bytes | None = None):
        def go():
            resp = self._send(method, path, params, json_body, timeout, content)
            return Response(resp.status, resp.read())

        r = self._call(go)
        if r.status_code >= 400:
            self._raise_for(r)
        return r.json()

    def get(self, path: str, **kw):
        return self.request("GET", path, **kw)

    def post(self, path: str, body=None, **kw):
        return self.request("POST", path, json_body=body, **kw)

    def delete(self, path: str, **kw):
        return self.request("DELETE", path, **kw)

    def stream_lines(self, path: str, *, params=None):
        """Lines of a streamed answer as they come (followed logs), until the server ends it."""
        resp = self._call(lambda: self._send("GET", path, params, None, None))
        if resp.status >= 400:
            self._raise_for(Response(resp.status, resp.read()))
        try:
            while True:
                line = self._call(resp.readline)
                if not line:
                    return
                yield line.decode("utf-8", "replace").rstrip("\r\n")
        finally:
            resp.close()
            self._conn = None

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
