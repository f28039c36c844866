"""The CLI's start: every command pays it, so only the invoked command's module is imported,
nothing on the way imports pydantic, and help is printed without rich (bench/cli_start.py times
it)."""
import os
import socket
import subprocess
import sys
from pathlib import Path

import typer.main

from cli.main import COMMANDS, build_app, invoked

ROOT = Path(__file__).resolve().parents[2]


def click_commands(app) -> list[str]:
    return sorted(typer.main.get_command(app).commands)


def test_the_whole_cli_has_every_command_of_the_table():
    assert click_commands(build_app()) == sorted(COMMANDS)


def test_one_command_is_built_alone_and_still_named():
    assert click_commands(build_app("deploy")) == ["deploy"]
    assert click_commands(build_app("canary")) == ["canary"]


def test_the_invoked_command_is_the_first_word_when_it_is_one():
    assert invoked(["canary", "status", "todos"]) == "canary"
    assert invoked(["--help"]) is None
    assert invoked([]) is None
    assert invoked(["deplyo"]) is None  # all are built, so click can suggest "deploy"


def imported_after(*argv: str) -> set[str]:
    with socket.socket() as s:  # a port nothing listens on: the read fails at once
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = ("import atexit, sys; atexit.register(lambda: print('MODULES', *sorted(sys.modules)));"
            "sys.argv = ['sentinel', *sys.argv[1:]]; from cli.main import run; run()")
    p = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=60,
                       cwd=ROOT, env={**os.environ, "SENTINEL_URL": f"http://127.0.0.1:{port}",
                                      "SENTINEL_TOKEN": "t"})
    line = next(ln for ln in p.stdout.splitlines() if ln.startswith("MODULES "))
    assert "Traceback" not in p.stderr, p.stderr
    return set(line.split()[1:])


def test_a_read_imports_its_own_command_module_only_and_no_pydantic():
    mods = imported_after("apps", "--json")
    assert "cli.app_cmds" in mods
    assert not mods & {"cli.canary_cmds", "cli.db_cmds", "cli.platform_cmds", "cli.preview_cmds"}
    assert "pydantic" not in mods


def test_help_is_plain_and_loads_no_rich():
    """rich's help panels cost ~150 ms of every `--help`: click's plain help instead."""
    for argv in (["--help"], ["canary", "--help"]):
        assert not {m for m in imported_after(*argv) if m == "rich" or m.startswith("rich.")}, argv
