"""The control plane's own state store (SQLite): clusters, nodes, apps, operations, events.

The swarm stays the source of truth for what runs; this store records intent and history and is
reconciled from the swarm (see services/cluster.py).
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from . import names
from .errors import NotFound
from .records import App, Canary, Node

SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS nodes (
  name TEXT PRIMARY KEY, role TEXT NOT NULL, address TEXT NOT NULL, state TEXT NOT NULL,
  updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS apps (name TEXT PRIMARY KEY, spec TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS canaries (app TEXT PRIMARY KEY, spec TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS operations (
  id TEXT PRIMARY KEY, target TEXT NOT NULL, kind TEXT NOT NULL, status TEXT NOT NULL,
  actor TEXT NOT NULL, started_at REAL NOT NULL, finished_at REAL, error TEXT, result TEXT);
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY AUTOINCREMENT, op_id TEXT, target TEXT NOT NULL, kind TEXT NOT NULL,
  actor TEXT NOT NULL, at REAL NOT NULL, message TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_target ON events(target, id);
CREATE TABLE IF NOT EXISTS judgments (
  id INTEGER PRIMARY KEY AUTOINCREMENT, app TEXT NOT NULL, at REAL NOT NULL,
  input TEXT NOT NULL, result TEXT NOT NULL);
"""


