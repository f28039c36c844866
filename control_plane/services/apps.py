"""Apps: deploy (first time or rolling update), scale, inspect, logs, delete."""
from __future__ import annotations

import time

from .. import executor, names, notify, secrets, ssh, validation
from ..docker_cli import (container_ls_argv, exec_argv, secret_create_argv, secret_rm_argv,
                          service_inspect_argv, service_logs_argv, service_ps_argv,
                          stack_deploy_argv, stack_rm_argv, service_ls_argv)
from ..errors import CommandFailed, Conflict, InvalidInput, NotFound
from ..jobs import Operation
from ..models import AppDeploy
from ..platform import Platform
from ..database_config import database_url
from ..swarm_state import oldest_engine
from ..templates import render
from .. import traefik
from .backup import BackupService
from .database import DatabaseService

RESERVED = {"sentinel", "sentinel-registry", "prometheus", "grafana", "traefik", "registry"}
ROLES = names.ROLES
ACME_RESOLVER = "acme"  # the certificate resolver compose_templates/platform.yml.j2 defines
service_name = names.service  # the swarm service of a web role


def db_env(app: str, db: dict, password: str) -> dict[str, str]:
    """What the app's tasks get to reach their database: one address (HAProxy, which follows the
    primary) and libpq settings that notice a dead peer within seconds instead of minutes."""
    host = names.db_service(app)
    # The *_FILE forms are swarm secrets (only this app's tasks have them): for images that keep
    # credentials out of their environment, which `docker inspect` on a node shows.
    return {"DATABASE_URL": database_url(host, db["user"], db["name"], password),
            "DATABASE_URL_FILE": "/run/secrets/database_url",
            "PGHOST": host, "PGPORT": "5432", "PGUSER": db["user"], "PGPASSWORD": password,
            "PGDATABASE": db["name"], "PGPASSWORD_FILE": "/run/secrets/db_password",
            "PGCONNECT_TIMEOUT": "3"}


def deploy_env(existing: dict | None, body: AppDeploy) -> dict[str, str]:
    """The variables a deploy gives the app: those sent, or with keep_env (the console, which
    never sees values) the app's current ones."""
    if body.keep_env and existing:
        return dict(existing.get("env") or {})
    return validation.env_entries(body.env)


# The container health check's prober: the node's static busybox (package busybox-static, in
# the node image and installed by playbooks/node.yml), bind-mounted read-only into each web task
# under the name of its wget applet. A probe is then one small static process with no shell: it
# works in any image, with or without curl, wget, python3 or /bin/sh. (Its CPU is the exec's
# own, ~50 ms on a node: bench/idle.py; an image's curl through sh costs about the same.)
PROBE_SOURCE = "/bin/busybox"
PROBE_TARGET = "/run/sentinel/wget"


# Docker Engine 25 added healthcheck.start_interval (stack files of version 3.12 and later).
START_INTERVAL_SINCE = (25, 0)


def knows_start_interval(engine: tuple[int, int] | None) -> bool:
    return engine is not None and engine >= START_INTERVAL_SINCE


def compose_version(engine: tuple[int, int] | None) -> str:
    return "3.12" if knows_start_interval(engine) else "3.8"


def health_check(port: int, path: str | None, engine: tuple[int, int] | None) -> dict | None:
    """The container health check: an exec of the prober, no shell, so the (validated) path is
    one argument whatever it holds. busybox wget exits non-zero on an HTTP error status; its
    -T flag is not used (it crashes in 1.35): Docker's health timeout bounds the probe.

    Swarm holds a task in `starting` until a probe passes, so probes set how soon a rollout goes
    on; at rest each one is a container exec (~50 ms of a node's CPU), most of what an idle app
    costs. On every node's engine 25+ (`engine`: the oldest): every second while the task starts,
    every 10 s once it is healthy (Traefik's own 2 s checks take a failing task out of routing
    meanwhile); a task that never passes is unhealthy after 20 + 3 x 10 s. Older engines probe
    only every `interval`, the first one interval after the start: every 2 s, unhealthy after
    5 + 3 x 2 s."""
    if not path:
        return None
    check = {"test": ["CMD", PROBE_TARGET, "-q", "-O", "/dev/null", f"http://127.0.0.1:{port}{path}"],
             "timeout": "2s", "retries": 3}
    if knows_start_interval(engine):
        return check | {"interval": "10s", "start_period": "20s", "start_interval": "1s"}
    return check | {"interval": "2s", "start_period": "5s"}


