"""An app's stack: its swarm services (web roles and database) rendered from
compose_templates/app.yml.j2, deployed, waited for and removed. The one place a stack file is
written; the services above (database, release, backup, apps, canary) all deploy through it."""
from __future__ import annotations

import math
import threading
import time

from .. import executor, names, secrets
from ..database_config import database_url
from ..docker_cli import (Docker, image_inspect_argv, image_pull_argv, network_ls_argv,
                          network_rm_argv, service_inspect_argv, service_logs_argv,
                          service_ls_argv, stack_deploy_argv, stack_rm_argv)
from ..errors import CommandFailed, InvalidInput
from ..jobs import Operation
from ..platform import Platform
from ..registry import local_image_exists, skopeo_inspect_argv
from ..swarm_state import FAILED, oldest_engine, tasks, update_state
from ..templates import render
from ..units import parse_memory
from .db_objects import DbObjects
from ..records import App, Canary, Database, Process, ProcessSpec


DEPLOY_ATTEMPTS = 3


def out_of_sequence(error: str) -> bool:
    """Swarm refused a service update made from a version that changed meanwhile: a rolling
    update still in progress (the previous deploy's) moves the version as it goes, so a deploy
    right after another can race it. Sending the same stack again converges."""
    return "update out of sequence" in error


def db_env(app: str, db: Database, password: str) -> dict[str, str]:
    """What the app's tasks get to reach their database: one address (HAProxy, which follows the
    primary) and libpq settings that notice a dead peer within seconds instead of minutes."""
    host = names.db_service(app)
    # The *_FILE forms are swarm secrets (only this app's tasks have them): for images that keep
    # credentials out of their environment, which `docker inspect` on a node shows.
    return {"DATABASE_URL": database_url(host, db.user, db.name, password),
            "DATABASE_URL_FILE": "/run/secrets/database_url",
            "PGHOST": host, "PGPORT": "5432", "PGUSER": db.user, "PGPASSWORD": password,
            "PGDATABASE": db.name, "PGPASSWORD_FILE": "/run/secrets/db_password",
            "PGCONNECT_TIMEOUT": "3"}


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
    share = {}
    if resources.get("cpu") is not None:
        share["cpus"] = f"{resources['cpu']:g}"
    if resources.get("memory"):
        share["memory"] = str(parse_memory(resources["memory"]))  # bytes: no unit to misread
    return {"limits": share, "reservations": dict(share)} if share else None


def web_services(app: App, canary: Canary | None, db: dict[str, str]) -> list[dict]:
    """The web services of an app's stack file: production, and with a canary the canary (and
    its baseline). `db`: the variables that reach the database (db_env), or none. Every version
    gets PORT, the port it must listen on (Heroku's contract; an app's own PORT wins)."""
    env = {"PORT": str(app.port), **app.env}
    production = stack_resources(app.resources)
    out = [{"key": "web", "role": "production", "image": app.cluster_image,
            "traefik_name": names.traefik_service(app.name, "production"),
            "env": {**env, **db, "SENTINEL_VERSION_ROLE": "production"},
            "replicas": app.replicas, "resources": production}]
    if canary:
        # The canary is the new version whole: its env (less what it unsets) and resources.
        kept = {k: v for k, v in env.items() if k not in canary.env_unset}
        out.append({"key": "canary", "role": "canary", "image": canary.cluster_image,
                    "traefik_name": names.traefik_service(app.name, "canary"),
                    "env": {**kept, **db, **canary.env, "SENTINEL_VERSION_ROLE": "canary"},
                    "replicas": canary.replicas,
                    "resources": stack_resources(canary.resources_or(app.resources))})
        if canary.baseline:
            out.append({"key": "baseline", "role": "baseline", "image": app.cluster_image,
                        "traefik_name": names.traefik_service(app.name, "baseline"),
                        "env": {**env, **db, "SENTINEL_VERSION_ROLE": "baseline"},
                        "replicas": canary.replicas, "resources": production})
    for svc in out:
        svc["internal_host"] = names.internal_host(app.name, svc["role"])
    return out


def unhealthy_web(app: App, role: str) -> str:
    """What to tell a user whose web tasks never pass their health check: most often the web
    process listens on another port than $PORT, or on 127.0.0.1 only."""
    if not app.health_path:
        return ""
    return (f" The {role} web process of {app.name} never answered its health check (GET "
            f"{app.health_path} on port {app.port}): a web process must listen on 0.0.0.0:$PORT "
            f"(PORT={app.port} is set for it) and answer below 400; `sentinel inspect logs "
            f"{app.name}{'' if role == 'production' else ' --' + role}` shows what it printed.")


def canary_process_replicas(production: int, weight: int) -> int:
    """A canary's tasks of a process type: in proportion to its traffic weight, at least one."""
    return max(1, math.ceil(production * weight / 100))


