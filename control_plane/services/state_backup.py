"""The control plane's state copied off its machine, sealed to the recovery key
(control_plane/recovery.py, docs/operations.md): to the platform's object storage when it has a
bucket the control plane can write to (`<folder>/<cluster>/.control-plane/` in it), and to the
backup node when there is one (so `sentinel server restore --cluster` finds it there locally).
A copy is made every EVERY seconds when the state changed (so the newest copy is at most about a
minute behind), and again every RESEND seconds even when it did not (a backup node replaced
meanwhile gets one). Both keep `latest` and `previous`.

A copy that fails is an event of the cluster (once, until one works again) and shows in
`cluster inspect`; the platform itself is never touched by this loop.
"""
from __future__ import annotations

import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from .. import executor, names, object_storage, recovery, ssh
from ..errors import CommandFailed
from ..loops import Loop
from ..paths import sentinel_home
from ..platform import Platform

EVERY = 30.0
RESEND = 600.0


@dataclass
class CopyStatus:
    """What `cluster inspect` says of the copies (this control plane's run only)."""
    state: str = "waiting"  # waiting | copied | failing | off
    at: float | None = None  # the newest copy on the backup node
    bytes: int | None = None
    to: str | None = None
    reason: str | None = None  # why off or failing


class StateBackup(Loop):
    NAME, EVERY = "state-backup", EVERY

    def __init__(self, platform: Platform):
        super().__init__()
        self.p = platform
        self.store = platform.store
        self.status = CopyStatus()
        self._sent: str | None = None
        self._last: str | None = None  # the copy sent last (the bucket's next `previous`)
        self._lock = threading.Lock()  # a round from the loop and one asked for by a route

    def forget_sent(self) -> None:
        """The next round copies even an unchanged state (a new recovery key)."""
        self._sent = None

    def round(self, now: float) -> bool:
        """Copy the state if it changed (or is due again); True when a copy was made."""
        with self._lock:
            return self._round(now)

    def _round(self, now: float) -> bool:
        public = self.store.get(names.RECOVERY_PUBLIC_KEY)
        ready = self.p.state == "ready"
        bucket = node = None
        if ready and public:
            bucket = object_storage.bucket_of(self.p.spec.backup_repo,
                                              self.p.outputs.backup_repository)
            node = self.store.backup_node()
        if not ready or not public or (node is None and bucket is None):
            self.status = CopyStatus(state="off", reason=(
                "the platform is not ready" if not ready else
                "no recovery key: make one with `sentinel server recovery-key`" if not public else
                "the platform has neither a backup node nor a bucket the control plane can "
                "write to"))
            return False
        data = recovery.pack(sentinel_home())
        digest = recovery.digest(data)
        if digest == self._sent and self.status.at and now - self.status.at < RESEND:
            return False
        text = recovery.seal(data, public, recovery.Header(cluster=self.p.spec.name, taken_at=now))
        to = " and ".join(([object_storage.where(bucket)] if bucket else [])
                          + ([node.name] if node else []))
        try:
            if bucket:
                self._put(bucket, text)
            if node:
                ssh.run(node.address, *recovery.ship_argv(), input=text, timeout=60,
                        what="copying the control plane's state to the backup node")
        except CommandFailed as e:
            if self.status.state != "failing":
                self.store.add_event(names.CLUSTER_TARGET, "state-copy-failed",
                                     f"the control plane's state could not be copied to {to}: "
                                     f"{e.message} (tried again every {EVERY:.0f} s)")
            self.status = CopyStatus(state="failing", at=self.status.at, bytes=self.status.bytes,
                                     to=to, reason=e.message)
            return False
        if self.status.state == "failing":
            self.store.add_event(names.CLUSTER_TARGET, "state-copy",
                                 f"the control plane's state is copied to {to} again")
        self._sent = digest
        self._last = text
        self.status = CopyStatus(state="copied", at=now, bytes=len(text), to=to)
        return True

    def _put(self, bucket: object_storage.Bucket, text: str) -> None:
        """`previous` (the copy this process sent last, when there is one), then `latest`: each
        PUT replaces its object whole or not at all."""
        cluster = self.p.spec.name
        with tempfile.TemporaryDirectory(dir=sentinel_home(), prefix=".state-copy-") as tmp:
            ca = Path(tmp) / "ca.pem" if bucket.ca else None
            if ca:
                ca.write_text(bucket.ca)
            executor.register_secret(bucket.secret_access_key)
            for which, body in (("previous", self._last), ("latest", text)):
                if body is None:
                    continue
                path = Path(tmp) / which
                with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
                    f.write(body)
                argv = object_storage.put_argv(
                    bucket, object_storage.key(bucket, cluster, names.STATE_COPY_FOLDER, which),
                    path, ca)
                where = object_storage.where(bucket)
                executor.run(argv, input=object_storage.credentials(bucket), timeout=90,
                             what=f"copying the control plane's state to {where}")
