"""One real platform for the whole end-to-end session: 2 Docker-in-Docker nodes, a swarm,
Traefik, the registry, Prometheus, and the demo app. Nothing here is mocked."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
# scripts/test.sh runs groups of modules side by side, each on its own shared platform: the slot
# gives each its own name, subnet and ports.
SLOT = int(os.environ.get("SENTINEL_E2E_SLOT", "0"))
NAME = "e2e" if SLOT == 0 else f"e2e{SLOT}"
SUBNET = ("172.30.0.0/24", "172.26.0.0/24", "172.25.0.0/24")[SLOT]  # slot 2: a developer's run beside the suite
HTTP, HTTPS, API = 18080 + 100 * SLOT, 18443 + 100 * SLOT, 18765 + 100 * SLOT
# 1 s scrapes: the early check judges on every scrape.
INIT = ("init", "--provider", "local", "--name", NAME, "--subnet", SUBNET, "--nodes", "2",
        "--http-port", str(HTTP), "--https-port", str(HTTPS), "--scrape-interval", "1s", "--yes")


def pytest_collection_modifyitems(items) -> None:
    """Every test in this folder is end-to-end, whether or not its module says so: `-m "not e2e"`
    must never start a platform."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.e2e)


def leftovers(name: str) -> list[str]:
    """Docker objects of the test platform `name` (containers, volumes, its network) that exist."""
    out = []
    for kind, argv in (("container", ["docker", "ps", "-a", "--format", "{{.Names}}"]),
                       ("network", ["docker", "network", "ls", "--format", "{{.Name}}"]),
                       ("volume", ["docker", "volume", "ls", "--format", "{{.Name}}"])):
        names = subprocess.run(argv, capture_output=True, text=True, timeout=60).stdout.split()
        out += [f"{kind} {n}" for n in names if n.startswith(f"{name}-") or n == f"sentinel-{name}"]
    return out


def clear_leftovers(name: str) -> None:
    """Remove what an interrupted earlier run of the test platform `name` left on this machine.

    Node containers restart with the engine (`unless-stopped`), so a run cut short — or a machine
    image taken while one was up — would otherwise hold the test ports and fail every test."""
    left = leftovers(name)
    for kind in ("container", "volume", "network"):
        objs = [o.split(" ", 1)[1] for o in left if o.startswith(kind + " ")]
        if objs:
            rm = ["docker", "rm", "-f"] if kind == "container" else ["docker", kind, "rm", "-f"]
            subprocess.run([*rm, *objs], capture_output=True, text=True, timeout=300)
    assert not leftovers(name), f"could not remove what an earlier run left: {leftovers(name)}"


class Platform:
    """The CLI of one platform; another module can run its own (name, ports) beside the shared one."""

    def __init__(self, home: Path, *, name: str = NAME, http: int = HTTP, https: int = HTTPS,
                 api_port: int = API):
        self.home, self.name, self.http_port, self.https_port = home, name, http, https
        # Scheduled backups and drills off: they would take an app's lock between two steps of a
        # test (their timing is unit-tested; the operations they run are tested here directly).
        self.env = {**os.environ, "SENTINEL_HOME": str(home), "SENTINEL_PORT": str(api_port),
                    "SENTINEL_BACKUP_SCHEDULE": "off"}
        self.env.pop("SENTINEL_URL", None)
        self.env.pop("SENTINEL_TOKEN", None)

    def cli(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        proc = subprocess.run([str(Path(sys.executable).parent / "sentinel"), *args], env=self.env,
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if check and proc.returncode != 0:
            raise AssertionError(f"sentinel {' '.join(args)} failed ({proc.returncode}):\n"
                                 f"{proc.stdout}\n{proc.stderr}")
        return proc

    def json(self, *args: str):
        return json.loads(self.cli(*args, "--json").stdout)

    def http(self, domain: str, path: str = "/", **kw) -> httpx.Response:
        return httpx.request(kw.pop("method", "GET"), f"http://127.0.0.1:{self.http_port}{path}",
                             headers={"Host": domain, **kw.pop("headers", {})}, timeout=10, **kw)

    def node_exec(self, node: str, *argv: str, input: str | None = None) -> subprocess.CompletedProcess:
        """Run a command inside a node (for checks only: the platform itself uses ssh)."""
        return subprocess.run(["docker", "exec", "-i", f"{self.name}-node-{node}", *argv], input=input,
                              capture_output=True, text=True, timeout=120)

    def task_container(self, service: str) -> tuple[str, str]:
        """(node index, container id) of a running task of `service`."""
        for i in range(4):
            p = self.node_exec(str(i), "docker", "ps", "-q", "--filter",
                               f"label=com.docker.swarm.service.name={service}")
            if p.returncode == 0 and p.stdout.strip():
                return str(i), p.stdout.split()[0]
        raise AssertionError(f"no running container of {service}")

    def psql(self, app: str, sql: str) -> str:
        """SQL as the app's role, straight on the container of the current primary."""
        primary = self.json("db", "status", app)["primary"]["member"]
        node, cid = self.task_container(f"{app}_{primary}")
        user = app.replace("-", "_")
        p = self.node_exec(node, "docker", "exec", "-u", "postgres", cid, "psql", "-X", "-U", user,
                           "-d", user, "-At", "-c", sql)
        assert p.returncode == 0, p.stderr
        return p.stdout.strip()


@pytest.fixture(scope="session")
def platform():
    # SENTINEL_E2E_HOME keeps one platform across runs while developing (init is idempotent).
    keep = os.environ.get("SENTINEL_E2E_HOME")
    home = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="sentinel-e2e-"))
    p = Platform(home)
    if not keep:
        clear_leftovers(NAME)

    def teardown() -> None:  # leave nothing behind (test_zz_destroy checks this for real)
        if not keep and (home / "config.json").exists():
            p.cli("destroy", "--delete-data", "--yes", check=False, timeout=600)

    try:
        p.cli(*INIT, timeout=900)
    except BaseException:  # a failed init still started a control plane and perhaps nodes
        teardown()
        raise
    yield p
    teardown()


@pytest.fixture(scope="session")
def todos(platform):
    platform.cli("deploy", "--name", "todos", "--image", "todo:1", "--port", "8000", "--db", "postgres",
                 "--db-schema", str(ROOT / "examples/todo/schema.sql"), "--replicas", "2", "--yes")
    return "todos.localhost"
