"""FastAPI app: the services built once (services/wiring.py), the background work they run, and
the routers, each a thin module of control_plane/api/routes/."""
from __future__ import annotations

import hmac
import logging
import threading

from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .. import secrets
from ..errors import Unauthorized
from ..jobs import Jobs
from ..paths import sentinel_home
from ..platform import Platform
from ..services import wiring
from ..store import Store
from . import error_body, ui
from .console.routes import router as console_router
from .console.sessions import Sessions
from .guard import SESSION, Guard
from .responses import Health
from .routes import (apps, builds, canary, cluster, database, git, manifest, operations,
                     previews)

log = logging.getLogger("sentinel.api")
bearer = HTTPBearer(auto_error=False)


def create_app():
    store = Store(sentinel_home() / "state.db")
    jobs = Jobs(store)
    services = wiring.build(Platform(store), jobs)
    # Reads the swarm over ssh: in the background, so the API answers at once.
    threading.Thread(target=services.release.report_interrupted, name="interrupted-releases",
                     daemon=True).start()
    services.driver.start()  # resumes progressive canaries left by a previous run from the store
    services.scheduler.start()
    services.previews.start()  # previews whose time is up are removed, also after a restart
    services.healer.start()  # nodes the swarm lists down while they answer get their engine restarted
    services.state_backup.start()  # the control plane's state, sealed, to the backup node
    token = secrets.get("api_token")
    sessions = Sessions()

    def auth(request: Request, cred: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        if request.scope.get(SESSION):  # the guard checked the console's cookie (and CSRF token)
            return
        if cred is None or not hmac.compare_digest(cred.credentials, token):
            raise Unauthorized("the API token was not accepted: check SENTINEL_HOME/config.json "
                               "(or run `sentinel init` on this machine).")

    # The OpenAPI document is the contract and needs the token like every route (guard.py); the
    # interactive pages would load scripts from another origin, so they are off.
    api = FastAPI(title="Sentinel control plane", version="0.1.0", docs_url=None, redoc_url=None)
    error_body.install(api)  # one error body for every refusal

    @api.get("/healthz", response_model=Health)
    def healthz():
        return {"ok": True}

    api.include_router(ui.router)  # /ui: the canary report page; its data calls need the token
    api.include_router(console_router(sessions))  # /console: the web console and its sign-in
    for module in (operations, cluster, apps, canary, database):
        api.include_router(module.router(services, auth))
    api.include_router(manifest.router(services.manifests, auth))  # apply, diff, export
    api.include_router(builds.router(services.builds, auth))
    api.include_router(git.router(services.pushes, auth))  # git push: repositories, remotes
    api.include_router(previews.router(services.previews, auth))
    return Guard(api, lambda: token, sessions=sessions)
