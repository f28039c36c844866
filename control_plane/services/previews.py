"""Preview apps (docs/previews.md): one version of an app at its own address, with its own copy
of the app's data (or an empty database), never backed up, gone when its time is up.

A preview is an ordinary app (`<parent>-<name>`, its own overlay network, edge network, database
role and passwords) with a `Preview` record saying whose it is. Its copy comes from the parent's
copy source, else its backup repository (`BackupService.copy_now`, the release check's path):
production's database is only read through its repository, never reached by the preview's tasks. A masking
script runs on the copy, as the preview's own role, before any task of the preview starts.
"""
from __future__ import annotations

import logging
import threading
import time

from .. import names, validation
from ..errors import Conflict, InvalidInput, NotFound, SentinelError
from ..jobs import Jobs, Operation
from ..metrics import parse_duration
from ..models import AppDeploy, PreviewCreate, ProcessSpec
from ..platform import Platform
from ..records import App, Preview
from .apps import AppService
from .backup import BackupService
from .database import DatabaseService

log = logging.getLogger("sentinel.previews")
NAME_MAX = 20        # pr-1234, feature-x: the app's name is <parent>-<name>, at most 40
DEFAULT_MAX = 5      # previews per app, unless the request says otherwise
DEFAULT_TTL = 72 * 3600.0
TTL_MAX = 30 * 86400.0
REAP_EVERY = 60.0
FRESH = ("empty", "seed")  # a database of the preview's own, not a copy


def ttl_seconds(value: str | None) -> float:
    """A preview's time to live (`72h`, `3d`, `90m`), checked."""
    if value is None:
        return DEFAULT_TTL
    try:
        seconds = parse_duration(value)
    except ValueError:
        raise InvalidInput(f"--ttl {value!r} is not a duration such as 90m, 72h or 3d.")
    if not 600 <= seconds <= TTL_MAX:
        raise InvalidInput(f"--ttl {value}: a preview lives from 10m to 30d.")
    return seconds


def preview_env(parent: App, p: Preview) -> list[str]:
    """A preview's variables: its own, over production's only when the user asked for them
    (production's may hold its secrets; the database's come from the preview's own copy)."""
    env = {**(parent.env if p.inherit_env else {}), **p.env}
    return [f"{k}={v}" for k, v in env.items()]


def expired(apps: list[App], now: float) -> list[App]:
    """Previews whose time is up (pure)."""
    return [a for a in apps if a.preview and a.preview.expires_at and a.preview.expires_at <= now]


