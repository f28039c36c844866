"""Apps: deploy (first time or rolling update), scale, inspect, logs, delete."""
from __future__ import annotations

import time

from .. import names, notify, patroni, validation
from ..docker_cli import service_logs_argv, service_ls_argv
from ..errors import Conflict, InvalidInput, SentinelError
from ..jobs import Operation
from ..models import AppDeploy, DbBackups
from ..platform import Platform
from ..swarm_state import tasks as service_tasks
from .backup import BackupService
from .cluster import ClusterService
from .database import DatabaseService
from .release import ReleaseService, validate as validate_release
from .routes import PRODUCTION_ONLY, Routes, app_domains
from .stack import Stack, db_env, deployed_processes, production_counts
from .teardown import Teardown
from ..records import App, Database, Preview

ROLES = names.ROLES
service_name = names.service  # the swarm service of a web role


def deploy_env(existing: App | None, body: AppDeploy) -> dict[str, str]:
    """The variables a deploy gives the app: those sent, or with keep_env (the console, which
    never sees values) the app's current ones."""
    if body.keep_env and existing:
        return dict(existing.env)
    return validation.env_entries(body.env)


def backup_policy(body: AppDeploy, existing: App | None) -> dict | None:
    """The app's backup schedule: the body's (None when it is the default), or, when the body
    says nothing (`sentinel deploy` has no flag for it), the app's own."""
    if body.db_backups is None:
        return existing.backups if existing else None
    return None if body.db_backups == DbBackups() else body.db_backups.model_dump()