def production_counts(app: App) -> dict[str, int]:
    """Tasks of each of production's process types besides web."""
    return {name: proc.replicas for name, proc in sorted(app.processes.items())}


def canary_process_counts(app: App, canary: Canary, weight: int | None = None) -> dict[str, int]:
    """Tasks of each of the canary's process types at `weight` (default: its own): what a
    traffic step scales them to, so the new version's workers follow its share of traffic."""
    w = canary.weight if weight is None else weight
    return {name: canary_process_replicas(proc.replicas, w)
            for name, proc in sorted(deployed_processes(app.processes, canary.processes).items())}


def deployed_processes(current: dict[str, Process],
                       given: dict[str, ProcessSpec] | None) -> dict[str, Process]:
    """The process types a new version runs (`given`; None keeps the current ones): a type it
    keeps keeps its replicas and resources unless it says its own, a new one starts with one,
    a dropped one goes."""
    if given is None:
        return dict(current)
    out = {}
    for name, spec in given.items():
        had = current.get(name)
        out[name] = Process(command=spec.command,
                            replicas=spec.replicas if spec.replicas is not None
                            else had.replicas if had else 1,
                            resources=spec.resources if spec.resources is not None
                            else had.resources if had else None)
    return out


def process_services(app: App, canary: Canary | None, db: dict[str, str]) -> list[dict]:
    """The services of the app's process types besides web (a Procfile's `worker`, …):
    production's, and with a canary the new version's beside them. On the app's network only,
    no route, no health check; the same variables as the web version they belong to."""
    env = {"PORT": str(app.port), **app.env}
    out = [{"key": names.process_key("production", name), "role": "production", "process": name,
            "image": app.cluster_image, "command": proc.command, "replicas": proc.replicas,
            "env": {**env, **db, "SENTINEL_VERSION_ROLE": "production", "SENTINEL_PROCESS": name},
            "resources": stack_resources(proc.resources or app.resources)}
           for name, proc in sorted(app.processes.items())]
    if canary:
        kept = {k: v for k, v in env.items() if k not in canary.env_unset}
        counts = canary_process_counts(app, canary)
        for name, proc in sorted(deployed_processes(app.processes, canary.processes).items()):
            out.append({"key": names.process_key("canary", name), "role": "canary", "process": name,
                        "image": canary.cluster_image, "command": proc.command,
                        "replicas": counts[name],
                        "env": {**kept, **db, **canary.env, "SENTINEL_VERSION_ROLE": "canary",
                                "SENTINEL_PROCESS": name},
                        "resources": stack_resources(
                            proc.resources or canary.resources_or(app.resources))})
    return out


