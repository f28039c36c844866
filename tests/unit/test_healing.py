"""Nodes that heal (control_plane/services/healing.py): which nodes are helped and when, and
what a round does with a node that answers and with one that does not. The store is real; ssh
is replaced by what each node would answer."""
from control_plane.services import healing
from control_plane.services.healing import (ANSWERING_FOR, DOWN_FOR, RETRY_AFTER, NodeHealer, due,
                                            engine_restart_argv)
from control_plane.store import Store


def test_the_engine_is_restarted_through_the_init_system():
    assert engine_restart_argv() == ["service", "docker", "restart"]


def test_a_node_is_helped_only_after_a_minute_down_and_not_again_at_once():
    since, ready = due({"n0": "ready", "n1": "down"}, {}, {}, now=1000.0)
    assert since == {"n1": 1000.0} and ready == []
    since, ready = due({"n0": "ready", "n1": "down"}, since, {}, now=1000.0 + DOWN_FOR)
    assert ready == ["n1"]
    # restarted a moment ago: left alone until RETRY_AFTER has passed
    assert due({"n1": "down"}, since, {"n1": 1060.0}, now=1100.0)[1] == []
    assert due({"n1": "down"}, since, {"n1": 1060.0}, now=1060.0 + RETRY_AFTER)[1] == ["n1"]
    # back up: forgotten, so a later outage waits its own minute
    assert due({"n1": "ready"}, since, {}, now=2000.0) == ({}, [])


class NoApps:
    """A swarm with no app service: the spreading part of a round has nothing to do."""
    def out(self, argv, **kw):
        assert argv[:3] == ["docker", "service", "ls"], argv
        return ""


class Platform:
    state = "ready"
    docker = NoApps()

    def __init__(self, store, states):
        self.store, self.states = store, states

    def node_states(self):
        return self.states

    def node_address(self, name):
        return {"n1": "10.0.0.12", "n2": "10.0.0.13"}.get(name)


class Jobs:
    def __init__(self, busy=False):
        self.is_busy = busy

    def busy(self, target):
        return {"kind": "scale"} if self.is_busy and target == "cluster" else None


class Proc:
    def __init__(self, code):
        self.returncode = code


def test_a_round_restarts_the_engine_of_a_node_that_answers_and_names_one_that_does_not(tmp_path, monkeypatch):
    ran = []

    def run(host, *argv, **kw):
        ran.append((host, list(argv)))
        return Proc(0 if host == "10.0.0.12" else 255)  # n1 answers, n2 is gone

    monkeypatch.setattr(healing.ssh, "run", run)
    store = Store(tmp_path / "state.db")
    healer = NodeHealer(Platform(store, {"n0": "ready", "n1": "down", "n2": "down"}), Jobs())
    assert healer.round(1000.0) == []  # just seen down
    # down a minute, and answering: it may still be joining by itself (a node just restarted)
    assert healer.round(1000.0 + DOWN_FOR) == []
    assert healer.round(1000.0 + DOWN_FOR + ANSWERING_FOR) == ["n1"]
    assert ("10.0.0.12", engine_restart_argv()) in ran
    assert not [a for h, a in ran if h == "10.0.0.13" and a == engine_restart_argv()]
    events = {e["kind"]: e["message"] for e in store.events(target="cluster")}
    assert events["node-heal"] == "n1 was listed down for 90 s while it answered: its engine was restarted"
    assert events["node-down"].startswith("n2 has been down for 60 s and cannot be reached")
    # The unreachable node is named once, not every round.
    healer.round(1000.0 + DOWN_FOR + ANSWERING_FOR + 20)
    assert [e["kind"] for e in store.events(target="cluster")].count("node-down") == 1


def test_nothing_is_touched_while_a_cluster_operation_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(healing.ssh, "run", lambda *a, **k: (_ for _ in ()).throw(AssertionError("ssh")))
    healer = NodeHealer(Platform(Store(tmp_path / "state.db"), {"n1": "down"}), Jobs(busy=True))
    assert healer.round(1000.0) == [] and healer.round(1000.0 + 10 * DOWN_FOR) == []


def test_a_manager_brought_up_to_date_is_named_by_its_node(tmp_path, monkeypatch):
    from control_plane.records import Node

    store = Store(tmp_path / "state.db")
    store.set_nodes([Node(name="n1", role="manager", address="10.0.0.12")])
    healer = NodeHealer(Platform(store, {"n0": "ready", "n1": "ready"}), Jobs())
    monkeypatch.setattr(healer.edge, "catch_up", lambda: ["10.0.0.12", "10.0.0.99"])
    healer.round(1000.0)
    said = [e["message"] for e in store.events(target="cluster") if e["kind"] == "edge-caught-up"]
    assert said == ["n1 missed route changes while it was away: it has every app's routes again",
                    "the manager at 10.0.0.99 missed route changes while it was away: it has every "
                    "app's routes again"]
