"""Long operations as background jobs: one at a time per target, recorded with their events."""
from __future__ import annotations

import contextvars
import logging
import secrets
import threading
import time
import traceback
from collections.abc import Callable

from . import notify
from .errors import Busy, SentinelError
from .executor import mask
from .store import Store

log = logging.getLogger("sentinel.jobs")
# Who asked, when a caller does not say: "cli" for the token, "console" for a console session
# (set by api/guard.py for the request; routes run in a thread that copies the context).
ACTOR: contextvars.ContextVar[str] = contextvars.ContextVar("actor", default="cli")


class Operation:
    """Handed to a job function: it reports progress through `step`."""

    def __init__(self, store: Store, op_id: str, target: str, kind: str, actor: str):
        self.store, self.id, self.target, self.kind, self.actor = store, op_id, target, kind, actor

    def step(self, message: str) -> None:
        log.info("[%s %s] %s", self.kind, self.target, message)
        self.store.add_event(self.target, self.kind, mask(message), self.actor, self.id)


class Jobs:
    def __init__(self, store: Store):
        self.store = store
        self._lock = threading.Lock()
        self._running: dict[str, dict] = {}  # target -> {"id", "kind", "since"}
        # Operations left "running" by a previous process were cut off: say so.
        for op in store.running_operations():
            store.finish_operation(op["id"], "interrupted",
                                   "the control plane stopped during this operation; run it again",
                                   code="interrupted")

    def busy(self, target: str) -> dict | None:
        with self._lock:
            return self._running.get(target)

    def start(self, target: str, kind: str, fn: Callable[[Operation], object],
              actor: str | None = None, also_lock: tuple[str, ...] = ()) -> str:
        actor = actor or ACTOR.get()
        targets = (target, *also_lock)
        with self._lock:
            # A cluster operation (scale, destroy) excludes every app operation: it may move
            # their databases or remove their nodes.
            checked = targets + (("cluster",) if target.startswith("app:") else ())
            for t in checked:
                cur = self._running.get(t)
                if cur:
                    since = time.strftime("%H:%M:%S", time.localtime(cur["since"]))
                    raise Busy(f"busy: {cur['kind']} on {t} running since {since} "
                               f"(operation {cur['id']}); wait for it to finish and try again.")
            op_id = secrets.token_hex(6)
            for t in targets:
                self._running[t] = {"id": op_id, "kind": kind, "since": time.time()}
        self.store.add_operation(op_id, target, kind, actor)
        op = Operation(self.store, op_id, target, kind, actor)

        def body() -> None:
            try:
                result = fn(op)
                self.store.finish_operation(op_id, "succeeded", result=result)
            except SentinelError as e:
                op.step(f"failed: {e.message}")
                self.store.finish_operation(op_id, "failed", mask(e.message), code=e.code)
                notify.failed_operation(self.store, target, kind, mask(e.message))
            except Exception as e:  # a bug: keep the trace in the log, one line for the user
                log.error("operation %s crashed:\n%s", op_id, mask(traceback.format_exc()))
                self.store.finish_operation(op_id, "failed", mask(f"internal error: {e}"),
                                            code="internal")
                notify.failed_operation(self.store, target, kind, mask(f"internal error: {e}"))
            finally:
                with self._lock:
                    for t in targets:
                        self._running.pop(t, None)

        threading.Thread(target=body, name=f"op-{kind}-{op_id}", daemon=True).start()
        return op_id
