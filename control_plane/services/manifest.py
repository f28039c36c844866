"""`sentinel apply`, `diff` and `export`: an app described by sentinel.yaml.

`changes` compares the file with what the store says runs (pure), and `apply` does exactly what
`diff` lists, by kind of change:

  create    the app does not exist: a first deploy, everything in the file at once;
  version   image, env, resources: a canary by the file's `canary:` section, else a rolling
            update (the release phase runs first either way, when the file has one);
  platform  port, domains, replicas, health: a rolling update of the running version;
  database  ha: a standby added or removed;
  settings  the backup schedule and retention, stored (the scheduler reads them);
  policy    release, canary, notify, hooks, preview: stored, and followed by the next canary
            (preview: by the next push of a branch).

While a canary runs only the policy may change (and a file naming the canary's own version or
production's changes nothing): anything else is refused until it is promoted or rolled back.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from typing import Any

from .. import manifest as mf
from .. import names, validation
from ..errors import Conflict, InvalidInput
from ..jobs import Jobs, Operation
from ..models import AppDeploy, CanaryDeploy, ManifestApply
from ..platform import Platform
from ..models import DbBackups
from .apps import AppService
from .canary import CanaryService
from .db_ops import DbOperations
from .plan import least_interval
from .routes import app_domains
from .stack import deployed_processes
from ..models import ProcessSpec as ModelSpec
from ..records import App, Canary, Process

VERSION = ("image", "env", "resources")
PLATFORM = ("port", "domains", "replicas", "health")
POLICY = ("release", "canary", "notify", "hooks", "schema", "preview")


@dataclass
class Change:
    path: str
    before: Any
    after: Any
    how: str  # create | canary | rolling | database | settings | policy

    def line(self) -> str:
        if self.how == "create":
            return f"+ {self.path} {self.after}"
        before, after = _shown(self.path, self.before, self.after)
        return f"~ {self.path}: {before} -> {after} ({HOW[self.how]})"

    def public(self) -> dict:
        out = asdict(self)
        if self.path == "env":  # values may be secrets: say which variables, not their values
            out["before"], out["after"] = _shown("env", self.before, self.after)
        return out


HOW = {"canary": "a canary, by the file's strategy", "rolling": "a rolling update",
       "database": "a standby added or removed", "settings": "stored",
       "policy": "stored; followed by the next canary"}


def _shown(path: str, before, after) -> tuple[str, str]:
    if path == "env":
        before, after = before or {}, after or {}
        added = sorted(set(after) - set(before))
        gone = sorted(set(before) - set(after))
        changed = sorted(k for k in set(before) & set(after) if before[k] != after[k])
        parts = ([f"set {', '.join(added)}"] if added else []) + \
                ([f"changed {', '.join(changed)}"] if changed else []) + \
                ([f"unset {', '.join(gone)}"] if gone else [])
        return f"{len(before)} variable(s)", "; ".join(parts)

    def text(v):
        if v is None:
            return "(none)"
        if isinstance(v, (dict, list)):
            return json.dumps(v, separators=(", ", ": "))
        return str(v)
    return text(before), text(after)


# ---- what runs, in the file's terms -----------------------------------------------------------
@dataclass
class View:
    """An app's version, platform settings, database and policy as the file says them: what
    runs (running_view) and what the file wants (wanted_view), compared field by field."""
    image: str | None
    env: dict
    resources: dict | None
    port: int
    domains: list[str]
    replicas: int
    health: str | None
    db: bool
    ha: bool | None  # None: the file leaves it out (keep what runs)
    backups: dict | None
    release: Any = None
    canary: Any = None
    notify: Any = None  # no notification target is the same as none given
    hooks: Any = None
    schema: Any = None
    preview: Any = None
    processes: dict | None = None  # None: the file keeps the app's (not compared)

    def __getitem__(self, key: str) -> Any:  # the field named in VERSION, PLATFORM, POLICY
        return getattr(self, key)


def _policy(pol: dict) -> dict:
    """The policy keys, comparable: no notification target is the same as none given; an
    empty section is not (`canary: {}` means "release by canary, with the defaults")."""
    out = {k: pol.get(k) for k in POLICY}
    out["notify"] = out["notify"] or None
    return out


@dataclass
class Work:
    """What an apply does, every request body checked before anything starts."""
    policy: dict
    create: AppDeploy | None = None
    deploy: AppDeploy | None = None
    platform: dict | None = None  # the running version's new settings (App fields)
    canary: CanaryDeploy | None = None
    ha: bool | None = None
    backups: dict | None = None
    set_backups: bool = False  # backups None is a value: the default schedule


def _backups(b: dict | None) -> dict | None:
    return None if not b or b == DbBackups().model_dump() else b


def _resources(r: dict | None) -> dict | None:
    r = {k: v for k, v in (r or {}).items() if v is not None}
    return r or None


def process_view(procs: dict[str, Process]) -> dict:
    return {k: {"command": p.command, "replicas": p.replicas, "resources": _resources(p.resources)}
            for k, p in sorted(procs.items())}


def running_view(app: App) -> View:
    """The app's production version and settings, comparable with `wanted_view`."""
    return View(image=app.image, env=dict(app.env), resources=_resources(app.resources),
                port=app.port, domains=app_domains(app), replicas=app.replicas,
                health=app.health_path, db=bool(app.db), ha=bool(app.db and app.db.ha),
                backups=_backups(app.backups), processes=process_view(app.processes),
                **_policy(app.policy or {}))