class AppService:
    def __init__(self, platform: Platform, *, db: DatabaseService, backups: BackupService,
                 release: ReleaseService, cluster: ClusterService, stack: Stack, routes: Routes,
                 teardown: Teardown):
        self.p = platform
        self.store = platform.store
        self.db = db
        self.backups = backups
        self.release = release
        self.cluster = cluster
        self.stack = stack
        self.routes = routes
        self.teardown = teardown

    # ---- validation ---------------------------------------------------------------------------
    def require(self, name: str) -> App:
        return self.store.require_app(name)

    def validate(self, body: AppDeploy) -> AppDeploy:
        self.p.require_ready()
        validation.name(body.name)
        if body.name in names.RESERVED_APPS:
            raise InvalidInput(f"app name {body.name!r} is reserved by the platform: choose another.")
        validation.image(body.image)
        validation.port(body.port)
        validation.replicas(body.replicas)
        validation.env_entries(body.env)
        validation.health_path(body.health_path)
        if body.keep_env and body.env:
            raise InvalidInput("keep_env keeps the current variables: send no env with it.")
        validation.resources(body.resources)
        validation.processes(body.processes)
        if body.domains and body.domain and validation.domain(body.domain) != \
                validation.domain(body.domains[0]):
            raise InvalidInput("give the domains in one list (the first is the main one), or "
                               "one domain.")
        domains = validation.domains(body.domains or
                                     [body.domain or f"{body.name}.{self.p.spec.domain}"])
        for other in self.store.apps():
            taken = set(app_domains(other)) & set(domains) if other.name != body.name else set()
            if taken:
                raise Conflict(f"domain {sorted(taken)[0]} is already used by app "
                               f"{other.name!r}: choose another (--domain, or domains: in "
                               "sentinel.yaml).")
        existing = self.store.app(body.name)
        if existing and self.store.canary(body.name):
            raise Conflict(f"app {body.name!r} has a canary running: promote or roll it back first.")
        if existing and body.db and not existing.db:
            raise InvalidInput(f"app {body.name!r} was deployed without a database; delete it and "
                               "deploy again to add one.")
        validate_release(body.name, bool(existing.db if existing else body.db), body.release)
        if body.db_ha is not None and not body.db:
            raise InvalidInput("--db-ha/--no-db-ha need --db postgres.")
        if body.db and body.db_ha and not existing:
            ready = self.db.objects.app_nodes()
            if len(ready) < 2:
                raise InvalidInput(f"--db-ha needs 2 ready nodes for primary and standby and the "
                                   f"cluster has {len(ready)}: add a node (`sentinel cluster scale "
                                   "--nodes 2`) or leave out --db-ha.")
        return body.model_copy(update={"domain": domains[0], "domains": domains})

    def free_edge_slot(self, name: str) -> int:
        """The app's edge network: the lowest one no other app holds (claimed atomically)."""
        slot = self.store.claim_slot(names.EDGE_SLOTS_KEY, name, self.p.spec.edge_networks)
        if slot is not None:
            return slot
        raise Conflict(f"all {self.p.spec.edge_networks} edge networks are taken, one per app: delete "
                       "an app, or run `sentinel init` again with a larger --edge-networks (Traefik "
                       "restarts once).")

    # ---- deploy -------------------------------------------------------------------------------
    def deploy(self, op: Operation, body: AppDeploy, policy: dict | None = None,
               preview: Preview | None = None) -> dict:
        """policy: the release policy of `apply`, stored with the app; preview: what makes a new
        app a preview of another (one with a copy of its data was made by a restore --into)."""
        existing = self.store.app(body.name)
        cluster_image = self.stack.resolve_image(op, body.image)
        app = App(name=body.name, image=body.image, cluster_image=cluster_image, port=body.port,
                  domain=body.domain, domains=body.domains or [], replicas=body.replicas,
                  resources=validation.resources(body.resources),
                  backups=backup_policy(body, existing), env=deploy_env(existing, body),
                  health_path=body.health_path, db=existing.db if existing else None,
                  created_at=existing.created_at if existing else time.time(),
                  # A copy restored --into has no edge network until something is deployed on it.
                  edge_slot=existing.edge_slot if existing and existing.edge_slot is not None
                  else self.free_edge_slot(body.name),
                  policy=policy if policy is not None else existing.policy if existing else None,
                  last_release=existing.last_release if existing else None,
                  processes=deployed_processes(existing.processes if existing else {},
                                               validation.processes(body.processes)
                                               if body.processes is not None else None),
                  restored_from=existing.restored_from if existing else None,
                  preview=existing.preview if existing else preview)
        if existing and body.release:
            app.last_release = self.release.release(op, existing, cluster_image, body.release,
                                                    extra_env=app.env)
        if existing and existing.image:
            op.step(f"rolling update of {body.name} to {body.image} (start-first, health-gated)")
            return self.roll(op, app)
        if existing:  # a database restored --into: its first web tasks, on the copied data
            op.step(f"starting {body.replicas} task(s) of {body.image} on the database of {body.name}")
            self._start_web(app)
            op.step(f"{body.name} is up at {self.summary(app)['url']}")
            return self.summary(app)


        first_backup = lambda: None  # noqa: E731
        if body.db:
            app.db = self._create_db(op, app, body.db_schema, body.db_ha)
            # Protected from its first second: a restore, a release check or a drill needs a
            # backup to start from (WAL alone restores nothing). Taken while the web tasks start.
            if app.backed_up:
                first_backup = self.backups.first_backup_beside(op, app)
        if body.release:  # a first deploy: nothing runs yet that the release could break
            op.step("release phase (a new app: no compatibility check needed)")
            try:
                self.release.apply(op, app, cluster_image, body.release,
                                   task=names.stack_object(body.name, "release"))
            except Exception:
                op.step("the release failed: removing what the deploy created")
                first_backup()
                self.teardown.remove(app, keep_data=False)
                raise
        try:
            op.step(f"starting {body.replicas} task(s) of {body.image}")
            self._start_web(app)
        except Exception:
            op.step("deploy failed: removing what it created")
            first_backup()
            self.teardown.remove(app, keep_data=False)
            self.store.delete_app(body.name)
            raise
        first_backup()
        op.step(f"{body.name} is up at {self.summary(app)['url']}")
        notify.send(self.store, body.name, "deploy", f"{body.name} deployed: {body.image} at "
                    f"{self.summary(app)['url']}")
        return self.summary(app)

    def _start_web(self, app: App) -> None:
        """An app's first web tasks: its stack, its record, and once the tasks are healthy and
        Traefik knows them, its routes."""
        self.stack.deploy(app)
        self.store.put_app(app)
        self.stack.wait_running(service_name(app.name, "production"), app.replicas)
        if app.replicas > 0:
            self.routes.wait_service(app.name, "production")
        self.routes.write(app, PRODUCTION_ONLY, wait=app.replicas > 0)

    def roll(self, op: Operation, app: App) -> dict:
        """Production to `app` (a full record) by a rolling update: start-first, health-gated,
        then its routes (domains may have changed)."""
        self.stack.deploy(app)
        self.stack.wait_running(service_name(app.name, "production"), app.replicas, timeout=300)
        self.stack.wait_processes(op, app.name, "production", production_counts(app))
        self.store.put_app(app)
        self.routes.write(app, PRODUCTION_ONLY, wait=app.replicas > 0)
        op.step(f"{app.name} now runs {app.image}")
        notify.send(self.store, app.name, "deploy", f"{app.name} updated: runs {app.image}, "
                    f"{app.replicas} replica(s)")
        return self.summary(app)

    def _create_db(self, op: Operation, app: App, schema: str | None, ha: bool | None) -> Database:
        db_service = self.db
        if ha is None:  # HA by default when there is a second node for the standby
            ha = len(db_service.objects.app_nodes()) >= 2
        app = app.changed(db=db_service.new_record(app.name, ha))
        try:
            db_service.prepare(op, app)
            placed = ", ".join(f"{m.key} on {m.node}" for m in app.db.members)
            op.step(f"starting Postgres ({placed})")
            self.stack.deploy(app, web=False)
            db_service.started(op, app, schema)
        except Exception:
            op.step("database setup failed: removing what it created")
            try:
                self.teardown.remove(app, keep_data=False)
            except SentinelError as cleanup:  # the setup's own failure is the one to tell
                op.step(f"WARNING: removing it failed too: {cleanup.message}")
            raise
        return app.need_db()

    # ---- scale, delete --------------------------------------------------------------------------
    def scale(self, op: Operation, name: str, replicas: int) -> dict:
        app = self.require(name).changed(replicas=replicas)
        op.step(f"scaling {name} to {replicas} replica(s)")
        self.stack.deploy(app, self.store.canary(name))
        self.stack.wait_running(service_name(name, "production"), replicas)
        self.store.put_app(app)
        return self.summary(app)

    def scale_processes(self, op: Operation, name: str, counts: dict[str, int]) -> dict:
        """Replicas of process types besides web (`sentinel scale process shop worker=3`)."""
        app = self.require(name)
        procs = dict(app.processes)
        for proc, replicas in counts.items():
            if proc not in procs:
                raise InvalidInput(f"{name} has no process type {proc!r}"
                                   + (f" (it has {', '.join(sorted(procs))})." if procs else
                                      ": its Procfile lists none besides web."))
            validation.replicas(replicas)
            procs[proc] = procs[proc].changed(replicas=replicas)
        app = app.changed(processes=procs)
        op.step("scaling " + ", ".join(f"{k} to {v}" for k, v in sorted(counts.items())))
        self.stack.deploy(app, self.store.canary(name))
        self.stack.wait_processes(op, name, "production",
                                  {proc: procs[proc].replicas for proc in sorted(counts)})
        self.store.put_app(app)
        return self.summary(app)

    def delete(self, op: Operation, name: str, keep_data: bool) -> dict:
        app = self.require(name)
        # Its previews go with it: their data is a copy of its own, made to be thrown away.
        previews = [a for a in self.store.apps() if a.preview and a.preview.parent == name]
        for p in previews:
            op.step(f"removing its preview {p.preview.name} ({p.name})")
            self.teardown.remove(p, keep_data=False)
            self.store.delete_app(p.name)
        op.step(f"removing {name}'s routes, services and network"
                + ("" if keep_data else ", secret and data volume"))
        self.teardown.remove(app, keep_data)
        self.store.delete_app(name)
        return {"deleted": name, "kept_data": keep_data, "previews": [p.name for p in previews]}

    # ---- read -----------------------------------------------------------------------------------
    def summary(self, app: App) -> dict:
        return {"name": app.name, "image": app.image, "domain": app.domain, "port": app.port,
                "replicas": app.replicas, "health_path": app.health_path,
                "domains": app_domains(app), "resources": app.resources, "db": bool(app.db),
                "processes": {k: p.model_dump() for k, p in app.processes.items()},
                "preview_of": app.preview.parent if app.preview else None,
                "url": self.p.edge_url(app.domain or "", https=bool(self.p.spec.email))}

    def list(self, live: bool = True) -> list[dict]:
        """Every app as recorded; with `live`, its tasks ready/desired as the swarm says (one
        `docker service ls`), else `ready` is None and the swarm is not asked."""
        apps = [a for a in self.store.apps() if not a.internal]
        services = {s["Name"]: s for s in self.p.docker.json_lines(service_ls_argv())} if apps and live else {}
        out = []
        for a in apps:
            svc = services.get(service_name(a.name, "production"), {})
            c = self.store.canary(a.name)
            out.append({**self.summary(a), "ready": svc.get("Replicas", "0/0") if live else None,
                        "canary": bool(c),
                        # what the console's list shows besides (the store's record, no swarm call)
                        "canary_image": c.image if c else None,
                        "canary_weight": c.weight if c else None,
                        "db_members": len(a.db.members) if a.db else 0})
        return out

    def settings(self, name: str) -> dict:
        """The app as recorded, with no call to the swarm: env names (never values), database
        members, the canary. What the console shows even when the swarm does not answer."""
        app = self.require(name)
        c = self.store.canary(name)
        injected = sorted(db_env(name, app.db, "").keys()) if app.db else []
        return {"app": self.summary(app), "env": sorted(app.env),
                "db_env": injected,
                "db": {"members": [{"member": m.key, "node": m.node}
                                   for m in app.db.members]} if app.db else None,
                "canary": {"image": c.image, "weight": c.weight, "state": c.state,
                           "baseline": c.baseline,
                           "progressive": c.progressive.model_dump() if c.progressive else None}
                if c else None}

    def inspect(self, name: str) -> dict:
        app = self.require(name)
        services = self.p.docker.json_lines(service_ls_argv(stack=name))
        rows = []
        for s in services:
            for t in service_tasks(self.p.docker, s["Name"], running_only=True, with_nodes=True):
                age = time.time() - t.since if t.since else None
                rows.append({"name": f"{s['Name']}.{t.slot or t.id[:8]}", "node": t.node,
                             "state": t.state, "desired": t.desired, "error": t.error,
                             "age_seconds": round(age) if age is not None else None})
        nodes = self.cluster.reconcile_nodes()
        return {"app": self.summary(app),
                "services": [{"name": s["Name"], "image": s["Image"], "replicas": s["Replicas"]}
                             for s in services],
                "tasks": rows[:50], "nodes": nodes}

    def log_service(self, name: str, role: str = "production", process: str | None = None) -> str:
        """The swarm service whose logs `sentinel inspect logs` shows."""
        app = self.require(name)
        if process and process != "web":
            if role not in ("production", "canary"):
                raise InvalidInput("a process type's logs are production's or the canary's.")
            canary = self.store.canary(name) if role == "canary" else None
            if role == "canary" and canary is None:
                raise InvalidInput(f"app {name!r} has no canary.")
            have = deployed_processes(app.processes, canary.processes) if canary else app.processes
            if process not in have:
                raise InvalidInput(f"{name} has no process type {process!r}"
                                   + (f" (it has web, {', '.join(sorted(have))})." if have
                                      else ": it runs web alone."))
            return names.process_service(name, role, process)
        if role not in (*ROLES, "db"):
            raise InvalidInput(f"role {role!r} is not valid: use production, canary, baseline or db.")
        if role == "db" and not app.db:
            raise InvalidInput(f"app {name!r} has no database.")
        if role in ("canary", "baseline") and not self.store.canary(name):
            raise InvalidInput(f"app {name!r} has no canary.")
        if role == "db":  # the database's logs are its primary's (else its first member's)
            members = app.db.members
            leader = patroni.leader(self.db.cluster(app))
            return names.stack_object(name, leader) if leader else names.member_service(name, members[0].index)
        return service_name(name, role)

    def logs(self, name: str, role: str = "production", tail: int | None = 200,
             since: str | None = None, process: str | None = None) -> list[str]:
        return self.stack.logs(self.log_service(name, role, process), tail=tail, since=since)

    def follow_logs(self, name: str, role: str = "production", tail: int | None = 100,
                    since: str | None = None, process: str | None = None):
        """Validates now, then streams (masked) lines as the tasks write them, until the
        reader goes away: `docker service logs --follow` on the manager."""
        svc = self.log_service(name, role, process)
        return self.p.docker.stream(service_logs_argv(svc, tail=tail, since=since, follow=True),
                                    what=f"following the logs of {svc}")
