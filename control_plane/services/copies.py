"""Copies of an app's database in seconds (docs/data.md, "Copies").

Each app that asks for a copy gets a *copy source* on the backup node: a PostgreSQL standby
restored once from the app's repository and kept current by replaying the repository's WAL, with
no connection to production's members. A copy is taken from it between pg_backup_start and
pg_backup_stop as reflinks of its files where the node's filesystem has them (else a plain copy),
recovered to a consistent primary and stopped; the copy's member then runs on that folder. Its
cost follows the WAL written since the source's last restartpoint, not the database's size.

The release check's scratch copies and previews take their copies here (BackupService.copy_now).
A copy at an earlier point in time, a platform without a backup node (object storage), or a
source that cannot give the copy, restore from the repository as before.
"""
from __future__ import annotations

import threading
import time

from .. import names, pgbackrest, ssh
from ..docker_cli import exec_argv, service_create_argv, service_ls_argv, service_rm_argv
from ..errors import CommandFailed
from ..jobs import Operation
from ..platform import NotRunning, Platform
from ..records import App, Node
from ..swarm_state import tasks
from .database import DatabaseService
from .db_objects import pgbackrest_mounts

# A source restored from scratch takes as long as a restore (the database's size); a restart
# of a restored one, seconds.
READY_TIMEOUT = 3600.0
# archive_now has put the segment in the repository: the source fetches it on its next try of
# restore_command (wal_retrieve_retry_interval, 5 s), then replays it.
CATCH_UP_TIMEOUT = 60.0
# Restarts of a source's task in a row after which it is called broken (its restore fails).
GIVE_UP_FAILURES = 3

_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _lock(app: str) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(app, threading.Lock())


def replayed_sql(lsn: str) -> str:
    """On the source: has it replayed everything up to `lsn`?"""
    return f"select coalesce(pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn, false)"


def psql_argv(sql: str) -> list[str]:
    return ["psql", "-X", "-A", "-t", "-q", "-U", "postgres", "-d", "postgres", "-c", sql]


def copy_lines(output: str) -> list[str]:
    """The `copy: ...` lines images/postgres/sentinel-pg prints while it takes a copy."""
    return [l.strip() for l in output.splitlines() if l.strip().startswith("copy:")]


