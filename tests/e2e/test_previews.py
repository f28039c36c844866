"""Preview apps, end to end (docs/previews.md): a preview answers at its own address with its own
copy of the app's rows, masked before its first request; what it writes stays in it and what
production writes stays in production; its tasks are in networks of their own and cannot reach
production's database; an update keeps its data, a refresh copies it again; a delete leaves no
service, volume, network or secret; bad input is one sentence and changes nothing."""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from .conftest import ROOT
from .test_copies import other_apps_networks, secret_keys, task_networks

pytestmark = pytest.mark.e2e

APP, DOMAIN = "pv", "pv.localhost"
PREVIEW, PREVIEW_APP, PREVIEW_DOMAIN = "pr-1", "pv-pr-1", "pr-1.pv.localhost"
MASK = "UPDATE todos SET title = 'masked ' || id;\n"


def titles(platform, domain: str) -> list[str]:
    r = platform.http(domain, "/api/todos")
    assert r.status_code == 200, (domain, r.status_code, r.text[:200])
    return sorted(t["title"] for t in r.json())


def on_backup_node(platform, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", "exec", f"{platform.name}-backup", *argv],
                          capture_output=True, text=True, timeout=120)


def swarm_names(platform, kind: str) -> set[str]:
    out = platform.node_exec("0", "docker", kind, "ls", "--format", "{{.Name}}").stdout.split()
    return {n for n in out if PREVIEW_APP in n}


@pytest.fixture(scope="module")
def pv(platform, tmp_path_factory):
    before = secret_keys(platform)
    platform.cli("deploy", "--name", APP, "--image", "todo:1", "--port", "8000", "--db", "postgres",
                 "--db-schema", str(ROOT / "examples/todo/schema.sql"), "--no-db-ha", "--yes")
    for title in ("alice@example.com", "bob@example.com"):
        assert platform.http(DOMAIN, "/api/todos", method="POST",
                             json={"title": title}).status_code == 201
    mask = tmp_path_factory.mktemp("mask") / "mask.sql"
    mask.write_text(MASK)
    yield mask, before
    platform.cli("delete", "app", APP, "--delete-data", "--yes", check=False)


def test_a_preview_answers_with_its_own_masked_copy_in_networks_of_its_own(platform, pv):
    mask, _ = pv
    out = platform.cli("preview", "create", APP, "--name", PREVIEW, "--image", "todo:1",
                       "--mask", str(mask), timeout=900).stdout
    assert PREVIEW_DOMAIN in out, out
    # Masked before its first request: the copy's rows, none of production's emails.
    assert titles(platform, PREVIEW_DOMAIN) == ["masked 1", "masked 2"]
    assert titles(platform, DOMAIN) == ["alice@example.com", "bob@example.com"]
    # What each writes stays its own.
    platform.http(PREVIEW_DOMAIN, "/api/todos", method="POST", json={"title": "preview only"})
    platform.http(DOMAIN, "/api/todos", method="POST", json={"title": "production only"})
    assert "preview only" not in titles(platform, DOMAIN)
    assert "production only" not in titles(platform, PREVIEW_DOMAIN)

    [row] = platform.json("preview", "ls", APP)
    assert (row["name"], row["preview_app"], row["data"], row["masked"]) == (
        PREVIEW, PREVIEW_APP, "copy", "mask.sql")
    assert row["data_point"] and 0 < row["expires_in_seconds"] <= 72 * 3600
    listed = platform.cli("preview", "ls").stdout
    assert PREVIEW in listed and "mask.sql" in listed

    # Its own networks: no other app's, and production's database is not even a name there.
    nets = task_networks(platform, PREVIEW_APP)
    assert nets and not {n for ns in nets.values() for n in ns} & (
        other_apps_networks(platform, {PREVIEW_APP}) | {f"app-{APP}"}), nets
    probe = ("import socket\nfor host in ('pv_db', 'pv_pg-0', 'pv_backup'):\n"
             "    try:\n        socket.create_connection((host, 5432), timeout=3)\n"
             "        print('REACHED', host)\n"
             "    except OSError as e:\n        print('unreachable', host, type(e).__name__)\n")
    said = platform.cli("run", PREVIEW_APP, "--", "python3", "-c", probe, timeout=300).stdout
    printed = [line.split("| ", 1)[1] for line in said.splitlines() if "| " in line]
    assert sorted(printed) == ["unreachable pv_backup gaierror", "unreachable pv_db gaierror",
                               "unreachable pv_pg-0 gaierror"], said


def test_an_update_keeps_the_previews_data_and_a_refresh_copies_it_again(platform, pv):
    platform.cli("preview", "update", APP, PREVIEW, "--image", "todo:2", timeout=600)
    assert platform.http(PREVIEW_DOMAIN, "/version").headers["x-app-version"] == "2"
    assert "preview only" in titles(platform, PREVIEW_DOMAIN)  # its data stayed
    assert platform.http(DOMAIN, "/version").headers["x-app-version"] == "1"  # production's too

    out = platform.cli("preview", "refresh", APP, PREVIEW, "--yes", timeout=900).stdout
    # The app's rows of now, masked again; what the preview wrote is gone; its version stays.
    assert titles(platform, PREVIEW_DOMAIN) == ["masked 1", "masked 2", "masked 3"]
    assert platform.http(PREVIEW_DOMAIN, "/version").headers["x-app-version"] == "2"
    # The copy came from the app's copy source, made by the first preview, not from a restore:
    # with reflinks where this machine lets the backup node have loop devices.
    assert "from pv's copy source" in out and "making pv's copy source" not in out, out
    how = "reflinks" if os.path.exists("/dev/loop-control") else "a plain copy"
    assert f"copy: took the files with {how}" in out, out
    assert "copy: consistent and stopped" in out, out


