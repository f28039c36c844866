"""How the CLI follows an operation: its steps shown as they are, its failure as a typed error."""
import pytest

from cli import output
from cli.client import CommandFailed


class FakeClient:
    """The control plane's answers to `wait`: the operation's events, then its end."""

    def __init__(self, status, events, result=None, error=None, code=None):
        self.op = {"status": status, "result": result, "error": error, "error_code": code}
        self.events = events

    def wait(self, op_id, on_event=None):
        for i, message in enumerate(self.events):
            on_event({"id": i + 1, "message": message})
        return self.op


def test_steps_are_shown_as_text_never_as_markup(capsys):
    client = FakeClient("succeeded", ["#5 [deps 2/5] RUN apt-get update", "[bold]not bold[/]"],
                        result={"image": "reg/shop:src-1"})
    out = output.run_operation(client, {"operation": "op1"}, done_message="done")
    shown = capsys.readouterr().out
    assert "#5 [deps 2/5] RUN apt-get update" in shown and "[bold]not bold[/]" in shown
    assert out == {"image": "reg/shop:src-1"}


def test_a_failed_operation_is_the_control_planes_typed_error():
    client = FakeClient("failed", [], error="the build failed at #9: no such package",
                        code="command_failed")
    with pytest.raises(CommandFailed, match="the build failed at #9"):
        output.run_operation(client, {"operation": "op1"})
