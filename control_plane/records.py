"""Domain records passed between services as typed values (not dicts); each says how the API
shows it (`public`). Records the store keeps are written by one service each."""
from __future__ import annotations

from dataclasses import dataclass

from .pgbackrest import Target


@dataclass(frozen=True)
class Window:
    """The span a database can be restored to: from the end of its first good backup to its
    last archived change (None when unknown)."""
    start: str | None
    end: str | None

    def public(self) -> dict:
        return {"from": self.start, "to": self.end}


@dataclass(frozen=True)
class RestorePlan:
    """What `sentinel db restore` would do, checked before anything starts, and what the restore
    then does: the same record, so the target the user saw is the target restored to."""
    app: str
    to: str  # as the user wrote it
    target: Target
    window: Window
    primary: str | None  # the running primary's member, if any
    into: str | None = None  # a new app, or None for in place
    discards: dict | None = None  # in place only: the span and writes thrown away

    @property
    def primary_running(self) -> bool:
        return self.primary is not None

    def public(self) -> dict:
        return {"app": self.app, "into": self.into, "to": self.to, "target": self.target.public(),
                "target_text": self.target.describe(), "window": self.window.public(),
                "primary_running": self.primary_running, "primary": self.primary,
                "discards": self.discards}
