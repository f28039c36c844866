"""Scheduled backups and restore drills: one thread in the control plane.

Every `tick` seconds, for each app with a database: a full backup when there is none yet (right
after the database is created) or the last full is older than the policy's interval, else a
differential when the last backup is older than its interval, and a restore drill when the last
one is older than its interval. Each is an ordinary operation on the app (actor `sentinel`), so
it waits its turn behind a deploy or a canary and shows in the app's events; it also leaves an
app alone for `quiet` seconds after a person's last operation on it, so scheduled work never
answers a person's next command with "busy" — but for a database with no backup at all (its first
one is part of creating it; this catches one whose repository was down then), which is taken at
once. SENTINEL_BACKUP_SCHEDULE=off turns the schedule
off (the end-to-end tests do, to stay deterministic). After a full
backup, the data an in-place restore kept aside is deleted: the backups now cover it.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, replace

from .. import names, pgbackrest
from ..errors import SentinelError
from ..jobs import Jobs
from ..platform import Platform
from .backup import BackupService
from ..records import App, Backup

log = logging.getLogger("sentinel.schedule")
DAY = 86400.0


@dataclass(frozen=True)
class Policy:
    full_every: float = 7 * DAY
    diff_every: float = 1 * DAY
    drill_every: float = 7 * DAY


def policy_for(app: App, base: Policy) -> Policy:
    """The app's own schedule (sentinel.yaml `database.backups.schedule`): daily makes every
    backup a full one; weekly is the default (a full a week, differentials daily)."""
    if (app.backups or {}).get("schedule") == "daily":
        return replace(base, full_every=DAY, diff_every=min(base.diff_every, DAY))
    return base


def due(policy: Policy, backups: list[Backup], last_drill_at: float | None, now: float) -> str | None:
    """What is due now (pure): "full", "diff", "drill" or None."""
    good = [b for b in backups if b.good]
    if not good:
        return "full"
    fulls = [b for b in good if b.type == "full"]
    if not fulls or now - (fulls[-1].stop_epoch or 0) >= policy.full_every:
        return "full"
    if now - (good[-1].stop_epoch or 0) >= policy.diff_every:
        return "diff"
    if last_drill_at is None or now - last_drill_at >= policy.drill_every:
        return "drill"
    return None


def due_now(policy: Policy, backups: list[Backup], last_drill_at: float | None, now: float,
            quiet: bool) -> str | None:
    """What to start now (pure). `quiet`: a person worked on the app moments ago, so only a
    missing first backup is taken (a database is never left without one); the rest waits."""
    if quiet and any(b.good for b in backups):
        return None
    return due(policy, backups, last_drill_at, now)


class BackupScheduler:
    def __init__(self, platform: Platform, jobs: Jobs, backups: BackupService, tick: float = 30.0,
                 policy: Policy = Policy(), quiet: float = 120.0):
        self.p, self.jobs, self.tick, self.policy, self.quiet = platform, jobs, tick, policy, quiet
        self.backups = backups
        self._stop = threading.Event()

    def start(self) -> None:
        if os.environ.get("SENTINEL_BACKUP_SCHEDULE", "on").lower() == "off":
            log.info("scheduled backups and drills are off (SENTINEL_BACKUP_SCHEDULE=off)")
            return
        threading.Thread(target=self._run, name="backup-schedule", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.tick):
            try:
                self.round()
            except Exception:  # never let one bad round stop the schedule
                log.exception("backup schedule round failed")

    def round(self) -> None:
        if self.p.state != "ready" or self.jobs.busy("cluster"):
            return
        for app in self.p.store.apps():
            target = names.app_target(app.name)
            # A release check's scratch copy is never backed up: it is gone in a minute.
            if not app.db or not app.backed_up or self.jobs.busy(target):
                continue
            last = self.p.store.last_operation_end(target, exclude_actor="sentinel")
            self.consider(app, quiet=last is not None and time.time() - last < self.quiet)

    def consider(self, app: App, quiet: bool = False) -> None:
        name = app.name
        info = self.backups.info(app)
        if info.status == "unreachable":
            return  # `db status` says so; nothing to schedule against
        drill = self.p.store.get(names.db_drill_key(name))
        last_drill = pgbackrest.parse_time(drill["at"]).timestamp() if drill else None
        what = due_now(policy_for(app, self.policy), info.backups, last_drill, time.time(), quiet)
        if what is None:
            return
        try:
            if what == "drill":
                self.jobs.start(names.app_target(name), "db-verify", self._said(
                    name, "restore drill", lambda op: self.backups.verify(op, name)),
                                actor="sentinel")
            else:
                self.jobs.start(names.app_target(name), "db-backup", self._said(
                    name, f"{what} backup", lambda op: self._backup(op, name, what)),
                                actor="sentinel")
        except SentinelError:  # busy: next round
            pass

    def _said(self, name: str, what: str, fn):
        """A scheduled job whose failure is an event of the app's database (the operation's
        failure also notifies, and `db status` shows it until one succeeds)."""
        def run(op):
            try:
                return fn(op)
            except SentinelError as e:
                self.p.store.add_event(names.db_target(name), "schedule",
                                       f"the scheduled {what} failed: {e.message}; the schedule "
                                       "tries again", "sentinel", op.id)
                raise
        return run

    def _backup(self, op, name: str, kind: str) -> dict:
        result = self.backups.backup(op, name, kind)
        if kind == "full":
            self.backups.forget_discarded(op, name)
        return result
