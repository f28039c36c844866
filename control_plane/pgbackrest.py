"""pgBackRest as data (pure): command lines, restore targets, and what `pgbackrest info` says
(backups, the recoverable window)."""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Target:
    """Where a restore stops: `latest` (all archived WAL), a time, an LSN, or a named restore
    point (which records the timeline it was made on)."""

    kind: str  # latest | time | lsn | name | immediate
    value: str | None = None  # the LSN or the restore point's name
    timeline: int | None = None
    exclusive: bool = False
    set: str | None = None  # a backup to start from (else pgBackRest takes the newest)
    at: dt.datetime | None = None  # the time of a `time` target (aware), as text only in argv

    @property
    def text(self) -> str | None:
        """The target as pgBackRest's --target reads it."""
        return pg_time(self.at) if self.kind == "time" else self.value

    def public(self) -> dict:
        """As the API shows it (docs: RestoreTarget)."""
        return {"kind": self.kind, "value": self.text, "timeline": self.timeline,
                "exclusive": self.exclusive, "set": self.set}

    def options(self) -> list[str]:
        if self.kind == "latest":
            return []
        if self.kind == "immediate":
            return ["--type=immediate"]
        opts = [f"--type={self.kind}", f"--target={self.text}"]
        if self.exclusive:
            opts.append("--target-exclusive")
        if self.timeline is not None:
            opts.append(f"--target-timeline={self.timeline}")
        if self.set:
            opts.append(f"--set={self.set}")
        return opts

    def describe(self) -> str:
        return {"latest": "the latest archived change", "immediate": "the end of the backup",
                "time": f"{self.text}", "lsn": f"WAL position {self.value}",
                "name": f"restore point {self.value}"}[self.kind]


def time_target(when: dt.datetime) -> Target:
    return Target("time", at=when.astimezone(dt.timezone.utc))


def pg_time(when: dt.datetime) -> str:
    """A time as pgBackRest and Postgres read it, in UTC with microseconds."""
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f+00")


def restore_argv(stanza: str, target: Target, *, delta: bool = False, promote: bool = True,
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


# ---- `pgbackrest info --output=json` ---------------------------------------------------------
def _ts(seconds: int | float | None) -> str | None:
    if seconds is None:
        return None
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).isoformat().replace("+00:00", "Z")


def parse_info(text: str, stanza: str) -> dict:
    """{status, backups: [{label, type, start, stop, size_bytes, repo_bytes, lsn_stop}],
    archive: {min, max}} of `stanza` (status "missing" when the stanza does not exist)."""
    data = json.loads(text or "[]")
    entry = next((s for s in data if s.get("name") == stanza), None)
    if not entry:
        return {"status": "missing", "message": "no stanza", "backups": [], "archive": None}
    status = entry.get("status", {})
    backups = []
    for b in entry.get("backup", []):
        info = b.get("info", {})
        backups.append({
            "label": b.get("label"), "type": b.get("type"),
            "start": _ts((b.get("timestamp") or {}).get("start")),
            "stop": _ts((b.get("timestamp") or {}).get("stop")),
            "stop_epoch": (b.get("timestamp") or {}).get("stop"),
            "size_bytes": info.get("size"), "repo_bytes": (info.get("repository") or {}).get("size"),
            "lsn_stop": (b.get("lsn") or {}).get("stop"), "error": bool(b.get("error")),
            "timeline": int(((b.get("archive") or {}).get("start") or "1")[:8], 16),
        })
    archives = entry.get("archive", [])
    archive = None
    if archives:
        archive = {"min": min(a.get("min") or "" for a in archives) or None,
                   "max": max(a.get("max") or "" for a in archives) or None}
    # 2 = "no valid backups": a new stanza, which is fine.
    return {"status": "ok" if status.get("code") in (0, 2) else "error",
            "message": status.get("message", ""), "backups": backups, "archive": archive}


def lsn(text: str) -> int:
    hi, lo = text.split("/")
    return (int(hi, 16) << 32) + int(lo, 16)


def backup_for_point(backups: list[dict], point_lsn: str, timeline: int) -> str | None:
    """The newest good backup a restore to a point can start from: ended at or before it, on its
    timeline or an earlier one (pgBackRest would otherwise take the newest backup, which after a
    restore lies on another timeline)."""
    fit = [b for b in backups if not b.get("error") and b.get("lsn_stop")
           and b.get("timeline", 1) <= timeline and lsn(b["lsn_stop"]) <= lsn(point_lsn)]
    return fit[-1]["label"] if fit else None


def window_from(backups: list[dict], latest: str | None) -> dict | None:
    """The recoverable window: from the end of the oldest good backup to `latest` (the newest
    time known to be in the archive)."""
    good = [b for b in backups if not b.get("error") and b.get("stop_epoch")]
    if not good:
        return None
    return {"from": min(good, key=lambda b: b["stop_epoch"])["stop"], "to": latest}


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
