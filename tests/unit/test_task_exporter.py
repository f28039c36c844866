import importlib.util
import re
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[2] / "images" / "task-exporter" / "exporter.py"
_spec = importlib.util.spec_from_file_location("task_exporter", _PATH)
ex = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ex)

SWARM = {"Id": "c0ffee1234567890", "Names": ["/todos_web.1.abc"],
         "Labels": {"com.docker.swarm.service.id": "svc1",
                    "com.docker.swarm.service.name": "todos_web",
                    "com.docker.swarm.task.id": "task1",
                    "com.docker.swarm.node.id": "nodeid",
                    "com.docker.stack.namespace": "todos"}}
STATS_V1 = {"cpu_stats": {"cpu_usage": {"total_usage": 2_500_000_000}},
            "memory_stats": {"usage": 50_000_000, "limit": 1_000_000_000,
                             "stats": {"total_inactive_file": 10_000_000, "cache": 12_000_000}}}


def test_memory_usage_is_docker_stats_figure():
    assert ex.memory_usage(STATS_V1["memory_stats"]) == 40_000_000                     # cgroup v1
    assert ex.memory_usage({"usage": 100, "stats": {"inactive_file": 30}}) == 70       # cgroup v2
    assert ex.memory_usage({"usage": 100, "stats": {"inactive_file": 300}}) == 100     # never < 0
    assert ex.memory_usage({"usage": 100}) == 100


def test_labels_from_the_service():
    got = ex.task_labels(SWARM, {"sentinel.app": "todos", "sentinel.role": "canary"}, "node-1")
    assert got == {"app": "todos", "role": "canary", "service": "todos_web", "task": "task1",
                   "node": "node-1"}


def test_container_labels_win_and_plain_containers_count():
    plain = {"Id": "abcdef1234567890", "Names": ["/x"],
             "Labels": {"sentinel.app": "x", "sentinel.role": "production"}}
    assert ex.task_labels(plain, {}, "n") == {"app": "x", "role": "production", "service": "x",
                                              "task": "abcdef123456", "node": "n"}


def test_not_an_app_container():
    assert ex.task_labels(SWARM, {"com.docker.stack.namespace": "todos"}, "n") is None
    platform = {**SWARM, "Labels": {**SWARM["Labels"], "com.docker.swarm.service.name":
                                    "sentinel_traefik", "com.docker.stack.namespace": "sentinel"}}
    assert ex.task_labels(platform, None, "n") is None
    assert ex.task_labels({"Id": "x", "Labels": {}}, {}, "n") is None


def test_worker_falls_back_to_the_stack_names():
    # A worker cannot inspect services (service_labels None): <app>_<key> in stack <app>.
    assert ex.task_labels(SWARM, None, "n")["role"] == "production"
    db = {**SWARM, "Labels": {**SWARM["Labels"], "com.docker.swarm.service.name": "todos_db"}}
    assert ex.task_labels(db, None, "n")["role"] == "db"


def test_samples():
    labels = ex.task_labels(SWARM, {"sentinel.app": "todos", "sentinel.role": "production"}, "n")
    got = {s.name: s.value for s in ex.samples(labels, STATS_V1)}
    assert got == {"sentinel_task_cpu_seconds_total": 2.5, "sentinel_task_memory_bytes": 40_000_000,
                   "sentinel_task_memory_limit_bytes": 1_000_000_000}
    assert dict(ex.samples(labels, STATS_V1)[0].labels)["app"] == "todos"
    assert ex.samples(labels, {"memory_stats": {}, "cpu_stats": {}}) == []  # a stopped container
    empty = {"read": "0001-01-01T00:00:00Z", "cpu_stats": {"cpu_usage": {"total_usage": 0}}}
    assert ex.samples(labels, empty) == []  # an engine that cannot read the cgroups


def test_escape():
    assert ex.escape('a"b\\c\nd') == 'a\\"b\\\\c\\nd'


def test_render_text_format():
    key = (("app", 'we"ird'), ("role", "canary"))
    text = ex.render([ex.Sample("sentinel_task_cpu_seconds_total", key, 1.5),
                      ex.Sample("sentinel_task_memory_bytes", key, 1024.0),
                      ex.Sample("sentinel_exporter_scrape_seconds", (), 0.012)])
    lines = text.splitlines()
    assert "# TYPE sentinel_task_cpu_seconds_total counter" in lines
    assert "# TYPE sentinel_task_memory_bytes gauge" in lines
    assert 'sentinel_task_cpu_seconds_total{app="we\\"ird",role="canary"} 1.5' in lines
    assert 'sentinel_task_memory_bytes{app="we\\"ird",role="canary"} 1024' in lines
    assert "sentinel_exporter_scrape_seconds 0.012" in lines
    sample = re.compile(r'^[a-z_]+(\{([a-z]+="([^"\\]|\\.)*",?)*\})? \S+$')
    assert all(ln.startswith("# ") or sample.match(ln) for ln in lines)
    assert text.endswith("\n")


def test_paths():
    assert ex.stats_path("abc") == "/containers/abc/stats?stream=false&one-shot=true"
    assert ex.list_path().startswith("/containers/json?filters=")


def fake_engine(containers: list[dict], stats: dict | None = None):
    """(get, calls): an engine listing `containers`, SWARM's service labelled as todos' baseline,
    answering SWARM's stats with `stats` (if given); `calls` records every path asked."""
    calls = []

    def get(path, sock):
        calls.append(path)
        if path == "/info":
            return {"Name": "node-1"}
        if path.startswith("/containers/json"):
            return containers
        if path == "/services/svc1":
            return {"Spec": {"Labels": {"sentinel.app": "todos", "sentinel.role": "baseline"}}}
        if stats is not None and path == ex.stats_path(SWARM["Id"]):
            return stats
        raise ex.DockerError("no such path", 404)

    return get, calls


