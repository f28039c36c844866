"""The release options shared by `deploy` and `canary deploy`, parsed on this side."""
from __future__ import annotations

from typing import Optional

import typer

from .files import read_file
from .output import fail

RELEASE_HELP = {
    "release_command": "Run once from the new image before it takes traffic (e.g. \"python migrate.py up\").",
    "release_sql": "SQL file applied in one transaction as the app's role before the new version takes traffic (linted).",
    "release_timeout": "Longest the release may run, e.g. 10m (default).",
    "allow_destructive": "Let the release SQL drop, rename or lock (the lint refuses otherwise).",
    "skip_check": "Skip the check that production works on a migrated copy of the database (recorded).",
    "smoke_command": "Run from the production image against the migrated copy during the check.",
    "check_path": "The path production must answer (below 500) on the migrated copy (default: the app's health path and /).",
}


def release_body(release_command: Optional[str], release_sql: Optional[str],
                 release_timeout: Optional[str], allow_destructive: bool, skip_check: bool,
                 smoke_command: Optional[str], check_path: Optional[str]) -> Optional[dict]:
    if release_command is None and release_sql is None:
        for given, flag in ((release_timeout, "--release-timeout"), (smoke_command, "--smoke-command"),
                            (check_path, "--check-path")):
            if given is not None:
                fail(f"{flag} goes with --release-command or --release-sql.")
        if allow_destructive or skip_check:
            fail("--allow-destructive and --skip-check go with --release-command or --release-sql.")
        return None
    body: dict = {"command": release_command, "allow_destructive": allow_destructive,
                  "skip_check": skip_check, "smoke_command": smoke_command}
    if check_path is not None:
        body["check_path"] = check_path
    if release_sql is not None:
        from pathlib import Path

        body["sql"] = read_file(release_sql, "release SQL file")
        body["sql_name"] = Path(release_sql).name
    if release_timeout is not None:
        from control_plane.metrics import parse_duration

        try:
            body["timeout"] = parse_duration(release_timeout)
        except ValueError:
            fail(f"--release-timeout {release_timeout!r} is not a duration like 90s, 10m or 1h.")
    return body


def options():
    """The typer options, for commands to declare (one definition of names and help)."""
    return dict(
        release_command=typer.Option(None, "--release-command", help=RELEASE_HELP["release_command"]),
        release_sql=typer.Option(None, "--release-sql", help=RELEASE_HELP["release_sql"]),
        release_timeout=typer.Option(None, "--release-timeout", help=RELEASE_HELP["release_timeout"]),
        allow_destructive=typer.Option(False, "--allow-destructive", help=RELEASE_HELP["allow_destructive"]),
        skip_check=typer.Option(False, "--skip-check", help=RELEASE_HELP["skip_check"]),
        smoke_command=typer.Option(None, "--smoke-command", help=RELEASE_HELP["smoke_command"]),
        check_path=typer.Option(None, "--check-path", help=RELEASE_HELP["check_path"]),
    )
