"""SSH to the nodes: one key per installation, one config file, multiplexed connections.

Ansible, the Docker CLI wrapper and the Traefik config writer all reach nodes through this
config, exactly as they would reach a cloud VM.
"""
from __future__ import annotations

import hashlib
import shlex
from pathlib import Path

from . import executor
from .paths import sentinel_home


def ssh_dir() -> Path:
    return sentinel_home() / "ssh"


def key_path() -> Path:
    return ssh_dir() / "id_ed25519"


def config_path() -> Path:
    return ssh_dir() / "config"


def control_dir() -> Path:
    # Unix socket paths are limited to ~100 bytes, so the mux sockets live under /tmp.
    h = hashlib.sha256(str(sentinel_home()).encode()).hexdigest()[:10]
    return Path("/tmp") / f"sentinel-ssh-{h}"


def render_config(key: Path, known_hosts: Path, control: Path, user: str = "root") -> str:
    return "\n".join([
        "Host *",
        f"  User {user}",
        f"  IdentityFile {key}",
        "  IdentitiesOnly yes",
        "  StrictHostKeyChecking accept-new",
        f"  UserKnownHostsFile {known_hosts}",
        "  ControlMaster auto",
        f"  ControlPath {control}/%C",
        "  ControlPersist 10m",
        "  ConnectTimeout 10",
        "  ServerAliveInterval 15",
        "  LogLevel ERROR",
        "",
    ])


def keygen_argv(path: Path) -> list[str]:
    return ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "sentinel", "-f", str(path)]


def ssh_argv(host: str, *command: str, config: Path | None = None) -> list[str]:
    """argv that runs the argv `command` on host; each word is quoted for the remote shell."""
    return ["ssh", "-F", str(config or config_path()), host, "--", shlex.join(command)]


def forget_host_argv(host: str) -> list[str]:
    return ["ssh-keygen", "-R", host, "-f", str(ssh_dir() / "known_hosts")]


def ensure_key(user: str = "root") -> str:
    """Create the key and config once; return the public key."""
    d = ssh_dir()
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    control_dir().mkdir(parents=True, exist_ok=True, mode=0o700)
    if not key_path().exists():
        executor.run(keygen_argv(key_path()), what="ssh-keygen")
    config_path().write_text(render_config(key_path(), d / "known_hosts", control_dir(), user))
    return key_path().with_suffix(".pub").read_text().strip()


def forget_host(host: str) -> None:
    if (ssh_dir() / "known_hosts").exists():
        executor.run(forget_host_argv(host), check=False)
    executor.run(["ssh", "-F", str(config_path()), "-O", "exit", host], check=False, timeout=10)


def run(host: str, *command: str, input: str | None = None, timeout: float = 120,
        what: str | None = None, check: bool = True):
    return executor.run(ssh_argv(host, *command), input=input, timeout=timeout, what=what, check=check)
