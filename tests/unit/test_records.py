"""The typed records round-trip through the store, read what older stores wrote, and refuse a
field that does not exist."""
import json

import pydantic
import pytest

from control_plane.records import App, Canary, Database, Member, Node, Plan
from control_plane.store import Store


def an_app() -> App:
    return App(name="todos", image="todo:1", cluster_image="reg/todo:1", domain="todos.localhost",
               domains=["todos.localhost", "todo.example.com"], replicas=2, env={"A": "1"},
               resources={"cpu": 0.5, "memory": "256Mi"}, health_path="/healthz", created_at=1.5,
               edge_slot=3, policy={"notify": [{"webhook": {"url": "https://n.example.com/"}}]},
               db=Database(user="todos", name="todos", secret="todos-db-password", ha=True,
                           members=[Member(index=0, node="c-node-1"),
                                    Member(index=1, node="c-node-0", stopped=True)]))


def test_an_app_and_its_canary_come_back_from_the_store_as_they_went_in(tmp_path):
    store = Store(tmp_path / "state.db")
    app = an_app()
    canary = Canary(app="todos", image="todo:2", cluster_image="reg/todo:2", weight=10,
                    env_unset=["A"], baseline=True, started_at=2.0, state="running",
                    release={"restore_point": "pre-release-1"},
                    progressive=Plan(steps=[10, 50], interval=60.0, auto_promote=True,
                                     pauses=[None, "approve"], step_started=2.0, next_at=62.0))
    store.put_app(app)
    store.put_canary(canary)
    assert store.app("todos") == app and store.apps() == [app]
    assert store.canary("todos") == canary and store.canaries() == [canary]
    back = store.require_app("todos")
    assert [m.key for m in back.db.running()] == ["pg-0"] and back.db.member("pg-1").stopped
    assert store.canary("todos").restore_point == "pre-release-1"
    assert store.canary("todos").progressive.weight == 10


def test_a_record_written_before_the_records_reads_back(tmp_path):
    """Stores keep the JSON they always kept: an old row (fewer keys, a key since dropped) reads
    with the defaults, and a canary from before its own resources runs with production's."""
    store = Store(tmp_path / "state.db")
    old_app = {"name": "shop", "image": "shop:7", "cluster_image": "reg/shop:7", "port": 8000,
               "domain": "shop.localhost", "replicas": 1, "env": {}, "db": None,
               "created_at": 0, "retired_key": True}
    old_canary = {"app": "shop", "image": "shop:8", "weight": 5, "replicas": 1, "sticky": True,
                  "progressive": {"steps": [5], "step_index": 0, "interval": 30, "auto_promote": False,
                                  "step_started": 0, "next_at": 30, "holds": 0, "state": "running"}}
    store._q("INSERT INTO apps(name, spec, created_at) VALUES(?,?,0)", ("shop", json.dumps(old_app)))
    store._q("INSERT INTO canaries(app, spec, created_at) VALUES(?,?,0)", ("shop", json.dumps(old_canary)))
    app, canary = store.require_app("shop"), store.canary("shop")
    assert app.domains == [] and app.edge_slot is None and app.policy is None
    assert canary.mirror == 0 and canary.progressive.data_holds == 0 and canary.progressive.poll_at == 0
    assert canary.resources_or({"cpu": 1.0}) == {"cpu": 1.0}
    assert Canary(app="shop", image="shop:8", resources=None).resources_or({"cpu": 1.0}) is None


def test_a_field_that_does_not_exist_is_refused_and_changed_leaves_the_record_alone():
    app = an_app()
    with pytest.raises(ValueError):
        app.imgae = "todo:2"
    moved = app.changed(replicas=4)
    moved.db.members[0].node = "c-node-2"
    assert (app.replicas, app.db.members[0].node) == (2, "c-node-1")
    with pytest.raises(pydantic.ValidationError):
        Member(index="first", node="c-node-0")


def test_nodes_round_trip_without_their_private_address(tmp_path):
    store = Store(tmp_path / "state.db")
    store.set_nodes([Node(name="c-node-0", role="manager", address="10.0.0.10", state="ready",
                          private_address="172.16.0.10"),
                     Node(name="c-backup", role="backup", address="10.0.0.9")])
    assert [(n.name, n.role, n.state) for n in store.nodes()] == [
        ("c-backup", "backup", "unknown"), ("c-node-0", "manager", "ready")]
    assert store.backup_node().address == "10.0.0.9"
