"""Previews' pure rules (services/previews.py): names, time to live, what a preview inherits."""
import pytest

from control_plane import names
from control_plane.errors import InvalidInput
from control_plane.records import App, Preview
from control_plane.services.previews import DEFAULT_TTL, expired, preview_env, ttl_seconds


def test_a_preview_is_an_app_named_after_its_parent_at_an_address_under_the_parents():
    assert names.preview_app("todos", "pr-42") == "todos-pr-42"
    assert names.preview_domain("todos.example.com", "pr-42") == "pr-42.todos.example.com"


@pytest.mark.parametrize("value,seconds", [(None, DEFAULT_TTL), ("72h", 72 * 3600), ("3d", 3 * 86400),
                                          ("10m", 600), ("30d", 30 * 86400)])
def test_ttl(value, seconds):
    assert ttl_seconds(value) == seconds


@pytest.mark.parametrize("value,said", [("soon", "is not a duration such as 90m, 72h or 3d"),
                                        ("5m", "a preview lives from 10m to 30d"),
                                        ("31d", "a preview lives from 10m to 30d")])
def test_a_bad_ttl_is_one_sentence(value, said):
    with pytest.raises(InvalidInput, match=said):
        ttl_seconds(value)


def test_a_preview_gets_productions_variables_only_when_asked_and_its_own_over_them():
    parent = App(name="todos", image="t:1", env={"API_KEY": "prod-secret", "MODE": "prod"})
    own = Preview(parent="todos", name="pr-1", env={"MODE": "preview"})
    assert preview_env(parent, own) == ["MODE=preview"]
    assert sorted(preview_env(parent, own.changed(inherit_env=True))) == [
        "API_KEY=prod-secret", "MODE=preview"]


def test_expired_previews_are_those_whose_time_is_up_and_never_an_app_of_its_own():
    def app(name, expires_at):
        return App(name=name, image="t:1", preview=Preview(parent="todos", name=name[6:],
                                                           expires_at=expires_at))
    apps = [App(name="todos", image="t:1"), app("todos-a", 100.0), app("todos-b", 300.0)]
    assert [a.name for a in expired(apps, 200.0)] == ["todos-a"]
    assert not App(name="todos", image="t:1").preview and apps[1].backed_up is False
    assert App(name="todos", image="t:1").backed_up


def test_a_preview_runs_one_task_of_each_process_type_at_its_own_address():
    from types import SimpleNamespace

    from control_plane.records import Process
    from control_plane.services.previews import PreviewService

    svc = PreviewService(SimpleNamespace(store=None), None, None, None, None)
    parent = App(name="todos", image="t:1", domain="todos.example.com", port=9000,
                 health_path="/up", processes={"worker": Process(command="w", replicas=4)})
    p = Preview(parent="todos", name="pr-1", data="copy", env={"A": "1"})
    body = svc._body(parent, p, "t:2")
    assert (body.name, body.domains, body.port, body.health_path, body.replicas, body.env) == (
        "todos-pr-1", ["pr-1.todos.example.com"], 9000, "/up", 1, ["A=1"])
    assert {k: (s.command, s.replicas) for k, s in body.processes.items()} == {"worker": ("w", 1)}
    built = svc._body(parent, p, "t:2", {"mailer": "m"})  # a built source's own types
    assert {k: (s.command, s.replicas) for k, s in built.processes.items()} == {"mailer": ("m", 1)}
    assert body.db is None and svc._body(parent, p.changed(data="empty"), "t:2").db == "postgres"
    seeded = svc._body(parent, p.changed(data="seed", seed_sql="CREATE TABLE t (a int);"), "t:2")
    assert (seeded.db, seeded.db_ha, seeded.db_schema) == ("postgres", False, "CREATE TABLE t (a int);")
