"""The data side end to end on the real swarm, as a user sees it: a standby on another node,
point-in-time restore, restore drills, the primary's node killed under load, a node lost for
good, and node changes that keep every row. Runs first (file order) on the shared platform and
removes its app at the end."""
from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from collections import Counter

import httpx
import pytest

from .conftest import HTTP, NAME, ROOT
from . import rows
from .load import Reader, Writer
from .rows import two_batches, utc_now
from .test_platform import one_clear_error

pytestmark = pytest.mark.e2e

APP, DOMAIN = "ledger", "ledger.localhost"
BASE = f"http://127.0.0.1:{HTTP}"


@pytest.fixture(scope="module")
def ledger(platform):
    platform.cli("deploy", "--name", APP, "--image", "todo:1", "--port", "8000", "--db", "postgres",
                 "--db-schema", str(ROOT / "examples/todo/schema.sql"), "--replicas", "2", "--yes")
    yield DOMAIN
    platform.cli("delete", "app", APP, "--delete-data", "--yes", check=False)
    # A test that failed half way may leave a third node: the modules after this one share the
    # platform and expect the two nodes of INIT.
    if len(platform.json("cluster", "inspect")["nodes"]) != 2:
        platform.cli("cluster", "scale", "--nodes", "2", "--yes", check=False, timeout=900)


def add(platform, title: str) -> int:
    return rows.add(platform, DOMAIN, title)


def titles(platform, app: str = APP) -> list[str]:
    return platform.psql(app, "select title from todos order by id").splitlines()


def present(platform, ids: list[int]) -> int:
    return int(platform.psql(APP, f"select count(*) from todos where id in ({','.join(map(str, ids))})"))


def wait_healthy_pair(platform, timeout: float = 180) -> dict:
    """Until both members run and the standby streams with a known lag."""
    deadline = time.monotonic() + timeout
    while True:
        s = platform.json("db", "status", APP)
        if (s["primary"] and len(s["standbys"]) == 1 and s["standbys"][0]["state"] in ("running", "streaming")
                and s["standbys"][0]["lag_bytes"] is not None and s["standbys"][0]["sync"]):
            return s
        assert time.monotonic() < deadline, s
        time.sleep(2)


def patroni_loop_wait(platform) -> int:
    """The loop_wait the database's Patroni runs with now (its dynamic config in etcd)."""
    primary = platform.json("db", "status", APP)["primary"]["member"]
    node, cid = platform.task_container(f"{APP}_{primary}")
    p = platform.node_exec(node, "docker", "exec", cid, "curl", "-fsS", "http://127.0.0.1:8008/config")
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)["loop_wait"]


class Prober:
    """GETs the app page every 50 ms and counts the answers (codes and failures)."""

    def __init__(self, host: str):
        self.host, self.codes, self._stop = host, Counter(), threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=5, headers={"Host": self.host}) as c:
            while not self._stop.is_set():
                try:
                    self.codes[c.get(f"{BASE}/api/todos").status_code] += 1
                except httpx.HTTPError as e:
                    self.codes[type(e).__name__] += 1
                time.sleep(0.05)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join(timeout=10)


def test_the_database_has_a_standby_on_another_node_and_the_app_role_is_not_a_superuser(platform, ledger):
    s = wait_healthy_pair(platform)
    assert s["ha"] is True
    assert s["primary"]["node"] == f"{NAME}-node-1"  # off node 0, which carries the edge
    assert [m["node"] for m in s["standbys"]] == [f"{NAME}-node-0"]
    assert platform.psql(APP, "select rolsuper from pg_roles where rolname = current_user") == "f"
    assert platform.psql(APP, "select pg_get_userbyid(datdba) from pg_database "
                              "where datname = current_database()") == APP
    add(platform, "first")
    out = platform.cli("db", "psql", APP, "-c", "select title from todos").stdout
    assert "first" in out
    # psql as the app's role cannot reach a shell in the database's container
    proc = platform.cli("db", "psql", APP, "-c", "\\! id", check=False)
    assert proc.returncode != 0 and "restricted" in proc.stderr and "uid=" not in proc.stdout