def stack_resources(resources: dict | None) -> dict | None:
    """deploy.resources of a web service: the limits, and the same reserved (the scheduler then
    places a task only where its share is free, so a busy node cannot starve it)."""
    if not resources:
        return None
    from ..units import parse_memory

    share = {}
    if resources.get("cpu") is not None:
        share["cpus"] = f"{resources['cpu']:g}"
    if resources.get("memory"):
        share["memory"] = str(parse_memory(resources["memory"]))  # bytes: no unit to misread
    return {"limits": share, "reservations": dict(share)} if share else None


def backup_policy(body: AppDeploy, existing: dict | None) -> dict | None:
    """The app's backup schedule: the body's (None when it is the default), or, when the body
    says nothing (`sentinel deploy` has no flag for it), the app's own."""
    from ..models import DbBackups

    if body.db_backups is None:
        return (existing or {}).get("backups")
    return None if body.db_backups == DbBackups() else body.db_backups.model_dump()


def app_domains(app: dict) -> list[str]:
    """Every domain of an app, its main one first (apps from before several domains have one)."""
    return app.get("domains") or [app["domain"]]


class AppService:
    def __init__(self, platform: Platform):
        self.p = platform
        self.store = platform.store

    # ---- validation ---------------------------------------------------------------------------
    def require(self, name: str) -> dict:
        app = self.store.app(name)
        if not app:
            raise NotFound(f"there is no app named {name!r}: see `sentinel apps`.")
        return app

    def validate(self, body: AppDeploy) -> AppDeploy:
        self.p.require_ready()
        validation.name(body.name)
        if body.name in RESERVED:
            raise InvalidInput(f"app name {body.name!r} is reserved by the platform: choose another.")
        validation.image(body.image)
        validation.port(body.port)
        validation.replicas(body.replicas)
        validation.env_entries(body.env)
        validation.health_path(body.health_path)
        if body.keep_env and body.env:
            raise InvalidInput("keep_env keeps the current variables: send no env with it.")
        validation.resources(body.resources)
        if body.domains and body.domain and validation.domain(body.domain) != \
                validation.domain(body.domains[0]):
            raise InvalidInput("give the domains in one list (the first is the main one), or "
                               "one domain.")
        domains = validation.domains(body.domains or
                                     [body.domain or f"{body.name}.{self.p.spec.domain}"])
        for other in self.store.apps():
            taken = set(app_domains(other)) & set(domains) if other["name"] != body.name else set()
            if taken:
                raise Conflict(f"domain {sorted(taken)[0]} is already used by app "
                               f"{other['name']!r}: choose another (--domain, or domains: in "
                               "sentinel.yaml).")
        existing = self.store.app(body.name)
        if existing and self.store.canary(body.name):
            raise Conflict(f"app {body.name!r} has a canary running: promote or roll it back first.")
        if existing and body.db and not existing.get("db"):
            raise InvalidInput(f"app {body.name!r} was deployed without a database; delete it and "
                               "deploy again to add one.")
        from . import release

        release.validate(existing or {"name": body.name, "db": body.db}, body.release)
        if body.db_ha is not None and not body.db:
            raise InvalidInput("--db-ha/--no-db-ha need --db postgres.")
        if body.db and body.db_ha and not existing:
            ready = DatabaseService(self.p).app_nodes()
            if len(ready) < 2:
                raise InvalidInput(f"--db-ha needs 2 ready nodes for primary and standby and the "
                                   f"cluster has {len(ready)}: add a node (`sentinel cluster scale "
                                   "--nodes 2`) or leave out --db-ha.")
        return body.model_copy(update={"domain": domains[0], "domains": domains})

    def free_edge_slot(self, name: str) -> int:
        """The app's edge network: the lowest one no other app holds (claimed atomically)."""
        slot = self.store.claim_slot("edge_slots", name, self.p.spec.edge_networks)
        if slot is not None:
            return slot
        raise Conflict(f"all {self.p.spec.edge_networks} edge networks are taken, one per app: delete "
                       "an app, or run `sentinel init` again with a larger --edge-networks (Traefik "
                       "restarts once).")

    # ---- image --------------------------------------------------------------------------------
    def resolve_image(self, op: Operation, image: str) -> str:
        """A local image is pushed to the cluster registry; a remote one must exist there."""
        from ..registry import local_image_exists

        if local_image_exists(image):
            op.step(f"pushing {image} to the cluster registry")
            return self.p.registry().push(image)
        proc = executor.run(["skopeo", "inspect", "--raw", f"docker://{image}"], check=False,
                            timeout=30)
        if proc.returncode != 0:
            raise InvalidInput(f"image {image!r} was not found, neither in this machine's Docker "
                               "engine nor in a registry: build it or check its name.")
        return image

    # ---- stack --------------------------------------------------------------------------------
    def web_services(self, app: dict, canary: dict | None = None) -> list[dict]:
        env = dict(app.get("env") or {})
        db = db_env(app["name"], app["db"], secrets.get(names.db_credential(app["name"]))) if app.get("db") else {}
        production = stack_resources(app.get("resources"))
        out = [{"key": "web", "role": "production", "image": app["cluster_image"],
                "traefik_name": names.traefik_service(app["name"], "production"),
                "env": {**env, **db, "SENTINEL_VERSION_ROLE": "production"},
                "replicas": app["replicas"], "resources": production}]
        if canary:
            # The canary is the new version whole: its env (less what it unsets) and resources.
            kept = {k: v for k, v in env.items() if k not in canary.get("env_unset", ())}
            out.append({"key": "canary", "role": "canary", "image": canary["cluster_image"],
                        "traefik_name": names.traefik_service(app["name"], "canary"),
                        "env": {**kept, **db, **canary.get("env", {}), "SENTINEL_VERSION_ROLE": "canary"},
                        "replicas": canary["replicas"],
                        "resources": stack_resources(canary.get("resources", app.get("resources")))})
            if canary.get("baseline"):
                out.append({"key": "baseline", "role": "baseline", "image": app["cluster_image"],
                            "traefik_name": names.traefik_service(app["name"], "baseline"),
                            "env": {**env, **db, "SENTINEL_VERSION_ROLE": "baseline"},
                            "replicas": canary["replicas"], "resources": production})
        for svc in out:
            svc["internal_host"] = names.internal_host(app["name"], svc["role"])
        return out

    def render_stack(self, app: dict, canary: dict | None = None, web: bool = True) -> str:
        spec = self.p.spec
        db = DatabaseService(self.p).stack_context(app) if app.get("db") else None
        backup = f"node.labels.{names.BACKUP_LABEL} == true"
        engine = oldest_engine(self.p.docker)
        return render("app.yml.j2", app=app["name"], port=app["port"],
                      compose_version=compose_version(engine),
                      health_path=app.get("health_path"),
                      health_check=health_check(app["port"], app.get("health_path"), engine),
                      probe={"source": PROBE_SOURCE, "target": PROBE_TARGET},
                      endpoint_mode=spec.endpoint_mode, network=names.network(app["name"]),
                      # No slot: a copy nothing was deployed on, or a check's scratch copy,
                      # which joins no edge network (never another app's).
                      edge_network=names.edge_network(app["edge_slot"])
                      if app.get("edge_slot") is not None else None,
                      dcs_network=names.DCS_NETWORK,
                      backup_node=backup, not_backup_node=backup.replace("==", "!="),
                      web_services=self.web_services(app, canary) if web else [], db=db)

    deployed_at: float | None = None  # when this service last deployed a stack (wait_running)

    def deploy_stack(self, app: dict, canary: dict | None = None, web: bool = True) -> None:
        text = self.render_stack(app, canary, web)
        self.deployed_at = time.time()
        self.p.docker.run(stack_deploy_argv(app["name"]), input=text, timeout=120,
                          what="docker stack deploy")
        if app.get("db"):
            db = DatabaseService(self.p)
            db.forget_old_objects(app["name"], keep=set(db.ensure_objects(app).values()))

    def wait_running(self, service: str, replicas: int, timeout: float = 180,
                     since: float | None = None, fail_fast: bool = False) -> None:
        """Until `replicas` tasks run (healthy: swarm holds a task in `starting` until then) and
        no update is in flight. A rolled-back update is an error, but only the update this
        deploy started (`since`): a leftover status of an older one says nothing now. With
        `fail_fast`, a task started since then that failed (crashed, or swarm found it
        unhealthy) is an error at once instead of a retry to wait for."""
        from ..swarm_state import FAILED, tasks, update_state

        since = since if since is not None else (self.deployed_at or time.time() - 5)
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            info = self.p.docker.inspect(service_inspect_argv([service]))
            if info:
                state, msg = update_state(info[0], since)
                if state in ("rollback_completed", "rollback_paused", "paused"):
                    raise CommandFailed(f"the update of {service} failed its health check and was "
                                        f"rolled back to the previous version ({msg}).")
                rows = tasks(self.p.docker, service, running_only=not fail_fast)
                current = [t for t in rows if t["desired"] == "running"]
                running = sum(1 for t in current if t["state"] == "running")
                last = next((t["error"] for t in rows if t["error"]), last)
                failed = next((t for t in rows if fail_fast and t["state"] in FAILED
                               and (t["since"] or 0) >= since - 2), None)
                if failed:
                    raise CommandFailed(f"a task of {service} failed ({failed['error'] or failed['state']}); "
                                        "see `sentinel inspect logs`.")
                if running == replicas and state in ("", "completed"):
                    return
            time.sleep(1)
        raise CommandFailed(f"{service} did not reach {replicas} healthy task(s) within "
                            f"{int(timeout)} s{': ' + last if last else ''}; see `sentinel inspect logs`.")

    def write_routes(self, app: dict, weights: dict[str, int], sticky: bool = True,
                     wait: bool = True, maintenance: bool = False, mirror: int = 0) -> None:
        spec = self.p.spec
        writer = self.p.traefik()
        mirror = 0 if maintenance else mirror
        writer.write(names.traefik_file(app["name"]), traefik.app_routes(
            app=app["name"], domains=app_domains(app), weights=weights, sticky=sticky,
            health=bool(app.get("health_path")), cert_resolver=ACME_RESOLVER if spec.email else None,
            maintenance=maintenance, mirror=mirror))
        if wait:
            writer.wait_for(lambda: writer.weights_applied(app["name"], weights) and
                            writer.in_maintenance(app["name"]) == maintenance and
                            writer.mirror_applied(app["name"], mirror), "the new routes")

    def wait_traefik_service(self, app: str, role: str) -> None:
        writer = self.p.traefik()
        name = names.traefik_ref(app, role)
        writer.wait_for(lambda: writer.has_service(name), f"service {name}", timeout=60, interval=0.25)

    def wait_answering(self, app: dict, role: str, timeout: float = 90) -> None:
        """Until the version answers its health path (else /) below 500 three times in a row
        through Traefik: tasks up, Traefik's health checks passed, and (for an app whose health
        check asks its database) the database reached through its proxy."""
        writer, path = self.p.traefik(), app.get("health_path") or "/"
        good = 0

        def answering() -> bool:
            nonlocal good
            code = writer.answer(app["name"], role, path)
            good = good + 1 if code is not None and code < 500 else 0
            return good >= 3

        writer.wait_for(answering, f"{app['name']} answering {path} below 500", timeout=timeout,
                        interval=0.5)

    # ---- deploy -------------------------------------------------------------------------------
    def deploy(self, op: Operation, body: AppDeploy, keep: dict | None = None) -> dict:
        """keep: more of the app's record to store with it (the release policy of `apply`)."""
        existing = self.store.app(body.name)
        cluster_image = self.resolve_image(op, body.image)
        app = {"name": body.name, "image": body.image, "cluster_image": cluster_image,
               "port": body.port, "domain": body.domain, "domains": body.domains,
               "replicas": body.replicas, "resources": validation.resources(body.resources),
               "backups": backup_policy(body, existing),
               "env": deploy_env(existing, body), "health_path": body.health_path,
               "db": existing.get("db") if existing else None, "created_at": time.time(),
               # A copy restored --into has no edge network until something is deployed on it.
               "edge_slot": existing["edge_slot"] if existing and existing.get("edge_slot") is not None
               else self.free_edge_slot(body.name),
               **(keep or {})}
        if existing and body.release:
            from .release import ReleaseService

            info = ReleaseService(self.p).release(op, existing, cluster_image, body.release,
                                                  extra_env=app["env"])
            app["last_release"] = info
        if existing and existing.get("image"):
            op.step(f"rolling update of {body.name} to {body.image} (start-first, health-gated)")
            return self.roll(op, {**existing, **app, "created_at": existing["created_at"]})
        if existing:  # a database restored --into: its first web tasks, on the copied data
            op.step(f"starting {body.replicas} task(s) of {body.image} on the database of {body.name}")
            app = {**existing, **app, "created_at": existing["created_at"]}
            self.deploy_stack(app)
            self.store.put_app(body.name, app)
            self.wait_running(service_name(body.name, "production"), body.replicas)
            if body.replicas > 0:
                self.wait_traefik_service(body.name, "production")
            self.write_routes(app, {"production": 100}, wait=body.replicas > 0)
            op.step(f"{body.name} is up at {self.summary(app)['url']}")
            return self.summary(app)


        first_backup = lambda: None  # noqa: E731
        if body.db:
            app["db"] = self._create_db(op, app, body.db_schema, body.db_ha)
            # Protected from its first second: a restore, a release check or a drill needs a
            # backup to start from (WAL alone restores nothing). Taken while the web tasks start.
            first_backup = BackupService(self.p).first_backup_beside(op, {**app, "db": app["db"]})
        if body.release:  # a first deploy: nothing runs yet that the release could break
            from .release import ReleaseService

            op.step("release phase (a new app: no compatibility check needed)")
            try:
                ReleaseService(self.p).apply(op, app, cluster_image, body.release,
                                             task=f"{body.name}_release")
            except Exception:
                op.step("the release failed: removing what the deploy created")
                first_backup()
                self._remove(app, keep_data=False)
                raise
        try:
            op.step(f"starting {body.replicas} task(s) of {body.image}")
            self.deploy_stack(app)
            self.store.put_app(body.name, app)
            self.wait_running(service_name(body.name, "production"), body.replicas)
            if body.replicas > 0:
                self.wait_traefik_service(body.name, "production")
            self.write_routes(app, {"production": 100}, wait=body.replicas > 0)
        except Exception:
            op.step("deploy failed: removing what it created")
            first_backup()
            self._remove(app, keep_data=False)
            self.store.delete_app(body.name)
            raise
        first_backup()
        op.step(f"{body.name} is up at {self.summary(app)['url']}")
        notify.send(self.store, body.name, "deploy", f"{body.name} deployed: {body.image} at "
                    f"{self.summary(app)['url']}")
        return self.summary(app)

    def roll(self, op: Operation, app: dict) -> dict:
        """Production to `app` (a full record) by a rolling update: start-first, health-gated,
        then its routes (domains may have changed)."""
        self.deploy_stack(app)
        self.wait_running(service_name(app["name"], "production"), app["replicas"], timeout=300)
        self.store.put_app(app["name"], app)
        self.write_routes(app, {"production": 100}, wait=app["replicas"] > 0)
        op.step(f"{app['name']} now runs {app['image']}")
        notify.send(self.store, app["name"], "deploy", f"{app['name']} updated: runs {app['image']}, "
                    f"{app['replicas']} replica(s)")
        return self.summary(app)

    def _create_db(self, op: Operation, app: dict, schema: str | None, ha: bool | None) -> dict:
        db_service = DatabaseService(self.p)
        if ha is None:  # HA by default when there is a second node for the standby
            ha = len(db_service.app_nodes()) >= 2
        app = {**app, "db": db_service.new_record(app["name"], ha)}
        try:
            db_service.prepare(op, app)
            placed = ", ".join(f"{names.member(m['index'])} on {m['node']}" for m in app["db"]["members"])
            op.step(f"starting Postgres ({placed})")
            self.deploy_stack(app, web=False)
            db_service.started(op, app, schema)
        except Exception:
            op.step("database setup failed: removing what it created")
            self._remove(app, keep_data=False)
            raise
        return app["db"]

    # ---- scale, delete --------------------------------------------------------------------------
    def scale(self, op: Operation, name: str, replicas: int) -> dict:
        app = {**self.require(name), "replicas": replicas}
        op.step(f"scaling {name} to {replicas} replica(s)")
        self.deploy_stack(app, self.store.canary(name))
        self.wait_running(service_name(name, "production"), replicas)
        self.store.put_app(name, app)
        return self.summary(app)

    def delete(self, op: Operation, name: str, keep_data: bool) -> dict:
        app = self.require(name)
        op.step(f"removing {name}'s routes, services and network"
                + ("" if keep_data else ", secret and data volume"))
        self._remove(app, keep_data)
        self.store.delete_app(name)
        return {"deleted": name, "kept_data": keep_data}

    def _remove(self, app: dict, keep_data: bool) -> None:
        name = app["name"]
        try:
            self.p.traefik().remove(names.traefik_file(name))
        except CommandFailed:
            pass
        if app.get("db"):
            # Members stopped first (standbys, then the primary) and only then the stack: a
            # member still running would write its cluster's keys back into etcd after they are
            # removed, and a new app of the same name would wait for that old cluster.
            try:
                DatabaseService(self.p).stop_all({**app, "db": {**app["db"], "members": [
                    dict(m) for m in app["db"]["members"]]}}, None, removing=True)
            except CommandFailed:
                pass
        self.p.docker.run(stack_rm_argv(name), check=False)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if not self.p.docker.json_lines(service_ls_argv(stack=name)):
                break
            time.sleep(1)
        if app.get("db"):
            DatabaseService(self.p).drop(app, keep_data)
        # The network goes with the stack once its last task is gone; wait for it so a deploy
        # of the same name right after finds no leftover.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.p.docker.run(["docker", "network", "rm", names.network(name)],
                                 check=False).returncode == 0 or not self.p.docker.json_lines(
                    ["docker", "network", "ls", "--format", "{{json .}}", "--filter",
                     f"name=^{names.network(name)}$"], check=False):
                break
            time.sleep(1)

    # ---- read -----------------------------------------------------------------------------------
    def summary(self, app: dict) -> dict:
        return {k: app.get(k) for k in ("name", "image", "domain", "port", "replicas", "health_path")} | {
            "domains": app_domains(app), "resources": app.get("resources"), "db": bool(app.get("db")),
            "url": self.p.edge_url(app["domain"], https=bool(self.p.spec.email))}

    def list(self, live: bool = True) -> list[dict]:
        """Every app as recorded; with `live`, its tasks ready/desired as the swarm says (one
        `docker service ls`), else `ready` is None and the swarm is not asked."""
        apps = [a for a in self.store.apps() if not a.get("internal")]
        services = {s["Name"]: s for s in self.p.docker.json_lines(service_ls_argv())} if apps and live else {}
        out = []
        for a in apps:
            svc = services.get(service_name(a["name"], "production"), {})
            c = self.store.canary(a["name"])
            out.append({**self.summary(a), "ready": svc.get("Replicas", "0/0") if live else None,
                        "canary": bool(c),
                        # what the console's list shows besides (the store's record, no swarm call)
                        "canary_image": c["image"] if c else None,
                        "canary_weight": c["weight"] if c else None,
                        "db_members": len(a["db"]["members"]) if a.get("db") else 0})
        return out

    def settings(self, name: str) -> dict:
        """The app as recorded, with no call to the swarm: env names (never values), database
        members, the canary. What the console shows even when the swarm does not answer."""
        app = self.require(name)
        c = self.store.canary(name)
        injected = sorted(db_env(name, app["db"], "").keys()) if app.get("db") else []
        return {"app": self.summary(app), "env": sorted((app.get("env") or {}).keys()),
                "db_env": injected,
                "db": {"members": [{"member": names.member(m["index"]), "node": m["node"]}
                                   for m in app["db"]["members"]]} if app.get("db") else None,
                "canary": {"image": c["image"], "weight": c["weight"], "state": c.get("state"),
                           "baseline": c.get("baseline", False),
                           "progressive": c.get("progressive")} if c else None}

    def inspect(self, name: str) -> dict:
        app = self.require(name)
        services = self.p.docker.json_lines(service_ls_argv(stack=name))
        from ..swarm_state import tasks as service_tasks
        from .cluster import ClusterService

        rows = []
        for s in services:
            for t in service_tasks(self.p.docker, s["Name"], running_only=True, with_nodes=True):
                age = time.time() - t["since"] if t["since"] else None
                rows.append({"name": f"{s['Name']}.{t['slot'] or t['id'][:8]}", "node": t["node"],
                             "state": t["state"], "desired": t["desired"], "error": t["error"],
                             "age_seconds": round(age) if age is not None else None})
        nodes = ClusterService(self.p).reconcile_nodes()
        return {"app": self.summary(app),
                "services": [{"name": s["Name"], "image": s["Image"], "replicas": s["Replicas"]}
                             for s in services],
                "tasks": rows[:50], "nodes": nodes}

    def log_service(self, name: str, role: str = "production") -> str:
        """The swarm service whose logs `sentinel inspect logs` shows."""
        app = self.require(name)
        if role not in (*ROLES, "db"):
            raise InvalidInput(f"role {role!r} is not valid: use production, canary, baseline or db.")
        if role == "db" and not app.get("db"):
            raise InvalidInput(f"app {name!r} has no database.")
        if role in ("canary", "baseline") and not self.store.canary(name):
            raise InvalidInput(f"app {name!r} has no canary.")
        if role == "db":  # the database's logs are its primary's (else its first member's)
            from .. import patroni

            members = app["db"]["members"]
            leader = patroni.leader(DatabaseService(self.p).cluster(app))
            return f"{name}_{leader}" if leader else names.member_service(name, members[0]["index"])
        return service_name(name, role)

    def logs(self, name: str, role: str = "production", tail: int | None = 200,
             since: str | None = None) -> list[str]:
        svc = self.log_service(name, role)
        proc = self.p.docker.run(service_logs_argv(svc, tail=tail, since=since), timeout=30,
                                 check=False)
        text = executor.mask((proc.stdout or "") + (proc.stderr or ""))
        return sorted(text.splitlines(), key=lambda l: l.split(" ", 1)[0])

    def follow_logs(self, name: str, role: str = "production", tail: int | None = 100,
                    since: str | None = None):
        """Validates now, then streams (masked) lines as the tasks write them, until the
        reader goes away: `docker service logs --follow` on the manager."""
        svc = self.log_service(name, role)
        return self.p.docker.stream(service_logs_argv(svc, tail=tail, since=since, follow=True),
                                    what=f"following the logs of {svc}")
