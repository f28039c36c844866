"""The control plane on its own server, for real: `sentinel init --remote-control-plane` creates a
Debian container with systemd and sshd (terraform/local/controlplane), installs the control plane
on it with playbooks/control_plane.yml over ssh (packages, Python from PyPI, systemd units,
Traefik with a self-signed certificate), then every command talks to it over HTTPS with the
pinned certificate and the token. Nothing here is mocked.

The server filters its own traffic to the nodes as the clouds' firewalls do (ssh and the edge
only: control_plane/firewall.py), so everything below also proves the commands need nothing else.

Own SENTINEL_HOME, cluster `rcp` on 172.31.0.0/24, edge on 28080/28081, control plane on 28443.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from .conftest import clear_leftovers, leftovers

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
NAME, SUBNET = "rcp", "172.31.0.0/24"
HTTP, HTTPS, API = 28080, 28081, 28443
SERVER = f"{NAME}-control-plane"
MANAGER = "172.31.0.10"  # cidrhost(subnet, 10) in terraform/local
BACKUP = "172.31.0.9"  # cidrhost(subnet, 9): the backup node, which runs the registry
# A TCP connection, reported in one word: open, refused or timeout.
PROBE = ("import socket, sys\n"
         "try:\n    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5).close(); print('open')\n"
         "except ConnectionRefusedError:\n    print('refused')\n"
         "except OSError as e:\n    print('timeout' if isinstance(e, TimeoutError) else repr(e))\n")
# What a second install may change, and only when the project's files changed in between.
SOURCE_TASKS = {"The project's source (a reproducible archive made by the CLI)", "Unpack the source",
                "Install Sentinel and its dependencies", "Restart the control plane",
                "Restart the edge"}


class Remote:
    def __init__(self, home: Path):
        self.home = home
        self.env = {**os.environ, "SENTINEL_HOME": str(home)}
        for k in ("SENTINEL_URL", "SENTINEL_TOKEN", "SENTINEL_FINGERPRINT", "SENTINEL_PORT"):
            self.env.pop(k, None)

    def cli(self, *args: str, check: bool = True, timeout: float = 900, env: dict | None = None):
        t0 = time.monotonic()
        proc = subprocess.run([str(Path(sys.executable).parent / "sentinel"), *args],
                              env={**self.env, **(env or {})}, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
        print(f"sentinel {' '.join(args)}: exit {proc.returncode} in {time.monotonic() - t0:.1f}s")
        if check and proc.returncode != 0:
            raise AssertionError(f"sentinel {' '.join(args)} failed ({proc.returncode}):\n"
                                 f"{proc.stdout}\n{proc.stderr}")
        return proc

    def http(self, host: str, path: str = "/", **kw) -> httpx.Response:
        return httpx.get(f"http://127.0.0.1:{HTTP}{path}", headers={"Host": host, **kw.pop("headers", {})},
                         timeout=10, **kw)

    def probe_from_server(self, host: str, port: int) -> str:
        return self.server("python3", "-c", PROBE, host, str(port)).stdout.strip()

    def server(self, *argv: str) -> subprocess.CompletedProcess:
        """A command on the control plane's server (for checks only; the CLI uses HTTPS)."""
        return subprocess.run(["docker", "exec", SERVER, *argv], capture_output=True, text=True,
                              timeout=60)




@pytest.fixture(scope="module")
def remote():
    clear_leftovers(NAME)
    home = Path(tempfile.mkdtemp(prefix="sentinel-rcp-"))
    r = Remote(home)
    yield r
    if (home / "config.json").exists():
        r.cli("destroy", "--delete-data", "--yes", check=False, timeout=900)


def versions(r: Remote, n: int = 40) -> Counter:
    return Counter(r.http("todos.localhost", "/version").headers["x-app-version"] for _ in range(n))


