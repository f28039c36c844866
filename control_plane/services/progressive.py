"""Progressive delivery: walk a canary through its weight steps, judging at each one.

One driver thread per control plane. Its whole state is in the store (the canary's
`progressive` record), so a restarted control plane picks up where it stopped: a judgment
that came due while it was down is made at once over the step's whole window.

Each tick (one scrape interval):
  - early check: the metrics marked critical, over the step so far; a critical regression rolls
    back at once, without waiting for the interval;
  - when the interval is up: the full judgment. pass -> next step (or promote with
    --auto-promote, else wait for a person); marginal -> hold one more interval, a bounded number
    of times; fail -> roll back; inconclusive (not enough data: too few points or canary
    requests) -> hold one more interval, the judgment then covering the longer step, at most
    `inconclusive.holds` times, then roll back or wait for a person (`inconclusive.then`).
    Never a pass.
Decisions go through the same jobs as a person's commands, so they respect the per-app lock.
"""
from __future__ import annotations

import logging
import threading
import time

from ..errors import Busy, InvalidInput, SentinelError
from ..jobs import Jobs
from .analysis import Analyzer, analysis_config, only_critical
from .canary import CanaryService

log = logging.getLogger("sentinel.progressive")
MAX_HOLDS = 2          # marginal verdicts tolerated in a row at one step
EARLY_MIN_POINTS = 5   # the early check acts only on this many canary points with data
EARLY_LOOKBACK = 30.0  # seconds of the current step the early check looks at, at most


def validate_plan(steps: list[int] | None, interval: float | None, auto_promote: bool,
                  baseline: bool, scrape_seconds: float) -> None:
    if steps is None:
        if auto_promote or interval is not None:
            raise InvalidInput("--auto-promote and --interval need --steps (e.g. --steps 5,20,50).")
        return
    if not steps:
        raise InvalidInput("--steps needs at least one weight, e.g. --steps 5,20,50.")
    top = 50 if baseline else 100
    for w in steps:
        if isinstance(w, bool) or not isinstance(w, int) or not 1 <= w <= top:
            raise InvalidInput(f"step {w!r} is not a weight from 1 to {top}"
                               + (" (with a baseline, canary and baseline each get the weight)" if baseline else "")
                               + ".")
    if any(b <= a for a, b in zip(steps, steps[1:])):
        raise InvalidInput(f"--steps must increase: {','.join(map(str, steps))}.")
    if interval is None:
        raise InvalidInput("--steps needs --interval (how long each step runs before it is judged), e.g. 60s.")
    least = max(5.0, 3 * scrape_seconds)
    if interval < least:
        raise InvalidInput(f"--interval {interval:g}s is too short to judge: it must be at least "
                           f"{least:g}s (3 scrapes).")


def new_plan(steps: list[int], interval: float, auto_promote: bool, now: float) -> dict:
    return {"steps": steps, "step_index": 0, "interval": interval, "auto_promote": auto_promote,
            "step_started": now, "next_at": now + interval, "holds": 0, "state": "running"}


def decide(plan: dict, verdict: str, inconclusive_holds: int = 2, then: str = "rollback") -> str:
    """What a judgment at the end of an interval leads to: next|promote|wait|hold|rollback.
    An inconclusive verdict holds (up to `inconclusive_holds` times), then leads to `then`
    (rollback, or wait for a person)."""
    if verdict == "inconclusive":
        return "hold" if plan.get("data_holds", 0) < inconclusive_holds else then
    if verdict == "pass":
        if plan["step_index"] + 1 < len(plan["steps"]):
            return "next"
        return "promote" if plan["auto_promote"] else "wait"
    if verdict == "marginal" and plan["holds"] < MAX_HOLDS:
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


