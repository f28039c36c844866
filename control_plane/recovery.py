"""A control plane that can be lost (docs/operations.md): what its state is, how a copy of it is
made, sealed and opened again.

The state is everything the control plane needs to resume the platform: its store (apps,
canaries in flight, schedules, events), its secrets (API token, passwords, the signing key), the
CA and TLS files, Terraform's state and the ssh key the nodes trust. A copy is a deterministic
tar (the same state makes the same bytes, so an unchanged state is not sent again) sealed to the
*recovery key*: an X25519 key pair whose private half the user keeps (shown once) and whose
public half the control plane holds. The control plane can seal copies but never open one; only
the user's key does (`sentinel server restore`).

Sealing is X25519 (an ephemeral key each time) → HKDF-SHA256 → AES-256-GCM, the plain text
header bound as associated data so the cluster and time it names cannot be altered.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import os
import sqlite3
import tarfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from . import names, ssh
from .errors import InvalidInput

PRIVATE_PREFIX = "sentinel-recovery-key-"
PUBLIC_PREFIX = "sentinel-recovery-pub-"
MAGIC = "sentinel-state 1"
STORE_DUMP = "state.sql"
# SENTINEL_HOME's parts that are state, relative to it (folders whole). Left out: the log, the
# pid, locks, ssh's connection sockets, the git repositories of pushes (source history: the next
# push sends it again) and the store's own files (it goes as a consistent SQL dump).
STATE_FILES = ("config.json", "secrets.json", "ssh/config", "ssh/id_ed25519", "ssh/id_ed25519.pub",
               "ssh/known_hosts")
STATE_FOLDERS = ("clusters", "controlplane")
# Restored with the owner's permissions only: credentials.
PRIVATE_MODES = {"secrets.json": 0o600, "ssh/id_ed25519": 0o600, "config.json": 0o600}


@dataclass(frozen=True)
class Header:
    cluster: str
    taken_at: float

    def line(self) -> str:
        return f"{MAGIC} {self.cluster} {self.taken_at:.3f}"


def new_key() -> tuple[str, str]:
    """(private key for the user, public key for the control plane), as text."""
    private = X25519PrivateKey.generate()
    raw = private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                serialization.NoEncryption())
    return PRIVATE_PREFIX + _b64(raw), public_of(PRIVATE_PREFIX + _b64(raw))


def public_of(private_text: str) -> str:
    pub = _private(private_text).public_key().public_bytes(serialization.Encoding.Raw,
                                                            serialization.PublicFormat.Raw)
    return PUBLIC_PREFIX + _b64(pub)


def check_public(text: str) -> str:
    _public(text)
    return text


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _key_bytes(text: str, prefix: str, what: str) -> bytes:
    """The 32 bytes of a key written as `prefix` + base64url, or one sentence saying what it is not."""
    text = text.strip()
    raw = b""
    if text.startswith(prefix):
        try:
            body = text[len(prefix):]
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (binascii.Error, ValueError):
            pass
    if len(raw) != 32:
        raise InvalidInput(f"that is not a {what}: it is the text `sentinel server recovery-key` "
                           f"printed, starting with {prefix}")
    return raw


def _private(text: str) -> X25519PrivateKey:
    return X25519PrivateKey.from_private_bytes(_key_bytes(text, PRIVATE_PREFIX, "recovery key (private)"))


def _public(text: str) -> X25519PublicKey:
    return X25519PublicKey.from_public_bytes(_key_bytes(text, PUBLIC_PREFIX, "recovery public key"))


def _aead_key(shared: bytes, ephemeral: bytes, recipient: bytes) -> bytes:
    return HKDF(algorithm=SHA256(), length=32, salt=ephemeral + recipient,
                info=MAGIC.encode()).derive(shared)


def seal(data: bytes, public_text: str, header: Header) -> str:
    """The copy as text: the header line, then the sealed bytes in base64."""
    recipient = _public(public_text)
    eph = X25519PrivateKey.generate()
    eph_pub = eph.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    rec_pub = recipient.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    key = _aead_key(eph.exchange(recipient), eph_pub, rec_pub)
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, data, header.line().encode())
    return header.line() + "\n" + base64.b64encode(eph_pub + nonce + sealed).decode() + "\n"


def read_header(text: str) -> Header:
    first = text.split("\n", 1)[0].split(" ")
    if len(first) != 4 or " ".join(first[:2]) != MAGIC:
        raise InvalidInput("that file is not a copy of a control plane's state (its first line "
                           f"should start with `{MAGIC}`).")
    try:
        return Header(cluster=first[2], taken_at=float(first[3]))
    except ValueError:
        raise InvalidInput("that copy's first line is damaged: its time is not a number.") from None


def open_sealed(text: str, private_text: str) -> tuple[Header, bytes]:
    header = read_header(text)
    private = _private(private_text)
    try:
        blob = base64.b64decode(text.split("\n", 1)[1].strip(), validate=True)
    except (IndexError, binascii.Error, ValueError):
        raise InvalidInput("that copy is damaged: its body is not base64.") from None
    eph_pub, nonce, sealed = blob[:32], blob[32:44], blob[44:]
    rec_pub = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    try:
        key = _aead_key(private.exchange(X25519PublicKey.from_public_bytes(eph_pub)), eph_pub, rec_pub)
        return header, AESGCM(key).decrypt(nonce, sealed, header.line().encode())
    except (InvalidTag, ValueError):
        raise InvalidInput("this recovery key does not open that copy: it was sealed to another "
                           "key (a newer `sentinel server recovery-key` replaced it?), or the file "
                           "was changed.") from None


def store_dump(db: Path) -> str:
    """The store as SQL, read in one transaction (the control plane writes while it runs)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        conn.execute("BEGIN")
        return "\n".join(conn.iterdump()) + "\n"
    finally:
        conn.close()


