"""Per-task CPU and memory of Sentinel's app containers, in Prometheus text format.

Runs on every node (a global service), asks the local Docker engine over its unix socket for the
running containers of Sentinel apps and their stats, and serves them on :9323/metrics.
Standard library only: the image has Debian's python3 and nothing else.

    python3 exporter.py [--port 9323] [--socket /var/run/docker.sock]
"""
from __future__ import annotations

import argparse
import http.client
import json
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

    def __init__(self, sock: str = SOCKET, get=docker_get):
        self.sock = sock
        self.get = get
        self.node = ""
        self._services: dict[str, tuple[float, dict | None]] = {}
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
        try:
            return samples(labels, self.get(stats_path(container["Id"]), self.sock))
        except DockerError:
            return []  # it went away since the list

    def collect(self) -> list[Sample]:
        t0 = time.monotonic()
        node = self.node_name()
        try:
            containers = self.get(list_path(), self.sock)
        except DockerError as e:
            print(f"task-exporter: {e}", file=sys.stderr, flush=True)
            containers = []
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
    args = parser.parse_args(argv)
    poller = Poller(Collector(args.socket))
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
