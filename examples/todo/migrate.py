#!/usr/bin/env python3
"""The demo app's migrations: SQL files in /app/migrations named NNNN_<phase>_<what>.sql, where
phase is `expand` (run in a release phase: the old version keeps working) or `contract` (run
after promote: removes what only the old version used). Applied ones are recorded in
schema_migrations; each file runs in one transaction with its record.

    python3 migrate.py up         apply the expand migrations not applied yet
    python3 migrate.py contract   apply the contract migrations not applied yet
    python3 migrate.py status     list migrations and whether each is applied

Connects with DATABASE_URL (and PGPASSWORD_FILE), as the app does.
"""
import os
import sys
from pathlib import Path

import psycopg2

HERE = Path(os.environ.get("MIGRATIONS_DIR", Path(__file__).resolve().parent / "migrations"))


def connect():
    kwargs = {}
    pw_file = os.environ.get("PGPASSWORD_FILE")
    try:
        if pw_file:
            kwargs["password"] = Path(pw_file).read_text().rstrip("\r\n")
    except OSError:
        pass  # DATABASE_URL carries the password too
    return psycopg2.connect(os.environ.get("DATABASE_URL", ""), **kwargs)


def migrations(phase=None):
    files = sorted(HERE.glob("[0-9][0-9][0-9][0-9]_*.sql"))
    return [f for f in files if phase is None or f.name.split("_")[1] == phase]


def applied(conn):
    with conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS schema_migrations "
                    "(name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
        cur.execute("SELECT name FROM schema_migrations")
        return {r[0] for r in cur.fetchall()}


def apply(phase):
    conn = connect()
    done = applied(conn)
    todo = [f for f in migrations(phase) if f.name not in done]
    if not todo:
        print(f"no {phase} migration to apply")
    for f in todo:
        with conn, conn.cursor() as cur:  # one transaction: the file and its record
            cur.execute(f.read_text())
            cur.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (f.name,))
        print(f"applied {f.name}")
    return 0


def status():
    conn = connect()
    done = applied(conn)
    for f in migrations():
        print(f"{'applied' if f.name in done else 'pending'}  {f.name}")
    return 0


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "up":
        return apply("expand")
    if cmd == "contract":
        return apply("contract")
    if cmd == "status":
        return status()
    print("usage: migrate.py up|contract|status", file=sys.stderr)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except psycopg2.Error as e:
        print(f"migration failed: {str(e).strip()}", file=sys.stderr)
        sys.exit(1)
