from control_plane import patroni, topology
from control_plane.records import ClusterOutputs, Member

OUT = {"manager_address": "10.0.0.10", "manager_private_address": "10.0.0.10",
       "worker_addresses": ["10.0.0.11", "10.0.0.12"], "worker_private_addresses": ["10.0.0.11", "10.0.0.12"],
       "ssh_user": "root", "backup_repository": {"type": "node", "name": "c-backup", "address": "10.0.0.9"}}


def test_one_manager_below_three_nodes_then_three():
    two = topology.node_list("c", ClusterOutputs(**{**OUT, "worker_addresses": OUT["worker_addresses"][:1],
                                                    "worker_private_addresses": OUT["worker_private_addresses"][:1]}))
    assert [n.role for n in two] == ["manager", "worker"]
    assert [n.role for n in topology.node_list("c", ClusterOutputs(**OUT))] == ["manager"] * 3


def test_the_backup_node_comes_from_the_outputs_only_when_it_is_a_node():
    assert topology.backup_node(ClusterOutputs(**OUT)).name == "c-backup"
    assert topology.backup_node(ClusterOutputs(**{**OUT, "backup_repository": {"type": "s3"}})) is None
    assert [n.role for n in topology.all_nodes("c", ClusterOutputs(**OUT))][-1] == "backup"


def test_the_primary_starts_off_node_zero_when_it_can():
    assert topology.place_members(["n0", "n1"], 2) == ["n1", "n0"]
    assert topology.place_members(["n0"], 1) == ["n0"]


def test_free_member_index_reuses_the_lowest():
    assert topology.free_index([0, 2], 7) == 1


CLUSTER = {"members": [
    {"name": "pg-0", "role": "leader", "state": "running", "timeline": 3},
    {"name": "pg-1", "role": "sync_standby", "state": "running", "timeline": 3, "lag": 0},
    {"name": "pg-2", "role": "replica", "state": "starting", "timeline": 3, "lag": "unknown"}]}


def test_status_joins_patroni_with_placement_and_node_states():
    placed = [Member(index=0, node="n1"), Member(index=1, node="n0"), Member(index=3, node="n2")]
    s = patroni.summarize(CLUSTER, placed, {"n0": "ready", "n1": "ready", "n2": "down"})
    assert s["primary"]["member"] == "pg-0" and s["primary"]["node"] == "n1"
    assert s["standbys"][0]["sync"] is True and s["standbys"][0]["lag_bytes"] == 0
    lost = s["members"][2]
    assert lost["member"] == "pg-3" and lost["state"] == "node down"


def test_streaming_needs_a_known_small_lag():
    assert patroni.streaming(CLUSTER, "pg-1")
    assert not patroni.streaming(CLUSTER, "pg-2")
    assert not patroni.streaming(CLUSTER, "pg-0")  # the leader
    assert patroni.leader(CLUSTER) == "pg-0" and patroni.sync_standby(CLUSTER) == "pg-1"


def test_status_advice_names_the_lost_member_or_the_restore():
    from control_plane.services.database import advice

    placed = [Member(index=0, node="n1"), Member(index=1, node="n0"), Member(index=3, node="n2")]
    s = patroni.summarize(CLUSTER, placed, {"n0": "ready", "n1": "ready", "n2": "down"})
    assert advice("todos", s) == ["member pg-3 is on n2, which is down: when it will not come "
                                  "back, run `sentinel db rebuild todos`."]
    gone = patroni.summarize(None, placed, {"n0": "down", "n1": "down", "n2": "down"})
    assert advice("todos", gone) == ["no primary is running: if every member is lost, `sentinel "
                                     "db restore todos --to latest --yes` brings the database back "
                                     "from its backups."]


def test_cluster_inspect_says_what_one_node_lost_costs():
    two = topology.single_points(2)
    assert len(two) == 2 and "only swarm manager" in two[0] and "--nodes 3" in two[0]
    assert "edge" in two[1] and "node 0 only" in two[1]
    assert topology.single_points(3) == []  # 3 managers, 3 etcd members, the edge on each manager
    assert "one copy" in topology.single_points(1)[1]
