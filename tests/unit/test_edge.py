"""The edge on every manager (control_plane/services/edge.py, control_plane/traefik.py): the
keepalived configuration each manager gets, how route files travel to a manager that is behind,
which managers a write and a check count on, and which manager the control plane talks to."""
import subprocess

import pytest

from cli.platform_cmds import edge_line
from control_plane import names, platform, traefik
from control_plane.records import Node
from control_plane.services.edge import Edge, keepalived_configs, traefik_files
from control_plane.store import Store
from control_plane.templates import TemplateValueError, parse_blocks
from control_plane.traefik import TraefikWriter, Unreachable

MANAGERS = [Node(name=f"c-node-{i}", role="manager", address=f"10.0.0.{10 + i}",
                 private_address=f"172.29.0.{10 + i}") for i in range(3)]


def block(tree: list, *path: str) -> list:
    """The children of the block reached by `path` (each step: the entry's first word)."""
    for key in path:
        tree = next(e[-1] for e in tree if e[0] == key)
    return tree


def test_each_manager_gets_one_vrrp_instance_unicast_to_the_others_node_0_first():
    confs = keepalived_configs(MANAGERS, "172.29.0.8", "eth0", "172.29.0.0/24")
    assert sorted(confs) == [m.name for m in MANAGERS]
    prios = []
    for i, m in enumerate(MANAGERS):
        tree = parse_blocks(confs[m.name])
        inst = block(tree, "vrrp_instance")
        entries = {e[0]: e[1:] for e in inst}
        prios.append(int(entries["priority"][0]))
        assert entries["state"] == ["BACKUP"] and "nopreempt" in entries
        assert entries["interface"] == ["eth0"]
        assert entries["virtual_router_id"] == [str(names.VRRP_ROUTER_ID)]
        assert entries["unicast_src_ip"] == [m.private_address]  # the nodes' own network
        assert [p[0] for p in block(inst, "unicast_peer")] == \
            [o.private_address for o in MANAGERS if o is not m]
        assert block(inst, "virtual_ipaddress") == [["172.29.0.8/24", "dev", "eth0"]]
        assert block(inst, "track_script") == [["traefik"]]
        script = block(tree, "vrrp_script")
        assert f"http://{m.private_address}:8082/ping" in dict((e[0], e[1]) for e in script)["script"]
    assert prios == [150, 140, 130]


def test_a_value_that_is_not_a_token_never_reaches_keepalived():
    with pytest.raises(TemplateValueError):
        keepalived_configs(MANAGERS, "172.29.0.8 }\nvrrp_instance x {", "eth0", "172.29.0.0/24")


def test_the_block_parser_refuses_what_keepalived_would_misread():
    assert parse_blocks("a {\n  b 1\n}\n") == [["a", [["b", "1"]]]]
    for bad in ("a {\n b 1\n", "}\n", 'a "b\n', "a { b }\n"):
        with pytest.raises(TemplateValueError):
            parse_blocks(bad)


def test_traefiks_platform_files_are_listed_for_every_manager(tmp_path):
    (tmp_path / "traefik" / "dynamic").mkdir(parents=True)
    (tmp_path / "traefik" / "dynamic" / "platform.yml").write_text("x")
    (tmp_path / "prometheus").mkdir()
    (tmp_path / "prometheus" / "prometheus.yml").write_text("y")
    assert traefik_files(tmp_path) == [{"src": str(tmp_path / "traefik/dynamic/platform.yml"),
                                        "path": "traefik/dynamic/platform.yml", "mode": "0644"}]


def test_route_files_travel_whole_and_the_receiver_keeps_only_the_senders(tmp_path):
    """The two remote scripts run here against two folders standing for two managers."""
    assert traefik.send_files_argv()[:2] == traefik.receive_files_argv()[:2] == ["sh", "-c"]
    a, b = tmp_path / "a", tmp_path / "b"
    (a / "dynamic").mkdir(parents=True)
    (b / "dynamic").mkdir(parents=True)
    (a / "dynamic" / "app-x.yml").write_text("new x")
    (a / "dynamic" / "platform.yml").write_text("p")
    (a / "dynamic" / ".app-y.yml.tmp").write_text("half")  # a write in flight is not sent
    (b / "dynamic" / "app-x.yml").write_text("old x")
    (b / "dynamic" / "app-gone.yml").write_text("deleted while b was away")

    def local(argv: list[str], root) -> list[str]:
        return [w.replace("/etc/sentinel/traefik", str(root)) for w in argv]

    tar = subprocess.run(local(traefik.send_files_argv(), a), capture_output=True, check=True).stdout
    subprocess.run(local(traefik.receive_files_argv(), b), input=tar, check=True)
    assert {p.name: p.read_text() for p in (b / "dynamic").iterdir()} == \
        {"app-x.yml": "new x", "platform.yml": "p"}
    assert not (b / ".sync").exists()


