"""Backups of an app's database: full/differential backups into the app's pgBackRest repository,
the recoverable window, restore points, point-in-time restores (in place or into a new app) and
restore drills."""
from __future__ import annotations

import datetime as dt
import time

from .. import names, pgbackrest
from ..errors import CommandFailed, InvalidInput
from ..jobs import Operation
from ..platform import Platform
from .database import DatabaseService


def utc(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).isoformat(timespec="milliseconds") \
        .replace("+00:00", "Z")


class BackupService:
    def __init__(self, platform: Platform):
        self.p = platform
        self.store = platform.store
        self.db = DatabaseService(platform)

    # ---- reading ------------------------------------------------------------------------------
    def info(self, app: dict) -> dict:
        """`pgbackrest info` of the app's stanza, or {"status": "unreachable", ...}."""
        try:
            proc = self.db.repo_exec(app["name"], pgbackrest.info_argv(names.stanza(app["name"])),
                                     timeout=60, check=False)
        except CommandFailed as e:
            return {"status": "unreachable", "message": e.message, "backups": [], "archive": None}
        if proc.returncode != 0:
            return {"status": "unreachable", "message": " ".join((proc.stderr or "").split())[-300:],
                    "backups": [], "archive": None}
        return pgbackrest.parse_info(proc.stdout, names.stanza(app["name"]))

    def archiver(self, app: dict, member: str | None = None) -> dict | None:
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
        self.store.put(f"db_archiver:{app['name']}", out)  # kept for when the primary is gone
        return out

    def status_part(self, app: dict, summary: dict) -> dict:
        info = self.info(app)
        primary = (summary.get("primary") or {}).get("member")
        archiver = (self.archiver(app, primary) if primary else None) or \
            self.store.get(f"db_archiver:{app['name']}")
        latest = (archiver or {}).get("last_archived_at")
        backups = info["backups"]
        return {
            "repository": {"status": info["status"], "message": info.get("message", ""),
                           "archive": info.get("archive")},
            "archive": archiver,
            "recoverable": pgbackrest.window_from(backups, latest),
            "backups": [{k: v for k, v in b.items() if k != "stop_epoch"} for b in backups[-5:]],
            "last_backup": next(({k: v for k, v in b.items() if k != "stop_epoch"}
                                 for b in reversed(backups) if not b["error"]), None),
            "last_drill": self.store.get(f"db_drill:{app['name']}"),
        }

    def listing(self, name: str) -> dict:
        app = self.db.require(name)
        info = self.info(app)
        archiver = self.archiver(app) or self.store.get(f"db_archiver:{name}")
        return {"app": name, "repository": {"status": info["status"], "message": info.get("message", "")},
                "backups": [{k: v for k, v in b.items() if k != "stop_epoch"} for b in info["backups"]],
                "recoverable": pgbackrest.window_from(info["backups"],
                                                      (archiver or {}).get("last_archived_at"))}

    # ---- backing up ---------------------------------------------------------------------------
    def backup(self, op: Operation, name: str, kind: str = "full") -> dict:
        app = self.db.require(name)
        if kind not in pgbackrest.BACKUP_TYPES:
            raise InvalidInput(f"backup type {kind!r} is not valid: use full, diff or incr.")
        op.step(f"{kind} backup of {name} (from the standby when there is one)")
        started = time.monotonic()
        self.db.repo_exec(name, pgbackrest.backup_argv(names.stanza(name), kind), timeout=6 * 3600)
        took = time.monotonic() - started
        info = self.info(app)
        last = info["backups"][-1] if info["backups"] else {}
        self.store.add_event(f"db:{name}", "backup", f"{kind} backup {last.get('label')} in "
                             f"{took:.1f} s ({last.get('size_bytes') or 0} bytes)", op.actor, op.id)
        op.step(f"backup {last.get('label')} done in {took:.1f} s")
        return {"label": last.get("label"), "type": kind, "seconds": round(took, 2),
                "size_bytes": last.get("size_bytes")}

    def plan_restore(self, name: str, to: str, into: str | None) -> dict:
        raise CommandFailed("not yet")

    def restore(self, op: Operation, name: str, plan: dict) -> dict:
        raise CommandFailed("not yet")

    def verify(self, op: Operation, name: str) -> dict:
        raise CommandFailed("not yet")
