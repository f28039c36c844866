"""What a console session may call: the API routes its pages use, and nothing else. The CLI's
token opens everything; a browser session cannot reach what no page offers (the whole platform's
destroy and init, SQL, one-off commands, the OpenAPI document), so a session that leaked through
the browser does less harm."""
from __future__ import annotations

import re

_APP = r"/v1/apps/[a-z0-9][a-z0-9-]*"
_ROUTES: dict[str, tuple[str, ...]] = {
    "GET": (r"/v1/apps", _APP, _APP + r"/(settings|logs|logs/follow|canary|report|judgments)",
            _APP + r"/db", _APP + r"/db/(backups|restore-plan)", r"/v1/cluster", r"/v1/operations",
            r"/v1/operations/[0-9a-f]+", r"/v1/previews", r"/console/session"),
    "POST": (r"/v1/apps", _APP + r"/scale", _APP + r"/canary",
             _APP + r"/canary/(traffic|promote|rollback|analyze|approve)", _APP + r"/db/(backups|restore)",
             _APP + r"/previews", r"/v1/cluster/scale"),
    "DELETE": (_APP, _APP + r"/previews/[a-z0-9][a-z0-9-]*", r"/console/session"),
}
_COMPILED = {m: re.compile("(?:" + "|".join(p) + r")/?\Z") for m, p in _ROUTES.items()}
SAFE_METHODS = {"GET", "HEAD"}


def allowed(method: str, path: str) -> bool:
    rx = _COMPILED.get("GET" if method == "HEAD" else method)
    return bool(rx and rx.match(path))
