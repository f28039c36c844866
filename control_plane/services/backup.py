"""Backups of an app's database: full/differential backups into the app's pgBackRest repository,
the recoverable window, restore points, point-in-time restores (in place or into a new app) and
restore drills."""
from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable

import json

from .. import names, patroni, pgbackrest, validation
from ..database_config import PATRONICTL
from ..errors import CommandFailed, Conflict, InvalidInput, Precondition, SentinelError
from ..jobs import Operation
from ..platform import Platform
from ..records import (App, Backup, Canary, Member, Preview, RepoInfo, RestorePlan, RestoreTarget,
                       Window)
from .copies import CopyService
from .database import DatabaseService
from .db_objects import pgbackrest_mounts
from .oneoff import run_one_off, telling_lines
from .routes import Routes, routing
from .stack import Stack
from .teardown import Teardown

# Requests already inside the app when the maintenance answer takes over still need its database:
# they get this long to finish before it stops (the app's own requests take milliseconds).
DRAIN_SECONDS = 2.0

# Row counts of every table of a database, as one JSON object: the same query counts the source
# and the restored copy of a drill (images/postgres/sentinel-pg reads it from the environment).
COUNT_SQL = """SELECT coalesce(json_object_agg(t, n), '{}') FROM (
  SELECT format('%I.%I', schemaname, tablename) AS t,
         (xpath('/row/c/text()', query_to_xml(format('select count(*) as c from %I.%I',
                 schemaname, tablename), false, true, '')))[1]::text::bigint AS n
  FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')) s"""
# A count of write transactions committed after a time, looked up by commit timestamp in the
# newest XIDS transaction ids (track_commit_timestamp is on): what an in-place restore discards.
DISCARD_SCAN = 2_000_000


def discarded_sql(when: str) -> str:
    return (f"select count(*), bool_or(x = lo) from (select greatest(3, txid_current() - {DISCARD_SCAN}) "
            "as lo, txid_current() as hi) b, generate_series(b.lo, b.hi - 1) x "
            f"where pg_xact_commit_timestamp(x::text::xid) > '{when}'::timestamptz")


def require_restored(result, app: str) -> None:
    """A restore task that failed: one sentence in Sentinel's words, pgBackRest's line as the
    detail."""
    if result.ok:
        return
    why = result.error or (f"exit code {result.exit_code}" if result.exit_code is not None
                           else result.state)
    raise CommandFailed(pgbackrest.explain(f"the restore of {app} failed ({why})", app, result.output))


def recover_argv(stanza: str, target: RestoreTarget, *, keep_old: str | None,
                 archive: bool, drill_db: str | None = None) -> list[str]:
    """The one-off task's command (images/postgres/sentinel-pg `recover`): its own options, then
    after "--" the whole pgBackRest restore it runs, into the data directory the image uses."""
    argv = ["recover", "--archive", "on" if archive else "off"]
    if keep_old:
        argv += ["--keep-old", keep_old]
    if drill_db:
        argv += ["--drill", drill_db]
    return argv + ["--"] + pgbackrest.restore_argv(stanza, target, pg_path=names.PGDATA)


SCHEDULED = ("db-backup", "db-verify")


def scheduled_failure(operations: list[dict]) -> dict | None:
    """The scheduler's last backup, or its last drill (newest first in `operations`), that
    failed with none of its kind succeeding since: a schedule that keeps failing shows in
    `db status`, not only in the log (pure)."""
    failed = []
    for kind in SCHEDULED:
        last = next((o for o in operations if o["kind"] == kind and o["actor"] == "sentinel"
                     and o["status"] != "running"), None)
        if last is not None and last["status"] != "succeeded":
            failed.append(last)
    if not failed:
        return None
    last = max(failed, key=lambda o: o["started_at"])
    return {"kind": last["kind"], "at": last["finished_at"] or last["started_at"],
            "error": last["error"] or last["status"], "operation": last["id"]}


def utc(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).isoformat(timespec="milliseconds") \
        .replace("+00:00", "Z")


