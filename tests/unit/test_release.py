"""Release options as the API receives them: what is refused before anything starts."""
import pytest

from control_plane.errors import InvalidInput
from control_plane.models import ReleaseOptions
from control_plane.services import release

APP = {"name": "todos", "db": {"user": "todos"}}


def refused(opts: ReleaseOptions, app=APP) -> str:
    with pytest.raises(InvalidInput) as e:
        release.validate(app, opts)
    msg = e.value.message
    assert "\n" not in msg  # one sentence for the CLI's one line
    return msg


def test_a_release_needs_a_database_and_one_kind_of_release():
    assert "has no database" in refused(ReleaseOptions(command="true"), {"name": "web", "db": None})
    assert "not both" in refused(ReleaseOptions(command="true", sql="select 1;"))
    assert "needs --release-command" in refused(ReleaseOptions())
    assert "empty" in refused(ReleaseOptions(command="   "))
    assert "between 1s and 24h" in refused(ReleaseOptions(command="true", timeout=0))
    assert "--skip-check" in refused(ReleaseOptions(command="true", skip_check=True, smoke_command="x"))


def test_destructive_sql_is_refused_with_the_rule_the_line_and_the_way_out():
    sql = "ALTER TABLE todos ADD COLUMN priority int;\nALTER TABLE todos DROP COLUMN created_at;\n"
    msg = refused(ReleaseOptions(sql=sql, sql_name="0002.sql"))
    assert msg.startswith("0002.sql line 2: ban-drop-column (destructive)")
    assert "--allow-destructive" in msg and "contract" in msg
    release.validate(APP, ReleaseOptions(sql=sql, sql_name="0002.sql", allow_destructive=True))


def test_sql_that_cannot_run_in_one_transaction_is_refused_even_when_allowed():
    msg = refused(ReleaseOptions(sql="CREATE INDEX CONCURRENTLY i ON todos (title);",
                                 allow_destructive=True))
    assert "--allow-destructive" not in msg and "--release-command" in msg


def test_the_expand_migration_of_the_demo_passes():
    from pathlib import Path

    sql = (Path(__file__).resolve().parents[2] / "examples/todo/migrations/0001_expand_priority.sql").read_text()
    release.validate(APP, ReleaseOptions(sql=sql))


def test_commands_run_through_the_images_shell():
    assert release.shell("python migrate.py up && echo ok") == ["sh", "-c", "python migrate.py up && echo ok"]


def test_schema_diff_names_what_changed():
    before = "column public.todos.created_at timestamp with time zone NO"
    after = "column public.todos.priority integer NO"
    d = release.ReleaseService.schema_diff(before, after)
    assert d == f"+ {after}; - {before}"