class PreviewService:
    def __init__(self, platform: Platform, jobs: Jobs, apps: AppService, backups: BackupService,
                 db: DatabaseService):
        self.p = platform
        self.store = platform.store
        self.jobs = jobs
        self.apps = apps
        self.backups = backups
        self.db = db
        self._stop = threading.Event()

    # ---- reading ------------------------------------------------------------------------------
    def of(self, parent: str | None = None) -> list[App]:
        return sorted((a for a in self.store.apps() if a.preview and
                       (parent is None or a.preview.parent == parent)),
                      key=lambda a: (a.preview.parent, a.created_at))

    def require(self, parent: str, name: str) -> App:
        app = self.store.app(names.preview_app(parent, name))
        if app is None or app.preview is None or app.preview.parent != parent:
            if self.store.app(parent) is None:
                raise NotFound(f"app {parent!r} does not exist.")
            have = [a.preview.name for a in self.of(parent)]
            raise NotFound(f"{parent} has no preview {name!r}"
                           + (f" (it has {', '.join(have)})." if have else ": it has none."))
        return app

    def row(self, app: App, now: float | None = None) -> dict:
        p = app.preview
        now = now or time.time()
        return {"app": p.parent, "name": p.name, "preview_app": app.name, "image": app.image,
                "url": self.p.edge_url(app.domain or "", https=bool(self.p.spec.email)),
                "data": p.data, "data_point": p.data_point,
                "data_age_seconds": round(now - p.copied_at) if p.copied_at else None,
                "masked": p.masked, "created_at": app.created_at,
                "expires_in_seconds": round(p.expires_at - now) if p.expires_at else None}

    def list(self, parent: str | None = None) -> list[dict]:
        if parent is not None and self.store.app(parent) is None:
            raise NotFound(f"app {parent!r} does not exist.")
        now = time.time()
        return [self.row(a, now) for a in self.of(parent)]

    # ---- create -------------------------------------------------------------------------------
    def validate(self, parent_name: str, body: PreviewCreate) -> tuple[App, Preview]:
        """Everything checked before anything starts; the preview's record."""
        self.p.require_ready()
        parent = self.store.app(parent_name)
        if parent is None or parent.preview is not None or parent.internal:
            raise NotFound(f"app {parent_name!r} does not exist" + (
                " as an app of its own (a preview has no previews)." if parent else "."))
        validation.name(body.name, "preview name", max_len=NAME_MAX)
        name = names.preview_app(parent_name, body.name)
        validation.name(name, "preview app name (<app>-<preview>)")
        if self.store.app(name):
            raise Conflict(f"{name} already exists: name the preview otherwise, or update it "
                           f"(`sentinel preview update {parent_name} {body.name}`).")
        validation.image(body.image)
        entries = validation.env_entries(body.env)
        data = body.data or ("copy" if parent.db else "none")
        if body.data and not parent.db:
            raise InvalidInput(f"app {parent_name!r} has no database: a preview of it has none "
                               "either (leave out --data).")
        if body.mask and data != "copy":
            raise InvalidInput("--mask runs on a copy of the app's data: it goes with --data copy.")
        if (data == "seed") != bool(body.seed):
            raise InvalidInput("--data seed makes an empty database and runs --seed FILE in it "
                               "(schema and rows): give both, or neither.")
        most = body.max if body.max is not None else DEFAULT_MAX
        have = self.of(parent_name)
        if len(have) >= most:
            oldest = min(have, key=lambda a: a.created_at)
            raise Conflict(f"{parent_name} has {len(have)} preview(s), the most it may have ({most}): "
                           f"delete one first (the oldest is {oldest.preview.name}: `sentinel "
                           f"preview delete {parent_name} {oldest.preview.name} --yes`).")
        ttl = ttl_seconds(body.ttl)
        env = dict(e.split("=", 1) for e in entries)
        preview = Preview(parent=parent_name, name=body.name, data=data, ttl=ttl,
                          expires_at=time.time() + ttl, inherit_env=body.inherit_env, env=env,
                          mask_sql=body.mask, seed_sql=body.seed,
                          masked=(body.mask_name or "mask.sql") if body.mask else None)
        # Its address and settings as a deploy checks them (a domain another app holds…).
        body_now = self._body(parent, preview, body.image)
        if preview.data == "copy":  # the copy is made first: the deploy then finds its database
            body_now = body_now.model_copy(update={"db": None})
        self.apps.validate(body_now)
        return parent, preview

    def start_create(self, parent_name: str, body: PreviewCreate) -> str:
        parent, preview = self.validate(parent_name, body)
        name = names.preview_app(parent_name, body.name)
        # The parent is only read (its repository): its own operations go on meanwhile.
        return self.jobs.start(names.app_target(name), "preview", lambda op: self.create(
            op, parent, preview, body.image, body.processes))

    def create(self, op: Operation, parent: App, preview: Preview, image: str,
               processes: dict[str, str] | None = None) -> dict:
        """`processes`: the version's types besides web (a built source's Procfile); None: the
        app's own commands. A preview runs one task of each."""
        name = names.preview_app(parent.name, preview.name)
        started = time.monotonic()
        if preview.data == "copy":
            self.backups.ensure_backup(op, parent, "a preview's data is copied from one")
            # Everything committed so far: the copy holds the app of now.
            op.step(f"copying {parent.name}'s data into {name}")
            self.backups.copy_now(op, parent, name, preview=preview.changed(masked=None))
            copy = self.store.require_app(name)
            preview = preview.changed(copied_at=time.time(),
                                      data_point=(copy.restored_from or {}).get("target"))
            self.store.put_app(copy.changed(preview=preview))
            if preview.mask_sql:
                self._mask(op, copy.changed(preview=preview), preview)
        try:
            out = self.apps.deploy(op, self.apps.validate(self._body(parent, preview, image,
                                                                     processes)),
                                   preview=preview if preview.data != "copy" else None)
        except Exception:
            leftover = self.store.app(name)
            if leftover is not None:
                op.step(f"the preview did not start: removing {name}")
                self.apps.delete(op, name, keep_data=False)
            raise
        took = time.monotonic() - started
        op.step(f"preview {preview.name} of {parent.name} answers at {out['url']} ({took:.1f} s)")
        return {**self.row(self.store.require_app(name)), "seconds": round(took, 1)}

    def _body(self, parent: App, preview: Preview, image: str,
              processes: dict[str, str] | None = None) -> AppDeploy:
        commands = processes if processes is not None else \
            {k: p.command for k, p in parent.processes.items()}
        return AppDeploy(name=names.preview_app(parent.name, preview.name), image=image,
                         processes={k: ProcessSpec(command=c, replicas=1)
                                    for k, c in commands.items()},
                         port=parent.port,
                         domains=[names.preview_domain(parent.domain or parent.name, preview.name)],
                         replicas=1, env=preview_env(parent, preview),
                         health_path=parent.health_path,
                         db="postgres" if preview.data in FRESH else None,
                         db_ha=False if preview.data in FRESH else None,
                         # seed: the file's schema and rows, once, before the first task starts
                         db_schema=preview.seed_sql if preview.data == "seed" else None)

    def _mask(self, op: Operation, copy: App, preview: Preview) -> None:
        """The masking script on the copy, as the preview's own role, in one transaction, before
        any of its tasks start; a failure removes the copy."""
        op.step(f"masking the copy ({preview.masked})")
        error = self.db.run_script(copy, preview.mask_sql or "")
        if error:
            op.step(f"the masking script failed: removing {copy.name}")
            self.apps.delete(op, copy.name, keep_data=False)
            raise InvalidInput(f"the masking script {preview.masked} failed in Postgres: {error}; "
                               "the preview was not started and its copy was removed.")

    # ---- change -------------------------------------------------------------------------------
    def start_update(self, parent_name: str, name: str, image: str,
                     processes: dict[str, str] | None = None) -> str:
        app = self.require(parent_name, name)
        validation.image(image)
        return self.jobs.start(names.app_target(app.name), "preview-update",
                               lambda op: self.update(op, app, image, processes))

    def update(self, op: Operation, app: App, image: str,
               processes: dict[str, str] | None = None) -> dict:
        """A new version of the preview (the branch's next commit): its data stays."""
        p = app.preview
        parent = self.store.require_app(p.parent)
        op.step(f"rolling preview {p.name} to {image} (its data stays)")
        kept = {k: q.command for k, q in app.processes.items()}
        self.apps.deploy(op, self.apps.validate(
            self._body(parent, p, image, processes if processes is not None else kept)
            .model_copy(update={"db": None, "db_ha": None, "db_schema": None})))
        self._renew(app.name)
        return self.row(self.store.require_app(app.name))

    def start_refresh(self, parent_name: str, name: str) -> str:
        app = self.require(parent_name, name)
        if app.preview.data != "copy":
            raise InvalidInput(f"preview {name} has no copy of {parent_name}'s data to refresh "
                               f"(its data: {app.preview.data}).")
        return self.jobs.start(names.app_target(app.name), "preview-refresh",
                               lambda op: self.refresh(op, app))

    def refresh(self, op: Operation, app: App) -> dict:
        """Its data copied again from the parent now (and masked again); its version stays. The
        preview is down while its copy is replaced."""
        p = app.preview
        parent = self.store.require_app(p.parent)
        op.step(f"removing {app.name} and its copy of {p.parent}'s data")
        self.apps.delete(op, app.name, keep_data=False)
        return self.create(op, parent, p.changed(expires_at=time.time() + (p.ttl or DEFAULT_TTL)),
                           app.image or "", {k: q.command for k, q in app.processes.items()})

    def _renew(self, name: str) -> None:
        app = self.store.require_app(name)
        p = app.preview
        self.store.put_app(app.changed(preview=p.changed(
            expires_at=time.time() + (p.ttl or DEFAULT_TTL))))

    # ---- delete -------------------------------------------------------------------------------
    def start_delete(self, parent_name: str, name: str, actor: str | None = None) -> str:
        app = self.require(parent_name, name)
        return self.jobs.start(names.app_target(app.name), "preview-delete",
                               lambda op: self.delete(op, app), actor=actor)

    def delete(self, op: Operation, app: App) -> dict:
        op.step(f"removing preview {app.preview.name} of {app.preview.parent}: its services, "
                "routes, network, database copy and volumes")
        self.apps.delete(op, app.name, keep_data=False)
        return {"deleted": app.name}

    # ---- time to live -------------------------------------------------------------------------
    def reap(self, now: float | None = None) -> list[str]:
        """Start the deletion of every preview whose time is up; the ones started. A preview
        busy with another operation is taken at a later pass."""
        started = []
        for app in expired(self.store.apps(), now or time.time()):
            try:
                self.start_delete(app.preview.parent, app.preview.name, actor="sentinel")
                started.append(app.name)
            except SentinelError as e:  # busy: the next pass
                log.info("preview %s not removed yet: %s", app.name, e.message)
        return started

    def start(self) -> None:
        def loop() -> None:
            while not self._stop.wait(REAP_EVERY):
                try:
                    for name in self.reap():
                        self.store.add_event(names.app_target(name), "preview",
                                             f"{name} expired: removing it", "sentinel", None)
                except Exception:  # noqa: BLE001 (the loop must outlive one bad pass)
                    log.exception("the preview reaper's pass failed")
        threading.Thread(target=loop, name="preview-reaper", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
