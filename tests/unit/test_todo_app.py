"""Tests of the demo to-do app (examples/todo/app.py), run as a real process over HTTP.

Most tests run the app with no database.  The Postgres tests start a throwaway local
server (initdb/pg_ctl from /usr/local/bin, run as an unprivileged user when the tests run
as root); they fail, never skip, when it cannot be started.  They need psycopg2
(psycopg2-binary) in the test environment, as the app itself does.
"""

import glob
import http.client
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

import pytest

TODO_DIR = Path(__file__).resolve().parents[2] / "examples" / "todo"
APP = TODO_DIR / "app.py"
SCHEMA = TODO_DIR / "schema.sql"

CLEARED_ENV = ("DATABASE_URL", "PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE",
               "PGPASSWORD_FILE", "APP_VERSION", "APP_VERSION_FILE", "FAULT_ERROR_RATE",
               "FAULT_LATENCY_MS", "FAULT_HEALTH_FAIL", "DRAIN_SECONDS", "PORT", "HOST")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def text(self):
        return self.body.decode("utf-8")

    def json(self):
        return json.loads(self.body)


class AppProcess:
    def __init__(self, log_path, **env):
        self.port = free_port()
        self.log_path = log_path
        full_env = {k: v for k, v in os.environ.items() if k not in CLEARED_ENV}
        full_env.update(HOST="127.0.0.1", PORT=str(self.port),
                        APP_VERSION_FILE=os.devnull, PYTHONUNBUFFERED="1")
        full_env.update({k: str(v) for k, v in env.items()})
        self.log_file = open(log_path, "wb")
        self.proc = subprocess.Popen([sys.executable, str(APP)], env=full_env,
                                     stdout=self.log_file, stderr=subprocess.STDOUT)
        self._wait_ready()

    def log(self):
        return Path(self.log_path).read_text(errors="replace")

    def _wait_ready(self):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"app exited with {self.proc.returncode} at start:\n{self.log()}")
            try:
                if self.request("GET", "/version").status == 200:
                    return
            except OSError:
                time.sleep(0.05)
        pytest.fail(f"app did not answer within 10 s:\n{self.log()}")

    def request(self, method, path, body=None, headers=None, timeout=5):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return Response(r.status, r.headers, r.read())
        finally:
            conn.close()

    def get(self, path):
        return self.request("GET", path)

    def post_json(self, path, obj=None):
        body = json.dumps(obj if obj is not None else {}).encode()
        return self.request("POST", path, body, {"Content-Type": "application/json"})

    def post_form(self, path, fields=None):
        body = urllib.parse.urlencode(fields or {}).encode()
        return self.request("POST", path, body,
                            {"Content-Type": "application/x-www-form-urlencoded"})

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.log_file.close()


@pytest.fixture
def start_app(tmp_path):
    started = []

    def start(**env):
        app = AppProcess(tmp_path / f"app{len(started)}.log", **env)
        started.append(app)
        return app

    yield start
    for app in started:
        app.stop()


# -- no database ---------------------------------------------------------------------

def test_healthz_ok_without_database(start_app):
    app = start_app(APP_VERSION="1")
    r = app.get("/healthz")
    assert r.status == 200
    assert r.text == "ok"
    assert r.headers["X-App-Version"] == "1"
    assert r.headers["X-App-Host"] == socket.gethostname()


def test_version_json_and_headers(start_app):
    app = start_app(APP_VERSION="7")
    r = app.get("/version")
    assert r.status == 200
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json() == {"version": "7", "hostname": socket.gethostname()}
    for path in ("/", "/api/todos", "/nope", "/api/nope"):
        r = app.get(path)
        assert r.headers["X-App-Version"] == "7", path
        assert r.headers["X-App-Host"] == socket.gethostname(), path


def test_version_falls_back_to_baked_file(start_app, tmp_path):
    version_file = tmp_path / "VERSION"
    version_file.write_text("42\n")
    app = start_app(APP_VERSION_FILE=version_file)
    assert app.get("/version").json()["version"] == "42"
    assert app.get("/healthz").headers["X-App-Version"] == "42"


def test_index_without_database_renders_empty_list_and_notice(start_app):
    app = start_app(APP_VERSION="1")
    r = app.get("/")
    assert r.status == 200
    assert r.headers["Content-Type"].startswith("text/html")
    assert "No database configured" in r.text
    assert '<form class="add" method="post" action="/todos">' in r.text
    assert "<li" not in r.text  # no items
    assert app.request("HEAD", "/").status == 200


def test_api_without_database_is_503_json(start_app):
    app = start_app()
    r = app.get("/api/todos")
    assert r.status == 503
    assert "error" in r.json()
    assert app.post_json("/api/todos", {"title": "x"}).status == 503
    assert app.post_form("/todos", {"title": "x"}).status == 503
    assert app.get("/healthz").status == 200  # no DB configured is healthy
    assert app.proc.poll() is None


