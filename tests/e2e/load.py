"""A bounded load generator for the e2e tests: loopback only, stops by itself."""
from __future__ import annotations

import threading
import time
from collections import Counter

import httpx


class Load:
    def __init__(self, url: str, host: str, workers: int = 6, pause: float = 0.01,
                 max_seconds: float = 300):
        self.url, self.host, self.workers, self.pause = url, host, workers, pause
        self.max_seconds = max_seconds
        self.codes: Counter = Counter()
        self.versions: Counter = Counter()
        self.failed_versions: Counter = Counter()  # app version (None: no answer) -> failures
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.started = self.ended = 0.0

    def _worker(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        with httpx.Client(timeout=10, headers={"Host": self.host}) as c:
            while not self._stop.is_set() and time.monotonic() < deadline:
                c.cookies.clear()
                try:
                    r = c.get(self.url)
                    self.codes[r.status_code] += 1
                    self.versions[r.headers.get("x-app-version")] += 1
                    if not 200 <= r.status_code < 300:
                        self.errors.append(f"{r.status_code} {r.text[:80]}")
                        self.failed_versions[r.headers.get("x-app-version")] += 1
                except httpx.HTTPError as e:
                    self.errors.append(f"{type(e).__name__}: {e}")
                    self.failed_versions[None] += 1
                time.sleep(self.pause)

    def __enter__(self) -> "Load":
        self.started = time.monotonic()
        for _ in range(self.workers):
            t = threading.Thread(target=self._worker, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=15)
        self.ended = time.monotonic()

    @property
    def total(self) -> int:
        return sum(self.codes.values()) + sum(1 for e in self.errors if not e[:3].isdigit())

    @property
    def rate(self) -> float:
        return self.total / max(self.ended - self.started, 1e-9)
