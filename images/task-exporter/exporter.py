"""Per-task CPU and memory of Sentinel's app containers, in Prometheus text format.

Runs on every node (a global service), asks the local Docker engine over its unix socket for the
running containers of Sentinel apps, reads their CPU and memory from the node's cgroup files
(the figures `docker stats` shows, without asking the engine for them: one stats request per
container per second kept the engine, containerd and every container's shim busy), and serves
them on :9323/metrics. A container whose cgroup is not where the engine puts it (cgroup v1 or v2,
`cgroupfs` or `systemd` driver) is asked for through the engine's stats API instead.
Standard library only: the image has Debian's python3 and nothing else.

    python3 exporter.py [--port 9323] [--socket /var/run/docker.sock] [--cgroup /host/cgroup]
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import signal
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterable, NamedTuple

PORT = 9323
SOCKET = "/var/run/docker.sock"
CGROUP = "/host/cgroup"     # the node's /sys/fs/cgroup, mounted read-only (platform.yml.j2)
MEMINFO = "/proc/meminfo"   # the node's memory: the limit of a container that has none
LABELS = ("app", "role", "service", "task", "node")
# name -> (type, help); the order is the order of the output.
METRICS = {
    "sentinel_task_cpu_seconds_total": ("counter", "CPU time used by the task's container."),
    "sentinel_task_memory_bytes": ("gauge", "Memory used by the task's container, without "
                                            "inactive page cache (as `docker stats`)."),
    "sentinel_task_memory_limit_bytes": ("gauge", "Memory limit of the task's container "
                                                  "(the node's memory when unlimited)."),
    "sentinel_exporter_scrape_seconds": ("gauge", "Time the latest collection from the engine "
                                                  "took."),
}
# Sentinel names app services <app>_<key> in a stack called <app>; used when the service's labels
# cannot be read (worker nodes cannot inspect services).
SERVICE_KEY_ROLES = {"web": "production", "canary": "canary", "baseline": "baseline", "db": "db"}
SERVICE_LABELS_TTL = 60.0   # service labels of a running task do not change; re-read now and then
STATS_WORKERS = 32          # parallel stats requests: 20 containers take one engine tick
# The engine (20.10) answers a stats request only at its next 1 s sampling tick, so collecting
# on the scrape would make every scrape last ~1 s: a poller collects in the background instead.
MIN_PERIOD = 1.0            # the engine samples once a second: polling faster gains nothing
MAX_AGE = 5.0               # an older snapshot is refreshed before it is served
IDLE_AFTER = 60.0           # stop polling when nobody scraped for this long


class Sample(NamedTuple):
    name: str
    labels: tuple[tuple[str, str], ...]
    value: float


class DockerError(Exception):
    """The engine answered with an error status or could not be reached."""

    def __init__(self, message: str, status: int = 0):
        super().__init__(message)
        self.status = status


# ---------------------------------------------------------------- pure parts

def memory_usage(mem: dict) -> float:
    """Used memory without inactive file cache, as the docker CLI's `docker stats` shows it."""
    usage = mem.get("usage", 0) or 0
    stats = mem.get("stats") or {}
    if "total_inactive_file" in stats:          # cgroup v1
        inactive = stats["total_inactive_file"]
    else:                                       # cgroup v2
        inactive = stats.get("inactive_file", 0)
    return float(usage - inactive) if inactive < usage else float(usage)


def task_labels(container: dict, service_labels: dict | None, node: str) -> dict | None:
    """The series labels of one container (an entry of GET /containers/json), or None when it
    is not a Sentinel app's. Its own labels win, then its service's, then the stack's names."""
    own = container.get("Labels") or {}
    merged = {**(service_labels or {}), **own}
    app, role = merged.get("sentinel.app"), merged.get("sentinel.role")
    service = own.get("com.docker.swarm.service.name") or _container_name(container)
    if not app and service_labels is None:
        stack = own.get("com.docker.stack.namespace")
        if stack and service.startswith(stack + "_"):
            role = SERVICE_KEY_ROLES.get(service[len(stack) + 1:])
            app = stack if role else None
    if not app:
        return None
    return {"app": app, "role": role or "", "service": service,
            "task": own.get("com.docker.swarm.task.id") or container.get("Id", "")[:12],
            "node": node}


