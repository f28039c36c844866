"""The canary report page at /ui: static files only; the page itself calls /v1 with the token.

The HTML needs no auth (it holds no data); the token travels in the URL fragment, which the
browser never sends, so it appears in no request line or access log.
"""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

STATIC = Path(__file__).parent / "static"
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
# Same-origin only: no CDN, no inline script or style, no framing.
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                               "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


def _file(name: str) -> FileResponse:
    path = STATIC / name
    # Only files that sit directly in static/ with a known type: no path can walk out of it.
    if "/" in name or "\\" in name or path.suffix not in TYPES or not path.is_file():
        raise HTTPException(404, f"no file {name} in the report page's assets.")
    return FileResponse(path, media_type=TYPES[path.suffix], headers=HEADERS)


@router.get("/ui")
@router.get("/ui/")
def page() -> FileResponse:
    return _file("report.html")


@router.get("/ui/static/{name}")
def asset(name: str) -> FileResponse:
    return _file(name)
