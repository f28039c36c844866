"""An app's Postgres: members run by Patroni on different nodes, HAProxy as the one address
apps connect to, pgBackRest archiving every WAL segment to the app's repository.

The store keeps where each member lives (`app.db.members`: index and node); Patroni and
etcd decide which member is primary. Every change of members (add, move, remove) goes through
the app's stack, so the swarm always runs exactly what the store describes.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import time

from .. import executor, names, patroni, secrets, ssh, topology
from ..database_config import FAST, MAX_MEMBER_INDEX, PATRONICTL, Timing, set_timing_argv, timing_for
from ..docker_cli import Docker, exec_argv, secret_create_argv, secret_rm_argv, service_ls_argv
from ..errors import CommandFailed, Conflict, InvalidInput, NotFound, Precondition
from ..jobs import Operation
from ..platform import NotRunning, Platform
from ..swarm_state import ACTIVE, tasks
from .. import pgbackrest
from .db_objects import DbObjects, pgbackrest_mounts
from .dcs import DCS
from .oneoff import require_ok, run_one_off
from .stack import Stack
from ..records import App, Canary, Database, Member

REPO_ENV = {"PGBACKREST_CONFIG": "/run/sentinel/pgbackrest.conf"}


def psql_argv(user: str, db: str, *, tuples: bool = False, script: bool = False) -> list[str]:
    argv = ["psql", "-X", "-v", "ON_ERROR_STOP=1", "-U", user, "-d", db]
    if tuples:
        argv += ["-A", "-t", "-q"]
    return argv + (["-f", "-"] if script else [])


def advice(name: str, summary: dict) -> list[str]:
    """What `db status` suggests for a summary (patroni.summarize) of app `name`'s database."""
    tips = []
    for m in summary["members"]:
        # With no primary, a rebuild has nothing to clone from: the restore below is the way.
        if summary["primary"] and m["node_state"] not in ("ready", "unknown"):
            tips.append(f"member {m['member']} is on {m['node']}, which is {m['node_state']}: "
                        f"when it will not come back, run `sentinel db rebuild {name}`.")
    if not summary["primary"]:
        tips.append(f"no primary is running: if every member is lost, `sentinel db restore "
                    f"{name} --to latest --yes` brings the database back from its backups.")
    return tips