def _container_name(container: dict) -> str:
    names = container.get("Names") or [""]
    return names[0].lstrip("/")


def samples(labels: dict, stats: dict) -> list[Sample]:
    """The task series of one container from GET /containers/{id}/stats."""
    if str(stats.get("read", "")).startswith("0001-"):
        return []  # the engine has no reading (zero time): a 0 would look like a counter reset
    key = tuple((k, str(labels.get(k, ""))) for k in LABELS)
    cpu = ((stats.get("cpu_stats") or {}).get("cpu_usage") or {}).get("total_usage")
    mem = stats.get("memory_stats") or {}
    out = []
    if cpu is not None:
        out.append(Sample("sentinel_task_cpu_seconds_total", key, cpu / 1e9))
    if "usage" in mem:  # absent when the container stopped between the list and the stats
        out.append(Sample("sentinel_task_memory_bytes", key, memory_usage(mem)))
    if mem.get("limit"):
        out.append(Sample("sentinel_task_memory_limit_bytes", key, float(mem["limit"])))
    return out


# ---- cgroup files: where the engine puts a container's, and what they say

def cgroup_dirs(root: str, container_id: str) -> dict[str, str] | None:
    """{"v2": dir} or {"cpu": dir, "memory": dir} of a container's cgroup under `root`, or None.

    cgroupfs puts a container at docker/<id>, the systemd driver at system.slice/docker-<id>.scope;
    cgroup v2 has one tree (marked by cgroup.controllers at its root), v1 one per controller."""
    leaves = (f"docker/{container_id}", f"system.slice/docker-{container_id}.scope")
    if os.path.exists(f"{root}/cgroup.controllers"):
        found = next((f"{root}/{leaf}" for leaf in leaves if os.path.isdir(f"{root}/{leaf}")), None)
        return {"v2": found} if found else None
    dirs = {}
    for kind, controllers in (("cpu", ("cpuacct", "cpu,cpuacct")), ("memory", ("memory",))):
        dirs[kind] = next((f"{root}/{c}/{leaf}" for c in controllers for leaf in leaves
                           if os.path.isdir(f"{root}/{c}/{leaf}")), None)
        if dirs[kind] is None:
            return None
    return dirs


def stat_field(text: str, key: str) -> int | None:
    """A value of a flat keyed cgroup file (memory.stat, cpu.stat): "key value" lines."""
    for line in text.splitlines():
        k, _, v = line.partition(" ")
        if k == key:
            return int(v)
    return None


def memory_limit(text: str, node_memory: int) -> float:
    """memory.max ("max") or memory.limit_in_bytes (a page-rounded 2^63 when unset): the node's
    memory when there is no lower limit, as the engine reports it."""
    text = text.strip()
    limit = node_memory if text == "max" else int(text)
    return float(min(limit, node_memory) if node_memory else limit)


def node_memory(meminfo: str) -> int:
    """MemTotal of /proc/meminfo, in bytes (0 when it cannot be read)."""
    for line in meminfo.splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def cgroup_stats(dirs: dict[str, str], read, total_memory: int) -> dict:
    """The part of a stats answer the series use, read from the cgroup files: the same samples()
    turns both into series. `read(path)` returns a file's text."""
    if "v2" in dirs:
        d = dirs["v2"]
        cpu_ns = stat_field(read(f"{d}/cpu.stat"), "usage_usec") * 1000
        usage, stat, limit = read(f"{d}/memory.current"), read(f"{d}/memory.stat"), read(f"{d}/memory.max")
        inactive = {"inactive_file": stat_field(stat, "inactive_file") or 0}
    else:
        cpu_ns = int(read(f"{dirs['cpu']}/cpuacct.usage"))
        m = dirs["memory"]
        usage, stat, limit = (read(f"{m}/memory.usage_in_bytes"), read(f"{m}/memory.stat"),
                              read(f"{m}/memory.limit_in_bytes"))
        inactive = {"total_inactive_file": stat_field(stat, "total_inactive_file") or 0}
    return {"cpu_stats": {"cpu_usage": {"total_usage": cpu_ns}},
            "memory_stats": {"usage": int(usage), "limit": memory_limit(limit, total_memory),
                             "stats": inactive}}


