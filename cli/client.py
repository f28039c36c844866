"""HTTP client of the control plane: the server's typed errors come back as ClientError."""
from __future__ import annotations

import hashlib
import json
import os
import ssl
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


def pinned_transport(fingerprint: str, url: str):
    """An httpx transport that accepts exactly the certificate with this SHA-256 fingerprint
    (self-signed, so no CA and no host name are checked). The check runs right after the TLS
    handshake, before any byte of the request (and so the token) is sent."""
    import httpcore
    import httpx

    class PinnedStream(httpcore.NetworkStream):
        def __init__(self, inner):
            self.inner = inner

        def read(self, max_bytes, timeout=None):
            return self.inner.read(max_bytes, timeout)

        def write(self, buffer, timeout=None):
            return self.inner.write(buffer, timeout)

        def close(self):
            return self.inner.close()

        def get_extra_info(self, info):
            return self.inner.get_extra_info(info)

        def start_tls(self, ssl_context, server_hostname=None, timeout=None):
            tls = self.inner.start_tls(ssl_context, server_hostname, timeout)
            try:
                check_fingerprint(tls.get_extra_info("ssl_object").getpeercert(True),
                                  fingerprint, url)
            except CertificateChanged:
                tls.close()
                raise
            return tls

    class PinnedBackend(httpcore.SyncBackend):
        def connect_tcp(self, *a, **kw):
            return PinnedStream(super().connect_tcp(*a, **kw))

    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the pin is the verification
    transport = httpx.HTTPTransport(verify=ctx, trust_env=False)
    # httpx has no public hook between handshake and request; its pool is httpcore's.
    transport._pool = httpcore.ConnectionPool(ssl_context=ctx, network_backend=PinnedBackend())
    return transport


class Client:
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
        self._session = None
        if not self.url:
            raise ClientError("no control plane is configured: run `sentinel init` first.")

    def http(self):
        import httpx

        if self._session is None:
            if self.remote and self.fingerprint:
                self._session = httpx.Client(transport=pinned_transport(self.fingerprint, self.url))
            else:
                self._session = httpx.Client(verify=os.environ.get("SENTINEL_CA", True))
        return self._session

    def _unreachable(self) -> ClientError:
        if self.remote:
            return ClientError(f"the control plane at {self.url} is not reachable: check that its "
                               "server is up (`systemctl status sentinel-edge "
                               "sentinel-control-plane` there).", "unreachable")
        return ClientError(f"the control plane at {self.url} is not running: start it with "
                           "`sentinel server start`.", "unreachable")

    def _raise_for(self, r) -> None:
        if r.status_code == 401:
            raise ClientError(f"the control plane at {self.url} did not accept the API token: "
                              f"check SENTINEL_TOKEN or {config_path()}.", "unauthorized")
        try:
            err = r.json()["error"]
        except (ValueError, KeyError, TypeError):
            if r.status_code == 422:  # FastAPI's own validation answer
                detail = r.json().get("detail", [{}])[0]
                loc = ".".join(str(x) for x in detail.get("loc", [])[1:])
                raise ClientError(f"{loc}: {detail.get('msg', 'invalid')}.", "invalid_input")
            raise ClientError(f"the control plane answered {r.status_code}: {r.text[:200]}")
        raise ClientError(err["message"], err["code"])

    def request(self, method: str, path: str, *, json_body=None, params=None, timeout: float = 60):
        import httpx

        try:
            r = self.http().request(method, self.url + path, json=json_body, params=params,
                                    timeout=timeout,
                                    headers={"Authorization": f"Bearer {self.token}"})
        except httpx.ConnectError as e:
            if isinstance(e.__context__, ssl.SSLError) or "SSL" in str(e):
                raise ClientError(f"no TLS connection to the control plane at {self.url}: {e}.",
                                  "tls")
            raise self._unreachable()
        except httpx.TimeoutException:
            raise ClientError(f"the control plane at {self.url} did not answer in time; check "
                              "`sentinel server status`.", "timeout")
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
        import httpx

        try:
            with self.http().stream("GET", self.url + path, params=params,
                                    headers={"Authorization": f"Bearer {self.token}"},
                                    timeout=httpx.Timeout(10, read=None)) as r:
                if r.status_code >= 400:
                    r.read()
                    self._raise_for(r)
                yield from r.iter_lines()
        except httpx.ConnectError:
            raise self._unreachable()
        except httpx.RemoteProtocolError:
            raise ClientError(f"the control plane at {self.url} closed the stream; check "
                              "`sentinel server status`.", "unreachable")

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
