#!/usr/bin/env python3
"""Sentinel demo app: a small Postgres-backed to-do list.

Standard library only (http.server) plus psycopg2.  Used by the README walkthrough and by
every end-to-end canary test, so it can be told to misbehave on purpose through
environment variables (FAULT_*), and it drains gracefully on SIGTERM.

Environment:
  PORT                 listen port (default 8000); HOST bind address (default 0.0.0.0)
  APP_VERSION          version shown and reported; default: contents of APP_VERSION_FILE
                       (default /app/VERSION, written at image build time), else "dev"
  DATABASE_URL         libpq URL or key=value DSN; otherwise the PG* variables
                       (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE) are used by libpq.
                       With neither DATABASE_URL nor PGHOST set, no database is configured.
  PGPASSWORD_FILE      file holding the password (a swarm secret); overrides other passwords
  DB_POOL_MAX          connections in the pool (default 5)
  DRAIN_SECONDS        on SIGTERM keep serving this long with /healthz = 503 (default 3)
  DB_HEALTH_GRACE      /healthz stays 200 this many seconds after the database was last reached
                       (default 30): a failover of a few seconds must not make the platform
                       replace every task. A task that never reached its database is unhealthy.
  FAULT_ERROR_RATE     0..1: each request answers 500 with that probability (random.random())
  FAULT_LATENCY_MS     sleep added to each request
  FAULT_HEALTH_FAIL=1  /healthz always answers 503
The FAULT_ERROR_RATE and FAULT_LATENCY_MS switches apply to every route but /healthz and
/version.
"""

import datetime
import html
import json
import os
import random
import re
import signal
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:
    import psycopg2
    import psycopg2.extensions
    import psycopg2.pool
except ImportError:  # the app still serves (without a database) where psycopg2 is missing
    psycopg2 = None

MAX_BODY = 64 * 1024
MAX_TITLE = 500
MAX_ID = 2**31 - 1  # serial is a 4-byte integer
# The schema the app reads, by version: v3 came with an expand migration (priority) and no longer
# reads created_at, which a contract migration drops once v3 is all that runs
# (examples/todo/migrations). v1 and v2 never name priority, so they run on either schema
# until that contract step.
COLUMNS_BEFORE_3 = "id, title, done, created_at"
COLUMNS_FROM_3 = "id, title, done, priority"


def schema_generation(version):
    try:
        return 3 if int(version.split(".")[0]) >= 3 else 1
    except ValueError:
        return 1


COLUMNS = COLUMNS_BEFORE_3  # set from the version at start (see main)

_log_lock = threading.Lock()


def log(line):
    with _log_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def _float_env(name, default, lo=None, hi=None):
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        log(f"warning: ignoring {name}={raw!r}: not a number")
        return default
    if value != value:  # NaN
        return default
    if lo is not None:
        value = max(lo, value)
    if hi is not None:
        value = min(hi, value)
    return value


def _truthy(name):
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def read_version():
    version = os.environ.get("APP_VERSION", "").strip()
    if version:
        return version
    path = os.environ.get("APP_VERSION_FILE", "/app/VERSION")
    try:
        with open(path, encoding="utf-8") as f:
            version = f.read().strip()
    except OSError:
        version = ""
    return version or "dev"


class Config:
    def __init__(self):
        self.host = os.environ.get("HOST", "0.0.0.0")
        self.port = int(os.environ.get("PORT", "8000") or 8000)
        self.version = read_version()
        self.hostname = socket.gethostname()
        self.drain_seconds = _float_env("DRAIN_SECONDS", 3.0, lo=0.0)
        self.db_health_grace = _float_env("DB_HEALTH_GRACE", 30.0, lo=0.0)
        self.error_rate = _float_env("FAULT_ERROR_RATE", 0.0, lo=0.0, hi=1.0)
        self.latency_s = _float_env("FAULT_LATENCY_MS", 0.0, lo=0.0) / 1000.0
        self.health_fail = _truthy("FAULT_HEALTH_FAIL")
        self.pool_max = max(1, int(_float_env("DB_POOL_MAX", 5, lo=1)))
        self.dsn = os.environ.get("DATABASE_URL", "").strip()
        self.db_configured = bool(self.dsn or os.environ.get("PGHOST", "").strip())
        self.password = None
        pw_file = os.environ.get("PGPASSWORD_FILE", "").strip()
        if pw_file:
            try:
                with open(pw_file, encoding="utf-8") as f:
                    self.password = f.read().rstrip("\r\n")
            except OSError as e:
                log(f"warning: cannot read PGPASSWORD_FILE {pw_file}: {e.strerror}")

    def secrets(self):
        """Strings that must never reach the log."""
        found = [self.password, os.environ.get("PGPASSWORD")]
        if self.dsn and psycopg2 is not None:
            try:
                found.append(psycopg2.extensions.parse_dsn(self.dsn).get("password"))
            except Exception:
                pass
        if self.dsn:
            try:
                found.append(urllib.parse.urlsplit(self.dsn).password)
            except ValueError:
                pass
        return [s for s in found if s]

    def describe_db(self):
        """Where the database is, without the password."""
        if not self.db_configured:
            return "none (no DATABASE_URL or PGHOST)"
        params = {}
        if self.dsn and psycopg2 is not None:
            try:
                params = psycopg2.extensions.parse_dsn(self.dsn)
            except Exception:
                return "DATABASE_URL (unparsable)"
        env = {"host": "PGHOST", "port": "PGPORT", "user": "PGUSER", "dbname": "PGDATABASE"}
        shown = []
        for key, var in env.items():
            value = params.get(key) or os.environ.get(var)
            if value:
                shown.append(f"{key}={value}")
        return " ".join(shown) or "libpq defaults"