class ProgressiveDriver:
    def __init__(self, canary: CanaryService, jobs: Jobs):
        self.canary = canary
        self.p = canary.p
        self.store = canary.store
        self.jobs = jobs
        self.analyzer = Analyzer(self.p)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="progressive", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            period = 2.0
            try:
                if self.p.state == "ready":
                    period = max(1.0, self.p.scrape_seconds)
                    self.tick()
            except Exception:  # keep driving the other canaries; the log has the trace
                log.exception("progressive tick failed")
            self._stop.wait(period)

    def tick(self, now: float | None = None) -> None:
        for c in self.store.canaries():
            plan = c.get("progressive")
            if c.get("state") != "running" or not plan:
                continue
            if self.jobs.busy(f"app:{c['app']}"):
                continue  # a deploy step, a person's command or our own decision is running
            try:
                if plan.get("state") == "promoting":  # cut off by a restart: finish it
                    self._promote(c["app"], plan)
                elif plan.get("state") == "running":
                    self._step(c, plan, now or time.time())
            except SentinelError as e:  # e.g. Prometheus unreachable: say so, try next tick
                log.warning("progressive %s: %s", c["app"], e.message)

    def _event(self, app: str, kind: str, message: str) -> None:
        self.store.add_event(f"canary:{app}", kind, message, "sentinel")

    def _save(self, app: str, plan: dict) -> None:
        c = self.store.canary(app)
        if c:  # gone means rolled back or promoted meanwhile
            c["progressive"] = plan
            self.store.put_canary(app, c)

    def _start(self, app: str, kind: str, fn) -> bool:
        try:
            self.jobs.start(f"app:{app}", kind, fn, actor="sentinel")
            return True
        except Busy:
            return False

    def _rollback(self, app: str, reason: str) -> None:
        self._start(app, "canary-rollback", lambda op: self.canary.rollback(op, app, reason))

    def _promote(self, app: str, plan: dict) -> None:
        def promote(op):
            try:
                return self.canary.promote(op, app)
            except Exception:
                self._save(app, {**plan, "state": "awaiting_promotion"})
                self._event(app, "progress", "automatic promotion failed: see the operation's "
                                             "events; promote or roll back by hand")
                raise

        self._save(app, {**plan, "state": "promoting"})
        if not self._start(app, "canary-promote", promote):
            self._save(app, plan)

    def _step(self, c: dict, plan: dict, now: float) -> None:
        app = c["app"]
        config = analysis_config(c.get("analysis"))
        critical = only_critical(config)
        if critical and now < plan["next_at"]:
            start = max(plan["step_started"], now - EARLY_LOOKBACK)
            result = self.analyzer.judge(app, c, critical, start, now, kind="early", archive=False,
                                         count_requests=False)
            points = max(result["points"].values(), default=0)
            bad = early_failure(result)
            if bad and points >= EARLY_MIN_POINTS:
                result = self.analyzer.judge(app, c, critical, start, now, kind="early",
                                             count_requests=False)
                self._event(app, "judgment", f"early check at {c['weight']}%: critical "
                                             f"{', '.join(bad)} regressed; rolling back")
                self._rollback(app, f"early check: critical metric {', '.join(bad)} regressed")
            return
        if now < plan["next_at"]:
            return
        result = self.analyzer.judge(app, c, config, plan["step_started"], now, kind="step")
        action = decide(plan, result["verdict"], config.inconclusive.holds, config.inconclusive.then)
        weight = plan["steps"][plan["step_index"]]
        self._event(app, "judgment", f"step {plan['step_index'] + 1}/{len(plan['steps'])} at "
                                     f"{weight}%: {describe(result)} -> {action}")
        if action == "next":
            nxt = plan["steps"][plan["step_index"] + 1]

            def advance(op):
                out = self.canary.traffic(op, app, nxt)
                t = time.time()
                self._save(app, {**plan, "step_index": plan["step_index"] + 1, "step_started": t,
                                 "next_at": t + plan["interval"], "holds": 0, "data_holds": 0})
                return out

            self._start(app, "canary-traffic", advance)
        elif action == "hold" and result["verdict"] == "inconclusive":
            self._save(app, {**plan, "data_holds": plan.get("data_holds", 0) + 1,
                             "next_at": now + plan["interval"]})
        elif action == "hold":
            self._save(app, {**plan, "holds": plan["holds"] + 1, "next_at": now + plan["interval"]})
        elif action == "promote":
            self._promote(app, plan)
        elif action == "wait" and result["verdict"] == "inconclusive":
            self._save(app, {**plan, "state": "awaiting_decision"})
            self._event(app, "progress", f"still not enough data after {config.inconclusive.holds} "
                                         f"holds: promote with `sentinel canary promote {app}` or roll back")
        elif action == "wait":
            self._save(app, {**plan, "state": "awaiting_promotion"})
            self._event(app, "progress", "every step passed: promote with "
                                         f"`sentinel canary promote {app}` or roll back")
        else:
            self._rollback(app, f"judged {describe(result)}")