def test_remote_control_plane_end_to_end(remote):
    r = remote
    t0 = time.monotonic()
    r.cli("init", "--provider", "local", "--remote-control-plane", "--name", NAME,
          "--subnet", SUBNET, "--nodes", "1", "--http-port", str(HTTP), "--https-port", str(HTTPS),
          "--server-port", str(API), "--yes", timeout=1800)
    print(f"init (server + cluster): {time.monotonic() - t0:.0f}s")

    # The CLI keeps only where the control plane is, its certificate's pin and the token.
    cfg = json.loads((r.home / "config.json").read_text())
    assert set(cfg) == {"url", "fingerprint", "token", "provider", "name"}
    assert cfg["url"] == f"https://127.0.0.1:{API}" and cfg["provider"] == "local"
    assert len(cfg["fingerprint"]) == 95
    assert oct((r.home / "config.json").stat().st_mode & 0o777) == "0o600"
    assert not (r.home / "state.db").exists() and not (r.home / "clusters").exists()

    # ... and the server holds the cluster's Terraform state, mode 0600, under systemd.
    state = f"/var/lib/sentinel/clusters/{NAME}/terraform/terraform.tfstate"
    assert r.server("stat", "-c", "%a", state).stdout.strip() == "600"
    assert r.server("stat", "-c", "%a", "/var/lib/sentinel").stdout.strip() == "700"
    for unit in ("sentinel-control-plane", "sentinel-edge"):
        assert r.server("systemctl", "is-active", unit).stdout.strip() == "active"
    # The API itself listens on the server's loopback only; the edge serves TLS.
    listen = r.server("ss", "-ltnH").stdout
    assert "127.0.0.1:8765" in listen and "0.0.0.0:8765" not in listen

    # A second install changes nothing (the same init again converges). Others may edit this
    # tree meanwhile: then the new source is copied and installed, and only that may change.
    again = r.cli("init", "--provider", "local", "--remote-control-plane", "--name", NAME,
                  "--subnet", SUBNET, "--nodes", "1", "--http-port", str(HTTP),
                  "--https-port", str(HTTPS), "--server-port", str(API), "--yes", timeout=900)
    out = " ".join(again.stdout.split())
    m = re.search(r"control plane installed \((\d+) change\(s\)(?:: ([^)]*))?\)", out)
    assert m, again.stdout
    print(f"second install: {m.group(0)}")
    if m.group(1) != "0":
        assert set(m.group(2).split("; ")) <= SOURCE_TASKS, f"not idempotent: {m.group(2)}"
    assert "already exists" in again.stdout

    inspect = json.loads(r.cli("cluster", "inspect", "--json").stdout)
    assert inspect["name"] == NAME and [n["state"] for n in inspect["nodes"]] == ["ready"]

    r.cli("deploy", "--name", "todos", "--image", "todo:1", "--port", "8000", "--db", "postgres",
          "--db-schema", str(ROOT / "examples/todo/schema.sql"), "--yes", timeout=900)
    assert r.http("todos.localhost", "/version").headers["x-app-version"] == "1"
    # The database (schema applied by the remote control plane) answers through the app.
    assert r.http("todos.localhost", "/api/todos").status_code == 200

    r.cli("canary", "deploy", "todos", "--image", "todo:2", "--weight", "50", "--no-sticky", "--yes",
          timeout=900)
    seen = versions(r)
    assert set(seen) == {"1", "2"}, seen
    r.cli("canary", "promote", "todos", "--yes", timeout=900)
    assert versions(r, 20) == Counter({"2": 20})

    # Deploy and canary went through ssh and the edge only: from the server, the manager's
    # admin entrypoint (Traefik's API, Prometheus) and the registry (on the backup node) are
    # refused, though they listen (this host, outside the emulated firewall, reaches them); the
    # edge answers.
    assert r.server("systemctl", "is-active", "sentinel-firewall").stdout.strip() == "active"
    for host, port in ((MANAGER, 8082), (BACKUP, 5000)):
        assert subprocess.run([sys.executable, "-c", PROBE, host, str(port)], capture_output=True,
                              text=True, timeout=30).stdout.strip() == "open", (host, port)
        assert r.probe_from_server(host, port) == "refused", (host, port)
    assert r.probe_from_server(MANAGER, 22) == "open"
    assert r.probe_from_server(MANAGER, 80) == "open"

    # A wrong token: one clear line, non-zero exit.
    bad = r.cli("apps", check=False, env={"SENTINEL_TOKEN": "not-the-token"})
    assert bad.returncode != 0
    lines = [l for l in bad.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and "did not accept the API token" in lines[0], bad.stderr

    # A different certificate than the pinned one: refused before the token is sent.
    wrong = r.cli("apps", check=False, env={"SENTINEL_FINGERPRINT": "00:" * 31 + "00"})
    assert wrong.returncode != 0 and "certificate changed" in wrong.stderr, wrong.stderr

    t1 = time.monotonic()
    r.cli("destroy", "--delete-data", "--yes", timeout=900)
    print(f"destroy: {time.monotonic() - t1:.0f}s")
    assert not leftovers(NAME), leftovers(NAME)
    assert not (r.home / "config.json").exists()
