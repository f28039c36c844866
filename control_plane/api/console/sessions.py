"""The console's sign-in sessions: the API token is exchanged once for a random session id
kept in an HttpOnly, SameSite=Strict cookie, with a CSRF token the page sends back on every
state-changing request. In memory: a restarted control plane signs everyone out, which is the
safe side (`sentinel console` signs in again)."""
from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

COOKIE = "sentinel_session"
CSRF_HEADER = b"x-csrf-token"
IDLE_SECONDS = 30 * 60       # unused this long: signed out
LIFETIME_SECONDS = 12 * 3600  # whatever the use: signed out (a stolen cookie does not last)
MAX_SESSIONS = 256           # only token holders make sessions; still, memory stays bounded


@dataclass
class Session:
    csrf: str
    created: float
    seen: float

    def expires_at(self, idle: float, lifetime: float) -> float:
        return min(self.created + lifetime, self.seen + idle)


def _key(sid: str) -> str:
    # Only a hash is kept as the key: the cookie's value is nowhere in the process's state.
    return hashlib.sha256(sid.encode()).hexdigest()


class Sessions:
    def __init__(self, idle: float = IDLE_SECONDS, lifetime: float = LIFETIME_SECONDS,
                 clock: Callable[[], float] = time.time):
        self.idle, self.lifetime, self.clock = idle, lifetime, clock
        self._by_key: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self) -> tuple[str, Session]:
        sid, now = secrets.token_urlsafe(32), self.clock()
        session = Session(csrf=secrets.token_urlsafe(32), created=now, seen=now)
        with self._lock:
            self._prune(now)
            while len(self._by_key) >= MAX_SESSIONS:  # the least recently used goes
                del self._by_key[min(self._by_key, key=lambda k: self._by_key[k].seen)]
            self._by_key[_key(sid)] = session
        return sid, session

    def get(self, sid: str | None) -> Session | None:
        """The live session of this cookie value (its idle time starts again), else None."""
        if not sid:
            return None
        now = self.clock()
        with self._lock:
            session = self._by_key.get(_key(sid))
            if session is None:
                return None
            if now >= self.expires_at(session):
                del self._by_key[_key(sid)]
                return None
            session.seen = now
            return session

    def end(self, sid: str | None) -> None:
        if sid:
            with self._lock:
                self._by_key.pop(_key(sid), None)

    def expires_at(self, session: Session) -> float:
        return session.expires_at(self.idle, self.lifetime)

    def _prune(self, now: float) -> None:
        for k in [k for k, s in self._by_key.items() if now >= self.expires_at(s)]:
            del self._by_key[k]


def csrf_ok(session: Session, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), session.csrf.encode())


def cookie_value(headers: list[tuple[bytes, bytes]], name: str = COOKIE) -> str | None:
    for k, v in headers:
        if k.lower() == b"cookie":
            for part in v.decode("latin-1").split(";"):
                key, _, value = part.strip().partition("=")
                if key == name:
                    return value
    return None


def header(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    for k, v in headers:
        if k.lower() == name:
            return v.decode("latin-1")
    return None