@pytest.mark.parametrize("args,said", [
    (["create", APP, "--name", "PR_2", "--image", "todo:1"], "preview name 'PR_2' is not valid"),
    (["create", APP, "--name", PREVIEW, "--image", "todo:1"], "pv-pr-1 already exists"),
    (["create", APP, "--name", "pr-3", "--image", "todo:1", "--ttl", "soon"],
     "--ttl 'soon' is not a duration"),
    (["create", APP, "--name", "pr-3", "--image", "todo:1", "--max", "1"],
     "pv has 1 preview(s), the most it may have (1): delete one first"),
    (["create", "nope", "--name", "pr-3", "--image", "todo:1"], "app 'nope' does not exist"),
    (["delete", APP, APP, "--yes"], "pv has no preview 'pv' (it has pr-1)"),
    (["refresh", APP, "pr-9", "--yes"], "pv has no preview 'pr-9'"),
])
def test_bad_preview_input_is_one_sentence_and_changes_nothing(platform, pv, args, said):
    before = [r["preview_app"] for r in platform.json("preview", "ls")]
    proc = platform.cli("preview", *args, check=False)
    assert proc.returncode != 0 and said in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert [r["preview_app"] for r in platform.json("preview", "ls")] == before
    assert titles(platform, DOMAIN)  # production answers


def test_a_seeded_preview_has_a_database_of_its_own_made_by_the_seed_file(platform, pv, tmp_path):
    seed = tmp_path / "seed.sql"
    seed.write_text((ROOT / "examples/todo/schema.sql").read_text()
                    + "INSERT INTO todos (title) VALUES ('seeded one'), ('seeded two');\n")
    platform.cli("preview", "create", APP, "--name", "pr-s", "--image", "todo:1", "--data", "seed",
                 "--seed", str(seed), timeout=900)
    assert titles(platform, "pr-s.pv.localhost") == ["seeded one", "seeded two"]
    [row] = [r for r in platform.json("preview", "ls", APP) if r["name"] == "pr-s"]
    assert (row["data"], row["masked"], row["data_point"]) == ("seed", None, None)
    platform.cli("preview", "delete", APP, "pr-s", "--yes", timeout=600)


def test_a_failing_mask_starts_nothing_and_removes_the_copy(platform, pv, tmp_path):
    bad = tmp_path / "bad.sql"
    bad.write_text("UPDATE todos SET title = 'x';\nUPDATE no_such_table SET a = 1;\n")
    proc = platform.cli("preview", "create", APP, "--name", "pr-2", "--image", "todo:1",
                        "--mask", str(bad), check=False, timeout=900)
    assert proc.returncode != 0, proc.stdout
    assert "the masking script bad.sql failed in Postgres" in proc.stderr, proc.stderr
    assert "no_such_table" in proc.stderr and "its copy was removed" in proc.stderr
    assert not [a for a in platform.json("apps") if a["name"] == "pv-pr-2"]
    assert [r["name"] for r in platform.json("preview", "ls", APP)] == [PREVIEW]


def test_deleting_a_preview_leaves_nothing_of_it(platform, pv):
    _, before = pv
    platform.cli("preview", "delete", APP, PREVIEW, "--yes", timeout=600)
    assert platform.json("preview", "ls", APP) == []
    for kind in ("service", "volume", "network", "secret"):
        assert swarm_names(platform, kind) == set(), kind
    assert not [k for k in secret_keys(platform) - before if PREVIEW_APP in k]
    assert platform.http(PREVIEW_DOMAIN, "/").status_code == 404
    assert titles(platform, DOMAIN)[0] == "alice@example.com"  # production untouched
    assert json.loads(platform.cli("apps", "--json").stdout)  # the app itself is still there
    # Its copy's folder on the backup node is gone; the app's copy source stays for the next.
    copies = on_backup_node(platform, "ls", "-A", "/var/lib/sentinel/fast/pv/copies")
    assert copies.returncode == 0 and copies.stdout.split() == [], copies


def test_deleting_the_app_removes_its_copy_source(platform, pv):
    services = platform.node_exec("0", "docker", "service", "ls", "--format", "{{.Name}}").stdout.split()
    assert "pv_copysource" in services
    platform.cli("delete", "app", APP, "--delete-data", "--yes", timeout=600)
    services = platform.node_exec("0", "docker", "service", "ls", "--format", "{{.Name}}").stdout.split()
    assert not [s for s in services if s.startswith("pv_")], services
    assert on_backup_node(platform, "ls", "/var/lib/sentinel/fast").stdout.split().count("pv") == 0
