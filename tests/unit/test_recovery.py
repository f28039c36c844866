"""The control plane's state, copied and restored (control_plane/recovery.py): sealed to the
recovery key, the same bytes for the same state, restored whole into an empty SENTINEL_HOME and
never over one that exists."""
from __future__ import annotations

import io
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from control_plane import names, recovery, ssh
from control_plane.errors import InvalidInput
from control_plane.platform import Platform
from control_plane.records import App
from control_plane.services.state_backup import StateBackup
from control_plane.store import Store

ROOT = Path(__file__).resolve().parents[2]
HEADER = recovery.Header(cluster="prod", taken_at=1765000000.25)


def a_home(path: Path) -> Path:
    """A control plane's home as it is on disk while it runs."""
    store = Store(path / "state.db")
    store.put(names.CLUSTER_KEY, {"name": "prod"})
    store.put_app(App(name="todos", image="todo:1", port=8000))
    (path / "secrets.json").write_text(json.dumps({"api_token": "t0ken-abcdef",
                                                       names.SIGNING_KEY: "s1gning-key"}))
    (path / "config.json").write_text(json.dumps({"provider": "local"}))
    (path / "ssh" / "cm").mkdir(parents=True)
    (path / "ssh" / "cm" / "socket-like").write_text("x")
    (path / "ssh" / "id_ed25519").write_text("PRIVATE")
    (path / "ssh" / "config").write_text(ssh.config_for(path, "admin"))
    (path / "clusters" / "prod" / "terraform").mkdir(parents=True)
    (path / "clusters" / "prod" / "terraform" / "terraform.tfstate").write_text('{"version": 4}')
    (path / "git" / "todos.git").mkdir(parents=True)
    (path / "git" / "todos.git" / "HEAD").write_text("ref: refs/heads/main")
    (path / "control-plane.log").write_text("log")
    return path


def test_a_copy_opens_only_with_its_key_and_keeps_its_header():
    private, public = recovery.new_key()
    text = recovery.seal(b"state", public, HEADER)
    assert text.startswith("sentinel-state 1 prod 1765000000.250\n")
    assert recovery.open_sealed(text, private) == (HEADER, b"state")
    assert recovery.public_of(private) == public
    other, _ = recovery.new_key()
    with pytest.raises(InvalidInput, match="does not open that copy"):
        recovery.open_sealed(text, other)


def test_a_changed_header_or_body_is_refused():
    private, public = recovery.new_key()
    text = recovery.seal(b"state", public, HEADER)
    with pytest.raises(InvalidInput, match="does not open that copy"):  # bound as associated data
        recovery.open_sealed(text.replace(" prod ", " test ", 1), private)
    with pytest.raises(InvalidInput, match="not base64"):
        recovery.open_sealed(text.split("\n")[0] + "\n!!!\n", private)
    with pytest.raises(InvalidInput, match="not a copy of a control plane's state"):
        recovery.open_sealed("hello\n", private)


def test_keys_that_are_not_keys_are_named():
    _, public = recovery.new_key()
    text = recovery.seal(b"s", public, HEADER)
    with pytest.raises(InvalidInput, match="sentinel-recovery-key-"):
        recovery.open_sealed(text, public)  # the public half given where the key goes
    with pytest.raises(InvalidInput, match="recovery public key"):
        recovery.check_public("sentinel-recovery-pub-short")


def test_the_same_state_packs_to_the_same_bytes_and_leaves_out_what_is_not_state(tmp_path):
    home = a_home(tmp_path / "home")
    first = recovery.pack(home)
    assert recovery.pack(home) == first
    with tarfile.open(fileobj=io.BytesIO(first)) as tar:
        members = sorted(tar.getnames())
    assert members == ["clusters/prod/terraform/terraform.tfstate", "config.json", "secrets.json",
                       "ssh/config", "ssh/id_ed25519", "state.sql"]
    Store(home / "state.db").put_app(App(name="shop", image="shop:1", port=8000))
    assert recovery.pack(home) != first


def test_a_copy_restores_the_whole_state_into_an_empty_home(tmp_path):
    home = a_home(tmp_path / "home")
    private, public = recovery.new_key()
    text = recovery.seal(recovery.pack(home), public, HEADER)
    new = tmp_path / "new"
    header, data = recovery.open_sealed(text, private)
    recovery.unpack(data, new)
    assert [a.name for a in Store(new / "state.db").apps()] == ["todos"]
    assert Store(new / "state.db").get(names.CLUSTER_KEY) == {"name": "prod"}
    assert json.loads((new / "secrets.json").read_text())["api_token"] == "t0ken-abcdef"
    assert (new / "secrets.json").stat().st_mode & 0o777 == 0o600
    assert (new / "ssh/id_ed25519").stat().st_mode & 0o777 == 0o600
    assert (new / "clusters/prod/terraform/terraform.tfstate").read_text() == '{"version": 4}'
    assert recovery.summary(new) == {"apps": ["todos"], "canaries": [], "cluster": "prod"}
    # ssh's configuration names the new home's key, hosts and sockets, for the same user.
    config = (new / "ssh/config").read_text()
    assert config == ssh.config_for(new, "admin") and str(home) not in config
    assert ssh.control_dir(new).is_dir()