def read_text(path: str) -> str:
    with open(path, encoding="ascii") as f:
        return f.read()


def escape(value: str) -> str:
    """A label value for the text format: backslash, double quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def format_value(value: float) -> str:
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    return repr(int(value)) if value == int(value) and abs(value) < 1e15 else repr(value)


def render(all_samples: Iterable[Sample]) -> str:
    """Prometheus text format 0.0.4: HELP and TYPE once per metric, then its samples."""
    by_name: dict[str, list[Sample]] = {}
    for s in all_samples:
        by_name.setdefault(s.name, []).append(s)
    lines = []
    for name, (kind, help_text) in METRICS.items():
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
        for s in by_name.get(name, []):
            labels = ",".join(f'{k}="{escape(v)}"' for k, v in s.labels)
            lines.append(f"{name}{{{labels}}} {format_value(s.value)}" if labels
                         else f"{name} {format_value(s.value)}")
    return "\n".join(lines) + "\n"


def list_path() -> str:
    return "/containers/json?" + urllib.parse.urlencode(
        {"filters": json.dumps({"status": ["running"]})})


def stats_path(container_id: str) -> str:
    # one-shot: the engine answers at once instead of waiting a second for a second CPU sample,
    # which only feeds precpu_stats (unused: Prometheus takes the rate of the counter).
    return f"/containers/{container_id}/stats?stream=false&one-shot=true"


# ---------------------------------------------------------------- the engine

class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def docker_get(path: str, sock: str = SOCKET, timeout: float = 5.0):
    """GET a Docker Engine API path over the unix socket and return the decoded JSON."""
    conn = _UnixConnection(sock, timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
    except OSError as e:
        raise DockerError(f"GET {path}: {e}") from None
    finally:
        conn.close()
    if resp.status >= 400:
        raise DockerError(f"GET {path}: {resp.status} {body[:200]!r}", resp.status)
    return json.loads(body)


class Collector:
    """One scrape's worth of engine calls, with the slow-changing answers cached."""

    def __init__(self, sock: str = SOCKET, get=docker_get, cgroup: str | None = CGROUP,
                 read=read_text, meminfo: str = MEMINFO):
        self.sock = sock
        self.get = get
        self.cgroup, self.read = cgroup, read
        self.node = ""
        self._services: dict[str, tuple[float, dict | None]] = {}
        self._dirs: dict[str, dict[str, str] | None] = {}  # container id -> its cgroup
        try:
            self.memory = node_memory(read(meminfo))
        except (OSError, ValueError):
            self.memory = 0
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=STATS_WORKERS)

    def node_name(self) -> str:
        if not self.node:
            try:
                self.node = self.get("/info", self.sock).get("Name", "")
            except DockerError:
                return ""
        return self.node

    def service_labels(self, service_id: str) -> dict | None:
        """The service's labels, or None when they cannot be read (a worker node)."""
        now = time.monotonic()
        with self._lock:
            hit = self._services.get(service_id)
        if hit and now - hit[0] < SERVICE_LABELS_TTL:
            return hit[1]
        try:
            labels = (self.get(f"/services/{service_id}", self.sock).get("Spec") or {}).get("Labels") or {}
        except DockerError:
            labels = None
        with self._lock:
            self._services[service_id] = (now, labels)
        return labels

    def _one(self, container: dict, node: str) -> list[Sample]:
        own = container.get("Labels") or {}
        service_id = own.get("com.docker.swarm.service.id")
        svc = self.service_labels(service_id) if service_id and "sentinel.app" not in own else {}
        labels = task_labels(container, svc, node)
        if labels is None:
            return []
        cid = container["Id"]
        dirs = self._dirs.get(cid) if cid in self._dirs else self._find(cid)
        if dirs:
            try:
                return samples(labels, cgroup_stats(dirs, self.read, self.memory))
            except (OSError, ValueError, TypeError):
                pass  # it stopped since the list, or its files say something unexpected
        try:
            return samples(labels, self.get(stats_path(cid), self.sock))
        except DockerError:
            return []  # it went away since the list

    def _find(self, container_id: str) -> dict[str, str] | None:
        dirs = cgroup_dirs(self.cgroup, container_id) if self.cgroup else None
        self._dirs[container_id] = dirs
        return dirs

    def forget(self, running: set[str]) -> None:
        """Drop what is cached about containers that no longer run."""
        for cid in [c for c in self._dirs if c not in running]:
            del self._dirs[cid]

    def collect(self) -> list[Sample]:
        t0 = time.monotonic()
        node = self.node_name()
        try:
            containers = self.get(list_path(), self.sock)
        except DockerError as e:
            print(f"task-exporter: {e}", file=sys.stderr, flush=True)
            containers = []
        self.forget({c.get("Id") for c in containers})
        out = [s for part in self._pool.map(lambda c: self._one(c, node), containers) for s in part]
        out.append(Sample("sentinel_exporter_scrape_seconds", (), time.monotonic() - t0))
        return out