class CopyService:
    def __init__(self, platform: Platform, db: DatabaseService):
        self.p = platform
        self.store = platform.store
        self.db = db

    def node(self) -> Node | None:
        """Where copy sources and their copies live: the backup node (it holds the repositories
        they read, and no production member)."""
        return self.store.backup_node()

    def available(self) -> bool:
        return self.node() is not None

    # ---- taking a copy -------------------------------------------------------------------------
    def take(self, op: Operation, source: App, into: str, lsn: str) -> str:
        """A copy of `source`'s data including everything up to `lsn` (archived already), in
        the folder a member of `into` will run on; its path on the backup node."""
        node = self.node()
        if node is None:
            raise CommandFailed("this platform has no backup node to keep copy sources on")
        with _lock(source.name):
            self._ensure(op, source, node)
        self._caught_up(op, source, lsn)
        op.step(f"taking {into}'s copy from {source.name}'s copy source")
        d, cid, _ = self._container(source)
        proc = d.run(exec_argv(cid, "sentinel-pg", "copy", into), timeout=900, check=False,
                     what="taking a copy")
        for line in copy_lines(proc.stdout or ""):
            op.step(f"  {line}")
        if proc.returncode != 0:
            self.discard(source.name, into)
            why = copy_lines((proc.stderr or "") + "\n" + (proc.stdout or ""))[-1:] or \
                [" ".join((proc.stderr or "").split())[-200:]]
            raise CommandFailed(f"taking the copy failed: {why[0]}")
        return names.copy_dir(source.name, into)

    def discard(self, source: str, into: str) -> None:
        """A copy's folder (its member is gone, or never started)."""
        node = self.node()
        if node:
            ssh.run(node.address, "rm", "-rf", "--", names.copy_dir(source, into), check=False,
                    what="removing a copy")

    # ---- the source ----------------------------------------------------------------------------
    def _container(self, source: App):
        return self.p.task_container(names.copy_source(source.name))

    def _exists(self, app: str) -> bool:
        service = names.copy_source(app)
        return any(s.get("Name") == service for s in
                   self.p.docker.json_lines(service_ls_argv(name=service), check=False))

    def _ensure(self, op: Operation, source: App, node: Node) -> None:
        """The app's copy source running and consistent: made (a restore of its newest backup)
        the first time an app asks for a copy."""
        service = names.copy_source(source.name)
        if not self._exists(source.name):
            op.step(f"making {source.name}'s copy source on {node.name}: a restore of its newest "
                    "backup, once; later copies take seconds")
            ssh.run(node.address, "mkdir", "-p", names.fast_dir(source.name),
                    what="making the copy source's folder")
            objects = self.db.objects.ensure(source)
            self.p.docker.run(service_create_argv(
                service, self.p.stack_image("postgres"),
                ["source", "--", *pgbackrest.standby_restore_argv(names.stanza(source.name),
                                                                   names.PGDATA)],
                restart="any",
                # The repository only: the database's network reaches it; nothing reaches this
                # server (it listens on its socket alone).
                networks=[names.db_network(source.name)],
                secrets=pgbackrest_mounts(objects),
                hosts=self.db.objects.repo_hosts(),
                mounts=[f"type=bind,source={names.fast_dir(source.name)},target={names.FAST_MOUNT}"],
                constraints=[f"node.hostname == {node.name}"],
                labels={"sentinel.app": source.name, "sentinel.role": "copy-source"},
                stop_grace="30s"), what=f"starting {service}")
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            failed = [t for t in tasks(self.p.docker, service) if t.state in ("failed", "rejected")]
            if len(failed) >= GIVE_UP_FAILURES:
                raise CommandFailed(f"{source.name}'s copy source does not start "
                                    f"({failed[0].error or 'it exits'})")
            try:
                d, cid, _ = self._container(source)
                proc = d.run(exec_argv(cid, *psql_argv("select pg_is_in_recovery()"),
                                       user="postgres"), timeout=30, check=False)
                if proc.returncode == 0 and proc.stdout.strip() == "t":
                    return
            except NotRunning:
                pass
            if time.monotonic() > deadline:
                raise CommandFailed(f"{source.name}'s copy source was not ready within "
                                    f"{int(READY_TIMEOUT)} s")
            time.sleep(2)

    def _caught_up(self, op: Operation, source: App, lsn: str) -> None:
        """Until the source has replayed `lsn`: a copy holds everything committed before it
        was asked for."""
        op.step(f"waiting for {source.name}'s copy source to replay its WAL up to {lsn}")
        deadline = time.monotonic() + CATCH_UP_TIMEOUT
        while True:
            d, cid, _ = self._container(source)
            proc = d.run(exec_argv(cid, *psql_argv(replayed_sql(lsn)), user="postgres"),
                         timeout=30, check=False)
            if proc.returncode == 0 and proc.stdout.strip() == "t":
                return
            if time.monotonic() > deadline:
                raise CommandFailed(f"{source.name}'s copy source did not replay up to {lsn} "
                                    f"within {int(CATCH_UP_TIMEOUT)} s")
            time.sleep(0.5)

    def remove_source(self, app: str) -> None:
        """The app's copy source, its copies left alone: after an in-place restore (its history
        no longer leads to production's); the next copy makes it again."""
        node = self.node()
        if node is None:
            return
        self._stop(app)
        ssh.run(node.address, "rm", "-rf", "--", *names.copy_source_data(app), check=False,
                what="removing the copy source")

    def remove(self, app: str) -> None:
        """The app's copy source and every copy folder under it (the app is being deleted; its
        previews went first)."""
        node = self.node()
        if node is None:
            return
        self._stop(app)
        ssh.run(node.address, "rm", "-rf", "--", names.fast_dir(app), check=False,
                what="removing the copy source")

    def _stop(self, app: str) -> None:
        service = names.copy_source(app)
        if self._exists(app):
            self.p.docker.run(service_rm_argv([service]), check=False)
            self.db.wait_gone_tasks(service, timeout=90)
