"""Releases that change the schema, end to end on the real swarm: `sentinel run`, the release
phase and its compatibility check, the contract step after promote under load, rollback with the
database, and a control plane stopped in the middle of a release."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import HTTP, ROOT
from .load import MIN_RATE, Load, Writer
from .test_platform import count_versions, one_clear_error

pytestmark = pytest.mark.e2e

APP, DOMAIN = "shop", "shop.localhost"
BASE = f"http://127.0.0.1:{HTTP}"
SQL = ROOT / "examples/todo/sql"


@pytest.fixture(scope="module")
def shop(platform):
    platform.cli("deploy", "--name", APP, "--image", "todo:1", "--port", "8000", "--db", "postgres",
                 "--db-schema", str(ROOT / "examples/todo/schema.sql"), "--replicas", "2", "--yes")
    yield DOMAIN
    platform.cli("delete", "app", APP, "--delete-data", "--yes", check=False)


def columns(platform) -> list[str]:
    return platform.psql(APP, "select column_name from information_schema.columns "
                              "where table_name = 'todos' order by ordinal_position").splitlines()


def titles(platform) -> list[str]:
    return platform.psql(APP, "select title from todos order by id").splitlines()


def add(platform, title: str) -> None:
    assert platform.http(DOMAIN, "/api/todos", method="POST", json={"title": title}).status_code == 201


def test_sentinel_run_returns_the_commands_exit_code_and_output(platform, shop):
    ok = platform.cli("run", APP, "--", "python3", "migrate.py", "status")
    assert "pending  0001_expand_priority.sql" in ok.stdout
    failed = platform.cli("run", APP, "--", "sh", "-c", "echo boom; exit 3", check=False)
    assert failed.returncode == 3 and "boom" in failed.stdout


def test_bad_release_input_gets_one_clear_sentence_and_changes_nothing(platform, shop, tmp_path):
    platform.cli("deploy", "--name", "nodb", "--image", "todo:1", "--port", "8000", "--yes")
    one_clear_error(platform.cli("canary", "deploy", "nodb", "--image", "todo:2", "--release-command",
                                 "true", "--yes", check=False), "has no database")
    platform.cli("delete", "app", "nodb", "--yes")
    drop = tmp_path / "contract.sql"
    drop.write_text("ALTER TABLE todos DROP COLUMN created_at;\n")
    one_clear_error(platform.cli("canary", "deploy", APP, "--image", "todo:3", "--release-sql", str(drop),
                                 "--yes", check=False), "contract.sql line 1: ban-drop-column", "--allow-destructive")
    conc = tmp_path / "index.sql"
    conc.write_text("CREATE INDEX CONCURRENTLY todos_title ON todos (title);\n")
    one_clear_error(platform.cli("canary", "deploy", APP, "--image", "todo:3", "--release-sql", str(conc),
                                 "--allow-destructive", "--yes", check=False), "--release-command")
    one_clear_error(platform.cli("canary", "deploy", APP, "--image", "todo:3", "--release-sql",
                                 str(tmp_path / "missing.sql"), "--yes", check=False), "does not exist")
    one_clear_error(platform.cli("canary", "deploy", APP, "--image", "todo:3", "--skip-check", "--yes",
                                 check=False), "--release-command")
    one_clear_error(platform.cli("canary", "rollback", APP, "--restore-db", "--yes", check=False), "no canary")
    assert platform.json("canary", "status", APP)["canary"] is None
    assert "created_at" in columns(platform)


def test_a_failing_release_command_is_caught_on_the_copy_and_changes_nothing(platform, shop):
    before = columns(platform)
    proc = platform.cli("canary", "deploy", APP, "--image", "todo:3", "--release-command",
                        "python3 migrate.py up && echo broken >&2 && exit 7", "--yes", check=False)
    one_clear_error(proc, "exit code 7", "on a copy of the database", "nothing real was changed")
    assert platform.json("canary", "status", APP)["canary"] is None
    assert columns(platform) == before
    assert count_versions(platform, DOMAIN, 20) == {"1": 20}
    assert APP in [a["name"] for a in platform.json("apps")]
    assert not [a for a in platform.json("apps") if a["name"].startswith("sentinel-check")]


def test_a_release_that_hangs_is_stopped_and_names_its_restore_point(platform, shop):
    proc = platform.cli("canary", "deploy", APP, "--image", "todo:3", "--release-command", "sleep 120",
                        "--release-timeout", "5s", "--skip-check", "--yes", check=False)
    one_clear_error(proc, "did not finish within 5 s", "production is untouched", "the schema did not change",
                    "--to release-")
    assert platform.json("canary", "status", APP)["canary"] is None


def test_a_migration_that_breaks_production_is_refused_by_the_check(platform, shop):
    before = columns(platform)
    proc = platform.cli("canary", "deploy", APP, "--image", "todo:3", "--release-sql",
                        str(SQL / "rename_title.sql"), "--allow-destructive", "--yes", check=False)
    one_clear_error(proc, "production (todo:1)", "would break it", "nothing real was changed")
    assert columns(platform) == before
    assert platform.json("canary", "status", APP)["canary"] is None


def test_expand_canary_promote_contract_under_load_lose_nothing(platform, shop):
    for i in range(3):
        add(platform, f"before-release-{i}")
    with Load(f"{BASE}/api/todos", DOMAIN) as load, Writer(BASE, DOMAIN, "release") as w:
        platform.cli("canary", "deploy", APP, "--image", "todo:3", "--release-command",
                     "python3 migrate.py up", "--weight", "20", "--yes")
        status = platform.json("canary", "status", APP)["canary"]
        assert status["release"]["restore_point"].startswith("release-")
        assert status["release"]["check"]["passed"] is True
        assert "priority" in columns(platform) and "created_at" in columns(platform)
        time.sleep(3)
        platform.cli("canary", "promote", APP, "--post-promote-command", "python3 migrate.py contract",
                     "--yes")
        time.sleep(3)
    assert load.errors == [] and w.failures == [], (load.errors[:3], w.failures[:3])
    assert load.rate >= MIN_RATE, load.rate
    assert load.versions["3"] > 0
    cols = columns(platform)
    assert "priority" in cols and "created_at" not in cols
    assert count_versions(platform, DOMAIN, 20) == {"3": 20}
    ids = w.ids()
    assert int(platform.psql(APP, f"select count(*) from todos where id in ({','.join(map(str, ids))})")) == len(ids)
    assert "before-release-0" in titles(platform)


def test_rollback_with_the_database_returns_rows_and_schema_of_the_restore_point(platform, shop, tmp_path):
    tags = tmp_path / "tags.sql"
    tags.write_text("ALTER TABLE todos ADD COLUMN tags text;\n")
    before_titles, before_cols = titles(platform), columns(platform)
    platform.cli("canary", "deploy", APP, "--image", "todo:3", "--release-sql", str(tags), "--skip-check",
                 "--weight", "10", "--yes")
    assert "tags" in columns(platform)
    add(platform, "written after the release")
    dry = platform.cli("canary", "rollback", APP, "--restore-db", check=False)
    assert dry.returncode != 0 and "write transaction" in " ".join(dry.stdout.split())
    platform.cli("canary", "rollback", APP, "--restore-db", "--yes")
    assert columns(platform) == before_cols and titles(platform) == before_titles
    assert platform.json("canary", "status", APP)["canary"] is None
    assert platform.http(DOMAIN, "/api/todos").status_code == 200


def test_a_control_plane_stopped_during_the_release_reports_it_and_routes_nothing(platform, shop):
    # Production runs todo:3 by now: the canary is todo:2, so a request routed to it would show.
    assert count_versions(platform, DOMAIN, 5) == {"3": 5}
    proc = subprocess.Popen([str(Path(sys.executable).parent / "sentinel"), "canary", "deploy", APP,
                             "--image", "todo:2", "--release-command", "sleep 20", "--skip-check",
                             "--weight", "50", "--yes"], env=platform.env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while True:
        c = platform.json("canary", "status", APP)["canary"]
        if c and (c.get("release") or {}).get("restore_point"):
            break
        assert time.monotonic() < deadline, c
        time.sleep(1)
    point = c["release"]["restore_point"]
    pid = int((platform.home / "control-plane.pid").read_text().split()[0])
    os.kill(pid, signal.SIGKILL)
    proc.wait(timeout=60)
    platform.cli("server", "start")
    deadline = time.monotonic() + 60
    while (status := platform.json("canary", "status", APP))["canary"]["state"] != "interrupted":
        assert time.monotonic() < deadline, status["canary"]
        time.sleep(1)
    assert any(point in e["message"] for e in status["events"])
    assert count_versions(platform, DOMAIN, 30) == {"3": 30}  # nothing went to the canary
    platform.cli("canary", "rollback", APP, "--yes")
    assert platform.json("canary", "status", APP)["canary"] is None
