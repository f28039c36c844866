"""Procfile: one process type per line, `name: command` (Heroku's format, as Dokku reads it).

`web` is the process that is routed and canaried; `release` runs once per release before the new
version takes traffic; any other name runs as a process of its own without traffic. Names are
kept as written but must be lowercase (they become parts of swarm service names).
"""
from __future__ import annotations

import re
import shlex

from ..errors import InvalidInput

WEB = "web"
RELEASE = "release"
NAME = re.compile(r"[a-z0-9_-]+")
NAME_MAX = 15  # `<app>_canary-<process>` within swarm's 63-character service names (apps: 40)
LINE = re.compile(r"^\s*([^:\s]*)\s*:(.*)$")
# Control characters a command cannot hold (a Procfile line is one line; tabs are fine).
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class ProcfileError(InvalidInput, ValueError):
    """A Procfile that cannot be read; the message names the line."""


class ProcfileSyntaxError(ProcfileError):
    pass


class ProcfileNameError(ProcfileError):
    pass


class ProcfileDuplicateError(ProcfileError):
    pass


class ProcfileCommandError(ProcfileError):
    pass


def parse_procfile(text: str) -> dict[str, str]:
    """Process name -> command, in the order of the file."""
    processes: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for number, raw in enumerate(text.removeprefix("\ufeff").split("\n"), start=1):
        line = raw.removesuffix("\r")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = LINE.match(line)
        if not match:
            raise ProcfileSyntaxError(f"Procfile line {number} is not `name: command`; write it "
                                      "as, for instance, `web: gunicorn app:app`.")
        name, command = match.group(1), match.group(2).strip()
        if not name:
            raise ProcfileSyntaxError(f"Procfile line {number} has no process name before ':'; "
                                      "write it as, for instance, `web: gunicorn app:app`.")
        if not NAME.fullmatch(name) or len(name) > NAME_MAX:
            hint = re.sub(r"[^a-z0-9_-]", "-", name.lower())[:NAME_MAX].strip("-") or "web"
            raise ProcfileNameError(f"Procfile line {number}: process name {name!r} may hold only "
                                    f"lowercase letters, digits, _ and - (at most {NAME_MAX}); "
                                    f"write {hint!r} for instance.")
        if not command:
            raise ProcfileCommandError(f"Procfile line {number}: process {name!r} has no command; "
                                       "give the command after the ':'.")
        if CONTROL.search(command):
            raise ProcfileCommandError(f"Procfile line {number}: the command of {name!r} holds a "
                                       "control character; remove it.")
        if name in processes:
            raise ProcfileDuplicateError(f"Procfile line {number}: process {name!r} is already "
                                         f"defined on line {first_line[name]}; keep one of them.")
        processes[name] = command
        first_line[name] = number
    return processes


_ASSIGNMENTS = re.compile(r"""^((?:[A-Za-z_][A-Za-z0-9_]*=(?:'[^']*'|"[^"]*"|[^\s'"])*\s+)*)(.*)$""", re.S)


def is_simple(command: str) -> bool:
    """One command with its arguments: no `;`, `&&`, `|`, redirection, subshell or line break."""
    if "\n" in command or "\r" in command:
        return False
    lexer = shlex.shlex(command, posix=True, punctuation_chars=";&|<>()")
    lexer.whitespace_split = True
    try:
        return not any(t and set(t) <= set(";&|<>()") for t in lexer)
    except ValueError:  # unbalanced quotes: let sh say so
        return False


def container_command(command: str) -> list[str]:
    """The argv that runs a process's command in its container: `sh -c` (so $PORT expands),
    with `exec` before a simple command so the process, not sh, is PID 1 and gets SIGTERM
    (dash neither forwards it nor execs the last command itself: a stop would wait its timeout)."""
    if is_simple(command):
        assignments, rest = _ASSIGNMENTS.match(command).groups()
        if not rest.startswith("exec "):
            command = f"{assignments}exec {rest}"
    return ["sh", "-c", command]
