"""A progressive canary's plan, as data: its weight steps, pauses and intervals, checked and
described, and the pure decisions the driver (services/progressive.py) takes at each step. No I/O
here: the canary service builds a plan with it, the driver walks it."""
from __future__ import annotations

import threading

from .. import validation
from ..errors import InvalidInput
from ..records import Plan

# One writer at a time of a progressive plan: a person's approval and the driver's own saves.
plan_lock = threading.RLock()
MAX_HOLDS = 2          # marginal verdicts tolerated in a row at one step
EARLY_MIN_POINTS = 5   # the early check acts only on this many canary points with data
EARLY_LOOKBACK = 30.0  # seconds of the current step the early check looks at, at most
GATES = ("awaiting_approval", "pausing")  # a passed step waiting to go on
WAITING = GATES + ("awaiting_promotion", "awaiting_decision")


def split_steps(steps) -> tuple[list[int] | None, list | None, list | None]:
    """Steps as the API takes them (weights, or CanaryStep with pause and interval) ->
    (weights, pauses, intervals); pauses and intervals are None when no step has one."""
    if steps is None:
        return None, None, None
    weights = [s if isinstance(s, int) else s.weight for s in steps]
    pauses = [None if isinstance(s, int) else s.pause for s in steps]
    intervals = [None if isinstance(s, int) else s.interval for s in steps]
    return (weights, pauses if any(x is not None for x in pauses) else None,
            intervals if any(x is not None for x in intervals) else None)


def least_interval(scrape_seconds: float) -> float:
    return max(5.0, 3 * scrape_seconds)


def validate_plan(steps: list[int] | None, interval: float | None, auto_promote: bool,
                  baseline: bool, scrape_seconds: float, mirror: int = 0,
                  intervals: list | None = None) -> None:
    """A shadow canary (mirror) may start with a step at weight 0, judged on mirrored requests."""
    if steps is None:
        if auto_promote or interval is not None:
            raise InvalidInput("--auto-promote and --interval need --steps (e.g. --steps 5,20,50).")
        return
    if not steps:
        raise InvalidInput("--steps needs at least one weight, e.g. --steps 5,20,50.")
    top = validation.max_weight(baseline)
    for i, w in enumerate(steps):
        low = 0 if (i == 0 and mirror) else 1
        if not validation.is_weight(w, low, baseline):
            raise InvalidInput(f"step {w!r} is not a weight from {low} to {top}"
                               + (" (with a baseline, canary and baseline each get the weight)" if baseline else "")
                               + ".")
    if any(b <= a for a, b in zip(steps, steps[1:])):
        raise InvalidInput(f"--steps must increase: {','.join(map(str, steps))}.")
    own = intervals or [None] * len(steps)
    if interval is None and not all(own):
        raise InvalidInput("--steps needs --interval (how long each step runs before it is judged), e.g. 60s.")
    least = least_interval(scrape_seconds)
    for seconds in [interval, *own]:
        if seconds is not None and seconds < least:
            raise InvalidInput(f"--interval {seconds:g}s is too short to judge: it must be at least "
                               f"{least:g}s (3 scrapes).")


def new_plan(steps: list[int], interval: float | None, auto_promote: bool, now: float,
             pauses: list | None = None, intervals: list | None = None) -> Plan:
    plan = Plan(steps=steps, interval=interval, auto_promote=auto_promote, step_started=now,
                pauses=pauses or None, intervals=intervals or None)
    return plan.changed(next_at=now + step_interval(plan, 0))


def step_interval(plan: Plan, index: int) -> float:
    """How long step `index` runs before it is judged: its own interval, else the plan's."""
    own = (plan.intervals or [None] * (index + 1))[index]
    seconds = own or plan.interval
    assert seconds is not None, "validate_plan gives every step an interval"
    return seconds


def step_pause(plan: Plan, index: int):
    """The gate after step `index`: None, "approve" or seconds."""
    return (plan.pauses or [None] * (index + 1))[index]


def describe_plan(plan: Plan) -> str:
    parts = []
    for i, w in enumerate(plan.steps):
        pause = step_pause(plan, i)
        parts.append(f"{w}%" + (" (approve)" if pause == "approve" else
                                f" (pause {pause:g}s)" if pause else ""))
    every = f" every {plan.interval:g}s" if plan.interval else ""
    return f"steps {', '.join(parts)}{every}" + (" then promote" if plan.auto_promote else "")


def decide(plan: Plan, verdict: str, inconclusive_holds: int = 2, then: str = "rollback") -> str:
    """What a judgment at the end of an interval leads to: next|promote|wait|hold|rollback.
    An inconclusive verdict holds (up to `inconclusive_holds` times), then leads to `then`
    (rollback, or wait for a person)."""
    if verdict == "inconclusive":
        return "hold" if plan.data_holds < inconclusive_holds else then
    if verdict == "pass":
        if plan.step_index + 1 < len(plan.steps):
            return "next"
        return "promote" if plan.auto_promote else "wait"
    if verdict == "marginal" and plan.holds < MAX_HOLDS:
        return "hold"
    return "rollback"


def early_failure(result: dict) -> list[str]:
    """Names of critical metrics that regressed (a missing series is not a regression here)."""
    return [m["name"] for m in result["metrics"]
            if m["critical"] and m["classification"] in ("High", "Low")]


def describe(result: dict) -> str:
    bad = [f"{m['name']} {m['classification']}" for m in result["metrics"]
           if m["classification"] != "Pass"]
    return (f"score {result['score']:.0f} ({result['verdict']})"
            + (f": {', '.join(bad)}" if bad else "")
            + (f"; {result['reason']}" if result.get("reason") else ""))