def test_v1_and_v2_look_different(start_app):
    v1 = start_app(APP_VERSION="1").get("/").text
    v2 = start_app(APP_VERSION="2").get("/").text
    assert ">v1<" in v1 and ">v2<" in v2
    assert "new!" in v2 and "new!" not in v1
    assert "#1d4ed8" in v1 and "#15803d" in v2  # blue header, green header


def test_fault_error_rate_one_fails_everything_but_health_and_version(start_app):
    app = start_app(APP_VERSION="2", FAULT_ERROR_RATE="1")
    for _ in range(5):
        r = app.get("/")
        assert r.status == 500
        assert r.headers["X-App-Version"] == "2"
    r = app.get("/api/todos")
    assert r.status == 500
    assert "error" in r.json()
    assert app.post_json("/api/todos", {"title": "x"}).status == 500
    assert app.get("/healthz").status == 200
    assert app.get("/version").status == 200


def test_fault_error_rate_is_a_fraction(start_app):
    app = start_app(FAULT_ERROR_RATE="0.5")
    statuses = {app.get("/").status for _ in range(60)}
    assert statuses == {200, 500}  # all equal has probability 2**-59


def test_fault_keeps_keepalive_connection_in_step(start_app):
    # A 500 answered before the body was read would leave the body in the stream.
    app = start_app(FAULT_ERROR_RATE="1")
    conn = http.client.HTTPConnection("127.0.0.1", app.port, timeout=5)
    try:
        for _ in range(3):
            conn.request("POST", "/api/todos", body=b'{"title": "x"}',
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            assert r.status == 500
    finally:
        conn.close()


def test_fault_latency(start_app):
    app = start_app(FAULT_LATENCY_MS="2000")
    t0 = time.monotonic()
    assert app.get("/").status == 200
    assert time.monotonic() - t0 >= 2.0
    t0 = time.monotonic()
    assert app.get("/healthz").status == 200
    assert time.monotonic() - t0 < 1.5  # the health check is never slowed


def test_fault_health_fail(start_app):
    app = start_app(FAULT_HEALTH_FAIL="1")
    r = app.get("/healthz")
    assert r.status == 503
    assert r.headers["X-App-Version"]
    assert app.get("/").status == 200
    assert app.get("/version").status == 200


def test_request_log_lines(start_app):
    app = start_app()
    app.get("/healthz")
    app.get("/api/todos?secret=1")
    time.sleep(0.1)
    lines = app.log().splitlines()
    assert any(line.startswith("GET /healthz 200 ") and line.endswith("ms") for line in lines)
    assert any(line.startswith("GET /api/todos 503 ") for line in lines)
    assert "secret" not in app.log()  # query strings are not logged


def test_sigterm_drains_then_exits_zero(start_app):
    # The drain is long enough that a loaded machine still makes its requests inside it; each
    # answer after SIGTERM proves the app serves while draining (it stops listening after).
    app = start_app(DRAIN_SECONDS="3")
    assert app.get("/healthz").status == 200
    t0 = time.monotonic()
    app.proc.send_signal(signal.SIGTERM)
    while app.get("/healthz").status != 503:
        assert time.monotonic() - t0 < 2.5, "healthz did not turn 503 after SIGTERM"
        time.sleep(0.02)
    # still serving during the drain, and telling keep-alive clients to reconnect
    r = app.get("/")
    assert r.status == 200
    assert r.headers["Connection"] == "close"
    assert app.get("/version").status == 200
    assert app.proc.wait(timeout=10) == 0
    assert time.monotonic() - t0 >= 2.9
    with pytest.raises(OSError):
        app.get("/healthz")
    assert "draining" in app.log()


def test_sigterm_lets_request_in_flight_finish(start_app):
    app = start_app(DRAIN_SECONDS="0.1", FAULT_LATENCY_MS="1000")
    result = {}

    def slow():
        result["status"] = app.request("GET", "/", timeout=10).status

    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.3)
    app.proc.send_signal(signal.SIGTERM)
    assert app.proc.wait(timeout=5) == 0
    thread.join(5)
    assert result.get("status") == 200


def test_database_down_is_503_and_never_logs_password(start_app, tmp_path):
    secret_file = tmp_path / "pgpass"
    secret_file.write_text("file-secret-xyz\n")
    closed_port = free_port()  # nothing listens there
    app = start_app(DATABASE_URL=f"postgresql://todo:url-secret-abc@127.0.0.1:{closed_port}/todo",
                    PGPASSWORD_FILE=secret_file, DRAIN_SECONDS="0")
    assert app.get("/healthz").status == 503
    r = app.get("/api/todos")
    assert r.status == 503
    assert r.json()["error"] == "database unavailable"
    assert app.post_json("/api/todos", {"title": "x"}).status == 503
    page = app.get("/")
    assert page.status == 503
    assert "Database unavailable" in page.text
    assert app.get("/version").status == 200
    assert app.proc.poll() is None
    app.proc.send_signal(signal.SIGTERM)
    app.proc.wait(timeout=10)
    log = app.log()
    assert f"host=127.0.0.1 port={closed_port}" in log
    for secret in ("url-secret-abc", "file-secret-xyz"):
        assert secret not in log
        assert secret not in r.text