def canary_version(app: App, canary: Canary) -> dict:
    """The version a running canary releases (what production becomes when it is promoted)."""
    kept = {k: v for k, v in app.env.items() if k not in canary.env_unset}
    return {"image": canary.image, "env": {**kept, **canary.env},
            "resources": _resources(canary.resources)}


def wanted_view(m: mf.Manifest, default_domain: str,
                processes: dict[str, Process] | None = None) -> View:
    db = m.database
    return View(image=m.image, env=dict(m.env),
                processes=process_view(processes) if processes is not None else None,
                resources=_resources(m.resources.api().model_dump()) if m.resources else None,
                port=m.port, domains=m.domains or [f"{m.app}.{default_domain}"],
                replicas=m.replicas, health=m.health.path, db=bool(db), ha=db.ha if db else None,
                backups=_backups(db.backups.model_dump() if db and db.backups else None),
                **_policy(mf.policy(m)))


def changes(m: mf.Manifest, app: App | None, canary: Canary | None, default_domain: str,
            specs: dict[str, ModelSpec] | None = None) -> list[Change]:
    """What applying `m` would change, in order; refuses what it cannot do, saying why.
    `specs`: the process types the file's version runs (mf.process_specs), None keeps the app's."""
    name = m.app
    if app is None:
        return [Change("app", None, f"{name} ({m.image}, {m.replicas} replica(s))", "create")]
    wanted = None if specs is None else deployed_processes(
        app.processes, validation.processes(specs))
    have, want = running_view(app), wanted_view(m, default_domain, wanted)
    if want.processes is None:
        want.processes = have.processes
    if want.db and not have.db:
        raise InvalidInput(f"database: app {name!r} was deployed without a database; delete it "
                           "and apply again to add one.")
    if have.db and not want.db:
        raise InvalidInput(f"database: app {name!r} has a database, and leaving the section out "
                           "would not delete it: keep it (`sentinel export` writes it), or delete "
                           "the app with `sentinel delete app`.")
    version = [k for k in VERSION if have[k] != want[k]]
    platform = [k for k in PLATFORM if have[k] != want[k]]
    # A version changes its process types with it; else their settings roll on their own.
    processes = have.processes != want.processes
    if canary:
        rolling_out = canary_version(app, canary)
        if version and any(rolling_out[k] != want[k] for k in VERSION):
            raise Conflict(f"app {name!r} has a canary of {canary.image} running and the file "
                           "names another version: promote or roll it back first (`sentinel "
                           f"canary status {name}`).")
        version = []  # the file names production's version or the canary's: both are in hand
        if platform or (want.ha is not None and want.ha != have.ha) or \
                (processes and want.processes != process_view(
                    deployed_processes(app.processes, canary.processes))):
            raise Conflict(f"app {name!r} has a canary running: only the release policy changes "
                           f"while it does; promote or roll it back, then apply again.")
    how = "canary" if m.canary else "rolling"
    if version and how == "canary" and {"port", "health"} & set(platform):
        raise InvalidInput("port and health.path change with the version, and a canary runs "
                           "beside production on production's: change them in an apply of their "
                           "own (or without a canary section, as a rolling update).")
    out = [Change(k, have[k], want[k], how) for k in version]
    out += [Change(k, have[k], want[k], "rolling") for k in platform]
    if processes and not canary:
        out.append(Change("processes", have.processes, want.processes,
                          how if version else "rolling"))
    if want.ha is not None and want.ha != have.ha:
        out.append(Change("database.ha", have.ha, want.ha, "database"))
    if have.db and want.backups != have.backups:
        out.append(Change("database.backups", have.backups, want.backups, "settings"))
    for k in POLICY:
        if have[k] != want[k]:
            path = "database.schema" if k == "schema" else k
            out.append(Change(path, have[k], want[k], "policy"))
    return out


