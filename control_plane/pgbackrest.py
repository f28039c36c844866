"""pgBackRest as data (pure): command lines, restore targets, and what `pgbackrest info` says
(backups, the recoverable window)."""
from __future__ import annotations

import datetime as dt
import json
import re

from .records import Backup, RepoInfo, RestoreTarget, Window

BACKUP_TYPES = ("full", "diff", "incr")
RESTORE_POINT = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


def base(stanza: str) -> list[str]:
    return ["pgbackrest", f"--stanza={stanza}"]


def stanza_create_argv(stanza: str) -> list[str]:
    return base(stanza) + ["stanza-create"]


def backup_argv(stanza: str, kind: str = "full", keep_full: int | None = None, *,
                from_standby: bool = True) -> list[str]:
    """keep_full: full backups to keep (the app's policy). Given on the command line rather than
    in the configuration, so changing it restarts no database member; the backup then expires
    what is older. from_standby=False when no standby streams: pgBackRest would look for one for
    two minutes, then fail."""
    if kind not in BACKUP_TYPES:
        raise ValueError(kind)
    keep = [f"--repo1-retention-full={int(keep_full)}"] if keep_full else []
    standby = [] if from_standby else ["--no-backup-standby"]
    return base(stanza) + keep + [f"--type={kind}", *standby, "backup"]


def info_argv(stanza: str) -> list[str]:
    return base(stanza) + ["--output=json", "info"]


def time_target(when: dt.datetime) -> RestoreTarget:
    return RestoreTarget("time", at=when.astimezone(dt.timezone.utc))


def restore_argv(stanza: str, target: RestoreTarget, *, delta: bool = False, promote: bool = True,
                 archive_off: bool = False, pg_path: str | None = None,
                 set_backup: str | None = None) -> list[str]:
    argv = base(stanza) + target.options()
    if target.kind != "latest" and promote:
        argv.append("--target-action=promote")
    if delta:
        argv.append("--delta")
    if archive_off:
        # A copy must never push its WAL into the production stanza (see docs/data.md).
        argv.append("--archive-mode=off")
    if pg_path:
        argv.append(f"--pg1-path={pg_path}")
    if set_backup:
        argv.append(f"--set={set_backup}")
    return argv + ["restore"]


def standby_restore_argv(stanza: str, pg_path: str) -> list[str]:
    """A copy source's data (docs/data.md, "Copies"): the newest backup as a standby that then
    follows the repository's WAL (restore_command: archive-get), archiving nothing itself."""
    return base(stanza) + ["--type=standby", "--archive-mode=off", f"--pg1-path={pg_path}",
                           "restore"]


# ---- `pgbackrest info --output=json` ---------------------------------------------------------
def _ts(seconds: int | float | None) -> str | None:
    if seconds is None:
        return None
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).isoformat().replace("+00:00", "Z")


def parse_info(text: str, stanza: str) -> RepoInfo:
    """What `pgbackrest info --output=json` says of `stanza` (status "missing" when the stanza
    does not exist)."""
    data = json.loads(text or "[]")
    entry = next((s for s in data if s.get("name") == stanza), None)
    if not entry:
        return RepoInfo(status="missing", message="no stanza")
    status = entry.get("status", {})
    backups = []
    for b in entry.get("backup", []):
        info = b.get("info", {})
        stamp = b.get("timestamp") or {}
        backups.append(Backup(
            label=b.get("label"), type=b.get("type"), start=_ts(stamp.get("start")),
            stop=_ts(stamp.get("stop")), stop_epoch=stamp.get("stop"), size_bytes=info.get("size"),
            repo_bytes=(info.get("repository") or {}).get("size"),
            lsn_stop=(b.get("lsn") or {}).get("stop"), error=bool(b.get("error")),
            timeline=int(((b.get("archive") or {}).get("start") or "1")[:8], 16)))
    archives = entry.get("archive", [])
    archive = None
    if archives:
        archive = {"min": min(a.get("min") or "" for a in archives) or None,
                   "max": max(a.get("max") or "" for a in archives) or None}
    # 2 = "no valid backups": a new stanza, which is fine.
    return RepoInfo(status="ok" if status.get("code") in (0, 2) else "error",
                    message=status.get("message", ""), backups=backups, archive=archive)


def lsn(text: str) -> int:
    hi, lo = text.split("/")
    return (int(hi, 16) << 32) + int(lo, 16)


def backup_for_point(backups: list[Backup], point_lsn: str, timeline: int) -> str | None:
    """The newest good backup a restore to a point can start from: ended at or before it, on its
    timeline or an earlier one (pgBackRest would otherwise take the newest backup, which after a
    restore lies on another timeline)."""
    fit = [b for b in backups if not b.error and b.lsn_stop
           and b.timeline <= timeline and lsn(b.lsn_stop) <= lsn(point_lsn)]
    return fit[-1].label if fit else None


def window_from(backups: list[Backup], latest: str | None) -> Window | None:
    """The recoverable window: from the end of the oldest good backup to `latest` (the newest
    time known to be in the archive)."""
    good = [b for b in backups if b.good]
    if not good:
        return None
    return Window(start=min(good, key=lambda b: b.stop_epoch or 0).stop, end=latest)


def parse_time(text: str) -> dt.datetime:
    """An ISO 8601 time from the user; without a zone it is UTC. Raises ValueError."""
    t = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


def error_lines(output: str, limit: int = 400) -> str:
    """What a failed pgBackRest command said that matters: its ERROR lines (with their HINTs),
    else the end of its output."""
    lines = [" ".join(l.split()) for l in output.splitlines()]
    picked = [l for l in lines if "ERROR" in l or "HINT" in l]
    text = " ".join(picked or lines)
    return text[:limit] if picked else text[-limit:]


# ---- pgBackRest's errors in Sentinel's words --------------------------------------------------
ERROR_LINE = re.compile(r"ERROR: \[(\d{3})\]: (.*)")
# pgBackRest's error codes (its src/build/error/error.yaml) that a user meets, and what to do.
EXPLAINED = {
    "075": "the backup repository holds no backup to start from: take one with `sentinel db backup {app}`",
    "082": "the WAL it needs did not reach the backup repository in time: see `sentinel db status {app}`",
    "055": "a file the backups need is missing from the repository: run `sentinel db verify {app}` "
           "and take a new full backup",
    "103": "the backup repository could not be reached: see `sentinel db status {app}`",
    "104": "the backup repository could not be reached: see `sentinel db status {app}`",
    "056": "no database member could be reached for the backup: see `sentinel db status {app}`",
    "044": "the repository belongs to another database (its system id differs): see `sentinel db status {app}`",
    "028": "the repository's backup and archive records disagree: see `sentinel db status {app}`",
}


def error_line(output: str) -> tuple[str, str] | None:
    """(code, text) of pgBackRest's last ERROR line in `output`, or None."""
    found = [m.groups() for m in map(ERROR_LINE.search, output.splitlines()) if m]
    return found[-1] if found else None


def explain(what: str, app: str, output: str) -> str:
    """One sentence: `what` failed, why in Sentinel's words when pgBackRest's code is known, and
    pgBackRest's own line as the detail."""
    found = error_line(output)
    if not found:
        tail = " ".join(output.split())[-300:]
        return f"{what}" + (f" (pgBackRest: {tail})" if tail else "") + "."
    code, text = found
    reason = EXPLAINED.get(code)
    detail = f"pgBackRest: [{code}] {' '.join(text.split())[:240]}"
    return f"{what}: {reason.format(app=app)} ({detail})." if reason else f"{what} ({detail})."