class BackupService:
    def __init__(self, platform: Platform, db: DatabaseService, copies: CopyService, stack: Stack,
                 routes: Routes, teardown: Teardown):
        self.p = platform
        self.store = platform.store
        self.db = db
        self.copies = copies
        self.stack = stack
        self.routes = routes
        self.teardown = teardown

    # ---- reading ------------------------------------------------------------------------------
    def info(self, app: App) -> RepoInfo:
        """`pgbackrest info` of the app's stanza, or {"status": "unreachable", ...}."""
        try:
            proc = self.db.repo_exec(app.name, pgbackrest.info_argv(names.stanza(app.name)), wait=0,
                                     timeout=60, check=False, record=app)
        except CommandFailed as e:
            return RepoInfo(status="unreachable", message=e.message)
        if proc.returncode != 0:
            return RepoInfo(status="unreachable", message=" ".join((proc.stderr or "").split())[-300:])
        return pgbackrest.parse_info(proc.stdout, names.stanza(app.name))

    def archiver(self, app: App, member: str | None = None) -> dict | None:
        """pg_stat_archiver on the primary: the last archived segment and when."""
        try:
            row = self.db.sql(app, "select coalesce(last_archived_wal,''), "
                              "coalesce(extract(epoch from last_archived_time),0), failed_count, "
                              "coalesce(extract(epoch from last_failed_time),0), "
                              "extract(epoch from now()) from pg_stat_archiver", member=member,
                              database="postgres", timeout=20)
        except CommandFailed:
            return None
        wal, at, failed, failed_at, now = row.split("|")
        out = {"last_archived_wal": wal or None, "last_archived_at": utc(float(at)) if float(at) else None,
               "failed_count": int(failed),
               "last_failed_at": utc(float(failed_at)) if float(failed_at) else None,
               "archive_lag_seconds": round(float(now) - float(at), 1) if float(at) else None}
        self.store.put(names.db_archiver_key(app.name), out)  # kept for when the primary is gone
        return out

    def status_part(self, app: App, summary: dict) -> dict:
        info = self.info(app)
        primary = (summary.get("primary") or {}).get("member")
        archiver = (self.archiver(app, primary) if primary else None) or \
            self.store.get(names.db_archiver_key(app.name))
        latest = (archiver or {}).get("last_archived_at")
        window = pgbackrest.window_from(info.backups, latest)
        return {
            "repository": {"status": info.status, "message": info.message, "archive": info.archive},
            "archive": archiver,
            "recoverable": window.public() if window else None,
            "backups": [b.public() for b in info.backups[-5:]],
            "last_backup": next((b.public() for b in reversed(info.good())), None),
            "last_drill": self.store.get(names.db_drill_key(app.name)),
            "schedule_failure": scheduled_failure(
                self.store.operations(target=names.app_target(app.name), limit=50)),
        }

    def listing(self, name: str) -> dict:
        app = self.db.require(name)
        info = self.info(app)
        archiver = self.archiver(app) or self.store.get(names.db_archiver_key(name))
        window = pgbackrest.window_from(info.backups, (archiver or {}).get("last_archived_at"))
        return {"app": name, "repository": {"status": info.status, "message": info.message},
                "backups": [b.public() for b in info.backups],
                "recoverable": window.public() if window else None}

    # ---- backing up ---------------------------------------------------------------------------
    def backup(self, op: Operation, name: str, kind: str = "full") -> dict:
        app = self.db.require(name)
        if kind not in pgbackrest.BACKUP_TYPES:
            raise InvalidInput(f"backup type {kind!r} is not valid: use full, diff or incr.")
        return self.take(op, app, kind)

    def first_backup(self, op: Operation, app: App) -> None:
        """The new database's first full backup, part of creating it. With the repository's
        node down it cannot be taken now: said, and the scheduler takes it once the node is
        back (a database without a backup is never left for its quiet period)."""
        if not self.db.repo_ready():
            op.step("WARNING: the backup node is down, so the first backup waits until it is back; "
                    f"until then nothing can be restored (`sentinel db status {app.name}`)")
            return
        self.take(op, app, "full", first=True)

    def first_backup_beside(self, op: Operation, app: App) -> Callable[[], None]:
        """Start the first backup now, beside whatever the caller does next (the web tasks
        starting), and return the wait for it. A failure is said as a warning when waited for:
        the database works, and the scheduler takes the missing backup at once."""
        failed: list[SentinelError] = []

        def run() -> None:
            try:
                self.first_backup(op, app)
            except SentinelError as e:
                failed.append(e)

        thread = threading.Thread(target=run, name=f"first-backup-{app.name}", daemon=True)
        thread.start()

        def wait() -> None:
            thread.join()
            if failed:
                op.step(f"WARNING: {failed[0].message} The database works; its first backup is "
                        "taken again within a minute, or now with `sentinel db backup "
                        f"{app.name}`.")
        return wait

    def ensure_backup(self, op: Operation, app: App, why: str) -> None:
        """An operation that restores from the repository (a release check, a restore, a drill)
        takes a full backup first when there is none: WAL alone restores nothing."""
        info = self.info(app)
        if info.status == "unreachable":
            raise Precondition(f"the backup repository of {app.name} is unreachable "
                               f"({info.message}): see `sentinel db status {app.name}`.")
        if not info.good():
            op.step(f"{app.name} has no backup yet and {why}: taking a full backup first")
            self.take(op, app, "full")

    def take(self, op: Operation, app: App, kind: str, first: bool = False) -> dict:
        """A backup of `kind` from a streaming standby (else the primary); an event on the app."""
        name = app.name
        cluster = self.db.cluster(app)
        # Patroni lists a member just removed until its key expires: only current members count.
        members = set(self.db.running_members(app))
        # A new database's first backup is taken from the primary: nothing loads it yet, and a
        # standby would first have to replay the backup's checkpoint. With object storage the
        # primary's pgBackRest takes it (no repository host reaches the standbys).
        standby = None if first or not self.db.objects.has_repo_node() else next(
            (m["name"] for m in (cluster or {}).get("members", [])
             if m["name"] in members and patroni.streaming(cluster, m["name"])), None)
        op.step(("the first " if first else "") + f"{kind} backup of {name} from "
                + (f"standby {standby}" if standby else "the primary"))
        started = time.monotonic()
        # Idempotent, and needed when the database was created while the repository was away.
        self.db.repo_exec(name, pgbackrest.stanza_create_argv(names.stanza(name)), timeout=120,
                          record=app)
        argv = pgbackrest.backup_argv(names.stanza(name), kind,
                                      (app.backups or {}).get("keep"),
                                      from_standby=bool(standby))
        proc = self.db.repo_exec(name, argv, timeout=6 * 3600, check=False, record=app)
        if proc.returncode != 0:
            raise CommandFailed(pgbackrest.explain(
                f"the {kind} backup of {name} failed", name, (proc.stderr or "") + (proc.stdout or "")))
        took = time.monotonic() - started
        info = self.info(app)
        last = info.backups[-1] if info.backups else Backup()
        self.store.add_event(names.db_target(name), "backup", f"{kind} backup {last.label} in "
                             f"{took:.1f} s ({last.size_bytes or 0} bytes)", op.actor, op.id)
        op.step(f"backup {last.label} done in {took:.1f} s")
        return {"label": last.label, "type": kind, "seconds": round(took, 2),
                "size_bytes": last.size_bytes}


    # ---- restore points -------------------------------------------------------------------------
    def restore_point(self, app: App, label: str, actor: str = "system", op_id: str | None = None) -> dict:
        """A named restore point on the primary, with the WAL holding it archived before this
        returns: `db restore --to <name>` then lands exactly there."""
        if not pgbackrest.RESTORE_POINT.match(label):
            raise InvalidInput(f"restore point name {label!r} is not valid: lowercase letters, "
                               "digits, '.', '_', '-'.")
        row = self.db.sql(app, f"select pg_create_restore_point('{label}'), "
                               "timeline_id, now() from pg_control_checkpoint()", database="postgres")
        lsn, timeline, at = row.split("|")
        self.archive_now(app)
        # The timeline in pg_control_checkpoint can trail a fresh promotion: ask the primary.
        timeline = self.db.sql(app, "select substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)",
                               database="postgres")
        point = {"name": label, "lsn": lsn, "timeline": int(timeline, 16), "at": at}
        points = [p for p in self.store.get(names.db_points_key(app.name)) or [] if p["name"] != label]
        self.store.put(names.db_points_key(app.name), (points + [point])[-200:])
        self.store.add_event(names.db_target(app.name), "restore-point",
                             f"restore point {label} at {lsn} (timeline {point['timeline']})", actor, op_id)
        return point

    def archive_now(self, app: App, timeout: float = 60) -> str:
        """Switch to a new WAL segment and wait until the one holding everything so far is in
        the repository; the position everything so far ends at."""
        seg, lsn = self.db.sql(app, "select pg_walfile_name(l), l from pg_switch_wal() l",
                               database="postgres").split("|")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            last = self.db.sql(app, "select coalesce(last_archived_wal, '') from pg_stat_archiver",
                               database="postgres")
            if last and last[:24] >= seg:
                return lsn
            time.sleep(0.3)
        raise CommandFailed(f"WAL segment {seg} of {app.name} did not reach the backup repository "
                            f"within {int(timeout)} s: see `sentinel db status {app.name}`.")

    # ---- restore ----------------------------------------------------------------------------------
    def target(self, app: App, to: str) -> RestoreTarget:
        to = (to or "").strip()
        if to == "latest":
            return RestoreTarget("latest")
        point = next((p for p in self.store.get(names.db_points_key(app.name)) or [] if p["name"] == to), None)
        if point:
            backup = pgbackrest.backup_for_point(self.info(app).backups, point["lsn"],
                                                 point["timeline"])
            if not backup:
                raise InvalidInput(f"no backup of {app.name} ends before restore point {to}: it "
                                   "cannot be reached any more.")
            return RestoreTarget("name", point["name"], timeline=point["timeline"], set=backup)
        try:
            return pgbackrest.time_target(pgbackrest.parse_time(to))
        except ValueError:
            raise InvalidInput(f"--to {to!r} is not a time (ISO 8601, e.g. 2026-11-27T16:40:00Z), "
                               f"`latest`, or a restore point of {app.name} (see `sentinel db "
                               f"backups {app.name}`).")

    def plan_restore(self, name: str, to: str, into: str | None) -> RestorePlan:
        """What a restore would do and what it would discard; refuses what cannot be done."""
        app = self.db.require(name)
        if into:
            validation.name(into, "--into app name")
            if into in names.RESERVED_APPS or self.store.app(into):
                raise Conflict(f"--into {into}: an app named {into!r} already exists (or the name is "
                               "reserved): choose a new name.")
        target = self.target(app, to)
        info = self.info(app)
        if info.status == "unreachable":
            raise Precondition(f"the backup repository of {name} is unreachable ({info.message}): "
                               f"see `sentinel db status {name}`.")
        good = info.good()
        if not good and target.kind != "latest":
            # A backup taken now ends after every earlier time: only `latest` can be reached.
            raise Precondition(f"{name} has no backup yet (its first one could not be taken when it "
                               f"was created), so no earlier point can be restored: take one with "
                               f"`sentinel db backup {name}`, or restore --to latest.")
        cluster = self.db.cluster(app)
        primary = patroni.leader(cluster)
        archiver = (self.archiver(app, primary) if primary else None) or \
            self.store.get(names.db_archiver_key(name)) or {}
        window = (pgbackrest.window_from(info.backups, archiver.get("last_archived_at")) if good
                  else None) or Window(None, None)
        now = dt.datetime.now(dt.timezone.utc)
        # With a primary running, everything up to now reaches the archive before the restore.
        window_to = utc(now.timestamp()) if primary else window.end
        shown = f"{window.start or 'the first backup'} .. {window_to or 'the last archived change'}"
        if target.kind == "time":
            when = target.at
            if window.start and when < pgbackrest.parse_time(window.start):
                raise InvalidInput(f"--to {to} is before the recoverable window of {name} ({shown}): "
                                   "choose a time inside it.")
            if when > now:
                raise InvalidInput(f"--to {to} is in the future; the recoverable window of {name} is "
                                   f"{shown}.")
            if window_to and when > pgbackrest.parse_time(window_to):
                raise InvalidInput(f"--to {to} is after the last change in the backup repository of "
                                   f"{name} ({window_to}): the window is {shown}.")
        return RestorePlan(app=name, to=to, target=target, into=into, primary=primary,
                           window=Window(window.start, window_to),
                           discards=None if into else self._discards(app, target, primary, now))

    def _discards(self, app: App, target: RestoreTarget, primary: str | None,
                  now: dt.datetime) -> dict:
        """The span (and, by commit timestamp, the number of write transactions) an in-place
        restore throws away."""
        since = None
        if target.kind == "time":
            since = target.text
        elif target.kind == "name":
            point = next(p for p in self.store.get(names.db_points_key(app.name)) or []
                         if p["name"] == target.value)
            since = point["at"]
        out = {"from": since, "to": utc(now.timestamp()), "transactions": None,
               "transactions_at_least": False}
        if since and primary:
            try:
                row = self.db.sql(app, discarded_sql(since), database="postgres", timeout=120)
                count, at_edge = row.split("|")
                out["transactions"] = int(count)
                out["transactions_at_least"] = at_edge == "t"
            except CommandFailed:
                pass
        if since:  # Postgres's and pgBackRest's text of a time is ISO 8601 too
            out["seconds"] = round(now.timestamp() - pgbackrest.parse_time(since).timestamp(), 1)
        return out

    def restore(self, op: Operation, name: str, plan: RestorePlan) -> dict:
        app = self.db.require(name)
        target = plan.target
        self.ensure_backup(op, app, "a restore starts from one")
        if plan.primary_running and plan.into:
            # The window offered runs to now: what was written until now reaches the repository
            # first (in place, the pre-restore restore point does the same).
            self.archive_now(app)
        if plan.into:
            return self.restore_into(op, app, plan.into, target)
        return self._restore_in_place(op, app, target, plan)

    def _recover(self, op: Operation, source: App, target: RestoreTarget, *, node: str,
                 volume: str | None, keep_old: str | None, archive: bool, task: str,
                 drill_db: str | None = None, timeout: float = 3600):
        """Restore the source app's repository into `volume` on `node` and recover it to the
        target, as a one-off task on the source's database network (it reaches the repository)."""
        objects = self.db.objects.ensure(source)
        mounts = [f"type=volume,source={volume},target=/var/lib/postgresql/data"] if volume else []
        op.step(f"restoring {source.name}'s backup to {target.describe()} on {node}")
        result = run_one_off(
            self.p, task, self.p.stack_image("postgres"),
            recover_argv(names.stanza(source.name), target, keep_old=keep_old,
                         archive=archive, drill_db=drill_db),
            networks=[names.db_network(source.name)],
            secrets=pgbackrest_mounts(objects),
            hosts=self.db.objects.repo_hosts(),
            mounts=mounts, constraints=[f"node.hostname == {node}"],
            env={"SENTINEL_COUNT_SQL": COUNT_SQL} if drill_db else None,
            labels={"sentinel.app": source.name, "sentinel.role": "db-restore"},
            timeout=timeout, on_line=lambda l: op.step(f"  {l}") if l.startswith("recover:") else None)
        return result

    def _restore_in_place(self, op: Operation, app: App, target: RestoreTarget, plan: RestorePlan) -> dict:
        name = app.name
        started = time.monotonic()
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        pre = None
        if plan.primary_running:
            pre = self.restore_point(app, f"pre-restore-{stamp.lower()}", op.actor, op.id)
            op.step(f"the state before the restore is kept: restore point {pre['name']}")
        canary = self.store.canary(name)
        op.step("maintenance: the app answers 503 until the restore is done")
        serving = app.replicas > 0 or bool(app.image)
        self.routes.write(app, {"production": 100}, maintenance=True, wait=serving)
        if serving:
            time.sleep(DRAIN_SECONDS)
        try:
            op.step("stopping every database member (the primary last)")
            self.db.stop_all(app, canary)
            states = self.db.objects.node_states()
            # The primary's data goes first: it is the newest, and it is the copy kept aside.
            primary = plan.primary
            live = sorted((m for m in app.db.members if states.get(m.node) == "ready"),
                          key=lambda m: m.key != primary)
            moved_from = None
            if live:
                first = live[0]
                keep = f"discarded-{stamp.lower()}"
            else:
                # Every node that held a copy is gone (a single copy's node lost): the member is
                # restored from the repository onto a ready node; there is no local state to keep.
                first, moved_from = self._move_lost_member(op, app, primary, states)
                keep = None
            result = self._recover(op, app, target, node=first.node,
                                   volume=names.member_volume(name, first.index),
                                   keep_old=keep, archive=True, task=names.stack_object(name, "restore"))
            if not result.ok:
                op.step("the restore failed: putting the database back as it was")
                if moved_from:
                    self.db.wipe_volume(first.node, names.member_volume(name, first.index))
                    first.node = moved_from
                    self.db.save(app)
                else:
                    self.db.put_back(op, app, first, keep, canary)
                require_restored(result, name)
            op.step(f"starting {first.key} on the restored data")
            # The app's history now branches off before where its copy source stands: the next
            # copy makes a new source from the restored history.
            self.copies.remove_source(name)
            first.stopped = False
            self.db.save(app)
            self.stack.deploy(app, canary, web=bool(app.image))
            self.db.wait_leader(app, what="the restored database")
            # The restored data brings back Patroni's timing of its backup's day.
            self.db.tune_quietly(op, app)
        finally:
            app_now = self.store.require_app(name)
            if app_now.image and app_now.replicas > 0:
                # Web tasks whose health check needs the database may have been replaced while
                # it was down (their replacements may still be starting, or about to be replaced
                # once more), and the database's proxy may still be finding the new primary:
                # traffic returns once every task is healthy and the app answers through Traefik
                # again (never a 404, which a moment without a healthy task would give, or 503).
                try:
                    self.stack.wait_running(names.service(name, "production"), app_now.replicas,
                                      since=time.time())
                    self.routes.wait_answering(app_now, "production")
                except CommandFailed:
                    op.step("the app does not answer yet; routing to it anyway")
            route = routing(canary) if canary else {"weights": {"production": 100}}
            self.routes.write(app_now, **route, wait=bool(app_now.image))
            op.step("maintenance over: traffic flows again")
        self._restart_standbys(op, app, first, canary, states)
        took = time.monotonic() - started
        kept: dict = {"node": first.node, "volume": names.member_volume(name, first.index),
                      "folder": f"{names.PGDATA}.{keep}" if keep else None,
                      "restore_point": pre["name"] if pre else None}
        self.store.put(names.db_discarded_key(name), {**kept, "at": utc(time.time())})
        self.store.add_event(names.db_target(name), "restore",
                             f"restored to {target.describe()} in {took:.1f} s; the state before is kept "
                             f"({'restore point ' + pre['name'] if pre else 'no restore point: the primary was down'}"
                             f"{', and ' + kept['folder'] + ' on ' + kept['node'] if keep else ''}) "
                             "until the next full backup",
                             op.actor, op.id)
        return {"restored_to": target.describe(), "seconds": round(took, 1), "kept": kept,
                "undo": f"sentinel db restore {name} --to {pre['name']} --yes" if pre else None}

    def _move_lost_member(self, op: Operation, app: App, primary: str | None,
                          states: dict[str, str]) -> tuple[Member, str]:
        """The member to restore (the last primary, else the first) is placed on a ready node that
        holds no other member; returns it and the node it was on."""
        members = app.db.members
        m = next((x for x in members if x.key == primary), members[0])
        free = self.db.free_nodes(app, moving=m)
        if not free:
            raise Precondition(f"no node that holds a member of {app.name}'s database is ready, and "
                               "no other node is free to restore it onto: add a node with "
                               "`sentinel cluster scale` or bring the node back.")
        old = m.node
        op.step(f"{m.key} was on {old} ({states.get(old, 'gone')}): restoring it "
                f"onto {free[0]} from the repository")
        self.db.wipe_volume(free[0], names.member_volume(app.name, m.index))
        m.node = free[0]
        self.db.save(app)
        return m, old

    def _restart_standbys(self, op: Operation, app: App, first: Member, canary: Canary | None,
                          states: dict[str, str]) -> None:
        """After an in-place restore the standbys are cloned again. A full backup on the new
        timeline comes first: a clone from the repository takes the newest backup, and one
        taken after the target lies on the abandoned timeline."""
        name = app.name
        others = [m for m in app.db.members if m is not first]
        if not others:
            return
        op.step("a full backup of the restored database (the standbys are cloned from it)")
        self.db.repo_exec(name, pgbackrest.backup_argv(names.stanza(name), "full", from_standby=False),
                          timeout=6 * 3600)
        for m in others:
            if states.get(m.node) == "ready":
                op.step(f"clearing {m.key} on {m.node}; it is cloned again")
                self.db.wipe_volume(m.node, names.member_volume(name, m.index))
            m.stopped = False
        self.db.save(app)
        self.stack.deploy(app, canary, web=bool(app.image))
        for m in others:
            if states.get(m.node) == "ready":
                self.db.wait_streaming(app, m.key)

    def copy_now(self, op: Operation, source: App, into: str, *, internal: bool = False,
                 preview: Preview | None = None, timeout: float = 120) -> dict:
        """A new app `into` with a copy of `source`'s data as of now (a scratch copy or a
        preview's): taken from the app's copy source in seconds where the platform keeps them
        (services/copies.py), else restored from its repository."""
        lsn = self.archive_now(source, timeout=timeout)
        taken = None
        if self.copies.available():
            try:
                taken = self.copies.take(op, source, into, lsn)
            except CommandFailed as e:
                # A source that cannot give this copy is made again next time; this copy
                # comes from the repository, as every copy did before sources.
                op.step(f"{e.message}: restoring {into} from the repository instead, and making "
                        f"{source.name}'s copy source again next time")
                try:
                    self.copies.remove_source(source.name)
                except CommandFailed as gone:  # the next copy finds it and tries it again
                    op.step(f"the copy source could not be removed now: {gone.message}")
        else:
            op.step(f"copying {source.name}'s data into {into} from its backup repository (this "
                    "platform keeps no copy sources: docs/data.md, \"Copies\")")
        return self.restore_into(op, source, into, RestoreTarget("latest"), internal=internal,
                                 preview=preview, taken=taken)

    def restore_into(self, op: Operation, source: App, into: str, target: RestoreTarget,
                      internal: bool = False, preview: Preview | None = None,
                      taken: str | None = None) -> dict:
        """A new app `into` with a copy of `source`'s database at `target`: backed up from its
        first second, unless it is a scratch copy (`internal`) or a preview's. `taken`: the
        folder on the backup node of a copy taken already (copy_now), which its member runs on."""
        started = time.monotonic()
        spec = self.p.spec
        db = self.db.new_record(into, ha=False)
        if taken:
            db = db.changed(members=[Member(index=0, node=self.copies.node().name, path=taken)])
        copy = App(name=into, image=None, cluster_image=None, port=8000,
                   domain=validation.domain(f"{into}.{spec.domain}") if spec.domain != "localhost"
                   else f"{into}.localhost", replicas=0, env={}, health_path=None,
                   db=db, created_at=time.time(), internal=internal,
                   restored_from={"app": source.name, "target": target.describe(),
                                  "how": "copy source" if taken else "repository"},
                   preview=preview)
        self.db.prepare(op, copy)
        self.store.put_app(copy)
        member = copy.need_db().members[0]
        try:
            if not taken:
                result = self._recover(op, source, target, node=member.node,
                                       volume=names.member_volume(into, member.index),
                                       keep_old=None, archive=False,
                                       task=names.stack_object(into, "restore"))
                require_restored(result, source.name)
            op.step(f"starting {into}'s database on the {'copied' if taken else 'restored'} data")
            self.stack.deploy(copy, None, web=False)
            self.db.wait_leader(copy, what="the copy")
            self.db.adopt_roles(copy, source)
            if copy.backed_up:  # a scratch copy or a preview's is never backed up
                self.db.stanza_create(copy)
                self.db.tune_quietly(op, copy)
                # The copy started archiving before its stanza existed; Postgres retries a failed
                # segment only every 60 s, longer than the backup waits for its WAL. A switch
                # wakes the archiver, and waiting here makes the backup's wait short.
                op.step(f"waiting for {into}'s WAL to reach its own place in the repository")
                self.archive_now(copy, timeout=240)
                # A database of its own from its first second: its own first backup.
                self.first_backup(op, copy)
        except Exception:
            op.step(f"the restore into {into} failed: removing {into}")
            self.teardown.remove(copy, keep_data=False)
            self.store.delete_app(into)
            raise
        took = time.monotonic() - started
        self.store.add_event(names.db_target(source.name), "restore",
                             f"restored into {into} at {target.describe()} in {took:.1f} s", op.actor, op.id)
        return {"restored_to": target.describe(), "into": into, "seconds": round(took, 1)}

    # ---- drills ---------------------------------------------------------------------------------
    def verify(self, op: Operation, name: str) -> dict:
        """Restore the latest backup aside (on the backup node), check it with pg_amcheck, and
        compare every table's row count with the source at the same WAL position."""
        app = self.db.require(name)
        started = time.monotonic()
        self.ensure_backup(op, app, "a drill restores one")
        good = self.info(app).good()
        cluster = self.db.cluster(app)
        standby = next((m["name"] for m in (cluster or {}).get("members", [])
                        if patroni.streaming(cluster, m["name"])), None)
        if standby:
            target, counts = self._counts_on_paused_standby(app, standby)
            how = f"counted on standby {standby} paused at {target.value}"
        else:
            target, counts = self._counts_at_restore_point(app)
            how = f"counted on the primary at restore point {target.value}"
        # A WAL record after the target, archived with it: on an idle database the target can
        # sit exactly at a segment boundary, where pg_switch_wal has nothing to switch and no
        # archived record lies beyond it, so recovery would end "before the target was reached".
        self.db.sql(app, "select pg_create_restore_point('sentinel-drill-end')", database="postgres")
        self.archive_now(app)
        backup_node = next((n.name for n in self.store.nodes() if n.role == "backup"),
                           self.db.objects.app_nodes()[0])
        result = self._recover(op, app, target, node=backup_node, volume=None, keep_old=None,
                               archive=False, task=names.stack_object(name, "drill"), drill_db=app.db.name)
        report = next((json.loads(l.split(" ", 1)[1]) for l in result.output.splitlines()
                       if l.startswith("SENTINEL-DRILL ")), None)
        problems = []
        if not result.ok:
            problems.append(f"the restore failed ({result.error or 'exit code ' + str(result.exit_code)}): "
                            + " | ".join(telling_lines(result.output, 2)))
        if report:
            if report["amcheck"] != "ok":
                problems.append("pg_amcheck found corruption")
            for table, n in sorted(counts.items()):
                got = report["counts"].get(table)
                if got != n:
                    problems.append(f"{table}: {got} rows restored, {n} in the source")
        elif result.ok:
            problems.append("the drill printed no report")
        took = time.monotonic() - started
        drill = {"at": utc(time.time()), "passed": not problems, "backup": good[-1].label,
                 "target": target.describe(), "tables": len(counts), "rows": sum(counts.values()),
                 "seconds": round(took, 1), "how": how,
                 "summary": (f"{len(counts)} table(s), {sum(counts.values())} row(s) match, pg_amcheck clean"
                             if not problems else "; ".join(problems)[:500])}
        self.store.put(names.db_drill_key(name), drill)
        self.store.add_event(names.db_target(name), "drill", ("passed: " if not problems else "FAILED: ")
                             + drill["summary"], op.actor, op.id)
        if problems:
            raise CommandFailed(f"the restore drill of {name} failed: {drill['summary']}")
        op.step(f"drill passed in {took:.1f} s: {drill['summary']}")
        return drill

    def _counts_on_paused_standby(self, app: App, standby: str) -> tuple[RestoreTarget, dict]:
        """Pause replay on a standby, read its position and count there: exactly the state at that
        position, whatever the primary does meanwhile. Patroni would resume replay within a
        loop, so it is paused too (no automatic failover for those seconds)."""
        self.db.member_exec(app.name, standby, [*PATRONICTL, "pause", "--wait"], timeout=60)
        self.db.sql(app, "select pg_wal_replay_pause()", member=standby, database="postgres")
        try:
            for _ in range(50):
                if self.db.sql(app, "select pg_get_wal_replay_pause_state()", member=standby,
                               database="postgres") == "paused":
                    break
                time.sleep(0.1)
            lsn = self.db.sql(app, "select pg_last_wal_replay_lsn()", member=standby,
                              database="postgres")
            counts = json.loads(self.db.sql(app, COUNT_SQL, member=standby) or "{}")
        finally:
            self.db.sql(app, "select pg_wal_replay_resume()", member=standby, database="postgres")
            self.db.member_exec(app.name, standby, [*PATRONICTL, "resume", "--wait"], timeout=60)
        return RestoreTarget("lsn", lsn, exclusive=True), counts

    def _counts_at_restore_point(self, app: App) -> tuple[RestoreTarget, dict]:
        """Without a standby: a restore point and the counts in one repeatable-read transaction
        (a write committing in the instant between the two can make a drill report a mismatch)."""
        label = f"drill-{time.strftime('%Y%m%dt%H%M%S', time.gmtime())}"
        out = self.db.sql(app, "begin isolation level repeatable read;\n"
                               f"select pg_create_restore_point('{label}');\n{COUNT_SQL};\ncommit;")
        counts = json.loads(out.splitlines()[-1] or "{}")
        timeline = self.db.sql(app, "select substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)",
                               database="postgres")
        return RestoreTarget("name", label, timeline=int(timeline, 16)), counts

    def forget_discarded(self, op: Operation, name: str) -> None:
        """After a full backup: delete the data folder an in-place restore kept aside."""
        kept = self.store.get(names.db_discarded_key(name))
        if not kept:
            return
        try:
            self.db.volume_sh(kept["node"], kept["volume"],
                               f"rm -rf -- /data/{kept['folder'].rsplit('/', 1)[-1]}")
        except CommandFailed as e:
            op.step(f"could not delete {kept['folder']} on {kept['node']} yet: {e.message}")
            return
        self.store.delete(names.db_discarded_key(name))
        op.step(f"deleted {kept['folder']} on {kept['node']}: the new full backup covers it")