# ---- the service ------------------------------------------------------------------------------
class ManifestService:
    def __init__(self, platform: Platform, jobs: Jobs, canary: CanaryService, apps: AppService,
                 db_ops: DbOperations):
        self.p = platform
        self.store = platform.store
        self.jobs = jobs
        self.canary = canary
        self.apps = apps
        self.db_ops = db_ops

    def read(self, req: ManifestApply) -> mf.Manifest:
        m = mf.parse(req.manifest, req.source)
        self.check_environment(m)
        self.check_intervals(m)
        return m

    def check_environment(self, m: mf.Manifest, environ=None) -> None:
        """Every *_env the file names is set where the control plane runs: a notification or
        hook that cannot be sent is better refused now than found missing mid-release."""
        environ = os.environ if environ is None else environ
        named = []
        for i, t in enumerate(m.notify):
            kind, spec = ("slack", t.slack) if t.slack else ("webhook", t.webhook)
            for key in ("webhook_url_env", "url_env", "secret_env"):
                if getattr(spec, key, None):
                    named.append((f"notify[{i}].{kind}.{key}", getattr(spec, key)))
        if m.hooks:
            if m.hooks.secret_env:
                named.append(("hooks.secret_env", m.hooks.secret_env))
            for kind in mf.HOOK_TYPES:
                hook = getattr(m.hooks, kind)
                if hook and hook.secret_env:
                    named.append((f"hooks.{kind}.secret_env", hook.secret_env))
        for path, var in named:
            if not environ.get(var):
                raise InvalidInput(f"{path}: {var} is not set in the control plane's environment: "
                                   "set it where the control plane runs (then restart it), and "
                                   "apply again.")

    def check_intervals(self, m: mf.Manifest) -> None:
        c = m.canary
        if not c or not c.steps:
            return
        least = least_interval(self.p.scrape_seconds)
        for path, seconds in [("canary.interval", c.interval)] + [
                (f"canary.steps[{i}].interval", s.interval) for i, s in enumerate(c.steps)]:
            if seconds is not None and seconds < least:
                raise InvalidInput(f"{path}: {seconds:g}s is too short to judge: at least "
                                   f"{least:g}s (3 scrapes).")

    def plan(self, req: ManifestApply) -> tuple[mf.Manifest, list[Change], dict | None]:
        """The file, what applying it changes, and the process types its version runs (None:
        the app's); `req.processes` are those of the source its image was built from."""
        self.p.require_ready()
        m = self.read(req)
        app = self.store.app(m.app)
        specs = mf.process_specs(m, req.processes, {k: p.command for k, p in app.processes.items()}
                                 if app else {})
        return m, changes(m, app, self.store.canary(m.app) if app else None, self.p.spec.domain,
                          specs), specs

    def diff(self, req: ManifestApply) -> dict:
        m, found, _ = self.plan(req)
        return {"app": m.app, "changes": [c.public() for c in found],
                "lines": [c.line() for c in found]}

    def start_apply(self, req: ManifestApply) -> dict:
        m, found, specs = self.plan(req)
        out = {"app": m.app, "changes": [c.public() for c in found],
               "lines": [c.line() for c in found], "operation": None}
        if not found:
            return out
        work = self._prepare(m, req.files, found, specs)  # all checked before anything starts
        out["operation"] = self.jobs.start(names.app_target(m.app), "apply",
                                           lambda op: self._apply(op, m, found, work))
        return out

    def apply_in(self, op: Operation, req: ManifestApply) -> dict:
        """Apply the file as a part of an operation already running on the app (a push: its
        build came first)."""
        m, found, specs = self.plan(req)
        if not found:
            op.step(f"nothing to change: {m.app} is as {req.source} says")
            return {"app": m.app}
        return self._apply(op, m, found, self._prepare(m, req.files, found, specs))

    def _prepare(self, m: mf.Manifest, files: dict[str, str], found: list[Change],
                 specs: dict | None = None) -> Work:
        """`specs`: the process types the file's version runs (None: the app's)."""
        hows = {c.how for c in found}
        work = Work(policy=mf.policy(m))
        built = {"processes": specs}
        if "create" in hows:
            work.create = self.apps.validate(mf.app_deploy(m, files).model_copy(update=built))
            return work
        app = self.store.require_app(m.app)
        paths = {c.path for c in found}
        if any(c.how == "rolling" and c.path in VERSION for c in found):  # and the rest with it
            work.deploy = self.apps.validate(mf.app_deploy(m, files).model_copy(update=built))
        # Process types alone roll now; with a new version they go out with it (its canary).
        processes_now = any(c.path == "processes" and c.how == "rolling" for c in found)
        if work.deploy is None and (set(PLATFORM) & paths or processes_now):
            # the running version, with the file's settings
            body = mf.app_deploy(m, files, release=False).model_copy(update={"image": app.image})
            domains = self.apps.validate(body).domains or []
            work.platform = {"port": m.port, "domains": domains, "domain": domains[0],
                             "replicas": m.replicas, "health_path": m.health.path}
            if processes_now:
                work.platform["processes"] = deployed_processes(
                    app.processes, validation.processes(specs))
        if "canary" in hows:
            work.canary = self.canary.validate_deploy(
                m.app, mf.canary_deploy(m, files, app.env).model_copy(update=built))
        if "database" in hows and m.database and m.database.ha is not None:
            self.db_ops.check_ha(m.app, m.database.ha)
            work.ha = m.database.ha
        if "settings" in hows and m.database:
            work.backups = _backups(m.database.backups.model_dump() if m.database.backups else None)
            work.set_backups = True
        return work

    def _apply(self, op: Operation, m: mf.Manifest, found: list[Change], work: Work) -> dict:
        name = m.app
        for c in found:
            op.step(c.line())
        if work.create:
            return self.apps.deploy(op, work.create, policy=work.policy)
        # The policy first: a canary started below follows the file's hooks and notifications.
        app = self.store.require_app(name).changed(policy=work.policy)
        if work.set_backups:
            app.backups = work.backups
        self.store.put_app(app)
        out: dict[str, Any] = {"app": name}
        if work.ha is not None:
            out["database"] = self.db_ops.ha(op, name, work.ha)
        if work.deploy:
            out["deployed"] = self.apps.deploy(op, work.deploy)
        elif work.platform:
            op.step(f"rolling update of {name}'s settings (same version)")
            out["deployed"] = self.apps.roll(op, self.store.require_app(name).changed(**work.platform))
        if work.canary:
            out["canary"] = self.canary.deploy(op, name, work.canary)["canary"]
        return out

    def export(self, name: str) -> dict:
        app = self.apps.require(name)
        if not app.image:
            raise InvalidInput(f"app {name!r} runs no version (a restored copy of a database): "
                               "there is nothing to export.")
        m = mf.from_records(app)
        return {"app": name, "yaml": mf.to_yaml(m),
                "canary": bool(self.store.canary(name))}

