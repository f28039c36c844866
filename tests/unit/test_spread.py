"""An app's tasks spread over the nodes again (control_plane/services/spread.py): which services
are crowded, what `docker service inspect` JSON says, the argv that moves them, and a round over
a swarm's JSON answers (the store is real; the e2e drill in tests/e2e/test_data.py runs it on a
real swarm)."""
from control_plane.docker_cli import running_task_ids_argv, service_ids_argv, service_replicas_argv
from control_plane.records import SwarmService, Task
from control_plane.services.spread import (RETRY_AFTER, Crowded, Spreader, app_node_names, crowded,
                                           scaled_out)
from control_plane.store import Store
from control_plane.swarm_state import swarm_service


def svc(id="s1", replicas=2, pinned=False, updating=False, role="production"):
    return SwarmService(id=id, name=f"shop_{role}", app="shop", role=role, replicas=replicas,
                        pinned=pinned, updating=updating)


def task(node, service="s1", state="running", desired="running"):
    return Task(id=f"t-{node}", node=node, service_id=service, state=state, desired=desired)


EVERY = {"n0", "n1", "n2"}


def test_tasks_on_one_node_are_crowded_when_another_node_could_take_one():
    [c] = crowded([svc()], [task("n0"), task("n0")], EVERY)
    assert c.nodes == ["n0"] and c.could == 2
    assert crowded([svc()], [task("n0"), task("n1")], EVERY) == []
    # 3 replicas on 2 of 3 nodes: they could run on 3
    assert crowded([svc(replicas=3)], [task("n0"), task("n0"), task("n1")], EVERY)[0].could == 3
    # only one node takes app tasks: nothing better exists
    assert crowded([svc()], [task("n0"), task("n0")], {"n0"}) == []


def test_a_service_that_is_not_settled_or_is_pinned_is_left_to_the_swarm():
    two_on_n0 = [task("n0"), task("n0")]
    assert crowded([svc(updating=True)], two_on_n0, EVERY) == []
    assert crowded([svc(pinned=True)], two_on_n0, EVERY) == []
    assert crowded([svc(replicas=1)], [task("n0")], EVERY) == []
    # one task still starting elsewhere, or wanted stopped: the swarm is still placing them
    assert crowded([svc()], [task("n0"), task("n1", state="starting")], EVERY) == []
    assert crowded([svc(replicas=3)], two_on_n0 + [task("n2", desired="shutdown")], EVERY) == []
    # a task on a node that no longer takes app tasks (drained, down): not judged from here
    assert crowded([svc()], two_on_n0, {"n1", "n2"}) == []
    # another service's tasks do not count
    assert crowded([svc()], [task("n0"), task("n0"), task("n1", service="s2")], EVERY)[0].nodes == ["n0"]


def test_the_nodes_that_take_app_tasks_are_ready_active_and_not_the_backup_node():
    rows = [{"Hostname": "n0", "Status": "Ready", "Availability": "Active"},
            {"Hostname": "n1", "Status": "Down", "Availability": "Active"},
            {"Hostname": "n2", "Status": "Ready", "Availability": "Drain"},
            {"Hostname": "n3", "Status": "Ready", "Availability": "Active"},
            {"Hostname": "backup", "Status": "Ready", "Availability": "Active"}]
    assert app_node_names(rows, "backup") == {"n0", "n3"}
    assert app_node_names(rows, None) == {"n0", "n3", "backup"}


def inspect(name, *, replicas=2, constraints=("node.labels.sentinel.backup != true",),
            max_replicas=0, update=None, global_=False):
    d = {"ID": f"id-{name}", "Spec": {
        "Name": name, "Labels": {"sentinel.app": "shop", "sentinel.role": "production"},
        "Mode": {"Global": {}} if global_ else {"Replicated": {"Replicas": replicas}},
        "TaskTemplate": {"Placement": {"Constraints": list(constraints),
                                       **({"MaxReplicas": max_replicas} if max_replicas else {})}}}}
    if update:
        d["UpdateStatus"] = {"State": update}
    return d


def test_service_inspect_json_is_read_as_a_record():
    s = swarm_service(inspect("shop_web"))
    assert (s.id, s.name, s.app, s.role, s.replicas, s.pinned, s.updating) == \
        ("id-shop_web", "shop_web", "shop", "production", 2, False, False)
    assert swarm_service(inspect("m", constraints=["node.hostname == n1"])).pinned
    assert swarm_service(inspect("proxy", max_replicas=1)).pinned
    assert swarm_service(inspect("w", update="updating")).updating
    assert swarm_service(inspect("w", update="rollback_started")).updating
    assert not swarm_service(inspect("w", update="completed")).updating
    assert swarm_service(inspect("g", global_=True)) is None


