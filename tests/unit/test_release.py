"""Release options as the API receives them: what is refused before anything starts."""
import pytest

from control_plane.errors import InvalidInput
from control_plane.models import ReleaseOptions
from control_plane.records import App, Database
from control_plane.services import release

APP = App(name="todos", db=Database(user="todos", name="todos", secret="todos-db-password"))


def refused(opts: ReleaseOptions, app=APP) -> str:
    with pytest.raises(InvalidInput) as e:
        release.validate(app.name, bool(app.db), opts)
    msg = e.value.message
    assert "\n" not in msg  # one sentence for the CLI's one line
    return msg


def test_a_release_needs_a_database_and_one_kind_of_release():
    assert "has no database" in refused(ReleaseOptions(command="true"), App(name="web", db=None))
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
    release.validate(APP.name, bool(APP.db), ReleaseOptions(sql=sql, sql_name="0002.sql", allow_destructive=True))


def test_sql_that_cannot_run_in_one_transaction_is_refused_even_when_allowed():
    msg = refused(ReleaseOptions(sql="CREATE INDEX CONCURRENTLY i ON todos (title);",
                                 allow_destructive=True))
    assert "--allow-destructive" not in msg and "--release-command" in msg


def test_the_expand_migration_of_the_demo_passes():
    from pathlib import Path

    sql = (Path(__file__).resolve().parents[2] / "examples/todo/migrations/0001_expand_priority.sql").read_text()
    release.validate(APP.name, bool(APP.db), ReleaseOptions(sql=sql))


def test_commands_run_through_the_images_shell():
    assert release.shell("python migrate.py up && echo ok") == ["sh", "-c", "python migrate.py up && echo ok"]


def test_schema_diff_names_what_changed():
    before = "column public.todos.created_at timestamp with time zone NO"
    after = "column public.todos.priority integer NO"
    d = release.ReleaseService.schema_diff(before, after)
    assert d == f"+ {after}; - {before}"


@pytest.mark.parametrize("output, outcome, code, refuses", [
    ("status 200\n", "answered", "200", False),
    ("status 404\n", "answered", "404", False),
    ("status 500\n", "server_error", "500", True),
    ("status 503\n", "server_error", "503", True),
    ("status 000\n", "no_answer", "000", True),       # curl: refused, reset or timed out
    ("", "no_answer", "000", True),                    # the probe printed nothing at all
    ("curl: (7) Failed\nstatus \n", "no_answer", "000", True),
    ("status 307\n", "redirect", "307", False),        # Kinto's / : reads no table
    ("status 301\n", "redirect", "301", False),
])
def test_the_check_probe_never_passes_without_an_answer(output, outcome, code, refuses):
    v = release.probe_verdict(output)
    assert (v.outcome, v.code, v.refuses) == (outcome, code, refuses)


def test_the_probe_asks_the_health_path_and_the_home_page_unless_told_and_quotes_the_url():
    def app(path):
        return App(name="todos", health_path=path)

    assert release.probe_paths(app("/healthz"), ReleaseOptions(command="x")) == ["/healthz", "/"]
    assert release.probe_paths(app(None), ReleaseOptions(command="x")) == ["/"]
    assert release.probe_paths(app("/"), ReleaseOptions(command="x")) == ["/"]
    assert release.probe_paths(app("/healthz"),
                               ReleaseOptions(command="x", check_path="/api/todos")) == ["/api/todos"]
    argv = release.probe_argv("http://shop_web:8000/a b';rm -rf /")
    assert argv[0] == "-c" and len(argv) == 2
    assert "'http://shop_web:8000/a b'\"'\"';rm -rf /'" in argv[1]
    assert "-m 5" in argv[1] and "seq 1 5" in argv[1] and argv[1].endswith('echo "status $code"')


def test_a_check_path_must_be_a_path():
    assert "must be a path" in refused(ReleaseOptions(command="true", check_path="healthz"))
    release.validate(APP.name, bool(APP.db), ReleaseOptions(command="true"))  # no path: the app's health path
