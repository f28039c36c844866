"""Printing: one clear line for errors, tables for reads, progress for long operations."""
from __future__ import annotations

import json
import sys
import time

import typer

from .client import error_for


class Failure(Exception):
    """Ends the command with one red line and a non-zero exit (1 unless a command's exit codes
    mean something else: `sentinel diff` says "changes" with 1, so its errors exit 2)."""

    def __init__(self, message: str, exit_code: int = 1, code: str = "invalid_input"):
        super().__init__(message)
        self.exit_code = exit_code
        self.code = code


def fail(message: str) -> None:
    raise Failure(message)


def emit_json(data) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def console():
    from rich.console import Console

    return Console(highlight=False)


def cell(row: dict, key: str) -> str:
    value = row.get(key)
    return "-" if value is None else str(value)


def layout(natural: int, width: int, tty: bool) -> str:
    """How a table is printed: "table" (one row per line, nothing cut) or "list" (a block per
    row). A pipe has no width, so it gets whole lines for grep and awk; a terminal too narrow
    for the whole table gets the list, since a folded name or address is as bad as a cut one."""
    return "table" if not tty or natural <= width else "list"


def as_list(rows: list[dict], columns: list[tuple[str, str]]) -> list[str]:
    """Each row as its first value, then one indented `HEADING: value` line per other column."""
    out: list[str] = []
    for r in rows:
        (k0, _), rest = columns[0], columns[1:]
        out.append(cell(r, k0))
        out += [f"  {head.lower() or k}: {cell(r, k)}" for k, head in rest]
    return out


def table(rows: list[dict], columns: list[tuple[str, str]], title: str | None = None, *,
          file=None, width: int | None = None, tty: bool | None = None) -> None:
    """Print rows; no value is ever shortened (rich would end a long one with "…" to fit 80
    columns, and in a pipe that cut names and addresses). file/width/tty: for tests."""
    from rich.console import Console
    from rich.measure import Measurement
    from rich.table import Table
    from rich.text import Text

    out = file or sys.stdout
    tty = out.isatty() if tty is None else tty
    con = Console(file=out, highlight=False, force_terminal=tty if file else None,
                  width=width, no_color=not tty)
    t = Table(title=title, show_edge=False, header_style="bold")
    for _, head in columns:
        t.add_column(head, no_wrap=True, overflow="ignore")
    for r in rows:
        t.add_row(*[Text(cell(r, k)) for k, _ in columns])  # data, never markup
    natural = Measurement.get(con, con.options.update(width=10**6), t).maximum
    if layout(natural, width or con.width, tty) == "list":
        if title:
            con.print(Text(title, style="bold"))
        for line in as_list(rows, columns):
            con.print(Text(line), soft_wrap=True)
        return
    con.width = max(natural, width or con.width) if not tty else con.width
    con.print(t, soft_wrap=False)


def run_operation(client, start_response: dict, done_message=None, json_out: bool = False,
                  emit: bool = True) -> dict:
    """Follow a background operation: each step with elapsed time, then one closing line (with
    --json, only its result; emit=False: not even that, a later operation prints the answer)."""
    if "operation" not in start_response:
        return start_response
    op_id = start_response["operation"]
    con = console()
    started = time.monotonic()
    interactive = sys.stdout.isatty() and not json_out

    def show(ev):
        if not json_out:
            from rich.markup import escape  # with rich, which console() loaded

            # A step is text, never markup: "[deps 2/5]" in a build step must show as it is.
            con.print(f"[dim]{time.monotonic() - started:6.1f}s[/] {escape(ev['message'])}")

    if interactive:
        with con.status("working…", spinner="dots"):
            op = client.wait(op_id, show)
    else:
        op = client.wait(op_id, show)
    took = time.monotonic() - started
    if op["status"] != "succeeded":
        # The same code the control plane raised, so scripts can branch on it (--json prints it).
        raise error_for(op.get("error") or f"the operation ended {op['status']}",
                        op.get("error_code") or op["status"])
    if json_out:
        if emit:
            emit_json(op.get("result"))
    elif done_message:
        msg = done_message(op.get("result")) if callable(done_message) else done_message
        con.print(f"[green]✓[/] {msg} [dim]({took:.1f}s)[/]")
    return op.get("result") or {}


def confirm(question: str, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        fail(f"{question} Add --yes to confirm when not running interactively.")
    import questionary

    if not questionary.confirm(question, default=False).ask():
        raise typer.Exit(1)


def ask(value, question: str, *, default=None, choices=None, flag: str):
    """Prompt for a missing answer on a terminal; without one, say which flag to give."""
    if value is not None:
        return value
    if not sys.stdin.isatty():
        if default is not None:
            return default
        fail(f"{flag} is required when not running interactively.")
    import questionary

    if choices:
        answer = questionary.select(question, choices=choices, default=default).ask()
    else:
        answer = questionary.text(question, default="" if default is None else str(default)).ask()
    if answer is None:
        raise typer.Exit(1)
    return answer
