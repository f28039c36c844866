"""cli/output.py table(): no name or address is ever cut, in a pipe or a narrow terminal."""
import io
import re

import pytest

from cli.output import as_list, layout, table

NODES = [{"name": "sentinel-local-node-0", "role": "manager", "address": "172.29.0.11",
          "state": "ready", "error": None},
         {"name": "sentinel-local-node-1", "role": "worker", "address": "172.29.0.12",
          "state": "down", "error": "heartbeat failure for node in \"unknown\" state"}]
COLUMNS = [("name", "NODE"), ("role", "ROLE"), ("address", "ADDRESS"), ("state", "STATE"),
           ("error", "ERROR")]


def printed(width: int, tty: bool, rows=NODES, title=None) -> str:
    out = io.StringIO()
    table(rows, COLUMNS, title, file=out, width=width, tty=tty)
    return re.sub(r"\x1b\[[0-9;]*m", "", out.getvalue()) if tty else out.getvalue()


def whole_values(text: str, rows=NODES) -> None:
    assert "…" not in text
    for r in rows:
        for v in r.values():
            assert str(v if v is not None else "-") in text, v


@pytest.mark.parametrize("width", [20, 40, 80, 200])
def test_a_pipe_gets_one_whole_line_per_row_whatever_the_width(width):
    text = printed(width, tty=False)
    whole_values(text)
    lines = text.splitlines()
    assert len(lines) == 4  # heading, rule, two rows
    assert "sentinel-local-node-1" in lines[3] and "heartbeat failure" in lines[3]
    assert "\x1b[" not in text  # no colour codes into a file or a pipe


def test_a_wide_terminal_gets_the_table():
    text = printed(200, tty=True)
    whole_values(text)
    assert sum("sentinel-local-node" in line for line in text.splitlines()) == 2


def test_a_narrow_terminal_gets_a_list_with_every_value_whole():
    text = printed(40, tty=True, title="Nodes")
    whole_values(text)
    assert text.splitlines() == [
        "Nodes",
        "sentinel-local-node-0", "  role: manager", "  address: 172.29.0.11", "  state: ready",
        "  error: -",
        "sentinel-local-node-1", "  role: worker", "  address: 172.29.0.12", "  state: down",
        '  error: heartbeat failure for node in "unknown" state']


def test_layout_rule():
    assert layout(100, 80, tty=False) == "table"
    assert layout(80, 80, tty=True) == "table"
    assert layout(81, 80, tty=True) == "list"


def test_list_of_no_rows_is_empty_and_missing_values_are_dashes():
    assert as_list([], COLUMNS) == []
    assert as_list([{"name": "a"}], [("name", "N"), ("x", "X")]) == ["a", "  x: -"]


def test_markup_in_values_is_printed_as_typed():
    rows = [{**NODES[0], "error": "[bold]not markup[/bold]"}]
    assert "[bold]not markup[/bold]" in printed(200, tty=False, rows=rows)
    assert "[bold]not markup[/bold]" in printed(30, tty=True, rows=rows)
