"""SSH to the nodes: one key per installation, one config file, multiplexed connections.

Ansible, the Docker CLI wrapper and the Traefik config writer all reach nodes through this
config, exactly as they would reach a cloud VM.
"""
from __future__ import annotations

import hashlib
import os
import shlex
import socket
import time
from pathlib import Path

from . import executor
from .errors import CommandFailed
from .paths import sentinel_home


def ssh_dir() -> Path:
    return sentinel_home() / "ssh"


def key_path() -> Path:
    return ssh_dir() / "id_ed25519"


def config_path() -> Path:
    return ssh_dir() / "config"


SOCKET_PATH_MAX = 100  # Unix socket paths are limited to ~104 bytes; %C adds 40


def control_dir(home: Path | None = None) -> Path:
    """Where the multiplexed connections' sockets live: under SENTINEL_HOME (0700). Only when
    that path is too long for a socket, a folder in /tmp named after SENTINEL_HOME, which
    `ensure_private_dir` refuses to use unless we own it and nobody else can enter it."""
    home = home or sentinel_home()
    own = home / "ssh" / "cm"
    if len(str(own)) + 1 + 40 <= SOCKET_PATH_MAX:
        return own
    h = hashlib.sha256(str(home).encode()).hexdigest()[:10]
    return Path("/tmp") / f"sentinel-ssh-{os.geteuid()}-{h}"


def ensure_private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    st = path.lstat()
    if path.is_symlink() or st.st_uid != os.geteuid() or st.st_mode & 0o077:
        raise CommandFailed(f"{path} is not a private folder of this user (owner or mode): "
                            "remove it and try again.")


def config_for(home: Path, user: str) -> str:
    """The ssh configuration of the control plane whose home is `home` (its own paths)."""
    return render_config(home / "ssh" / "id_ed25519", home / "ssh" / "known_hosts", control_dir(home), user)


def config_user(config: str) -> str:
    return next((ln.split()[1] for ln in config.splitlines() if ln.strip().startswith("User ")), "root")


def render_config(key: Path, known_hosts: Path, control: Path, user: str = "root") -> str:
    return "\n".join([
        "Host *",
        f"  User {user}",
        f"  IdentityFile {key}",
        "  IdentitiesOnly yes",
        # Host keys are recorded when Sentinel creates a node (record_host_key) and checked
        # strictly from then on, by ssh and by Ansible alike.
        "  StrictHostKeyChecking yes",
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
    ensure_private_dir(control_dir())
    if not key_path().exists():
        executor.run(keygen_argv(key_path()), what="ssh-keygen")
    config_path().write_text(render_config(key_path(), d / "known_hosts", control_dir(), user))
    return key_path().with_suffix(".pub").read_text().strip()


def forget_host(host: str) -> None:
    if (ssh_dir() / "known_hosts").exists():
        executor.run(forget_host_argv(host), check=False)
    forget_master(host)


def forget_master(host: str) -> None:
    """The multiplexed connection to `host` ended (asked of the local master: works when the
    host is gone)."""
    executor.run(close_master_argv(host), check=False, timeout=10)


def run(host: str, *command: str, input: str | None = None, timeout: float = 120,
        what: str | None = None, check: bool = True):
    return executor.run(ssh_argv(host, *command), input=input, timeout=timeout, what=what, check=check)


def answers(host: str, port: int = 22, timeout: float = 1.0) -> bool:
    """Whether `host` takes a TCP connection on ssh's port now: a machine that died never does,
    and ssh itself (ConnectTimeout 10, a master kept alive 45 s) would take far longer to say so."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def close_master_argv(host: str) -> list[str]:
    """End the multiplexed connection to `host` (a node that is gone, or comes back anew)."""
    return ["ssh", "-F", str(config_path()), "-O", "exit", host]


def keyscan_argv(host: str) -> list[str]:
    return ["ssh-keyscan", "-T", "5", "-t", "ed25519", host]


def record_host_key(host: str, timeout: float = 180) -> None:
    """At a node's creation, by Sentinel itself: its host key goes into SENTINEL_HOME's
    known_hosts (replacing any older key of that address), waiting for sshd to answer."""
    deadline = time.monotonic() + timeout
    while True:
        proc = executor.run(keyscan_argv(host), check=False, timeout=20)
        lines = [l for l in (proc.stdout or "").splitlines() if l and not l.startswith("#")]
        if lines:
            break
        if time.monotonic() > deadline:
            raise CommandFailed(f"{host} did not show an ssh host key within {int(timeout)} s: is "
                                "the node up?")
        time.sleep(2)
    known = ssh_dir() / "known_hosts"
    if known.exists():
        executor.run(forget_host_argv(host), check=False)
    with open(known, "a") as f:
        f.write("\n".join(lines) + "\n")
    known.chmod(0o600)
