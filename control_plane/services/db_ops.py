"""`sentinel db` operations: each is checked before it starts (one clear sentence, nothing
changed) and then runs as a background operation locked on the app."""
from __future__ import annotations

import secrets as pysecrets

from .. import names, patroni
from ..errors import Busy, Conflict, InvalidInput
from ..jobs import Jobs, Operation
from ..platform import Platform
from .backup import BackupService
from .database import DatabaseService, psql_argv


class DbOperations:
    def __init__(self, platform: Platform, jobs: Jobs, db: DatabaseService, backups: BackupService):
        self.p = platform
        self.jobs = jobs
        self.db = db
        self.backups = backups

    def status(self, name: str) -> dict:
        """The database's members as Patroni sees them, its backups and archive as pgBackRest
        sees them, and what to do about what is wrong."""
        out = self.db.status(name)
        actions = out.pop("actions")
        out.update(self.backups.status_part(self.db.require(name), out))
        return {**out, "actions": actions}

    def _start(self, name: str, kind: str, fn, also_lock: tuple[str, ...] = ()) -> str:
        cluster = self.jobs.busy("cluster")
        if cluster:
            raise Busy(f"busy: {cluster['kind']} on the cluster is running (operation "
                       f"{cluster['id']}); wait for it to finish and try again.")
        return self.jobs.start(names.app_target(name), kind, fn, also_lock=also_lock)

    # ---- backups --------------------------------------------------------------------------------
    def start_backup(self, name: str, kind: str) -> str:
        self.db.require(name)
        return self._start(name, "db-backup", lambda op: self.backups.backup(op, name, kind))

    # ---- switchover, HA, rebuild ----------------------------------------------------------------
    def start_switchover(self, name: str, to: str | None) -> str:
        app = self.db.require(name)
        members = [m.key for m in app.db.members]
        if len(members) < 2:
            raise InvalidInput(f"the database of {name} has no standby to switch over to: turn HA "
                               f"on first (`sentinel db ha {name} --on`).")
        if to is not None and to not in members:
            raise InvalidInput(f"{to!r} is not a member of {name}'s database: choose one of "
                               f"{', '.join(members)} (see `sentinel db status {name}`).")
        return self._start(name, "db-switchover",
                           lambda op: self._switchover(op, name, to))

    def _switchover(self, op: Operation, name: str, to: str | None) -> dict:
        app = self.db.require(name)
        new = self.db.switchover_now(op, app, candidate=to)
        return {"primary": new, "node": self.db.member_node(app, new)}

    def start_ha(self, name: str, enabled: bool, node: str | None = None) -> str:
        self.check_ha(name, enabled, node)
        return self._start(name, "db-ha", lambda op: self.ha(op, name, enabled, node))

    def check_ha(self, name: str, enabled: bool, node: str | None = None) -> None:
        app = self.db.require(name)
        count = len(app.db.members)
        if enabled and count >= 2:
            raise Conflict(f"the database of {name} already has a standby.")
        if not enabled and count < 2:
            raise Conflict(f"the database of {name} has no standby to remove.")
        if not enabled and node:
            raise InvalidInput("--node goes with --on (where the new standby goes).")
        if enabled:
            free = self.db.free_nodes(app)
            if not free:
                raise InvalidInput(f"a standby needs a ready node that holds no member of {name}'s "
                                   "database and there is none: add a node first "
                                   "(`sentinel cluster scale`).")
            if node and node not in free:
                raise InvalidInput(f"--node {node} is not a ready node without a member of {name}'s "
                                   f"database: choose one of {', '.join(free)}.")

    def ha(self, op: Operation, name: str, enabled: bool, node: str | None = None) -> dict:
        app = self.db.require(name)
        if enabled:
            key = self.db.add_member(op, app, node or self.db.free_nodes(app)[0])
        else:
            cluster = self.db.cluster(app)
            leader = patroni.leader(cluster)
            key = next(m.key for m in app.db.members if m.key != leader)
            self.db.remove_member(op, app, key)
        app = self.db.require(name)
        app.db.ha = enabled
        self.p.store.put_app(app)
        self.p.store.add_event(names.db_target(name), "ha", f"HA {'on' if enabled else 'off'} ({key})",
                               op.actor, op.id)
        return {"ha": enabled, "members": [m.key for m in app.db.members]}

    def start_rebuild(self, name: str) -> str:
        self.db.require(name)
        return self._start(name, "db-rebuild", lambda op: self.db.rebuild(op, name))

    # ---- restore and drills -------------------------------------------------------------------
    def restore_plan(self, name: str, to: str, into: str | None) -> dict:
        return self.backups.plan_restore(name, to, into).public()

    def start_restore(self, name: str, to: str, into: str | None) -> str:
        plan = self.backups.plan_restore(name, to, into)  # refuses bad targets before anything
        lock = (names.app_target(into),) if into else ()
        return self._start(name, "db-restore", lambda op: self.backups.restore(op, name, plan),
                           also_lock=lock)

    def start_verify(self, name: str) -> str:
        self.db.require(name)
        return self._start(name, "db-verify", lambda op: self.backups.verify(op, name))

    # ---- psql ---------------------------------------------------------------------------------
    def psql(self, name: str, sql: str) -> dict:
        """SQL as the app's own role on the primary. psql's restricted mode (`\\restrict` with a
        key nobody knows) refuses every backslash command, so no `\\!` reaches a shell."""
        app = self.db.require(name)
        db = app.db
        key = pysecrets.token_hex(16)
        proc = self.db.member_exec(name, self.db.primary(app), psql_argv(db.user, db.name,
                                                                        script=True),
                                   input=f"\\restrict {key}\n{sql}\n", check=False, timeout=300)
        return {"output": proc.stdout, "error": proc.stderr.replace(key, "…"),
                "exit_code": proc.returncode}
