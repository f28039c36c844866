"""A bounded load generator for the e2e tests: loopback only, stops by itself."""
from __future__ import annotations

import threading
import time
from collections import Counter

import httpx

# The least load an "under load" test accepts: enough requests that a dropped one would show.
# It is not a throughput figure (those are in bench/): the suite runs three groups side by side on
# 2 cores, where this generator has reached 42 requests/s (it reaches 100+ on an idle machine).
MIN_RATE = 25


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


def failure(r: httpx.Response) -> str:
    """A failed answer as a test prints it: its status, the version that gave it, its text."""
    return f"{r.status_code} {r.headers.get('x-app-version')} {r.text[:120]}"


class Writer:
    """Inserts rows through the app (POST /api/todos) as fast as answers come, one client,
    recording every acknowledged id with the time it was sent, and every failure with the times
    it was sent and ended (a write in flight when a fault strikes fails up to TIMEOUT s later)."""

    TIMEOUT = 5.0

    def __init__(self, base: str, host: str, prefix: str, max_seconds: float = 300):
        self.base, self.host, self.prefix, self.max_seconds = base, host, prefix, max_seconds
        self.acked: list[tuple[float, int]] = []
        self.failures: list[tuple[float, float, str]] = []  # (sent, ended, what)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        i = 0
        with httpx.Client(timeout=self.TIMEOUT, headers={"Host": self.host}) as c:
            while not self._stop.is_set() and time.monotonic() < deadline:
                i += 1
                t = time.monotonic()
                try:
                    got = self._once(c, i)
                    if isinstance(got, int):
                        self.acked.append((t, got))
                    else:
                        self.failures.append((t, time.monotonic(), got))
                except httpx.HTTPError as e:
                    self.failures.append((t, time.monotonic(), type(e).__name__))
                time.sleep(0.01)

    def _once(self, c: httpx.Client, i: int) -> int | str:
        """One request: the acknowledged row's id, or what went wrong."""
        r = c.post(f"{self.base}/api/todos", json={"title": f"{self.prefix}-{i}"})
        return r.json()["id"] if r.status_code == 201 else failure(r)

    def __enter__(self) -> "Writer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=15)

    def ids(self) -> list[int]:
        return [i for _, i in self.acked]

    def first_ack_after(self, t: float) -> float | None:
        return next((a - t for a, _ in self.acked if a > t), None)

    def back_after(self, t: float) -> float | None:
        """Seconds from `t` (a fault) to the first acknowledged request sent after the last
        failure that ended after it; 0 when nothing failed; None when nothing has succeeded since."""
        return self._back(t, max)

    def first_back_after(self, t: float) -> float | None:
        """The same from the first failure after `t`: when requests were answered again at all."""
        return self._back(t, min)

    def _back(self, t: float, pick) -> float | None:
        fail = pick((sent for sent, ended, _ in self.failures if ended > t), default=None)
        if fail is None:
            return 0.0 if self.first_ack_after(t) is not None else None
        return next((a - t for a, _ in self.acked if a > fail), None)

    def quiet_for(self) -> float:
        """Seconds since the last failure ended (since the start when none has failed)."""
        return time.monotonic() - max((ended for _, ended, _ in self.failures), default=0.0)


class Reader(Writer):
    """The same clock for reads: GET /api/todos, every 200 answer counted as acknowledged."""

    def _once(self, c: httpx.Client, i: int) -> int | str:
        r = c.get(f"{self.base}/api/todos")
        return i if r.status_code == 200 else failure(r)
