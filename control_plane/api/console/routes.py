"""/console: the page, its assets, and the sign-in session (token in, cookie out)."""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import FileResponse

from ...errors import SentinelError
from ..guard import SESSION
from ..responses import ConsoleSession, SignedOut
from ..ui import HEADERS, TYPES
from .sessions import COOKIE, Sessions, cookie_value

STATIC = Path(__file__).parent / "static"


class NoSession(SentinelError):
    code = "no_session"
    status = 400


def _file(name: str) -> FileResponse:
    path = STATIC / name
    # Only files directly in static/ with a known type: no path can walk out of it.
    if "/" in name or "\\" in name or path.suffix not in TYPES or not path.is_file():
        raise HTTPException(404, f"no file {name} in the console's assets.")
    return FileResponse(path, media_type=TYPES[path.suffix], headers=HEADERS)


def _secure(request: Request) -> bool:
    """HTTPS, directly or behind the remote control plane's Traefik: then the cookie is Secure."""
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"


def router(sessions: Sessions) -> APIRouter:
    r = APIRouter(include_in_schema=False)

    @r.get("/console")
    @r.get("/console/")
    def page() -> FileResponse:
        return _file("console.html")

    @r.get("/console/static/{name}")
    def asset(name: str) -> FileResponse:
        return _file(name)

    def answer(session) -> dict:
        return {"csrf": session.csrf, "expires_at": sessions.expires_at(session),
                "idle_seconds": sessions.idle}

    @r.post("/console/session", response_model=ConsoleSession)
    def sign_in(request: Request, response: Response) -> dict:
        # The guard let this in with the bearer token only (a session cannot make sessions).
        if request.scope.get(SESSION):
            raise NoSession("a console session cannot start another: sign in with the token.")
        sid, session = sessions.create()
        response.set_cookie(COOKIE, sid, max_age=int(sessions.lifetime), path="/", httponly=True,
                            samesite="strict", secure=_secure(request))
        response.headers["Cache-Control"] = "no-store"
        return answer(session)

    @r.get("/console/session", response_model=ConsoleSession)
    def current(request: Request, response: Response) -> dict:
        """The page after a reload: its CSRF token again (only a same-origin page can read it)."""
        session = request.scope.get(SESSION)
        if not session:
            raise NoSession("no console session: this call needs the session cookie.")
        response.headers["Cache-Control"] = "no-store"
        return answer(session)

    @r.delete("/console/session", response_model=SignedOut)
    def sign_out(request: Request, response: Response) -> dict:
        if not request.scope.get(SESSION):
            raise NoSession("no console session to end.")
        sessions.end(cookie_value(request.scope.get("headers", [])))
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict",
                               secure=_secure(request))
        return {"signed_out": True}

    return r