def test_the_argvs():
    assert service_ids_argv("sentinel.app") == ["docker", "service", "ls", "-q", "--filter",
                                                "label=sentinel.app"]
    assert running_task_ids_argv(["a", "b"]) == ["docker", "service", "ps", "-q", "--no-trunc",
                                                 "--filter", "desired-state=running", "a", "b"]
    assert service_replicas_argv("shop_web", 3) == ["docker", "service", "update", "--detach=false",
                                                    "--replicas", "3", "shop_web"]


def test_a_crowded_service_is_scaled_out_by_the_nodes_it_lacks():
    assert scaled_out(Crowded(service=svc(), nodes=["n0"], could=2)) == 3
    assert scaled_out(Crowded(service=svc(replicas=4), nodes=["n0"], could=3)) == 6
    assert scaled_out(Crowded(service=svc(replicas=3), nodes=["n0", "n1"], could=3)) == 4


class Swarm:
    """A swarm's answers to the argvs a round sends: shop_web's two tasks both on n0 until it is
    scaled out and back in (then on n0 and n1, as swarm does), unless `stuck`."""
    def __init__(self, stuck=False):
        self.ran, self.stuck, self.nodes, self.replicas = [], stuck, ["N0", "N0"], 2

    def out(self, argv, **kw):
        if argv[:3] == ["docker", "service", "ls"]:
            return "id-shop_web\n"
        assert argv[:3] == ["docker", "service", "ps"], argv
        return "t0\nt1\n"

    def inspect(self, argv, **kw):
        if argv[:3] == ["docker", "service", "inspect"]:
            return [inspect("shop_web", replicas=self.replicas)]
        return [{"ID": t, "ServiceID": "id-shop_web", "NodeID": self.nodes[int(t[1])],
                 "DesiredState": "running", "Status": {"State": "running"}} for t in argv[4:]]

    def json_lines(self, argv, **kw):
        return [{"ID": f"N{i}", "Hostname": f"n{i}", "Status": "Ready", "Availability": "Active"}
                for i in range(3)]

    def run(self, argv, **kw):
        self.ran.append(argv)
        if argv[:5] == ["docker", "service", "update", "--detach=false", "--replicas"]:
            self.replicas = int(argv[5])
        if argv == service_replicas_argv("shop_web", 2) and not self.stuck:
            self.nodes = ["N0", "N1"]


class Platform:
    outputs = None

    def __init__(self, store, stuck=False):
        self.store, self.docker = store, Swarm(stuck)


def test_a_round_scales_a_crowded_service_out_and_back_with_an_event_and_not_while_its_app_is_busy(tmp_path, monkeypatch):
    monkeypatch.setattr("control_plane.services.spread.topology.backup_node", lambda outputs: None)
    p = Platform(Store(tmp_path / "state.db"))
    busy = {"app:shop"}
    spreader = Spreader(p, lambda target: target in busy)
    assert spreader.round(1000.0) == [] and p.docker.ran == []
    busy.clear()
    [moved] = spreader.round(1020.0)
    assert moved.service.name == "shop_web"
    assert p.docker.ran == [service_replicas_argv("shop_web", 3), service_replicas_argv("shop_web", 2)]
    [e] = p.store.events(target="cluster")
    assert e["kind"] == "tasks-spread"
    assert e["message"] == ("shop: the 2 production tasks ran on n0 only: spread to n0 and n1, so "
                            "losing a node leaves the app answering")
    assert spreader.round(1040.0) == [] and len(p.docker.ran) == 2  # spread: nothing to do


def test_replicas_an_operation_set_meanwhile_are_left_as_they_are(tmp_path, monkeypatch):
    monkeypatch.setattr("control_plane.services.spread.topology.backup_node", lambda outputs: None)
    p = Platform(Store(tmp_path / "state.db"))
    scale_out = p.docker.run

    def and_a_user_scales_to_5(argv, **kw):
        scale_out(argv, **kw)
        p.docker.replicas = 5  # `sentinel scale app shop --replicas 5` while the tasks spread

    p.docker.run = and_a_user_scales_to_5
    Spreader(p, lambda target: None).round(1000.0)
    assert p.docker.ran == [service_replicas_argv("shop_web", 3)] and p.docker.replicas == 5


def test_a_service_that_stays_crowded_is_said_and_not_tried_again_for_a_while(tmp_path, monkeypatch):
    monkeypatch.setattr("control_plane.services.spread.topology.backup_node", lambda outputs: None)
    p = Platform(Store(tmp_path / "state.db"), stuck=True)
    spreader = Spreader(p, lambda target: None)
    assert spreader.round(1000.0) == []
    # scaled back to its replicas whatever happened
    assert p.docker.ran[-1] == service_replicas_argv("shop_web", 2)
    [e] = p.store.events(target="cluster")
    assert "could not be spread (now on n0)" in e["message"]
    assert spreader.round(1020.0) == [] and len(p.docker.ran) == 2
    spreader.round(1000.0 + RETRY_AFTER)
    assert len(p.docker.ran) == 4