class Poller:
    """Keeps the latest collection; collects back to back while scrapes keep coming."""

    def __init__(self, collector: Collector):
        self.collector = collector
        self._cond = threading.Condition()
        self._latest: list[Sample] = []
        self._at = float("-inf")   # monotonic time of the latest collection
        self._asked = float("-inf")
        self._wanted = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._run, name="poller", daemon=True).start()

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            t0 = time.monotonic()
            fresh = self.collector.collect()
            with self._cond:
                self._latest, self._at = fresh, time.monotonic()
                self._cond.notify_all()
                if self._at - self._asked > IDLE_AFTER:
                    self._wanted.clear()
            time.sleep(max(0.0, MIN_PERIOD - (time.monotonic() - t0)))

    def latest(self, wait: float = 5.0) -> list[Sample]:
        with self._cond:
            self._asked = time.monotonic()
            self._wanted.set()
            if self._asked - self._at > MAX_AGE:  # first scrape, or after an idle spell
                self._cond.wait_for(lambda: time.monotonic() - self._at <= MAX_AGE, timeout=wait)
            return self._latest


# ---------------------------------------------------------------- the server

def make_handler(poller: Poller):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path.split("?")[0] != "/metrics":
                self._send(404, b"see /metrics\n", "text/plain")
                return
            body = render(poller.latest()).encode()
            self._send(200, body, "text/plain; version=0.0.4; charset=utf-8")

        def _send(self, code: int, body: bytes, ctype: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # one line per scrape every few seconds is noise
            pass

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Per-task CPU and memory for Prometheus.")
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--socket", default=SOCKET)
    parser.add_argument("--cgroup", default=CGROUP,
                        help="the node's cgroup root, mounted (without it: the engine's stats API)")
    args = parser.parse_args(argv)
    poller = Poller(Collector(args.socket, cgroup=args.cgroup))
    poller.start()
    server = ThreadingHTTPServer(("", args.port), make_handler(poller))
    print(f"task-exporter: serving :{args.port}/metrics from {args.socket}", flush=True)
    # As PID 1 nothing handles SIGTERM by default: the engine would wait 10 s and kill us on
    # every stop, which held up draining a node for scale-down.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
