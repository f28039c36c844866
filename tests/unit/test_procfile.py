"""control_plane.build.procfile: Procfile parsing, its one-sentence errors, the container argv."""
import pytest

from control_plane.build.procfile import (ProcfileCommandError, ProcfileDuplicateError, ProcfileError,
                                          ProcfileNameError, ProcfileSyntaxError, container_command,
                                          is_simple, parse_procfile)
from control_plane.errors import InvalidInput


def test_processes_in_file_order_with_comments_blank_lines_and_crlf():
    text = ("\ufeff# process types\r\n"
            "web: gunicorn --bind 0.0.0.0:$PORT app:app\r\n"
            "\r\n"
            "   # indented comment\n"
            "worker:python worker.py --queue 'a b'\n"
            "release:   python migrate.py up   \n"
            "clock_2-x: python clock.py\n")
    assert list(parse_procfile(text).items()) == [
        ("web", "gunicorn --bind 0.0.0.0:$PORT app:app"),
        ("worker", "python worker.py --queue 'a b'"),
        ("release", "python migrate.py up"),
        ("clock_2-x", "python clock.py"),
    ]


def test_a_command_may_hold_colons_and_hashes():
    assert parse_procfile("web: node -e 'console.log(1)' # x:y\n") == {
        "web": "node -e 'console.log(1)' # x:y"}


def test_empty_file_has_no_processes():
    assert parse_procfile("") == {}
    assert parse_procfile("# nothing\n\n") == {}


@pytest.mark.parametrize("text, error, line", [
    ("web gunicorn app:app\n", ProcfileSyntaxError, 1),
    ("web: a\n: b\n", ProcfileSyntaxError, 2),
    ("\n\nWeb: gunicorn\n", ProcfileNameError, 3),
    ("web.1: gunicorn\n", ProcfileNameError, 1),
    ("w" * 31 + ": x\n", ProcfileNameError, 1),
    ("web:\n", ProcfileCommandError, 1),
    ("web:    \n", ProcfileCommandError, 1),
    ("web: a\x00b\n", ProcfileCommandError, 1),
    ("web: a\rRUN b\n", ProcfileCommandError, 1),
    ("web: a\nworker: b\nweb: c\n", ProcfileDuplicateError, 3),
])
def test_bad_lines_are_refused_with_their_line_number(text, error, line):
    with pytest.raises(error) as e:
        parse_procfile(text)
    message = str(e.value)
    assert f"line {line}" in message
    assert message.count(". ") == 0 and message.endswith(".")  # one sentence
    assert isinstance(e.value, ValueError) and isinstance(e.value, InvalidInput)
    assert isinstance(e.value, ProcfileError)


def test_an_uppercase_name_is_refused_with_the_lowercase_suggested():
    with pytest.raises(ProcfileNameError, match="'web'"):
        parse_procfile("Web: gunicorn\n")


def test_duplicate_names_the_first_line():
    with pytest.raises(ProcfileDuplicateError, match="already defined on line 1"):
        parse_procfile("web: a\nweb: b\n")


@pytest.mark.parametrize("command, argv", [
    ("gunicorn --bind 0.0.0.0:$PORT app:app", "exec gunicorn --bind 0.0.0.0:$PORT app:app"),
    ("FOO=1 BAR='a b' node server.js", "FOO=1 BAR='a b' exec node server.js"),
    ("exec node server.js", "exec node server.js"),
    ('echo "a; b && c"', 'exec echo "a; b && c"'),
    ("python migrate.py && gunicorn app:app", "python migrate.py && gunicorn app:app"),
    ("a; b", "a; b"),
    ("a | b", "a | b"),
    ("a > log", "a > log"),
    ("(cd sub && a)", "(cd sub && a)"),
    ("a\nb", "a\nb"),
    ("a 'unbalanced", "a 'unbalanced"),
])
def test_container_command_execs_a_simple_command_only(command, argv):
    assert container_command(command) == ["sh", "-c", argv]


def test_is_simple():
    assert is_simple("node server.js --flag=$PORT")
    assert not is_simple("node a.js & node b.js")