# -- with a real PostgreSQL ----------------------------------------------------------

def _pg_tool(name):
    candidates = [f"/usr/local/bin/{name}", shutil.which(name) or ""]
    candidates += sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    for path in candidates:
        if path and os.access(path, os.X_OK):
            return path
    pytest.fail(f"PostgreSQL tool {name!r} not found (looked in /usr/local/bin, PATH, "
                "/usr/lib/postgresql/*/bin): cannot run the Postgres tests")


def _psycopg2():
    try:
        import psycopg2
    except ImportError:
        pytest.fail("the Postgres tests need psycopg2 in the test environment "
                    "(pip install psycopg2-binary)")
    return psycopg2


class LocalPostgres:
    PASSWORD = "pg-test-secret"

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="todo-pg-"))
        self.data = self.dir / "data"
        self.sockets = self.dir / "sock"
        self.logfile = self.dir / "postgres.log"
        self.pwfile = self.dir / "pw"
        self.sockets.mkdir()
        self.pwfile.write_text(self.PASSWORD + "\n")
        self.port = free_port()
        self.prefix = []
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            nobody = pwd.getpwnam("nobody")
            for path in (self.dir, self.sockets, self.pwfile):
                os.chown(path, nobody.pw_uid, nobody.pw_gid)
            runuser = shutil.which("runuser")
            if not runuser:
                pytest.fail("running as root and `runuser` is missing: cannot start Postgres "
                            "as an unprivileged user")
            self.prefix = [runuser, "-u", "nobody", "--"]
        self.initdb()
        self.start()

    def _run(self, args, timeout=30):
        try:
            return subprocess.run(self.prefix + args, cwd=self.dir, capture_output=True,
                                  text=True, timeout=timeout)
        except (OSError, subprocess.TimeoutExpired) as e:
            pytest.fail(f"local Postgres: {args[0]} failed: {e}")

    def _log(self):
        try:
            return self.logfile.read_text(errors="replace")
        except OSError:
            return ""

    def initdb(self):
        r = self._run([_pg_tool("initdb"), "-D", str(self.data), "-U", "postgres",
                       "--auth=scram-sha-256", f"--pwfile={self.pwfile}", "-E", "UTF8",
                       "--locale=C", "--no-sync"])
        if r.returncode != 0:
            pytest.fail(f"local Postgres: initdb failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")

    def start(self):
        opts = (f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 "
                "-c fsync=off -c full_page_writes=off -c synchronous_commit=off")
        r = self._run([_pg_tool("pg_ctl"), "-D", str(self.data), "-l", str(self.logfile),
                       "-o", opts, "-w", "-t", "15", "start"])
        if r.returncode != 0:
            pytest.fail(f"local Postgres: pg_ctl start failed ({r.returncode}):\n"
                        f"{r.stdout}\n{r.stderr}\n{self._log()}")

    def stop(self, mode="fast"):
        self._run([_pg_tool("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"])

    def connect(self):
        return _psycopg2().connect(host="127.0.0.1", port=self.port, user="postgres",
                                   password=self.PASSWORD, dbname="postgres")

    def url(self):  # no password: the app reads it from PGPASSWORD_FILE
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def cleanup(self):
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def postgres():
    _psycopg2()
    pg = LocalPostgres()
    try:
        with pg.connect() as conn, conn.cursor() as cur:
            cur.execute(SCHEMA.read_text())
        yield pg
    finally:
        pg.cleanup()


def _db_rows(pg):
    conn = pg.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT id, title, done FROM todos ORDER BY id")
            return cur.fetchall()
    finally:
        conn.close()


def _start_with_db(start_app, pg, **env):
    return start_app(DATABASE_URL=pg.url(), PGPASSWORD_FILE=pg.pwfile, **env)


def test_postgres_crud(start_app, postgres):
    with postgres.connect() as conn, conn.cursor() as cur:
        cur.execute("TRUNCATE todos RESTART IDENTITY")
    app = _start_with_db(start_app, postgres, APP_VERSION="1")
    assert app.get("/healthz").status == 200
    assert app.get("/api/todos").json() == []

    r = app.post_json("/api/todos", {"title": "buy milk"})
    assert r.status == 201
    milk = r.json()
    assert milk["title"] == "buy milk" and milk["done"] is False
    assert isinstance(milk["id"], int) and milk["created_at"]
    walk = app.post_json("/api/todos", {"title": "<b>walk</b> the dog"}).json()

    r = app.post_json(f"/api/todos/{milk['id']}/toggle")
    assert r.status == 200
    assert r.json()["done"] is True
    assert app.post_json("/api/todos/999999/toggle").status == 404
    assert app.post_json("/api/todos", {"title": "  "}).status == 400
    assert app.request("POST", "/api/todos", b"not json").status == 400

    listed = app.get("/api/todos").json()
    assert [(t["id"], t["title"], t["done"]) for t in listed] == [
        (milk["id"], "buy milk", True), (walk["id"], "<b>walk</b> the dog", False)]

    # the HTML form flow
    r = app.post_form("/todos", {"title": "water plants"})
    assert r.status == 303 and r.headers["Location"] == "/"
    r = app.post_form(f"/todos/{walk['id']}/toggle")
    assert r.status == 303 and r.headers["Location"] == "/"
    page = app.get("/").text
    assert "buy milk" in page and "water plants" in page
    assert "&lt;b&gt;walk&lt;/b&gt; the dog" in page and "<b>walk" not in page
    assert "No database configured" not in page

    assert _db_rows(postgres) == [
        (milk["id"], "buy milk", True),
        (walk["id"], "<b>walk</b> the dog", True),
        (walk["id"] + 1, "water plants", False),
    ]
    assert LocalPostgres.PASSWORD not in app.log()


def test_postgres_reconnects_after_connections_drop_and_outage(start_app, postgres):
    app = _start_with_db(start_app, postgres, DB_HEALTH_GRACE="0")
    for _ in range(3):
        assert app.get("/api/todos").status == 200
    # kill the app's pooled connections behind its back: the next request must not fail
    with postgres.connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = 'todo'")
        assert cur.rowcount >= 1
    assert app.get("/api/todos").status == 200
    assert app.get("/healthz").status == 200

    postgres.stop()
    assert app.get("/healthz").status == 503
    assert app.get("/api/todos").status == 503
    assert app.proc.poll() is None  # a DB error never takes the process down
    postgres.start()
    assert app.get("/healthz").status == 200
    assert app.get("/api/todos").status == 200


def test_a_short_database_outage_keeps_healthz_up_but_a_task_that_never_reached_it_is_down(
        start_app, postgres):
    app = _start_with_db(start_app, postgres)  # DB_HEALTH_GRACE: 30 s by default
    assert app.get("/healthz").status == 200
    postgres.stop()
    try:
        r = app.get("/healthz")
        assert r.status == 200 and "database unreachable" in r.text
        assert app.get("/api/todos").status == 503  # requests do fail: only the task is kept
        fresh = _start_with_db(start_app, postgres)
        assert fresh.get("/healthz").status == 503
    finally:
        postgres.start()


def test_expand_then_contract_keeps_each_running_version_working(start_app):
    """The demo's release path on a real Postgres: v1 runs; the expand migration (v3's release
    command) leaves v1 working; v3 runs on it; the contract step (after promote) removes what only
    v1 read, and only then does v1 stop working."""
    pg = LocalPostgres()
    try:
        with pg.connect() as conn, conn.cursor() as cur:
            cur.execute(SCHEMA.read_text())
        env = {**os.environ, "DATABASE_URL": pg.url(), "PGPASSWORD_FILE": str(pg.pwfile)}

        def migrate(cmd):
            return subprocess.run([sys.executable, str(TODO_DIR / "migrate.py"), cmd], env=env,
                                  capture_output=True, text=True, timeout=60)

        v1 = _start_with_db(start_app, pg, APP_VERSION="1")
        assert v1.post_json("/api/todos", {"title": "before"}).status == 201
        up = migrate("up")
        assert up.returncode == 0 and "applied 0001_expand_priority.sql" in up.stdout
        assert migrate("up").stdout.strip() == "no expand migration to apply"
        assert v1.get("/api/todos").status == 200
        assert v1.post_json("/api/todos", {"title": "v1 after expand"}).status == 201
        v3 = _start_with_db(start_app, pg, APP_VERSION="3")
        rows = v3.get("/api/todos").json()
        assert [r["title"] for r in rows] == ["before", "v1 after expand"]
        assert rows[0]["priority"] == 0 and "created_at" not in rows[0]
        contract = migrate("contract")
        assert contract.returncode == 0 and "0002_contract_drop_created_at.sql" in contract.stdout
        assert v3.get("/api/todos").status == 200
        assert v1.get("/api/todos").status == 503  # what the contract step must wait for
        assert "applied  0002_contract_drop_created_at.sql" in migrate("status").stdout
    finally:
        pg.cleanup()
