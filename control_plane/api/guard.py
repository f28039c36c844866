"""In front of every route: the token is checked before anything of the request is read, and a
body may not exceed a limit (an API that listens to the world must not parse what strangers
send). Pure ASGI, so nothing reaches FastAPI's body parsing first."""
from __future__ import annotations

import hmac
import json
from collections.abc import Callable

# Answered without the token: the health check and the report page (its data calls need it).
PUBLIC = ("/healthz", "/ui")
MAX_BODY = 2 * 1024 * 1024  # a schema or release SQL file fits; `db psql` input is capped below it


def is_public(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in PUBLIC)


def bearer(headers: list[tuple[bytes, bytes]]) -> str | None:
    for k, v in headers:
        if k.lower() == b"authorization":
            scheme, _, value = v.decode("latin-1").partition(" ")
            return value.strip() if scheme.lower() == "bearer" else None
    return None


def content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for k, v in headers:
        if k.lower() == b"content-length":
            try:
                return int(v)
            except ValueError:
                return -1
    return None


async def _answer(send, status: int, code: str, message: str) -> None:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class Guard:
    def __init__(self, app, token: Callable[[], str], max_body: int = MAX_BODY):
        self.app, self.token, self.max_body = app, token, max_body

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or is_public(scope["path"]):
            return await self.app(scope, receive, send)
        given = bearer(scope.get("headers", []))
        if given is None or not hmac.compare_digest(given.encode(), self.token().encode()):
            return await _answer(send, 401, "unauthorized",
                                 "the API token was not accepted: check SENTINEL_HOME/config.json "
                                 "(or run `sentinel init` on this machine).")
        length = content_length(scope.get("headers", []))
        chunked = any(k.lower() == b"transfer-encoding" for k, _ in scope.get("headers", []))
        if chunked and length is None:
            return await _answer(send, 411, "length_required",
                                 "a request body must say its length (Content-Length).")
        if length is not None and (length < 0 or length > self.max_body):
            return await _answer(send, 413, "too_large",
                                 f"the request body is larger than {self.max_body // 2**20} MiB: "
                                 "send a smaller file.")
        seen = 0

        async def limited():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > max(length or 0, 0):  # more than it said: stop reading
                    raise ValueError("the request body is longer than its Content-Length")
            return message

        return await self.app(scope, limited, send)
