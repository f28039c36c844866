"""Human units for the judge's figures, as the report page shows them (static/format.js):
a difference (canary − control) of latency in ms, memory in KiB/MiB/GiB, a ratio in percentage
points; metrics of a user's own analysis have no known unit and keep their number."""
from __future__ import annotations

import math

KIB, MIB, GIB = 1024, 1024 ** 2, 1024 ** 3


def unit(metric: str, values: list[float | None]) -> tuple[float, str]:
    """(divisor, label) for every figure of one metric, chosen from the largest of them."""
    top = max([abs(v) for v in values if v is not None and math.isfinite(v)], default=0.0)
    if metric in ("latency_p50", "latency_p99"):
        return (0.001, "ms") if top < 1 else (1, "s")
    if metric == "memory":
        return (GIB, "GiB") if top >= GIB else (MIB, "MiB") if top >= MIB else (KIB, "KiB")
    if metric == "error_ratio":
        return 0.01, "pp"
    if metric == "cpu":
        return 1, "cores"
    if metric == "request_rate":
        return 1, "req/s"
    return 1, ""


def num(x: float) -> str:
    """Up to 3 significant digits, no exponent for the sizes shown (format.js num)."""
    if x == 0:
        return "0"
    a = abs(x)
    if a >= 100:
        return f"{x:.0f}"
    if a >= 0.01:
        text = f"{x:.1f}" if a >= 10 else f"{x:.2f}"
        return text.rstrip("0").rstrip(".")
    return f"{x:.2g}"


def signed(v: float | None, div: float = 1) -> str:
    if v is None or not math.isfinite(v):
        return "-"
    x = v / div
    return f"+{num(x)}" if x > 0 else num(x)


def delta(metric: str, estimate: float | None, ci: list | None) -> tuple[str, str]:
    """The estimate and the interval of one metric, e.g. ("+74 ms", "[+61, +89] ms")."""
    ci = [c for c in (ci or []) if c is not None] if ci else []
    div, label = unit(metric, [estimate, *ci])
    tail = f" {label}" if label else ""
    est = f"{signed(estimate, div)}{tail}" if estimate is not None else "-"
    interval = f"[{signed(ci[0], div)}, {signed(ci[1], div)}]{tail}" if len(ci) == 2 else "-"
    return est, interval