def test_collector_with_a_fake_engine():
    get, calls = fake_engine([SWARM, {"Id": "other", "Names": ["/other"], "Labels": {}}], STATS_V1)
    c = ex.Collector(get=get)
    names = [s.name for s in c.collect()]
    assert names.count("sentinel_task_cpu_seconds_total") == 1
    assert names[-1] == "sentinel_exporter_scrape_seconds"
    c.collect()
    assert calls.count("/services/svc1") == 1  # cached
    assert calls.count("/info") == 1


ID = SWARM["Id"]
MEMINFO = "MemTotal:        4000000 kB\nMemFree: 1 kB\n"
V1_FILES = {
    f"/cg/cpuacct/docker/{ID}/cpuacct.usage": "2500000000\n",
    f"/cg/memory/docker/{ID}/memory.usage_in_bytes": "50000000\n",
    f"/cg/memory/docker/{ID}/memory.stat": "cache 12000000\ntotal_cache 12000000\n"
                                           "total_inactive_file 10000000\n",
    f"/cg/memory/docker/{ID}/memory.limit_in_bytes": "9223372036854771712\n",
}
V2_FILES = {
    "/cg/cgroup.controllers": "cpu memory\n",
    f"/cg/system.slice/docker-{ID}.scope/cpu.stat": "usage_usec 2500000\nuser_usec 2000000\n",
    f"/cg/system.slice/docker-{ID}.scope/memory.current": "50000000\n",
    f"/cg/system.slice/docker-{ID}.scope/memory.stat": "anon 1\nfile 2\ninactive_file 10000000\n",
    f"/cg/system.slice/docker-{ID}.scope/memory.max": "1000000000\n",
}


def cgroup_tree(tmp_path, files: dict[str, str]) -> str:
    """The files under a temporary root; returns that root in place of /cg."""
    for path, text in files.items():
        f = tmp_path / path.removeprefix("/cg/")
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
    return str(tmp_path)


@pytest.mark.parametrize("files, limit", [(V1_FILES, 4_096_000_000.0), (V2_FILES, 1_000_000_000.0)])
def test_the_cgroup_files_give_what_the_engines_stats_give(tmp_path, files, limit):
    """cgroup v1 (cgroupfs driver) and v2 (systemd driver): the series are the engine's figures
    (used memory without inactive file cache; no limit -> the node's memory), and the engine is
    asked for the list only."""
    root = cgroup_tree(tmp_path, files)
    meminfo = tmp_path / "meminfo"
    meminfo.write_text(MEMINFO)
    get, calls = fake_engine([SWARM])
    c = ex.Collector(get=get, cgroup=root, meminfo=str(meminfo))
    got = {s.name: s.value for s in c.collect() if s.labels}
    assert got == {"sentinel_task_cpu_seconds_total": 2.5, "sentinel_task_memory_bytes": 40_000_000.0,
                   "sentinel_task_memory_limit_bytes": limit}
    assert not [p for p in calls if "/stats" in p]


def test_a_container_whose_cgroup_is_elsewhere_is_asked_of_the_engine(tmp_path):
    get, calls = fake_engine([SWARM], STATS_V1)
    c = ex.Collector(get=get, cgroup=str(tmp_path / "nothing-here"))
    assert {s.name: s.value for s in c.collect() if s.labels}["sentinel_task_cpu_seconds_total"] == 2.5
    c.collect()
    assert calls.count(ex.stats_path(ID)) == 2


def test_a_container_that_stopped_is_forgotten(tmp_path):
    root = cgroup_tree(tmp_path, V1_FILES)
    running = [[SWARM], []]

    def get(path, sock):
        if path.startswith("/containers/json"):
            return running.pop(0)
        return {"Name": "node-1", "Spec": {"Labels": {"sentinel.app": "todos"}}}

    c = ex.Collector(get=get, cgroup=root)
    c.collect()
    assert ID in c._dirs
    c.collect()
    assert c._dirs == {}


@pytest.mark.parametrize("text, node, limit", [("max\n", 8, 8.0), ("100\n", 8, 8.0), ("4\n", 8, 4.0),
                                               ("4\n", 0, 4.0)])
def test_memory_limit(text, node, limit):
    assert ex.memory_limit(text, node) == limit


def test_collector_survives_an_unreachable_engine():
    def get(path, sock):
        raise ex.DockerError("connection refused")

    assert [s.name for s in ex.Collector(get=get).collect()] == ["sentinel_exporter_scrape_seconds"]


@pytest.mark.parametrize("value,text", [(3.0, "3"), (0.25, "0.25"), (float("nan"), "NaN")])
def test_format_value(value, text):
    assert ex.format_value(value) == text


def test_poller_serves_a_fresh_snapshot_without_collecting_on_the_scrape():
    class Fake:
        n = 0

        def collect(self):
            self.n += 1
            return [ex.Sample("sentinel_exporter_scrape_seconds", (), float(self.n))]

    fake = Fake()
    p = ex.Poller(fake)
    p.start()
    assert p.latest()[0].value >= 1  # the first scrape waits for the first collection
    assert fake.n >= 1


def test_registered_in_the_local_image_set():
    from control_plane import images as im

    spec = im.default_specs()["task-exporter"]
    assert spec.context == _PATH.parent and spec.parent == "base"
    assert "task-exporter" not in im.UPSTREAM  # no upstream image: built locally in both sets
    assert "exporter.py" in im.context_files(spec)
