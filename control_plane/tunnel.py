"""Ports of the manager the control plane needs (Traefik's API and Prometheus on the admin
entrypoint, the registry) reached through the SSH connection it already holds, never across the
network: cloud firewalls open only ssh to the control plane, and nothing travels in clear
between hosts. A local forward (`ssh -O forward -L`) on the multiplexed master connection; when
the master has gone (ControlPersist expired) the forward is made again on the next call."""
from __future__ import annotations

import socket
import threading

from . import executor, ssh
from .errors import CommandFailed

_lock = threading.Lock()
_open: dict[tuple[str, int], int] = {}  # (host, remote port) -> local port


def forward_spec(local_port: int, remote_port: int) -> str:
    return f"127.0.0.1:{local_port}:127.0.0.1:{remote_port}"


def forward_argv(host: str, local_port: int, remote_port: int) -> list[str]:
    return ["ssh", "-F", str(ssh.config_path()), "-O", "forward", "-L",
            forward_spec(local_port, remote_port), host]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def local_port(host: str, remote_port: int) -> int:
    """A port on 127.0.0.1 that reaches `remote_port` on the host's loopback."""
    with _lock:
        port = _open.get((host, remote_port))
        if port and _listening(port):
            return port
        # A master connection first (any command makes one), then the forward on it.
        executor.run(ssh.ssh_argv(host, "true"), timeout=30, what=f"ssh to {host}")
        port = _free_port()
        proc = executor.run(forward_argv(host, port, remote_port), check=False, timeout=15)
        if proc.returncode != 0:
            raise CommandFailed(f"could not forward port {remote_port} of {host} over ssh: "
                                f"{(proc.stderr or '').strip()[:200]}")
        _open[(host, remote_port)] = port
        return port


def url(host: str, remote_port: int, scheme: str = "http") -> str:
    return f"{scheme}://127.0.0.1:{local_port(host, remote_port)}"


def forget(host: str) -> None:
    with _lock:
        for key in [k for k in _open if k[0] == host]:
            _open.pop(key, None)
