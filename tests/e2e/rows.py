"""Rows written through the demo app (examples/todo) for the data tests: one, or two batches with
a point in time between them."""
from __future__ import annotations

import datetime as dt
import time


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def add(platform, domain: str, title: str) -> int:
    r = platform.http(domain, "/api/todos", method="POST", json={"title": title})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def two_batches(platform, domain: str) -> tuple[list[str], str, list[str]]:
    """(batch a's titles, a time after a and before b, batch b's titles), written in that order."""
    batch_a = [f"a-{i}" for i in range(5)]
    for t in batch_a:
        add(platform, domain, t)
    time.sleep(1)
    target = utc_now()
    time.sleep(1)
    batch_b = [f"b-{i}" for i in range(5)]
    for t in batch_b:
        add(platform, domain, t)
    return batch_a, target, batch_b