def _dsn_params(dsn):
    if not dsn or psycopg2 is None:
        return {}
    try:
        return psycopg2.extensions.parse_dsn(dsn)
    except psycopg2.Error:
        return {}


class DBUnavailable(Exception):
    """The database could not answer; the request gets a 503."""


class Database:
    """A small thread-safe pool that drops broken connections and reconnects."""

    def __init__(self, cfg):
        self.cfg = cfg
        self._secrets = cfg.secrets()
        self._lock = threading.Lock()
        self._pool = None
        self._slots = threading.BoundedSemaphore(cfg.pool_max)

    def _scrub(self, text):
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text.strip().replace("\n", " ")

    def _get_pool(self):
        with self._lock:
            if self._pool is None:
                kwargs = {}
                if "connect_timeout" not in _dsn_params(self.cfg.dsn):
                    kwargs["connect_timeout"] = os.environ.get("PGCONNECT_TIMEOUT") or "3"
                if "application_name" not in _dsn_params(self.cfg.dsn):
                    kwargs["application_name"] = "todo"
                if self.cfg.password is not None:
                    kwargs["password"] = self.cfg.password
                # minconn=0 so that creating the pool connects nothing (the database may not
                # be up yet); then raise minconn, which psycopg2 also uses as the number of
                # idle connections putconn() keeps, so connections are reused, not reopened.
                pool = psycopg2.pool.ThreadedConnectionPool(
                    0, self.cfg.pool_max, self.cfg.dsn, **kwargs)
                pool.minconn = self.cfg.pool_max
                self._pool = pool
            return self._pool

    def run(self, work):
        """Run work(cursor) in a transaction and return its result.

        A connection that turns out to be dead (the server restarted, a proxy dropped it)
        is thrown away and the work retried on another one, as long as the failure came
        before COMMIT was sent, so nothing is ever applied twice.
        """
        if psycopg2 is None:
            raise DBUnavailable("psycopg2 is not installed")
        if not self._slots.acquire(timeout=5):
            raise DBUnavailable("database pool busy")
        try:
            attempts = self.cfg.pool_max + 1
            for attempt in range(attempts):
                pool = self._get_pool()
                try:
                    conn = pool.getconn()
                except psycopg2.Error as e:
                    raise DBUnavailable(self._scrub(f"cannot connect: {e}")) from None
                committing = False
                try:
                    if conn.closed:
                        raise psycopg2.InterfaceError("connection already closed")
                    with conn.cursor() as cur:
                        result = work(cur)
                    committing = True
                    conn.commit()
                except (psycopg2.OperationalError, psycopg2.InterfaceError) as e:
                    pool.putconn(conn, close=True)
                    if committing or attempt == attempts - 1:
                        raise DBUnavailable(self._scrub(f"database error: {e}")) from None
                    continue
                except psycopg2.Error as e:
                    try:
                        conn.rollback()
                        pool.putconn(conn)
                    except psycopg2.Error:
                        pool.putconn(conn, close=True)
                    raise DBUnavailable(self._scrub(f"database error: {e}")) from None
                except BaseException:
                    pool.putconn(conn, close=True)
                    raise
                pool.putconn(conn)
                return result
        finally:
            self._slots.release()

    def close(self):
        with self._lock:
            if self._pool is not None:
                try:
                    self._pool.closeall()
                except psycopg2.Error:
                    pass
                self._pool = None

    # -- queries -------------------------------------------------------------------
    def ping(self):
        def work(cur):
            cur.execute("SELECT 1")
            return cur.fetchone()[0] == 1
        return self.run(work)

    def list_todos(self):
        def work(cur):
            cur.execute(f"SELECT {COLUMNS} FROM todos ORDER BY id")
            return [_row(r) for r in cur.fetchall()]
        return self.run(work)

    def add_todo(self, title):
        def work(cur):
            cur.execute(f"INSERT INTO todos (title) VALUES (%s) RETURNING {COLUMNS}", (title,))
            return _row(cur.fetchone())
        return self.run(work)

    def toggle_todo(self, todo_id):
        def work(cur):
            cur.execute(f"UPDATE todos SET done = NOT done WHERE id = %s RETURNING {COLUMNS}",
                        (todo_id,))
            row = cur.fetchone()
            return _row(row) if row else None
        return self.run(work)