class DatabaseService:
    def __init__(self, platform: Platform, objects: DbObjects, stack: Stack):
        self.p = platform
        self.store = platform.store
        self.dcs = DCS(platform)
        self.objects = objects
        self.stack = stack

    # ---- what the store says ------------------------------------------------------------------
    def require(self, name: str) -> App:
        app = self.store.app(name)
        if not app:
            raise NotFound(f"there is no app named {name!r}: see `sentinel apps`.")
        if not app.db:
            raise InvalidInput(f"app {name!r} has no database: deploy it with --db postgres to "
                               "give it one.")
        return app

    def free_nodes(self, app: App, moving: Member | None = None) -> list[str]:
        """Ready nodes that hold no member of the app's database (`moving`, a member about to
        leave its node, does not count), in index order."""
        taken = {m.node for m in app.db.members if m is not moving}
        return [n for n in self.objects.app_nodes() if n not in taken]

    # ---- credentials and configuration objects ------------------------------------------------
    # ---- running commands in the database's containers ------------------------------------------
    def repo_task(self, app: App, argv: list[str], *, timeout: float, check: bool):
        """pgBackRest against an object-storage repository in a one-off task of the postgres
        image (no member runs: a lost node's single member, before it is restored), with the
        members' configuration and the bucket's CA and address."""
        objects = self.objects.ensure(app)
        result = run_one_off(
            self.p, names.stack_object(app.name, "pgbackrest"), self.p.stack_image("postgres"),
            ["run", *argv], timeout=timeout, networks=[names.db_network(app.name)],
            secrets=pgbackrest_mounts(objects), hosts=self.objects.repo_hosts())
        if check and not result.ok:
            raise CommandFailed(executor.mask(f"{' '.join(argv[-1:])} failed: "
                                              + " ".join(result.output.split())[-400:]))
        return subprocess.CompletedProcess(argv, 0 if result.ok else (result.exit_code or 1),
                                           stdout=result.output, stderr=result.error)

    def member_exec(self, app: str, member: str, argv: list[str], *, user: str = "postgres",
                    input: str | None = None, timeout: float = 60, check: bool = True,
                    env: dict[str, str] | None = None):
        d, cid, _ = self.p.task_container(names.stack_object(app, member))
        proc = d.run(exec_argv(cid, *argv, interactive=input is not None, user=user,
                               env={**REPO_ENV, **(env or {})}),
                     input=input, timeout=timeout, check=False, what=" ".join(argv[:2]))
        if check and proc.returncode != 0:
            raise CommandFailed(executor.mask(
                f"{' '.join(argv[:2])} failed on {member}: "
                + " ".join(((proc.stderr or "") + (proc.stdout or "")).split())[-400:]))
        return proc

    def repo_exec(self, app: str, argv: list[str], *, timeout: float = 3600, check: bool = True,
                  wait: float = 60, record: App | None = None):
        """pgBackRest where the repository is handled: the app's repository host, or (object
        storage) the primary member, which reaches the bucket itself. `record`: the app's, when
        it is not stored yet (its database being created)."""
        if not self.objects.has_repo_node():
            record = record or self.require(app)
            leader = patroni.leader(self.cluster(record))
            for member in [leader] if leader else self.running_members(record):
                try:
                    return self.member_exec(app, member, argv, timeout=timeout, check=check)
                except NotRunning:
                    continue  # its node is down: another member, or a task of its own
            return self.repo_task(record, argv, timeout=timeout, check=check)
        # The repository's task restarts when the members change (its configuration lists
        # them): give it a moment before calling it down.
        deadline = time.monotonic() + wait
        while True:
            try:
                d, cid, _ = self.p.task_container(names.repo_service(app))
                break
            except NotRunning:
                if time.monotonic() > deadline:
                    raise CommandFailed(f"the backup repository of {app} is not running: see "
                                        f"`sentinel db status {app}`.")
                time.sleep(2)
        proc = d.run(exec_argv(cid, *argv, user="postgres", env=REPO_ENV), timeout=timeout,
                     check=False, what=" ".join(argv[:3]))
        if check and proc.returncode != 0:
            raise CommandFailed(executor.mask(
                f"{' '.join(argv[2:])} failed: "
                + " ".join(((proc.stderr or "") + (proc.stdout or "")).split())[-400:]))
        return proc

    def running_members(self, app: App) -> list[str]:
        return [m.key for m in app.db.members if not m.stopped]

    def cluster(self, app: App) -> dict | None:
        """Patroni's view (`GET /cluster`), asked of any member that answers."""
        for member in self.running_members(app):
            try:
                proc = self.member_exec(app.name, member, patroni.cluster_argv(),
                                        check=False, timeout=15)
            except CommandFailed:
                continue
            if proc.returncode == 0 and proc.stdout.strip():
                try:
                    return json.loads(proc.stdout)
                except ValueError:
                    continue
        return None

    def primary(self, app: App) -> str:
        leader = patroni.leader(self.cluster(app))
        if not leader:
            raise Precondition(f"the database of {app.name} has no running primary now: see "
                               f"`sentinel db status {app.name}`.")
        return leader

    def sql(self, app: App, sql: str, *, member: str | None = None, database: str | None = None,
            user: str = "postgres", timeout: float = 60) -> str:
        """One SQL string on the primary (or `member`), as a superuser unless `user` is given;
        psql's unaligned tuples."""
        member = member or self.primary(app)
        proc = self.member_exec(app.name, member,
                                psql_argv(user, database or app.db.name, tuples=True,
                                          script=True),
                                input=sql, timeout=timeout)
        return proc.stdout.strip()

    # ---- creation -----------------------------------------------------------------------------
    def new_record(self, name: str, ha: bool) -> Database:
        nodes = self.objects.app_nodes()
        if not nodes:
            raise Precondition("no node is ready to hold a database: see `sentinel cluster inspect`.")
        if ha and len(nodes) < 2:
            raise InvalidInput(f"a database with a standby needs 2 ready nodes and the cluster has "
                               f"{len(nodes)}: add a node (`sentinel cluster scale --nodes 2`) or "
                               "deploy with --no-db-ha.")
        placed = topology.place_members(nodes, 2 if ha else 1)
        # Only the first member starts: it creates the cluster where the primary should be; the
        # standby is started once it runs (see `started`).
        return Database(user=names.db_user(name), name=names.db_name(name),
                        secret=names.password_secret(name), ha=ha,
                        members=[Member(index=i, node=n, stopped=i > 0) for i, n in enumerate(placed)])

    def prepare(self, op: Operation, app: App) -> None:
        """What must exist before the database's services start: the app role's password secret,
        the app's etcd user, its repository folder on the backup node."""
        name, db = app.name, app.db
        op.step("creating the database credentials (swarm secrets, etcd user)")
        password = secrets.get(names.db_credential(name))
        self.p.docker.run(secret_rm_argv([db.secret]), check=False)
        self.p.docker.run(secret_create_argv(db.secret, {"sentinel.app": name}), input=password,
                          what="docker secret create")
        self.dcs.ensure_app_user(name, self.objects.passwords(name).etcd)
        self.dcs.delete_app_keys(name)  # a new database: nothing of an older one may linger
        self.ensure_repo_folder(name)

    def repo_ready(self) -> bool:
        """The repository can be reached now (object storage is assumed reachable)."""
        backup = self.objects.repo_node()
        return backup is None or self.objects.node_states().get(backup.name) == "ready"

    def ensure_repo_folder(self, name: str) -> None:
        backup = self.objects.repo_node()
        if backup and self.repo_ready():
            ssh.run(backup.address, "mkdir", "-p", names.repo_path(name),
                    what="creating the backup repository folder")

    def wait_leader(self, app: App, timeout: float = 180, what: str = "the database") -> str:
        deadline = time.monotonic() + timeout
        seen = "no member answered"
        while time.monotonic() < deadline:
            cluster = self.cluster(app)
            if cluster:
                seen = ", ".join(f"{m['name']} {m.get('role')} {m.get('state')}"
                                 for m in cluster.get("members", [])) or "no member registered"
            leader = patroni.leader(cluster)
            if leader:
                # Patroni says leader a moment before Postgres accepts writes.
                proc = self.member_exec(app.name, leader,
                                        psql_argv("postgres", "postgres", tuples=True),
                                        input="select pg_is_in_recovery()", check=False)
                if proc.returncode == 0 and proc.stdout.strip() == "f":
                    return leader
            time.sleep(1)
        raise CommandFailed(f"{what} of {app.name} did not get a primary within {int(timeout)} s "
                            f"(Patroni: {seen}); see `sentinel inspect logs {app.name} --db`.")

    def wait_streaming(self, app: App, member: str, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if patroni.streaming(self.cluster(app), member):
                return
            time.sleep(1)
        raise CommandFailed(f"standby {member} of {app.name} did not catch up within "
                            f"{int(timeout)} s; see `sentinel inspect logs {app.name} --db`.")

    def tune(self, app: App, timing: Timing | None = None) -> None:
        """Patroni's timing in etcd: `timing`, else what the number of members calls for
        (database_config.timing_for). Raises CommandFailed if no member could set it."""
        timing = timing or timing_for(len(app.db.members))
        # The leader first (any member can write the config to etcd), once each.
        for member in dict.fromkeys([patroni.leader(self.cluster(app)), *self.running_members(app)]):
            if not member:
                continue
            proc = self.member_exec(app.name, member, set_timing_argv(timing), timeout=60, check=False)
            if proc.returncode == 0:
                return
        raise CommandFailed(f"could not set Patroni's timing of {app.name}'s database "
                            f"(loop_wait {timing.loop_wait} s): see `sentinel inspect logs "
                            f"{app.name} --db`.")

    def tune_quietly(self, op: Operation, app: App) -> None:
        """tune() after a change that leaves the database working either way: a failure is said,
        not raised (the timing only changes how fast a lone member reacts, and its idle cost)."""
        try:
            self.tune(app)
        except CommandFailed as e:
            op.step(f"WARNING: {e.message}")

    def stanza_create(self, app: App) -> None:
        deadline = time.monotonic() + 60
        while True:
            # `record`: a new database's app is not stored yet
            proc = self.repo_exec(app.name, pgbackrest.stanza_create_argv(names.stanza(app.name)),
                                  check=False, timeout=120, record=app)
            if proc.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise CommandFailed("creating the backup stanza failed: "
                                    + pgbackrest.error_lines((proc.stderr or "") + proc.stdout))
            time.sleep(2)

    def run_script(self, app: App, sql: str, timeout: float = 300) -> str | None:
        """A SQL script in one transaction, as the app's own role; None, or Postgres's error
        (with the line it names)."""
        db = app.db
        proc = self.member_exec(app.name, self.primary(app),
                                psql_argv(db.user, db.name, script=True) +
                                ["--single-transaction", "-q"], input=sql, check=False,
                                timeout=timeout)
        return " ".join((proc.stderr or "").strip().split()) or "psql failed" \
            if proc.returncode != 0 else None

    def apply_schema(self, app: App, schema: str) -> None:
        """The schema file, in one transaction, as the app's own role."""
        error = self.run_script(app, schema)
        if error:
            raise InvalidInput(f"the schema failed in Postgres: {error}; fix the file and deploy again.")

    def started(self, op: Operation, app: App, schema: str | None) -> None:
        """After the app's stack first deployed the database: wait for the primary, create the
        backup stanza, apply the schema, wait for the standby."""
        name = app.name
        op.step("waiting for the database's primary")
        leader = self.wait_leader(app)
        if self.repo_ready():
            op.step(f"primary {leader} on {self.member_node(app, leader)}; creating the backup stanza")
            self.stanza_create(app)
        else:
            op.step(f"primary {leader} on {self.member_node(app, leader)}; WARNING: the backup node is "
                    "down, so backups are not being taken until it is back (`sentinel db status "
                    f"{name}`)")
        if schema:
            op.step("applying the schema (one transaction, as the app's role)")
            self.apply_schema(app, schema)
        if any(m.stopped for m in app.db.members):
            for m in app.db.members:
                m.stopped = False
            self._redeploy_db_only(app)
        for m in self.running_members(app):
            if m != leader:
                op.step(f"waiting for standby {m} on {self.member_node(app, m)} to stream")
                self.wait_streaming(app, m, timeout=300)
        if len(app.db.members) == 1:
            self.tune_quietly(op, app)
        self.store.add_event(names.db_target(name), "create", f"database created ({len(app.db.members)} "
                             "member(s))", "system", op.id)

    def member_node(self, app: App, member: str) -> str:
        return next((m.node for m in app.db.members if m.key == member), "?")

    # ---- status -------------------------------------------------------------------------------
    def status(self, name: str) -> dict:
        app = self.require(name)
        cluster = self.cluster(app)
        summary = patroni.summarize(cluster, app.db.members, self.objects.node_states())
        out = {"app": name, "ha": len(app.db.members) > 1, **summary}
        out["actions"] = advice(name, summary)
        return out

    # ---- members: add, remove, move ----------------------------------------------------------
    def _redeploy(self, app: App) -> None:
        self.stack.deploy(app, self.store.canary(app.name))

    def _redeploy_db_only(self, app: App) -> None:
        self.stack.deploy(app, None, web=False)

    def save(self, app: App) -> None:
        """The app's database part (its members) as `app` has it; the rest as stored."""
        current = self.store.app(app.name)
        self.store.put_app(current.changed(db=app.db) if current else app)

    def add_member(self, op: Operation, app: App, node: str) -> str:
        used = [m.index for m in app.db.members]
        index = topology.free_index(used, MAX_MEMBER_INDEX)
        key = names.member(index)
        op.step(f"adding member {key} on {node} (cloned from the repository or the primary)")
        # A node that comes back may still hold an old copy under this member's volume name:
        # a new member always starts empty and is cloned.
        self.wipe_volume(node, names.member_volume(app.name, index))
        if len(app.db.members) == 1:
            # A standby is there to take over: Patroni watches at full speed before it starts.
            self.tune(app, FAST)
        app.db.members.append(Member(index=index, node=node))
        self.save(app)
        self._redeploy(app)
        try:
            self.wait_streaming(app, key)
        except CommandFailed as e:
            # A standby that cannot catch up is taken out again: the database stays as it was.
            op.step(f"{key} did not catch up: removing it again")
            app.db.members = [m for m in app.db.members if m.index != index]
            self.save(app)
            self._redeploy(app)
            address = self.p.node_address(node)
            if address:
                Docker(address).remove_volume(names.member_volume(app.name, index))
            raise CommandFailed(f"{e.message} It was removed again; nothing else changed.")
        op.step(f"{key} on {node} is streaming")
        return key

    def remove_member(self, op: Operation, app: App, key: str) -> None:
        member = next(m for m in app.db.members if m.key == key)
        if patroni.leader(self.cluster(app)) == key:
            self.switchover_now(op, app, exclude=key)
        op.step(f"removing member {key} from {member.node}")
        app.db.members = [m for m in app.db.members if m is not member]
        self.save(app)
        self._redeploy(app)
        self.wait_gone(names.stack_object(app.name, key))
        address = self.p.node_address(member.node)
        if address and self.objects.node_states().get(member.node) == "ready":
            Docker(address).remove_volume(names.member_volume(app.name, member.index))
        if len(app.db.members) == 1:
            self.tune_quietly(op, app)

    def wait_gone(self, service: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.p.docker.json_lines(service_ls_argv(name=service), check=False):
                return
            time.sleep(1)

    def move_member(self, op: Operation, app: App, key: str, node: str) -> None:
        """A new member on `node` first, caught up; then the old one goes (after a switchover if
        it was the primary). Nothing is ever down to one copy on the way."""
        self.add_member(op, app, node)
        self.remove_member(op, app, key)

    # ---- switchover -----------------------------------------------------------------------------
    def switchover_now(self, op: Operation, app: App, exclude: str | None = None,
                       candidate: str | None = None) -> str:
        cluster = self.cluster(app)
        leader = patroni.leader(cluster)
        if not leader:
            raise Precondition(f"the database of {app.name} has no running primary to hand over "
                               f"from: see `sentinel db status {app.name}`.")
        candidate = candidate or next(
            (m for m in [patroni.sync_standby(cluster)] +
             [x["name"] for x in (cluster or {}).get("members", [])]
             if m and m != leader and m != exclude and patroni.streaming(cluster, m)), None)
        if not candidate:
            raise Conflict(f"the database of {app.name} has no standby that is streaming and "
                           "caught up: nothing can take over now; see `sentinel db status "
                           f"{app.name}`.")
        # In synchronous mode Patroni hands over only to the synchronous standby: a member that
        # just caught up becomes it within a loop or two.
        deadline = time.monotonic() + 60
        while patroni.sync_standby(cluster) != candidate:
            if time.monotonic() > deadline:
                raise Conflict(f"standby {candidate} of {app.name} has not become synchronous "
                               "within 60 s, so it cannot take over without losing writes; see "
                               f"`sentinel db status {app.name}`.")
            time.sleep(1)
            cluster = self.cluster(app)
        op.step(f"switchover: {candidate} becomes primary instead of {leader}")
        # Right after a standby rejoined, Patroni may still find "no good candidates" for a few
        # seconds: ask again for up to 30 s.
        deadline = time.monotonic() + 30
        while True:
            proc = self.member_exec(app.name, leader,
                                    [*PATRONICTL, "switchover", "--force", "--leader", leader,
                                     "--candidate", candidate],
                                    timeout=90, check=False)
            # patronictl also logs etcd lookups of members that do not exist (etcd-1, etcd-2 on
            # a small cluster): only its own verdict counts.
            said = " ".join((proc.stdout or "").split())
            if proc.returncode == 0 and "switchover failed" not in said.lower():
                break
            if time.monotonic() > deadline:
                raise CommandFailed(f"Patroni refused the switchover to {candidate}: "
                                    f"{said[said.lower().find('switchover failed'):][:200] or said[-200:]}")
            time.sleep(2)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if patroni.leader(self.cluster(app)) == candidate:
                break
            time.sleep(0.5)
        else:
            raise CommandFailed(f"the switchover to {candidate} did not finish within 60 s.")
        self.wait_leader(app, timeout=60)
        if exclude != leader:
            # Until the old primary streams again as the synchronous standby, a loss of the new
            # primary's node would have no one to take over: a switchover is done only then.
            deadline = time.monotonic() + 60
            while patroni.sync_standby(self.cluster(app)) != leader:
                if time.monotonic() > deadline:
                    op.step(f"{leader} is not yet the synchronous standby again; until it is, "
                            f"nothing can take over: see `sentinel db status {app.name}`")
                    break
                time.sleep(0.5)
        self.store.add_event(names.db_target(app.name), "switchover",
                             f"primary {leader} -> {candidate} ({self.member_node(app, candidate)})",
                             op.actor, op.id)
        return candidate

    # ---- cluster changes ----------------------------------------------------------------------
    def plan_evacuation(self, leaving: list[str], remaining: list[str]) -> list[tuple[str, str, str]]:
        """(app, member, to node) for every member on a leaving node; refuses (changing nothing)
        when a database would be left with fewer copies than it has."""
        moves, short = [], []
        for app in self.store.apps():
            db = app.db
            if not db:
                continue
            taken = [m.node for m in db.members if m.node not in leaving]
            for m in db.members:
                if m.node not in leaving:
                    continue
                free = [n for n in remaining if n not in taken]
                if not free:
                    short.append(app.name)
                    break
                taken.append(free[0])
                moves.append((app.name, m.key, free[0]))
        if short:
            apps = ", ".join(short)
            raise Conflict(
                f"scaling to {len(remaining)} node(s) would leave the database of {apps} with "
                f"fewer copies than it has (each copy needs its own node): keep "
                f"{len(remaining) + 1} node(s), or first run `sentinel db ha {short[0]} --off` "
                "for each of them to keep a single copy; nothing was changed.")
        return moves

    def evacuate(self, op: Operation, leaving: list[str], remaining: list[str]) -> None:
        for app_name, key, node in self.plan_evacuation(leaving, remaining):
            op.step(f"moving {app_name}'s database member {key} to {node}")
            self.move_member(op, self.store.require_app(app_name), key, node)

    def wait_gone_tasks(self, service: str, timeout: float = 120) -> None:
        """Until no task of `service` runs (its containers stopped and volumes free)."""

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not any(t.state in ACTIVE for t in tasks(self.p.docker, service)):
                return
            time.sleep(1)
        raise CommandFailed(f"{service} did not stop within {int(timeout)} s.")

    def put_back(self, op: Operation, app: App, first: Member, keep: str, canary: Canary | None) -> None:
        """A failed in-place restore: the data moved aside goes back, every member starts again
        (Patroni adopts the data; the standbys still hold theirs)."""
        volume = names.member_volume(app.name, first.index)
        self.volume_sh(first.node, volume,
                        f"if [ -d /data/pgdata.{keep} ]; then rm -rf /data/pgdata && "
                        f"mv /data/pgdata.{keep} /data/pgdata; fi")
        for m in app.db.members:
            m.stopped = False
        self.save(app)
        self.stack.deploy(app, canary, web=bool(app.image))
        self.wait_leader(app, what="the database (as it was)")
        op.step("the database is back as it was before the restore")

    def volume_sh(self, node: str, volume: str, script: str) -> None:
        """A shell script over a member's volume on its node, as a one-off task (the swarm
        hands it the registry login, which the node's engine alone does not have)."""
        app = volume.rsplit("_", 1)[0]
        require_ok(run_one_off(self.p, names.stack_object(app, "volume"), self.p.stack_image("postgres"), ["-c", script],
                               entrypoint="sh", mounts=[f"type=volume,source={volume},target=/data"],
                               constraints=[f"node.hostname == {node}"],
                               labels={"sentinel.app": app, "sentinel.role": "db-chore"}, timeout=300),
                   f"changing {volume}")

    def wipe_volume(self, node: str, volume: str) -> None:
        """Empty a member's volume (a standby about to be cloned again)."""
        self.volume_sh(node, volume, "rm -rf /data/pgdata")

    def stop_all(self, app: App, canary: Canary | None, *, removing: bool = False) -> None:
        """Every member stopped, standbys first: with the primary stopped last, no standby takes
        over on the way down. Then the app's keys in etcd are removed, so whichever member
        starts next begins a new cluster history from its own data. `removing`: the app is being
        deleted (nothing is saved, and its web services go first)."""
        leader = patroni.leader(self.cluster(app))
        order = sorted(app.db.members, key=lambda m: m.key == leader)
        states = self.objects.node_states()
        for m in order:
            m.stopped = True
            if not removing:
                self.save(app)
            self.stack.deploy(app, canary, web=bool(app.image) and not removing)
            # A task on a node that is down keeps its last reported state: nothing runs there
            # that could take over, and the engine stops it if the node returns.
            if states.get(m.node) == "ready":
                self.wait_gone_tasks(names.member_service(app.name, m.index))
        self.dcs.delete_app_keys(app.name)

    def adopt_roles(self, copy: App, source: App) -> None:
        """A database restored from another app carries that app's roles: rename its role and
        database to the copy's, and give every login the copy's passwords."""
        src, dst = source.db, copy.db
        pw = self.objects.passwords(copy.name)
        app_pw = secrets.get(names.db_credential(copy.name))
        statements = []
        if src.name != dst.name:
            statements.append(f'ALTER DATABASE "{src.name}" RENAME TO "{dst.name}";')
        if src.user != dst.user:
            statements.append(f'ALTER ROLE "{src.user}" RENAME TO "{dst.user}";')
        statements += [f"ALTER ROLE \"{dst.user}\" PASSWORD '{app_pw}';",
                       f"ALTER ROLE postgres PASSWORD '{pw.superuser}';",
                       f"ALTER ROLE replicator PASSWORD '{pw.replication}';"]
        leader = self.primary(copy)
        # The restored database may have sessions from the copy's own Patroni: none to the app db.
        self.member_exec(copy.name, leader, psql_argv("postgres", "postgres", script=True),
                         input="\n".join(statements))

    def rebuild(self, op: Operation, name: str) -> dict:
        """Members on nodes that are gone are rebuilt on ready nodes (cloned from the primary or
        the repository). With no member left running, the database comes back from the
        repository (`db restore --to latest`)."""
        app = self.require(name)
        states = self.objects.node_states()
        lost = [m for m in app.db.members if states.get(m.node) != "ready"]
        if not lost:
            return {"message": f"every member of {name}'s database is on a ready node: nothing to rebuild"}
        alive = [m for m in app.db.members if states.get(m.node) == "ready"]
        if not alive or not patroni.leader(self.cluster(app)):
            raise Precondition(f"no member of {name}'s database is running: bring it back from its "
                               f"backups with `sentinel db restore {name} --to latest --yes`.")
        done = []
        for m in lost:
            key = m.key
            free = self.free_nodes(app, moving=m)
            if not free:
                raise Conflict(f"member {key} of {name} is on {m.node}, which is {states.get(m.node, 'gone')}, "
                               "and every ready node already holds a member: add a node "
                               "(`sentinel cluster scale`) or wait for the node to return.")
            op.step(f"member {key} was on {m.node} ({states.get(m.node, 'gone')}): rebuilding it on {free[0]}")
            new = self.add_member(op, app, free[0])
            app.db.members = [x for x in app.db.members if x is not m]
            self.save(app)
            self._redeploy(app)
            done.append(f"{key} -> {new} on {free[0]}")
        self.store.add_event(names.db_target(name), "rebuild", "; ".join(done), op.actor, op.id)
        return {"message": f"rebuilt {', '.join(done)}"}

    # ---- drop ---------------------------------------------------------------------------------
    def drop(self, app: App, keep_data: bool) -> None:
        """After the app's stack is gone: its etcd keys and user, its secrets and configs, and
        (unless keep_data) its volumes and backup repository."""
        name = app.name
        db = app.db
        try:
            self.dcs.drop_app(name)
        except CommandFailed:
            pass
        self.objects.forget_old(name, keep=set())
        self.p.docker.run(secret_rm_argv([db.secret]), check=False)
        if keep_data:
            return
        for m in db.members:
            address = self.p.node_address(m.node)
            if not address:
                continue
            if m.path:  # a copy taken from a copy source: its folder on the backup node
                ssh.run(address, "rm", "-rf", "--", m.path, check=False, what="removing a copy")
                continue
            Docker(address).remove_volume(names.member_volume(name, m.index), wait=30)
        # A repository in object storage is left in the bucket (its lifecycle rules decide).
        backup = self.objects.repo_node()
        if backup:
            ssh.run(backup.address, "rm", "-rf", "--", names.repo_path(name), check=False)
        # The data is gone: so are the credentials that opened it (a new app of the same name
        # gets new ones) and its TLS key pair.
        secrets.forget(names.db_credentials(name))
        shutil.rmtree(self.p.dir / "db-tls" / name, ignore_errors=True)
