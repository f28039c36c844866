"""`sentinel apply / diff` on this side: a bad file fails before any call, in one line with its
key path; diff's exit codes are 0 (same), 1 (changes), 2 (trouble)."""
import os
import subprocess
import sys

import pytest

from cli.manifest_cmds import load
from cli.output import Failure


def sentinel(*args, home):
    return subprocess.run([sys.executable, "-c", "from cli.main import run; run()", *args],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "SENTINEL_HOME": str(home)},
                          cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))


def test_a_bad_file_is_one_line_with_the_key_path(tmp_path):
    f = tmp_path / "todos.yaml"
    f.write_text("app: todos\nimage: todo:1\ncanary: {steps: [{weight: 5}, {weight: 200}], interval: 1m}\n")
    for command, code in (("apply", 1), ("diff", 2)):
        p = sentinel(command, "-f", str(f), home=tmp_path)
        assert p.returncode == code, p.stderr
        assert p.stderr == "error: todos.yaml: canary.steps[1].weight: must be 0..100\n"


def test_diff_exits_2_when_the_control_plane_cannot_be_asked(tmp_path):
    f = tmp_path / "sentinel.yaml"
    f.write_text("app: todos\nimage: todo:1\n")
    p = sentinel("diff", "-f", str(f), "--json", home=tmp_path)
    assert p.returncode == 2 and "sentinel init" in p.stderr


def test_files_the_manifest_names_are_read_next_to_it(tmp_path):
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "3.sql").write_text("alter table t add column c int;\n")
    f = tmp_path / "sentinel.yaml"
    f.write_text("app: todos\nimage: todo:3\nrelease: {sql: migrations/3.sql}\n")
    body = load(str(f))
    assert body["files"] == {"migrations/3.sql": "alter table t add column c int;\n"}
    assert body["manifest"]["release"]["sql"] == "migrations/3.sql" and body["source"] == "sentinel.yaml"
    f.write_text("app: todos\nimage: todo:3\ndatabase: {engine: postgres, schema: nope.sql}\n")
    with pytest.raises(Failure, match=r"^sentinel.yaml: database.schema: nope.sql does not exist"):
        load(str(f))


def test_steps_on_the_command_line_carry_their_gates():
    from cli.canary_cmds import progressive_body

    body = progressive_body("5,20:approve,50:5m", "60s", None, True)
    assert body == {"auto_promote": True, "interval": 60.0,
                    "steps": [5, {"weight": 20, "pause": "approve"}, {"weight": 50, "pause": 300.0}]}
    with pytest.raises(Failure, match="after ':' give approve or a duration"):
        progressive_body("5,20:later", "60s", None, False)
    with pytest.raises(Failure, match="must be whole percentages"):
        progressive_body("5,x", "60s", None, False)
