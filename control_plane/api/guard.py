"""In front of every route: the token is checked before anything of the request is read, and a
body may not exceed a limit (an API that listens to the world must not parse what strangers
send). Pure ASGI, so nothing reaches FastAPI's body parsing first.

The web console signs in once with the token and then sends a session cookie instead
(console/sessions.py): accepted only for the routes its pages use (console/access.py), and on a
state-changing request only with the session's CSRF token in a header, which a page of another
site cannot read or set."""
from __future__ import annotations

import hmac
import json
from collections.abc import Callable

from ..build.source import SOURCE_LIMIT
from ..jobs import ACTOR
from .console import access
from .console.sessions import CSRF_HEADER, Sessions, cookie_value, csrf_ok, header

# Answered without the token: the health check, the report page and the console's page and
# assets (their data calls need the token or a session), and the apps' git repositories (git
# sends a push token of its own, which their routes check: routes/git.py).
PUBLIC = ("/healthz", "/ui", "/console/static", "/git")
PUBLIC_EXACT = ("/console", "/console/")
MAX_BODY = 2 * 1024 * 1024  # a schema or release SQL file fits; `db psql` input is capped below it
SOURCE_PATHS = ("/builds", "/build-plan")


def body_limit(path: str, default: int = MAX_BODY) -> int:
    """The largest body a route takes: a build's source may be far larger than any other."""
    return SOURCE_LIMIT if path.startswith("/v1/apps/") and path.endswith(SOURCE_PATHS) else default
SESSION = "sentinel.session"  # scope key: the console session that let this request in
TOKEN_REFUSED = ("the API token was not accepted: check SENTINEL_HOME/config.json "
                 "(or run `sentinel init` on this machine).")


def is_public(path: str) -> bool:
    return path in PUBLIC_EXACT or any(path == p or path.startswith(p + "/") for p in PUBLIC)


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
    def __init__(self, app, token: Callable[[], str], max_body: int = MAX_BODY,
                 sessions: Sessions | None = None):
        self.app, self.token, self.max_body, self.sessions = app, token, max_body, sessions

    def _by_session(self, scope) -> tuple[int, str, str] | None:
        """None when the console session may make this request (then marked in the scope),
        else the refusal."""
        headers = scope.get("headers", [])
        sid = cookie_value(headers)
        session = self.sessions.get(sid) if self.sessions else None
        if session is None:
            return (401, "unauthorized", "the console session has expired or was ended: sign in "
                    "again with `sentinel console`.") if sid else (401, "unauthorized", TOKEN_REFUSED)
        method = scope["method"]
        if not access.allowed(method, scope["path"]):
            return 403, "forbidden", "the web console cannot do this: use the CLI with the API token."
        if method not in access.SAFE_METHODS and not csrf_ok(session, header(headers, CSRF_HEADER)):
            return 403, "csrf", "the request carried no valid CSRF token: reload the console."
        scope[SESSION] = session
        return None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or is_public(scope["path"]):
            return await self.app(scope, receive, send)
        scope.pop(SESSION, None)  # only this guard marks a request
        given = bearer(scope.get("headers", []))
        if given is not None or self.sessions is None:
            # A bearer token is the CLI's way in and always wins: a wrong one is refused even
            # when a session cookie came along.
            if given is None or not hmac.compare_digest(given.encode(), self.token().encode()):
                return await _answer(send, 401, "unauthorized", TOKEN_REFUSED)
        elif refused := self._by_session(scope):
            return await _answer(send, *refused)
        length = content_length(scope.get("headers", []))
        chunked = any(k.lower() == b"transfer-encoding" for k, _ in scope.get("headers", []))
        if chunked and length is None:
            return await _answer(send, 411, "length_required",
                                 "a request body must say its length (Content-Length).")
        limit = body_limit(scope["path"], self.max_body)
        if length is not None and (length < 0 or length > limit):
            return await _answer(send, 413, "too_large",
                                 f"the request body is larger than {limit // 2**20} MiB: "
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

        # Operations started through the console say so in their events (actor "console").
        reset = ACTOR.set("console") if scope.get(SESSION) else None
        try:
            return await self.app(scope, limited, send)
        finally:
            if reset is not None:
                ACTOR.reset(reset)