def test_bad_database_input_gets_one_clear_sentence_and_changes_nothing(platform, ledger):
    before = platform.json("db", "status", APP)["members"]
    one_clear_error(platform.cli("db", "restore", "ghost", "--to", "latest", "--yes", check=False),
                    "no app named")
    one_clear_error(platform.cli("db", "restore", APP, "--to", "yesterday noon", "--yes", check=False),
                    "is not a time")
    one_clear_error(platform.cli("db", "switchover", APP, "--to", "pg-9", "--yes", check=False),
                    "not a member")
    one_clear_error(platform.cli("db", "ha", APP, "--on", check=False), "already has a standby")
    one_clear_error(platform.cli("cluster", "scale", "--nodes", "1", "--yes", check=False),
                    "fewer copies", APP, "nothing was changed")
    one_clear_error(platform.cli("delete", "app", APP, "--yes", check=False), "--keep-data", "--delete-data")
    one_clear_error(platform.cli("destroy", "--yes", check=False), "--delete-data", APP)
    platform.cli("deploy", "--name", "plain", "--image", "todo:1", "--port", "8000", "--yes")
    one_clear_error(platform.cli("db", "switchover", "plain", "--yes", check=False), "has no database")
    one_clear_error(platform.cli("db", "backup", "plain", check=False), "has no database")
    platform.cli("delete", "app", "plain", "--yes")
    platform.cli("db", "backup", APP)
    one_clear_error(platform.cli("db", "restore", APP, "--to", "2001-01-01T00:00:00Z", "--yes",
                                 check=False), "before the recoverable window")
    one_clear_error(platform.cli("db", "restore", APP, "--to", "2099-01-01T00:00:00Z", "--yes",
                                 check=False), "in the future")
    one_clear_error(platform.cli("db", "restore", APP, "--to", "latest", "--into", APP, "--yes",
                                 check=False), "already exists")
    assert len(platform.json("cluster", "inspect")["nodes"]) == 2
    assert platform.json("db", "status", APP)["members"] == before
    assert "first" in titles(platform)


def test_point_in_time_restore_lands_exactly_between_two_batches_and_can_be_undone(platform, ledger):
    kept = titles(platform)
    batch_a, target, batch_b = two_batches(platform, DOMAIN)
    # Without --yes (and no terminal) it says what it would discard and changes nothing.
    dry = platform.cli("db", "restore", APP, "--to", target, check=False)
    said = " ".join(dry.stdout.split())
    n = re.search(r"(\d+) write transaction\(s\)", said)
    # Batch b's 5 inserts at least (the platform may have written too: it is counted honestly).
    assert dry.returncode != 0 and n and int(n.group(1)) >= 5, said
    assert titles(platform) == kept + batch_a + batch_b
    with Prober(DOMAIN) as probe:
        out = platform.cli("db", "restore", APP, "--to", target, "--yes").stdout
        time.sleep(1)
    assert set(probe.codes) <= {200, 503}, probe.codes  # 503 while it runs, never a 404
    assert probe.codes[503] > 0, probe.codes
    assert "does not answer yet" not in out, out  # traffic came back once the app answered
    assert titles(platform) == kept + batch_a
    undo = re.search(r"sentinel db restore \S+ --to (pre-restore-\S+)", out).group(1)
    platform.cli("db", "restore", APP, "--to", undo, "--yes")
    assert titles(platform) == kept + batch_a + batch_b
    wait_healthy_pair(platform)


def test_a_restore_into_a_new_app_leaves_production_untouched(platform, ledger):
    target = utc_now()
    time.sleep(1)
    add(platform, "after the copy")
    copy = "ledger-copy"
    platform.cli("db", "restore", APP, "--to", target, "--into", copy, "--yes")
    try:
        assert titles(platform, copy) == titles(platform)[:-1]
        assert platform.psql(copy, "select current_user") == "ledger_copy"
        assert titles(platform)[-1] == "after the copy"
    finally:
        platform.cli("delete", "app", copy, "--delete-data", "--yes")


def test_a_restore_drill_passes_and_a_damaged_backup_fails_it(platform, ledger):
    platform.cli("db", "verify", APP)
    assert platform.json("db", "status", APP)["last_drill"]["passed"] is True
    platform.cli("db", "backup", APP, "--type", "full")
    label = platform.json("db", "backups", APP)["backups"][-1]["label"]
    oid = platform.psql(APP, "select oid from pg_database where datname = current_database()")
    pg_class = f"/var/lib/sentinel/backups/{APP}/backup/{APP}/{label}/pg_data/base/{oid}/1259.lz4"
    backup_node = f"{NAME}-backup"
    subprocess.run(["docker", "exec", backup_node, "sh", "-c",
                    f"cp {pg_class} /tmp/keep && head -c 64 /dev/urandom | "
                    f"dd of={pg_class} bs=1 seek=100 conv=notrunc 2>/dev/null"], check=True)
    try:
        proc = platform.cli("db", "verify", APP, check=False)
        one_clear_error(proc, "restore drill of ledger failed")
        drill = platform.json("db", "status", APP)["last_drill"]
        assert drill["passed"] is False and drill["backup"] == label
    finally:
        subprocess.run(["docker", "exec", backup_node, "cp", "/tmp/keep", pg_class], check=True)
    platform.cli("db", "backup", APP, "--type", "full")