def pack(home: Path) -> bytes:
    """The state under `home` as a tar: sorted, no times or owners, so it is the same bytes for
    the same state."""
    members: list[tuple[str, bytes, int]] = []
    if (home / "state.db").exists():
        members.append((STORE_DUMP, store_dump(home / "state.db").encode(), 0o600))
    for rel in STATE_FILES:
        if (home / rel).is_file():
            members.append((rel, (home / rel).read_bytes(), PRIVATE_MODES.get(rel, 0o644)))
    for folder in STATE_FOLDERS:
        for path in sorted((home / folder).rglob("*")) if (home / folder).is_dir() else []:
            if path.is_file() and not path.is_symlink():
                members.append((str(path.relative_to(home)), path.read_bytes(), path.stat().st_mode & 0o777))
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data, mode in sorted(members):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, 0
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def refuse_occupied(home: Path) -> None:
    """A restore writes a whole state: never over one that exists."""
    if (home / "state.db").exists() or (home / "secrets.json").exists():
        raise InvalidInput(f"{home} already holds a control plane's state: restore into an empty "
                           "SENTINEL_HOME (nothing was changed), or `sentinel destroy` this one first.")


def unpack(data: bytes, home: Path) -> list[str]:
    """Write a copy's files under `home` (which holds no state), the store from its dump; returns
    the names written. A member outside the state's own names is refused before anything is
    written."""
    refuse_occupied(home)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        members = tar.getmembers()
        for m in members:
            allowed = m.name == STORE_DUMP or m.name in STATE_FILES or any(
                m.name.startswith(f + "/") for f in STATE_FOLDERS)
            if not m.isfile() or not allowed or ".." in Path(m.name).parts or m.name.startswith("/"):
                raise InvalidInput(f"that copy holds `{m.name}`, which is not part of a control "
                                   "plane's state: nothing was restored.")
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        for m in members:
            data_m = tar.extractfile(m).read()
            if m.name == STORE_DUMP:
                conn = sqlite3.connect(home / "state.db")
                try:
                    conn.executescript(data_m.decode())
                finally:
                    conn.close()
                continue
            if m.name == "ssh/config":  # its paths are the old home's: written for this one
                data_m = ssh.config_for(home, ssh.config_user(data_m.decode())).encode()
            target = home / m.name
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            target.write_bytes(data_m)
            os.chmod(target, m.mode & 0o777)
    ssh.ensure_private_dir(ssh.control_dir(home))
    return [m.name for m in members]


def summary(home: Path) -> dict:
    """What a restored state holds, for the one line the restore prints."""
    conn = sqlite3.connect(home / "state.db")
    try:
        apps = [r[0] for r in conn.execute("SELECT name FROM apps ORDER BY name")]
        canaries = [r[0] for r in conn.execute("SELECT app FROM canaries ORDER BY app")]
        spec = conn.execute("SELECT value FROM kv WHERE key = ?", (names.CLUSTER_KEY,)).fetchone()
    finally:
        conn.close()
    return {"apps": apps, "canaries": canaries, "cluster": json.loads(spec[0])["name"] if spec else None}


def ship_argv() -> list[str]:
    """On the backup node: the copy on stdin becomes `latest`, the one before `previous`; a copy
    cut short is never either (written aside, then renamed)."""
    d = names.STATE_COPY_DIR
    return ["sh", "-c", f"mkdir -p {d} && chmod 700 {d} && cat > {d}/.incoming && "
            f"{{ [ ! -f {d}/latest ] || mv -f {d}/latest {d}/previous; }} && mv -f {d}/.incoming {d}/latest"]


def fetch_local_argv(cluster: str, which: str = "latest") -> list[str]:
    """The local provider: the copy straight from the backup node's container on this machine."""
    return ["docker", "exec", names.local_backup_node(cluster), "cat", f"{names.STATE_COPY_DIR}/{which}"]
