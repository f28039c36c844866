"""The control plane's background loops (docs/operations.md): each runs a round every few
seconds until stopped; a round that raises is logged with its trace and the next one tries again
(a loop that must *speak* of a failure turns it into an event inside its round)."""
from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger("sentinel.loops")


class Loop:
    NAME = "loop"
    EVERY = 30.0

    def __init__(self) -> None:
        self._stop = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._run, name=self.NAME, daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.EVERY):
            try:
                self.round(time.time())
            except Exception:  # the next round tries again; the log has the trace
                log.exception("%s round failed", self.NAME)

    def round(self, now: float):
        raise NotImplementedError