class Store:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._lock = threading.RLock()
        with self._lock:
            self._db.executescript(SCHEMA)
            # Columns added after a store was created: added in place.
            cols = {r["name"] for r in self._db.execute("PRAGMA table_info(operations)")}
            if "error_code" not in cols:
                self._db.execute("ALTER TABLE operations ADD COLUMN error_code TEXT")

    def _q(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # key/value: the cluster's settings and secrets-free config
    def get(self, key: str, default: Any = None) -> Any:
        rows = self._q("SELECT value FROM kv WHERE key=?", (key,))
        return json.loads(rows[0]["value"]) if rows else default

    def put(self, key: str, value: Any) -> None:
        self._q("INSERT INTO kv(key,value) VALUES(?,?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (key, json.dumps(value)))

    def delete(self, key: str) -> None:
        self._q("DELETE FROM kv WHERE key=?", (key,))

    # numbered resources shared out among apps (edge networks)
    def claim_slot(self, key: str, owner: str, limit: int) -> int | None:
        """The owner's slot under `key`, or the lowest free one below `limit` (None: all taken).
        Atomic: two apps claiming at once get different slots."""
        with self._lock:
            slots = self.get(key) or {}
            if owner in slots:
                return slots[owner]
            used = set(slots.values())
            slot = next((i for i in range(limit) if i not in used), None)
            if slot is not None:
                slots[owner] = slot
                self.put(key, slots)
            return slot

    def release_slot(self, key: str, owner: str) -> None:
        with self._lock:
            slots = self.get(key) or {}
            if slots.pop(owner, None) is not None:
                self.put(key, slots)

    # nodes
    def set_nodes(self, nodes: list[Node]) -> None:
        with self._lock:
            self._q("DELETE FROM nodes")
            for n in nodes:
                self._q("INSERT INTO nodes VALUES(?,?,?,?,?)",
                        (n.name, n.role, n.address, n.state, time.time()))

    def nodes(self) -> list[Node]:
        return [Node(name=r["name"], role=r["role"], address=r["address"], state=r["state"])
                for r in self._q("SELECT * FROM nodes ORDER BY name")]

    def backup_node(self) -> Node | None:
        return next((n for n in self.nodes() if n.role == "backup"), None)

    # apps and canaries: a record's JSON per row (records.App, records.Canary)
    def _put_spec(self, table: str, key: str, col: str, record: App | Canary) -> None:
        self._q(f"INSERT INTO {table}({col},spec,created_at) VALUES(?,?,?) "
                f"ON CONFLICT({col}) DO UPDATE SET spec=excluded.spec",
                (key, record.model_dump_json(), time.time()))

    def put_app(self, app: App) -> None:
        self._put_spec("apps", app.name, "name", app)

    def app(self, name: str) -> App | None:
        rows = self._q("SELECT spec FROM apps WHERE name=?", (name,))
        return App.model_validate_json(rows[0]["spec"]) if rows else None

    def require_app(self, name: str) -> App:
        app = self.app(name)
        if not app:
            raise NotFound(f"there is no app named {name!r}: see `sentinel apps`.")
        return app

    def apps(self) -> list[App]:
        return [App.model_validate_json(r["spec"]) for r in self._q("SELECT spec FROM apps ORDER BY name")]

    def delete_app(self, name: str) -> None:
        self.release_slot(names.EDGE_SLOTS_KEY, name)
        self._q("DELETE FROM apps WHERE name=?", (name,))
        self._q("DELETE FROM canaries WHERE app=?", (name,))

    def put_canary(self, canary: Canary) -> None:
        self._put_spec("canaries", canary.app, "app", canary)

    def canary(self, app: str) -> Canary | None:
        rows = self._q("SELECT spec FROM canaries WHERE app=?", (app,))
        return Canary.model_validate_json(rows[0]["spec"]) if rows else None

    def canaries(self) -> list[Canary]:
        return [Canary.model_validate_json(r["spec"]) for r in self._q("SELECT spec FROM canaries")]

    def delete_canary(self, app: str) -> None:
        self._q("DELETE FROM canaries WHERE app=?", (app,))

    # operations and their events
    def add_operation(self, op_id: str, target: str, kind: str, actor: str) -> None:
        self._q("INSERT INTO operations(id,target,kind,status,actor,started_at) VALUES(?,?,?,?,?,?)",
                (op_id, target, kind, "running", actor, time.time()))

    def finish_operation(self, op_id: str, status: str, error: str | None = None,
                         result: Any = None, code: str | None = None) -> None:
        self._q("UPDATE operations SET status=?, finished_at=?, error=?, result=?, error_code=? "
                "WHERE id=?", (status, time.time(), error, json.dumps(result), code, op_id))

    def operation(self, op_id: str) -> dict | None:
        rows = self._q("SELECT * FROM operations WHERE id=?", (op_id,))
        if not rows:
            return None
        op = dict(rows[0])
        op["result"] = json.loads(op["result"]) if op["result"] else None
        return op

    def operations(self, *, target: str | None = None, limit: int = 20) -> list[dict]:
        sql, args = "SELECT * FROM operations", []
        if target:
            sql += " WHERE target=?"
            args.append(target)
        rows = self._q(sql + " ORDER BY started_at DESC LIMIT ?", (*args, limit))
        return [{**dict(r), "result": json.loads(r["result"]) if r["result"] else None} for r in rows]

    def last_operation_end(self, target: str, exclude_actor: str | None = None) -> float | None:
        sql = "SELECT max(coalesce(finished_at, started_at)) AS t FROM operations WHERE target=?"
        args: tuple = (target,)
        if exclude_actor:
            sql += " AND actor != ?"
            args += (exclude_actor,)
        rows = self._q(sql, args)
        return rows[0]["t"] if rows and rows[0]["t"] is not None else None

    def running_operations(self) -> list[dict]:
        return [dict(r) for r in self._q("SELECT * FROM operations WHERE status='running'")]

    def add_event(self, target: str, kind: str, message: str, actor: str = "system",
                  op_id: str | None = None) -> None:
        self._q("INSERT INTO events(op_id,target,kind,actor,at,message) VALUES(?,?,?,?,?,?)",
                (op_id, target, kind, actor, time.time(), message))

    def events(self, *, target: str | None = None, op_id: str | None = None, after: int = 0,
               limit: int = 200) -> list[dict]:
        sql, args = "SELECT * FROM events WHERE id>?", [after]
        if target:
            sql += " AND target=?"
            args.append(target)
        if op_id:
            sql += " AND op_id=?"
            args.append(op_id)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        return [dict(r) for r in reversed(self._q(sql, tuple(args)))]

    def add_judgment(self, app: str, input: dict, result: dict) -> int:
        with self._lock:
            cur = self._db.execute("INSERT INTO judgments(app,at,input,result) VALUES(?,?,?,?)",
                                   (app, time.time(), json.dumps(input), json.dumps(result)))
            return int(cur.lastrowid)

    def judgments(self, app: str, limit: int = 20) -> list[dict]:
        rows = self._q("SELECT * FROM judgments WHERE app=? ORDER BY id DESC LIMIT ?", (app, limit))
        return [{"id": r["id"], "at": r["at"], "input": json.loads(r["input"]),
                 "result": json.loads(r["result"])} for r in rows]
