"""Generated credentials (API token, registry and admin passwords) and the registry's TLS files.

Kept in SENTINEL_HOME with mode 0600 and registered with the executor so no log shows them.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets as pysecrets
import tempfile
from pathlib import Path

from . import executor
from .paths import sentinel_home


def _path() -> Path:
    return sentinel_home() / "secrets.json"


def load() -> dict[str, str]:
    p = _path()
    data = json.loads(p.read_text()) if p.exists() else {}
    for v in data.values():
        executor.register_secret(v)
    return data


@contextlib.contextmanager
def _locked():
    """An exclusive lock on the store, across threads and processes (the CLI and the control
    plane both create secrets): two first deploys at once must not lose a password."""
    p = _path()
    p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(p.with_name("secrets.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _write(data: dict[str, str]) -> None:
    """Replace the store atomically (a temp file of our own in the same folder, then a rename);
    the caller holds the lock."""
    p = _path()
    fd, tmp = tempfile.mkstemp(prefix=".secrets-", dir=p.parent)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, p)


def forget(keys: list[str]) -> list[str]:
    """Delete these secrets (an app's database credentials once its data is deleted); returns
    the keys that were there."""
    with _locked():
        data = load()
        gone = [k for k in keys if k in data]
        if gone:
            _write({k: v for k, v in data.items() if k not in gone})
        return gone


def get(key: str) -> str:
    """The secret `key`, created on first use."""
    data = load()
    if key in data:
        return data[key]
    with _locked():
        data = load()  # again, under the lock: another writer may have added it meanwhile
        if key not in data:
            data[key] = pysecrets.token_urlsafe(24)
            _write(data)
        executor.register_secret(data[key])
        return data[key]


def htpasswd_line(user: str, password: str) -> str:
    import bcrypt

    return f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10)).decode()}"


def ca_argv(key: Path, cert: Path) -> list[str]:
    return ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "3650",
            "-subj", "/CN=Sentinel cluster CA", "-keyout", str(key), "-out", str(cert)]


def server_csr_argv(key: Path, csr: Path, cn: str) -> list[str]:
    return ["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-sha256", "-subj", f"/CN={cn}",
            "-keyout", str(key), "-out", str(csr)]


def random_serial() -> int:
    """A certificate's serial number: 159 random bits (RFC 5280 allows 20 octets, positive)."""
    return pysecrets.randbits(159) or 1


def sign_argv(csr: Path, ca_key: Path, ca_cert: Path, cert: Path, ext: Path, serial: int) -> list[str]:
    """Sign `csr` with the cluster CA. The serial is given (random_serial), not kept in a serial
    file: every signing reads and rewrites that file, and two at once (two first deploys with
    databases) broke it ("Unable to load number from ca.srl")."""
    return ["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey", str(ca_key),
            "-set_serial", f"0x{serial:x}", "-days", "3650", "-sha256", "-extfile", str(ext),
            "-out", str(cert)]


def registry_tls(folder: Path, address: str) -> dict[str, Path]:
    """CA and a server certificate for `address` (an IP), created once per cluster folder."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    files = {k: folder / n for k, n in (("ca_key", "ca.key"), ("ca", "ca.crt"),
                                        ("key", "registry.key"), ("cert", "registry.crt"))}
    if not files["ca"].exists():
        executor.run(ca_argv(files["ca_key"], files["ca"]), what="creating the cluster CA")
    marker = folder / "registry.address"
    # Nodes name it by the manager's private address; the control plane pushes through an ssh
    # forward on its own loopback (control_plane/tunnel.py).
    names = f"IP:{address},IP:127.0.0.1"
    if not files["cert"].exists() or (marker.read_text() if marker.exists() else "") != names:
        ext = folder / "san.ext"
        ext.write_text(f"subjectAltName={names}\n")
        csr = folder / "registry.csr"
        executor.run(server_csr_argv(files["key"], csr, address), what="creating the registry key")
        executor.run(sign_argv(csr, files["ca_key"], files["ca"], files["cert"], ext, random_serial()),
                     what="signing the registry certificate")
        marker.write_text(names)
    for p in files.values():
        p.chmod(0o600)
    return files
