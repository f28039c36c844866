"""Sizes and durations as people write them, and back (pure).

Memory follows Docker's reading: K, M, G with or without `i` and `B` are powers of 1024, so
`256M` and `256Mi` are the same size and a file written either way deploys the same limit.
Formatting gives the shortest exact form, so an exported file reads like a hand-written one.
"""
from __future__ import annotations

import re

from .metrics import parse_duration  # noqa: F401  (one parser of durations for the whole tree)

_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)(?:i?[bB]?)?$")
_POWER = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4}
MIN_MEMORY = 16 * 2**20  # Docker refuses limits under 6 MiB; a web task needs more anyway
MAX_CPU = 256.0


def parse_memory(value: str | int) -> int:
    """'256Mi', '1Gi', '512M', '1.5G' or a number of bytes -> bytes."""
    if isinstance(value, bool):
        raise ValueError("must be a size like 256Mi or 1Gi")
    if isinstance(value, int):
        size = value
    else:
        m = _SIZE.match(str(value).strip())
        if not m:
            raise ValueError(f"{value!r} is not a size like 256Mi or 1Gi")
        size = int(float(m.group(1)) * 1024 ** _POWER[m.group(2).lower()])
    if size < MIN_MEMORY:
        raise ValueError(f"{value!r} is too small: at least 16Mi")
    return size


def format_memory(size: int) -> str:
    for unit, power in (("Ti", 4), ("Gi", 3), ("Mi", 2), ("Ki", 1)):
        if size % 1024 ** power == 0:
            return f"{size // 1024 ** power}{unit}"
    return str(size)


def check_cpu(value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.01 <= value <= MAX_CPU:
        raise ValueError(f"{value!r} is not a share of cores from 0.01 to {MAX_CPU:g}")
    return float(value)


def format_duration(seconds: float) -> str:
    """120 -> '2m', 90 -> '90s', 7200 -> '2h', 0.5 -> '500ms': the largest unit that is exact."""
    if seconds != int(seconds):
        return f"{round(seconds * 1000)}ms" if seconds < 1 else f"{seconds:g}s"
    s = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s and s % size == 0:
            return f"{s // size}{unit}"
    return f"{s}s"
