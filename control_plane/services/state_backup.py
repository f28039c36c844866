"""The control plane's state copied to the backup node, sealed to the recovery key
(control_plane/recovery.py, docs/operations.md): a copy is made every EVERY seconds when the state
changed (so the newest copy is at most about a minute behind), and again every RESEND seconds
even when it did not (a backup node replaced meanwhile gets one). The node keeps `latest` and
`previous`.

A copy that fails is an event of the cluster (once, until one works again) and shows in
`cluster inspect`; the platform itself is never touched by this loop.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

from .. import names, recovery, ssh
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
        node = self.store.backup_node()
        if self.p.state != "ready" or not public or node is None:
            self.status = CopyStatus(state="off", reason=(
                "the platform is not ready" if self.p.state != "ready" else
                "no recovery key: make one with `sentinel server recovery-key`" if not public else
                "the platform has no backup node"))
            return False
        data = recovery.pack(sentinel_home())
        digest = recovery.digest(data)
        if digest == self._sent and self.status.at and now - self.status.at < RESEND:
            return False
        text = recovery.seal(data, public, recovery.Header(cluster=self.p.spec.name, taken_at=now))
        try:
            ssh.run(node.address, *recovery.ship_argv(), input=text, timeout=60,
                    what="copying the control plane's state to the backup node")
        except CommandFailed as e:
            if self.status.state != "failing":
                self.store.add_event(names.CLUSTER_TARGET, "state-copy-failed",
                                     f"the control plane's state could not be copied to {node.name}: "
                                     f"{e.message} (tried again every {EVERY:.0f} s)")
            self.status = CopyStatus(state="failing", at=self.status.at, bytes=self.status.bytes,
                                     to=node.name, reason=e.message)
            return False
        if self.status.state == "failing":
            self.store.add_event(names.CLUSTER_TARGET, "state-copy",
                                 f"the control plane's state is copied to {node.name} again")
        self._sent = digest
        self.status = CopyStatus(state="copied", at=now, bytes=len(text), to=node.name)
        return True