def _row(r):
    if COLUMNS == COLUMNS_FROM_3:
        return {"id": r[0], "title": r[1], "done": bool(r[2]), "priority": r[3]}
    created = r[3]
    if isinstance(created, (datetime.date, datetime.datetime)):
        created = created.isoformat()
    return {"id": r[0], "title": r[1], "done": bool(r[2]), "created_at": created}


# -- page ----------------------------------------------------------------------------
THEMES = {
    "1": {"color": "#1d4ed8", "badge": ""},
    "2": {"color": "#15803d", "badge": "new!"},
    "3": {"color": "#b45309", "badge": "priorities"},
}
OTHER_COLORS = ["#7e22ce", "#c2410c", "#0e7490", "#be123c"]


def theme(version):
    if version in THEMES:
        return THEMES[version]
    color = OTHER_COLORS[sum(version.encode()) % len(OTHER_COLORS)]
    return {"color": color, "badge": "new!"}


def render_page(cfg, todos, notice):
    t = theme(cfg.version)
    esc = html.escape
    badge = f'<span class="badge">{esc(t["badge"])}</span>' if t["badge"] else ""
    items = []
    for item in todos:
        done = " done" if item["done"] else ""
        label = "Undo" if item["done"] else "Done"
        items.append(
            f'<li class="item{done}"><span class="title">{esc(item["title"])}</span>'
            f'<form method="post" action="/todos/{int(item["id"])}/toggle">'
            f'<button type="submit">{label}</button></form></li>')
    if not items and not notice:
        items.append('<li class="empty">Nothing to do.</li>')
    notice_html = f'<p class="notice">{esc(notice)}</p>' if notice else ""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>To-do v{esc(cfg.version)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 0; background: #f8fafc; color: #0f172a; }}
header {{ background: {t["color"]}; color: #fff; padding: 1.5rem 2rem; }}
header h1 {{ margin: 0; font-size: 1.4rem; font-weight: 600; }}
.version {{ font-size: 4rem; font-weight: 800; line-height: 1.1; }}
.badge {{ background: #facc15; color: #422006; font-size: 1rem; font-weight: 700;
          padding: .2rem .6rem; border-radius: 999px; vertical-align: super; margin-left: .5rem; }}
.host {{ opacity: .85; font-family: monospace; }}
main {{ max-width: 40rem; margin: 1.5rem auto; padding: 0 1rem; }}
ul {{ list-style: none; padding: 0; }}
li {{ display: flex; justify-content: space-between; align-items: center;
      background: #fff; border: 1px solid #e2e8f0; border-radius: .4rem;
      padding: .5rem .8rem; margin-bottom: .4rem; }}
li.done .title {{ text-decoration: line-through; color: #64748b; }}
button {{ background: {t["color"]}; color: #fff; border: 0; border-radius: .3rem;
          padding: .35rem .8rem; cursor: pointer; }}
.add {{ display: flex; gap: .5rem; }}
.add input {{ flex: 1; padding: .4rem; }}
.notice {{ background: #fef3c7; border: 1px solid #f59e0b; padding: .6rem; border-radius: .4rem; }}
</style>
</head>
<body>
<header>
<h1>Sentinel to-do</h1>
<div class="version" id="version">v{esc(cfg.version)}{badge}</div>
<div class="host">served by {esc(cfg.hostname)}</div>
</header>
<main>
{notice_html}
<form class="add" method="post" action="/todos">
<input name="title" maxlength="{MAX_TITLE}" placeholder="What needs doing?" required>
<button type="submit">Add</button>
</form>
<ul id="todos">
{chr(10).join(items)}
</ul>
</main>
</body>
</html>
"""


# -- HTTP ----------------------------------------------------------------------------
TOGGLE_FORM = re.compile(r"^/todos/(\d{1,10})/toggle$")
TOGGLE_API = re.compile(r"^/api/todos/(\d{1,10})/toggle$")


class BadRequest(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "todo"
    timeout = 120  # idle keep-alive connections; longer than Traefik's 90 s idle timeout

    app = None  # set by App

    # -- plumbing ----------------------------------------------------------------
    def parse_request(self):
        # Called once a request line has arrived: from here until the response is written
        # the request is in flight (an idle keep-alive connection is not).
        self._t0 = time.monotonic()
        self._status = 0
        self.app.request_started()
        return super().parse_request()

    def handle_one_request(self):
        self._t0 = None
        try:
            super().handle_one_request()
        finally:
            if self._t0 is not None:
                self.app.request_done()
                if getattr(self, "command", None):
                    ms = (time.monotonic() - self._t0) * 1000
                    path = self.path.split("?", 1)[0]
                    log(f"{self.command} {path} {self._status} {ms:.1f}ms")

    def send_response(self, code, message=None):
        self._status = code
        super().send_response(code, message)

    def end_headers(self):
        self.send_header("X-App-Version", self.app.cfg.version)
        self.send_header("X-App-Host", self.app.cfg.hostname)
        if self.app.draining.is_set():
            self.send_header("Connection", "close")
            self.close_connection = True
        super().end_headers()

    def version_string(self):
        return self.server_version

    def log_message(self, format, *args):  # one line per request is written by us
        pass

    def reply(self, status, body, content_type, headers=None):
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def reply_json(self, status, obj, headers=None):
        self.reply(status, json.dumps(obj) + "\n", "application/json", headers)

    def reply_text(self, status, text):
        self.reply(status, text, "text/plain; charset=utf-8")

    def redirect_home(self):
        self.reply(303, "", "text/plain; charset=utf-8", {"Location": "/"})

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            raise BadRequest(411, "send a Content-Length")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            raise BadRequest(400, "bad Content-Length") from None
        if length < 0 or length > MAX_BODY:
            self.close_connection = True
            raise BadRequest(413, "body too large")
        return self.rfile.read(length) if length else b""

    # -- dispatch ----------------------------------------------------------------
    def do_GET(self):
        self.dispatch("GET")

    def do_HEAD(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def dispatch(self, method):
        app = self.app
        path = urllib.parse.urlsplit(self.path).path
        api = path.startswith("/api/")
        try:
            body = self.read_body()  # always, so a keep-alive connection stays in step
            if path == "/healthz":
                return self.only(method, "GET") and self.healthz()
            if path == "/version":
                return self.only(method, "GET") and self.reply_json(
                    200, {"version": app.cfg.version, "hostname": app.cfg.hostname})
            # fault switches: everything but /healthz and /version
            if app.cfg.latency_s > 0:
                time.sleep(app.cfg.latency_s)
            if app.cfg.error_rate > 0 and random.random() < app.cfg.error_rate:
                if api:
                    return self.reply_json(500, {"error": "injected fault (FAULT_ERROR_RATE)"})
                return self.reply_text(500, "injected fault (FAULT_ERROR_RATE)\n")
            self.route(method, path, body)
        except BadRequest as e:
            if api:
                self.reply_json(e.status, {"error": e.message})
            else:
                self.reply_text(e.status, e.message + "\n")
        except DBUnavailable as e:
            log(f"db unavailable: {e}")
            if api or method != "GET":
                self.reply_json(503, {"error": "database unavailable", "detail": str(e)})
            else:
                self.reply(503, render_page(app.cfg, [], "Database unavailable, try again."),
                           "text/html; charset=utf-8")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # a bug: answer 500 rather than drop the connection
            log(f"error: {type(e).__name__} on {method} {path}")
            self.close_connection = True
            if not self._status:
                self.reply_json(500, {"error": "internal error"})

    def only(self, method, *allowed):
        if method in allowed:
            return True
        self.reply_json(405, {"error": "method not allowed"}, {"Allow": ", ".join(allowed)})
        return False

    def route(self, method, path, body):
        db = self.app.db
        if path == "/":
            if not self.only(method, "GET"):
                return
            if db is None:
                page = render_page(self.app.cfg, [], "No database configured: the list is empty.")
            else:
                page = render_page(self.app.cfg, db.list_todos(), "")
            return self.reply(200, page, "text/html; charset=utf-8")
        if path == "/todos":
            if not self.only(method, "POST"):
                return
            form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
            title = (form.get("title") or [""])[0].strip()
            if title:
                self.need_db().add_todo(title[:MAX_TITLE])
            return self.redirect_home()
        m = TOGGLE_FORM.match(path)
        if m:
            if not self.only(method, "POST"):
                return
            todo_id = int(m.group(1))
            if todo_id <= MAX_ID:
                self.need_db().toggle_todo(todo_id)
            return self.redirect_home()
        if path == "/api/todos":
            if not self.only(method, "GET", "POST"):
                return
            if method == "GET":
                return self.reply_json(200, self.need_db().list_todos())
            title = self.json_title(body)
            row = self.need_db().add_todo(title)
            return self.reply_json(201, row, {"Location": f"/api/todos/{row['id']}"})
        m = TOGGLE_API.match(path)
        if m:
            if not self.only(method, "POST"):
                return
            todo_id = int(m.group(1))
            row = self.need_db().toggle_todo(todo_id) if todo_id <= MAX_ID else None
            if row is None:
                return self.reply_json(404, {"error": f"no todo {todo_id}"})
            return self.reply_json(200, row)
        if path.startswith("/api/"):
            return self.reply_json(404, {"error": "not found"})
        return self.reply_text(404, "not found\n")

    def need_db(self):
        if self.app.db is None:
            raise DBUnavailable("no database configured")
        return self.app.db

    @staticmethod
    def json_title(body):
        try:
            data = json.loads(body.decode("utf-8") or "null")
        except (UnicodeDecodeError, ValueError):
            raise BadRequest(400, "body must be JSON") from None
        title = data.get("title") if isinstance(data, dict) else None
        if not isinstance(title, str) or not title.strip():
            raise BadRequest(400, 'expected {"title": "<non-empty string>"}')
        if len(title) > MAX_TITLE:
            raise BadRequest(400, f"title longer than {MAX_TITLE} characters")
        return title.strip()

    def healthz(self):
        app = self.app
        if app.draining.is_set():
            return self.reply_text(503, "draining")
        if app.cfg.health_fail:
            return self.reply_text(503, "unhealthy (FAULT_HEALTH_FAIL)")
        if app.db is None:
            return self.reply_text(200, "ok")
        try:
            app.db.ping()
        except DBUnavailable as e:
            log(f"healthz: {e}")
            since = time.monotonic() - app.db_last_ok if app.db_last_ok is not None else None
            if since is not None and since < app.cfg.db_health_grace:
                return self.reply_text(200, f"ok (database unreachable for {since:.0f} s)")
            return self.reply_text(503, "database unavailable")
        app.db_last_ok = time.monotonic()
        return self.reply_text(200, "ok")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128



class App:
    def __init__(self, cfg):
        self.cfg = cfg
        self.db = Database(cfg) if cfg.db_configured else None
        self.db_last_ok = None  # monotonic time the database last answered /healthz
        self.draining = threading.Event()
        self.stop = threading.Event()
        self.hurry = threading.Event()
        self.in_flight = 0
        self.in_flight_lock = threading.Lock()
        handler = type("TodoHandler", (Handler,), {"app": self})
        self.server = Server((cfg.host, cfg.port), handler)

    def request_started(self):
        with self.in_flight_lock:
            self.in_flight += 1

    def request_done(self):
        with self.in_flight_lock:
            self.in_flight -= 1

    def on_signal(self, signum, frame):
        if self.stop.is_set():
            self.hurry.set()  # a second signal skips the rest of the drain
        self.stop.set()

    def serve(self):
        cfg = self.cfg
        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)
        thread = threading.Thread(target=self.server.serve_forever, name="http", daemon=True)
        thread.start()
        log(f"todo v{cfg.version} on {cfg.hostname} listening on {cfg.host}:{cfg.port}; "
            f"db: {cfg.describe_db()}; faults: error_rate={cfg.error_rate} "
            f"latency_ms={cfg.latency_s * 1000:g} health_fail={int(cfg.health_fail)}")
        while not self.stop.wait(1.0):
            pass
        log(f"SIGTERM: draining for {cfg.drain_seconds:g}s (/healthz answers 503)")
        self.draining.set()
        self.hurry.wait(cfg.drain_seconds)
        self.server.shutdown()
        self.server.server_close()
        # let requests already being handled finish (idle keep-alive connections do not count)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and self.in_flight > 0:
            time.sleep(0.05)
        if self.db is not None:
            self.db.close()
        log("stopped")
        return 0


def main():
    global COLUMNS
    cfg = Config()
    COLUMNS = COLUMNS_FROM_3 if schema_generation(cfg.version) >= 3 else COLUMNS_BEFORE_3
    try:
        app = App(cfg)
    except OSError as e:
        log(f"cannot listen on {cfg.host}:{cfg.port}: {e.strerror}")
        return 1
    return app.serve()


if __name__ == "__main__":
    sys.exit(main())