class Stack:
    def __init__(self, platform: Platform, objects: DbObjects):
        self.p = platform
        self.objects = objects
        # When each app's stack was last deployed: a wait with no `since` judges the update
        # that deploy started. One Stack serves every app, from several operations at once.
        self._deployed_at: dict[str, float] = {}
        self._lock = threading.Lock()

    def render(self, app: App, canary: Canary | None = None, web: bool = True) -> str:
        spec = self.p.spec
        db = self.objects.stack_context(app) if app.db else None
        backup = f"node.labels.{names.BACKUP_LABEL} == true"
        engine = oldest_engine(self.p.docker)
        return render("app.yml.j2", app=app.name, port=app.port,
                      compose_version=compose_version(engine),
                      health_path=app.health_path,
                      health_check=health_check(app.port, app.health_path, engine),
                      probe={"source": PROBE_SOURCE, "target": PROBE_TARGET},
                      endpoint_mode=spec.endpoint_mode, network=names.network(app.name),
                      db_network=names.db_network(app.name),
                      # No slot: a copy nothing was deployed on, or a check's scratch copy,
                      # which joins no edge network (never another app's).
                      edge_network=names.edge_network(app.edge_slot)
                      if app.edge_slot is not None else None,
                      dcs_network=names.DCS_NETWORK,
                      backup_node=backup, not_backup_node=backup.replace("==", "!="),
                      web_services=web_services(app, canary, self.db_env(app)) if web else [],
                      process_services=process_services(app, canary, self.db_env(app)) if web
                      else [], db=db)

    def resolve_image(self, op: Operation, image: str) -> str:
        """The image as the cluster pulls it: a local one is pushed to the cluster registry; one
        built from source is there already; a remote one must exist where it is."""
        if image.startswith(self.p.registry_host + "/"):
            manager = Docker(self.p.manager)
            if manager.run(image_inspect_argv(image), check=False, timeout=30).returncode != 0 and \
                    manager.run(image_pull_argv(image), check=False, timeout=300).returncode != 0:
                raise InvalidInput(f"image {image!r} is not in the cluster registry: build the "
                                   "source again (`sentinel deploy --source`).")
            return image
        if local_image_exists(image):
            op.step(f"pushing {image} to the cluster registry")
            return self.p.registry().push(image)
        if executor.run(skopeo_inspect_argv(image), check=False, timeout=30).returncode != 0:
            raise InvalidInput(f"image {image!r} was not found, neither in this machine's Docker "
                               "engine nor in a registry: build it or check its name.")
        return image

    def db_env(self, app: App) -> dict[str, str]:
        return db_env(app.name, app.db, secrets.get(names.db_credential(app.name))) \
            if app.db else {}

    def deploy(self, app: App, canary: Canary | None = None, web: bool = True) -> None:
        """`docker stack deploy` of the app as `app` and `canary` describe it (web=False: its
        database alone), then the database objects no service uses any more removed."""
        text = self.render(app, canary, web)
        with self._lock:
            self._deployed_at[app.name] = time.time()
        for attempt in range(1, DEPLOY_ATTEMPTS + 1):
            try:
                self.p.docker.run(stack_deploy_argv(app.name), input=text, timeout=120,
                                  what="docker stack deploy")
                break
            except CommandFailed as e:
                if attempt == DEPLOY_ATTEMPTS or not out_of_sequence(e.message):
                    raise
                time.sleep(attempt)  # the update that raced it lands; the deploy is idempotent
        if app.db:
            self.objects.forget_old(app.name, keep=set(self.objects.ensure(app).values()))

    def wait_running(self, service: str, replicas: int, timeout: float = 180,
                     since: float | None = None, fail_fast: bool = False) -> None:
        """Until `replicas` tasks run (healthy: swarm holds a task in `starting` until then) and
        no update is in flight. A rolled-back update is an error, but only the update this
        deploy started (`since`): a leftover status of an older one says nothing now. With
        `fail_fast`, a task started since then that failed (crashed, or swarm found it
        unhealthy) is an error at once instead of a retry to wait for."""
        if since is None:
            with self._lock:
                since = self._deployed_at.get(names.app_of(service)) or time.time() - 5
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            info = self.p.docker.inspect(service_inspect_argv([service]))
            if info:
                state, msg = update_state(info[0], since)
                if state in ("rollback_completed", "rollback_paused", "paused"):
                    raise CommandFailed(f"the update of {service} failed its health check and was "
                                        f"rolled back to the previous version ({msg})."
                                        + self._web_hint(service))
                rows = tasks(self.p.docker, service, running_only=not fail_fast)
                current = [t for t in rows if t.desired == "running"]
                running = sum(1 for t in current if t.state == "running")
                last = next((t.error for t in rows if t.error), last)
                failed = next((t for t in rows if fail_fast and t.state in FAILED
                               and (t.since or 0) >= since - 2), None)
                if failed:
                    raise CommandFailed(f"a task of {service} failed ({failed.error or failed.state}); "
                                        "see `sentinel inspect logs`."
                                        + self._web_hint(service, failed.error or ""))
                if running == replicas and state in ("", "completed"):
                    return
            time.sleep(1)
        raise CommandFailed(f"{service} did not reach {replicas} healthy task(s) within "
                            f"{int(timeout)} s{': ' + last if last else ''}; see `sentinel inspect "
                            "logs`." + self._web_hint(service, last))

    def _web_hint(self, service: str, error: str = "") -> str:
        """The health check's hint, where a web task failed it (swarm's "unhealthy container"),
        or never got as far as saying (no error: still starting)."""
        role = names.web_role(service)
        if error and "unhealthy" not in error:
            return ""  # it crashed, or no node took it: the error says so
        app = self.p.store.app(names.app_of(service)) if role else None
        return unhealthy_web(app, role) if app and role else ""

    def wait_processes(self, op: Operation, app: str, role: str, counts: dict[str, int]) -> None:
        """Until each process type besides web runs its `counts` tasks; one that cannot start
        fails the step it is part of."""
        for proc, want in counts.items():
            op.step(f"waiting for {want} {role} task(s) of process {proc}")
            self.wait_running(names.process_service(app, role, proc), want, fail_fast=True)

    def remove(self, name: str) -> None:
        """`docker stack rm`, then wait until its services and its network are gone, so a
        deploy of the same name right after finds no leftover."""
        self.p.docker.run(stack_rm_argv(name), check=False)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if not self.p.docker.json_lines(service_ls_argv(stack=name)):
                break
            time.sleep(1)
        # The networks go with the stack once its last task is gone.
        for network in (names.network(name), names.db_network(name)):
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if self.p.docker.run(network_rm_argv(network), check=False).returncode == 0 \
                        or not self.p.docker.json_lines(network_ls_argv(network), check=False):
                    break
                time.sleep(1)

    def logs(self, service: str, tail: int | None = 200, since: str | None = None) -> list[str]:
        """A service's log lines, secrets masked, in time order."""
        proc = self.p.docker.run(service_logs_argv(service, tail=tail, since=since), timeout=30,
                                 check=False)
        text = executor.mask((proc.stdout or "") + (proc.stderr or ""))
        return sorted(text.splitlines(), key=lambda l: l.split(" ", 1)[0])