def start_once_swarm_saw_it_down(platform, node: str, timeout: float = 60, via: str = "0") -> None:
    """Start a killed node once the swarm has marked it down, as after a real crash and reboot.
    A node back within swarm's heartbeat window can be marked down after it registered again
    and stay so (a swarmkit race, seen once in 5 quick restarts on Docker 26: docs/benchmarks.md)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        p = platform.node_exec(via, "docker", "node", "inspect", node, "--format", "{{.Status.State}}")
        if p.stdout.strip() == "down":
            break
        time.sleep(1)
    subprocess.run(["docker", "start", node], check=True, capture_output=True)


def test_killing_the_primarys_node_under_load_loses_no_acknowledged_row(platform, ledger):
    s = wait_healthy_pair(platform)
    if s["primary"]["node"] != f"{NAME}-node-1":
        platform.cli("db", "switchover", APP, "--yes")
        # the switchover returns once the old primary is the synchronous standby again
        assert platform.json("db", "status", APP)["standbys"][0]["sync"]
    victim = f"{NAME}-node-1"
    assert platform.json("db", "status", APP)["primary"]["node"] == victim
    try:
        with Writer(BASE, DOMAIN, "kill") as w:
            time.sleep(3)
            killed_at = time.monotonic()
            subprocess.run(["docker", "kill", victim], check=True, capture_output=True)
            dead_at = time.monotonic()
            deadline = dead_at + 90
            # settled: every write sent before the node was surely dead has ended, writes succeed
            # again and none has failed for 3 s
            while (time.monotonic() - dead_at < Writer.TIMEOUT + 1 or w.quiet_for() < 3
                   or w.back_after(killed_at) is None):
                assert time.monotonic() < deadline, w.failures[-5:]
                time.sleep(0.5)
        back_after = w.back_after(killed_at)
        assert back_after is not None, ("writes failed again after they were back", w.failures[-5:])
        print(f"writes back {back_after:.1f} s after the node was killed")  # figures: bench/data.py
        assert back_after < 45
    finally:  # the node comes back whatever happened, so the module's next tests find two nodes
        start_once_swarm_saw_it_down(platform, victim)
    ids = w.ids()
    assert len(ids) > 20
    assert present(platform, ids) == len(ids)  # every acknowledged row is there
    s = wait_healthy_pair(platform, timeout=240)
    assert s["primary"]["node"] == f"{NAME}-node-0"
    platform.cli("db", "switchover", APP, "--yes")
    assert platform.json("db", "status", APP)["primary"]["node"] == victim


def test_a_single_copy_whose_node_is_lost_comes_back_from_its_backups(platform, ledger):
    """Without a standby the repository is the second copy: the only member's node lost for good,
    the database comes back on the other node with at most the last 60 s (archive_timeout) lost."""
    s = wait_healthy_pair(platform)
    if s["primary"]["node"] != f"{NAME}-node-1":
        platform.cli("db", "switchover", APP, "--yes")
    assert patroni_loop_wait(platform) == 1  # a standby to hand over to: watched every second
    platform.cli("db", "ha", APP, "--off", "--yes")
    # alone, the member needs no fast failure detection: Patroni acts every 10 s (idle cost)
    assert patroni_loop_wait(platform) == 10
    victim = f"{NAME}-node-1"
    with Writer(BASE, DOMAIN, "single") as w:
        time.sleep(3)
        backup_started = time.monotonic()
        platform.cli("db", "backup", APP)
        time.sleep(3)
        killed_at = time.monotonic()
        subprocess.run(["docker", "kill", victim], check=True, capture_output=True)
        time.sleep(1)
    deadline = time.monotonic() + 90
    while not any("--to latest" in a for a in platform.json("db", "status", APP)["actions"]):
        assert time.monotonic() < deadline, "the lost node was never reported"
        time.sleep(3)
    try:
        out = platform.cli("db", "restore", APP, "--to", "latest", "--yes", timeout=900).stdout
        assert f"onto {NAME}-node-0" in out, out
        s = platform.json("db", "status", APP)
        assert s["primary"]["node"] == f"{NAME}-node-0"
        have = set(map(int, platform.psql(APP, "select id from todos").split()))
        missing = [(t, i) for t, i in w.acked if i not in have]
        print(f"single copy, node lost: {len(missing)} of {len(w.acked)} acknowledged rows lost")
        assert all(t > backup_started for t, _ in missing), missing[:5]  # the backup had the rest
        assert all(t > killed_at - 61 for t, _ in missing)
        assert platform.http(DOMAIN, "/api/todos").status_code == 200
    finally:
        subprocess.run(["docker", "start", victim], check=True, capture_output=True)
    # the old node returns with its stale copy: it stays out of the database, and HA comes back
    deadline = time.monotonic() + 300
    while next(n["state"] for n in platform.json("cluster", "inspect")["nodes"] if n["name"] == victim) != "ready":
        assert time.monotonic() < deadline, f"{victim} did not rejoin the swarm"
        time.sleep(3)
    platform.cli("db", "ha", APP, "--on", "--node", victim, "--yes", timeout=900)
    s = wait_healthy_pair(platform, timeout=300)
    assert s["standbys"][0]["node"] == victim and s["primary"]["node"] == f"{NAME}-node-0"
    assert patroni_loop_wait(platform) == 1
    assert set(map(int, platform.psql(APP, "select id from todos").split())) >= have
    platform.cli("db", "switchover", APP, "--yes")


def node_0_killed_the_edge_moves_and_the_control_plane_goes_on(platform) -> None:
    """3 nodes: node 0 (the first manager) killed under load. The edge's floating address moves to
    another manager's Traefik, reads and writes through it come back, no acknowledged row is lost,
    and the control plane works through another manager (`canary deploy`, `canary traffic`,
    `db status`); node 0, back, gets the routes it missed."""
    edge = platform.json("cluster", "inspect")["edge"]
    vip, first = edge["floating_address"], f"{NAME}-node-0"
    assert vip and edge["addresses"] == [vip], edge
    assert edge["managers"] == [f"{NAME}-node-{i}" for i in range(3)], edge
    vbase = f"http://{vip}"
    assert httpx.get(f"{vbase}/api/todos", headers={"Host": DOMAIN}, timeout=5).status_code == 200
    # The module's earlier kills of node 1 leave production's tasks wherever the swarm restarted
    # them (it never moves them back); the healing loop spreads them again (services/spread.py):
    # wait until its 2 tasks run on 2 nodes, twice in a row (not in the middle of the spreading,
    # when it briefly has 3).
    deadline, seen = time.monotonic() + 180, []
    while len(seen) < 2 or any(len(n) != 2 or len(set(n)) != 2 for n in seen[-2:]):
        assert time.monotonic() < deadline, f"production's tasks stayed on {seen[-1]}"
        time.sleep(3)
        seen.append([t["node"] for t in platform.json("inspect", "app", APP)["tasks"]
                     if t["name"].startswith(f"{APP}_web.") and t["state"] == "running"])
    nodes = seen[-1]
    db = platform.json("db", "status", APP)
    placed = {"primary": db["primary"]["node"], "standbys": [m["node"] for m in db["standbys"]]}
    spread = [e["message"] for e in platform.json("cluster", "inspect")["events"]
              if e["kind"] == "tasks-spread"]
    print(f"production's tasks on {sorted(nodes)}; spread by the healing loop: {spread}; "
          f"database {placed}")
    try:
        with Reader(vbase, DOMAIN, "edge-read") as r, Writer(vbase, DOMAIN, "edge") as w:
            time.sleep(3)
            killed_at = time.monotonic()
            subprocess.run(["docker", "kill", first], check=True, capture_output=True)
            deadline = killed_at + 150
            while (time.monotonic() - killed_at < Writer.TIMEOUT + 1
                   or min(w.quiet_for(), r.quiet_for()) < 3
                   or w.back_after(killed_at) is None or r.back_after(killed_at) is None):
                assert time.monotonic() < deadline, (r.failures[-3:], w.failures[-3:])
                time.sleep(0.5)
            reads_back, writes_back = r.first_back_after(killed_at), w.first_back_after(killed_at)
            settled = time.monotonic()
            after_kill = [f for f in r.failures + w.failures if f[0] >= killed_at]
            # while node 0 is away, through another manager: a canary deployed (its image pushed
            # to the registry, which is on the backup node), its traffic moved, the database's status
            platform.cli("canary", "deploy", APP, "--image", "todo:2", "--weight", "10", "--yes",
                         timeout=600)
            deployed = time.monotonic()
            platform.cli("canary", "traffic", APP, "--weight", "50", timeout=120)
            assert platform.json("db", "status", APP)["primary"]
            time.sleep(1)
        # figures: docs/benchmarks.md ("The edge on every manager")
        print(f"node 0 killed: reads back through {vip} after {reads_back:.1f} s, "
              f"writes after {writes_back:.1f} s; {len(after_kill)} failed requests until "
              f"quiet for 3 s, at {settled - killed_at:.1f} s",
              dict(Counter(what[:40] for _, _, what in after_kill)),
              [(round(t - killed_at, 1), what[:60]) for t, _, what in sorted(after_kill)[::500]])
        # Not bounded tighter than the wait above (150 s): with the tasks spread, a whole-module
        # run still lost the app for 86 s, the database first ("database unavailable" from 26 s,
        # then the health path failing: "no available server", then 404 while Traefik re-listed
        # the service), with a database member on node 0 (docs/operations.md, "Not yet").
        # bench/edge.py has the figures of the edge alone (1.65 s).
        late = sorted((round(f[0] - killed_at, 2), f[2]) for f in r.failures + w.failures
                      if f[0] > settled)
        # Once the edge had moved: the canary (todo:2, version "2") failed no request. A burst of
        # 503s from production was seen once here while the swarm rescheduled node 0's tasks
        # (docs/operations.md, "Not yet"): counted and printed, so the next runs say more.
        print(f"after the edge moved ({settled - killed_at:.1f} s; canary deployed at "
              f"{deployed - killed_at:.1f} s): {len(late)} failed requests", late[:3], late[-3:])
        assert [f for f in late if f[1].split(" ")[1:2] == ["2"]] == [], late[:5]
    finally:
        start_once_swarm_saw_it_down(platform, first, via="1")
    assert len(w.ids()) > 20 and present(platform, w.ids()) == len(w.ids())
    # node 0 back: its Traefik gets the route change it missed (the canary's 50 %)
    routes = f"/etc/sentinel/traefik/dynamic/app-{APP}.yml"
    deadline = time.monotonic() + 180
    while True:
        c = platform.json("cluster", "inspect")
        states = {n["name"]: n["state"] for n in c["nodes"]}
        have = [platform.node_exec(str(i), "cat", routes).stdout for i in (0, 1)]
        if states[first] == "ready" and not c["edge"]["behind"] and have[0] == have[1]:
            break
        assert time.monotonic() < deadline, (states, c["edge"], have)
        time.sleep(3)
    assert "weight: 50" in have[0], have[0]
    platform.cli("canary", "rollback", APP, "--yes", timeout=300)


def test_node_changes_keep_every_row_and_a_lost_node_is_rebuilt(platform, ledger):
    """2 -> 3 nodes (3 managers, 3 etcd members); the standby moved to node 2; node 2 lost for
    good and its member rebuilt elsewhere; 3 -> 2 nodes, all under writes."""
    with Writer(BASE, DOMAIN, "grow") as w:
        platform.cli("cluster", "scale", "--nodes", "3", "--yes")
        nodes = platform.json("cluster", "inspect")["nodes"]
        assert sorted(n["role"] for n in nodes) == ["manager"] * 3
        platform.cli("db", "ha", APP, "--off", "--yes")
        platform.cli("db", "ha", APP, "--on", "--node", f"{NAME}-node-2")
        time.sleep(2)
    assert w.failures == [], w.failures[:5]
    assert present(platform, w.ids()) == len(w.ids())
    s = wait_healthy_pair(platform)
    assert [m["node"] for m in s["standbys"]] == [f"{NAME}-node-2"]

    node_0_killed_the_edge_moves_and_the_control_plane_goes_on(platform)

    # node 2 is lost for good: its standby is rebuilt on node 0
    lost = f"{NAME}-node-2"
    subprocess.run(["docker", "kill", lost], check=True, capture_output=True)
    deadline = time.monotonic() + 90
    while not any("rebuild" in a for a in platform.json("db", "status", APP)["actions"]):
        assert time.monotonic() < deadline
        time.sleep(3)
    with Writer(BASE, DOMAIN, "rebuild") as w:
        platform.cli("db", "rebuild", APP)
        time.sleep(2)
    assert present(platform, w.ids()) == len(w.ids())
    s = wait_healthy_pair(platform)
    assert [m["node"] for m in s["standbys"]] == [f"{NAME}-node-0"]

    with Writer(BASE, DOMAIN, "shrink") as w:
        platform.cli("cluster", "scale", "--nodes", "2", "--yes")
        time.sleep(2)
    assert w.failures == [], w.failures[:5]
    assert present(platform, w.ids()) == len(w.ids())
    nodes = platform.json("cluster", "inspect")["nodes"]
    assert sorted(n["role"] for n in nodes) == ["manager", "worker"]
    assert platform.http(DOMAIN, "/").status_code == 200