def test_a_restore_never_writes_over_a_state(tmp_path):
    home = a_home(tmp_path / "home")
    data = recovery.pack(home)
    before = (home / "secrets.json").read_text()
    with pytest.raises(InvalidInput, match="already holds a control plane's state"):
        recovery.unpack(data, home)
    assert (home / "secrets.json").read_text() == before


@pytest.mark.parametrize("name", ["../escape", "git/todos.git/HEAD", "/etc/passwd", "state.db"])
def test_a_copy_holding_anything_else_restores_nothing(tmp_path, name):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for n in ("config.json", name):
            info = tarfile.TarInfo(n)
            info.size = 2
            tar.addfile(info, io.BytesIO(b"{}"))
    with pytest.raises(InvalidInput, match="not part of a control plane's state"):
        recovery.unpack(out.getvalue(), tmp_path / "new")
    assert not (tmp_path / "new").exists()


def test_the_node_keeps_the_newest_copy_and_the_one_before():
    d = "/var/lib/sentinel/backups/.control-plane"
    assert recovery.ship_argv() == [
        "sh", "-c", f"mkdir -p {d} && chmod 700 {d} && cat > {d}/.incoming && "
        f"{{ [ ! -f {d}/latest ] || mv -f {d}/latest {d}/previous; }} && mv -f {d}/.incoming {d}/latest"]
    assert recovery.fetch_local_argv("prod") == ["docker", "exec", "prod-backup", "cat", f"{d}/latest"]


def test_the_ship_script_keeps_two_copies_for_real(tmp_path):
    script = recovery.ship_argv()[2].replace(names.STATE_COPY_DIR, str(tmp_path / "copies"))
    for body in ("one", "two", "three"):
        subprocess.run(["sh", "-c", script], input=body, text=True, check=True)
    assert (tmp_path / "copies/latest").read_text() == "three"
    assert (tmp_path / "copies/previous").read_text() == "two"
    assert not (tmp_path / "copies/.incoming").exists()


def test_no_copy_is_made_without_a_platform_or_a_key(tmp_path):
    store = Store(tmp_path / "state.db")
    loop = StateBackup(Platform(store))
    assert loop.round(0.0) is False
    assert (loop.status.state, loop.status.reason) == ("off", "the platform is not ready")
    store.put(names.CLUSTER_STATE_KEY, "ready")
    loop.round(0.0)
    assert loop.status.reason.startswith("no recovery key: make one with `sentinel server recovery-key`")


def sentinel(*args: str, home: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from cli.main import run; run()", *args],
                          capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env={**os.environ, "SENTINEL_HOME": str(home), **(env or {})})


def test_the_cli_refuses_a_wrong_key_or_a_home_in_use_and_changes_nothing(tmp_path):
    home = a_home(tmp_path / "home")
    private, public = recovery.new_key()
    copy = tmp_path / "latest"
    copy.write_text(recovery.seal(recovery.pack(home), public, HEADER))
    p = sentinel("server", "restore", str(copy), "--key", private, home=home)
    assert p.returncode == 1 and "already holds a control plane's state" in p.stderr
    other, _ = recovery.new_key()
    p = sentinel("server", "restore", str(copy), "--key", other, home=tmp_path / "empty")
    assert p.returncode == 1 and "does not open that copy" in p.stderr, p.stderr
    assert not (tmp_path / "empty" / "state.db").exists()
    p = sentinel("server", "restore", "--key", private, home=tmp_path / "empty")
    assert p.returncode == 1 and "name the copy" in p.stderr and "Traceback" not in p.stderr


def test_the_cli_restores_and_starts_the_control_plane(tmp_path):
    home = a_home(tmp_path / "home")
    private, public = recovery.new_key()
    copy = tmp_path / "latest"
    copy.write_text(recovery.seal(recovery.pack(home), public, HEADER))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    new = tmp_path / "new"
    env = {"SENTINEL_PORT": str(port)}
    try:
        p = sentinel("server", "restore", str(copy), "--key", private, "--json", home=new, env=env)
        assert p.returncode == 0, p.stderr
        out = json.loads(p.stdout)
        assert out["apps"] == ["todos"] and out["cluster"] == "prod"
        assert out["url"] == f"http://127.0.0.1:{port}"
        # The restored token is the one the control plane now accepts, its secrets the old ones.
        key = sentinel("server", "signing-key", "--json", home=new, env=env)
        assert key.returncode == 0, key.stderr
        assert json.loads(key.stdout)["key"] == "s1gning-key"
    finally:
        sentinel("server", "stop", home=new, env=env)
    with sqlite3.connect(new / "state.db") as conn:
        assert conn.execute("SELECT count(*) FROM apps").fetchone() == (1,)


def test_cluster_inspect_says_where_the_state_is_copied():
    from cli.platform_cmds import state_copy_line

    assert state_copy_line({"state": "copied", "at": 100.0, "to": "prod-backup", "bytes": 3072}, 112.0) == \
        "control plane state: copied to prod-backup 12 s ago (3.0 KiB, sealed)"
    assert state_copy_line({"state": "failing", "at": None, "reason": "ssh timed out"}, 5.0) == \
        "control plane state: copying FAILS (ssh timed out); newest copy never"
    assert state_copy_line({"state": "off", "reason": "no recovery key"}, 0.0) == \
        "control plane state: not copied: no recovery key"