class Writer(TraefikWriter):
    """Traefik's API answers from a table: manager -> {path: answer}, or Unreachable."""

    def __init__(self, managers, answers, **kw):
        super().__init__(managers, ("admin", "pw"), **kw)
        self.answers = answers

    def _read(self, path, manager):
        got = self.answers[manager]
        if got is Unreachable:
            raise Unreachable(manager)
        return got.get(path)


def test_a_check_holds_on_every_manager_that_answers_and_a_silent_one_is_behind():
    svc = "http/services/s"
    missed = []
    w = Writer(["m0", "m1", "m2"], {"m0": Unreachable, "m1": {svc: {}}, "m2": {svc: {}}},
               on_missed=missed.append)
    assert w.has_service("s") and missed == ["m0"] and w.manager == "m1"
    w = Writer(["m0", "m1"], {"m0": {svc: {}}, "m1": {}})
    assert not w.has_service("s")  # one manager without it: not there yet
    w = Writer(["m0"], {"m0": Unreachable})
    assert not w.has_service("s")  # nobody answered: nothing holds
    # a manager known to be behind is not relied on while another is up to date...
    assert Writer(["m0", "m1"], {"m0": {}, "m1": {svc: {}}}, behind=frozenset({"m0"})).has_service("s")
    # ...and is, when it is the only one
    assert not Writer(["m0"], {"m0": {}}, behind=frozenset({"m0"})).has_service("s")


def test_a_write_stands_when_one_manager_misses_it_and_fails_when_all_do(monkeypatch):
    wrote, missed = [], []

    def run(host, *argv, **kw):
        if host == "m0":
            raise traefik.CommandFailed("ssh: connect to host m0 port 22: No route to host")
        wrote.append((host, kw["input"]))

    monkeypatch.setattr(traefik.ssh, "run", run)
    w = Writer(["m0", "m1", "m2"], {}, on_missed=missed.append)
    w.write("app-x.yml", "routes")
    assert sorted(wrote) == [("m1", "routes"), ("m2", "routes")] and missed == ["m0"]
    with pytest.raises(traefik.CommandFailed):
        Writer(["m0"], {}).write("app-x.yml", "routes")


def test_the_control_plane_keeps_the_manager_it_uses_while_it_answers(tmp_path, monkeypatch):
    store = Store(tmp_path / "state.db")
    store.set_nodes(MANAGERS)
    up = {"10.0.0.10": True, "10.0.0.11": True, "10.0.0.12": True}
    monkeypatch.setattr(platform.ssh, "answers", lambda host: up[host])
    monkeypatch.setattr(platform.ssh, "forget_master", lambda host: None)
    monkeypatch.setattr(platform, "_alive", {})
    monkeypatch.setattr(platform, "_chosen", {})
    p = platform.Platform(store)
    assert p.manager == "10.0.0.10"
    up["10.0.0.10"] = False
    platform._alive.clear()
    assert p.manager == "10.0.0.11"
    assert [n.name for n in p.live_managers()] == ["c-node-1", "c-node-2"]
    up["10.0.0.10"] = True  # back, but its engine may not have rejoined: node 1 stays in use
    platform._alive.clear()
    assert p.manager == "10.0.0.11"


def test_a_manager_that_was_away_catches_up_from_one_that_took_every_write(tmp_path, monkeypatch):
    store = Store(tmp_path / "state.db")
    sent = []

    class P:
        def __init__(self):
            self.store = store

        def live_managers(self):
            return MANAGERS

    monkeypatch.setattr(Edge, "send_routes", staticmethod(lambda a, b: sent.append((a, b))))
    store.put(names.EDGE_BEHIND_KEY, ["10.0.0.10", "10.0.0.99"])  # node 0 back; .99 still away
    assert Edge(P()).catch_up() == ["10.0.0.10"]
    assert sent == [("10.0.0.11", "10.0.0.10")]
    assert store.get(names.EDGE_BEHIND_KEY) == ["10.0.0.99"]
    # every live manager behind: nothing better to copy, so nothing is copied and they count again
    store.put(names.EDGE_BEHIND_KEY, [m.address for m in MANAGERS])
    sent.clear()
    assert Edge(P()).catch_up() == [] and sent == []
    assert store.get(names.EDGE_BEHIND_KEY) == []



def test_cluster_inspect_says_where_the_edge_answers_in_one_line():
    floating = {"addresses": ["172.29.0.8"], "floating_address": "172.29.0.8",
                "managers": ["c-node-0", "c-node-1", "c-node-2"], "behind": ["c-node-0"]}
    assert edge_line(floating) == ("edge: 172.29.0.8 (floating between c-node-0, c-node-1, "
                                   "c-node-2); catching up: c-node-0")
    one = {"addresses": ["127.0.0.1"], "floating_address": "", "managers": ["c-node-0"], "behind": []}
    assert edge_line(one) == "edge: 127.0.0.1 (Traefik on c-node-0)"
