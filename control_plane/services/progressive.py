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
Gates (the app's release policy, control_plane/webhooks.py): a passed step with `pause: approve`
waits in state `awaiting_approval` (weight kept) until `sentinel canary approve`; with a pause
of some duration it waits that long (`pausing`). While it waits the early check keeps watching.
Before each step up the confirm_traffic_increase hook, before an automatic promotion the
confirm_promotion hook is asked; any answer but 2xx holds one more interval (judged again, then
asked again). The rollback hook is asked once an interval; a 2xx answer rolls back.
Decisions go through the same jobs as a person's commands, so they respect the per-app lock.
When the driver cannot judge (Prometheus unreachable, a query refused), it holds: no step is
taken, an event and a `failure` notification say so once, `canary status` shows it, and the
canary is rolled back once that has lasted `blind_limit` (never promoted on no data).
"""
from __future__ import annotations

import logging
import threading
import time

from .. import names, notify, webhooks
from ..errors import Busy, SentinelError
from ..jobs import Jobs
from .analysis import Analyzer, analysis_config, only_critical
from .canary import CanaryService
from .plan import (EARLY_LOOKBACK, EARLY_MIN_POINTS, GATES, WAITING, decide, describe, early_failure,
                   plan_lock, step_interval, step_pause)
from ..records import Canary, Plan

log = logging.getLogger("sentinel.progressive")
# How long a canary may go unjudged before it is rolled back: ten minutes, or two of its steps'
# intervals when those are longer (a short outage of Prometheus should not cost a release).
NO_DATA_ROLLBACK = 600.0


def blind_limit(plan: Plan) -> float:
    return max(NO_DATA_ROLLBACK, 2 * step_interval(plan, plan.step_index))


class ProgressiveDriver:
    def __init__(self, canary: CanaryService, jobs: Jobs, analyzer: Analyzer):
        self.canary = canary
        self.p = canary.p
        self.store = canary.store
        self.jobs = jobs
        self.analyzer = analyzer
        self.hooks = canary.hooks
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
            plan = c.progressive
            if c.state != "running" or not plan:
                continue
            if self.jobs.busy(names.app_target(c.app)):
                continue  # a deploy step, a person's command or our own decision is running
            t = now or time.time()
            try:
                state = plan.state
                if state == "promoting":  # cut off by a restart: finish it
                    self._promote(c.app, plan)
                elif state == "running":
                    self._step(c, plan, t)
                elif state == "approved":  # a person passed the gate
                    self._go_on(c, plan, t)
                elif state in WAITING:
                    self._wait(c, plan, t)
            except SentinelError as e:  # e.g. Prometheus unreachable: hold, say so, try next tick
                log.warning("progressive %s: %s", c.app, e.message)
                self._blind(c.app, e.message, t)
            else:
                if plan.blind_since is not None:
                    self._sighted(c.app, t)

    def _blind(self, app: str, why: str, now: float) -> None:
        """The driver could not judge: hold (nothing was decided), say so once, and roll back
        once it has lasted blind_limit."""
        c = self.store.canary(app)
        plan = c.progressive if c else None
        if plan is None:
            return
        if plan.blind_since is None:
            limit = blind_limit(plan)
            self._save(app, plan.changed(blind_since=now, blind_error=why))
            said = (f"cannot judge the canary at {plan.weight}%: {why}; holding (no step is "
                    f"taken) and rolling back if this lasts {limit / 60:g} min")
            self._event(app, "hold", said)
            notify.send(self.store, app, "failure", f"canary {c.image}: {said}")
        elif now - plan.blind_since >= blind_limit(plan):
            self._event(app, "hold", f"no judgment for {(now - plan.blind_since) / 60:.0f} min "
                                     f"({why}): rolling back")
            self._rollback(app, f"no judgment was possible for {(now - plan.blind_since) / 60:.0f} "
                                f"min: {why}")
        elif why != plan.blind_error:
            self._save(app, plan.changed(blind_error=why))

    def _sighted(self, app: str, now: float) -> None:
        """Judging works again: the walk goes on from where it held."""
        c = self.store.canary(app)
        plan = c.progressive if c else None
        if plan is None or plan.blind_since is None:
            return
        self._save(app, plan.changed(blind_since=None, blind_error=None))
        self._event(app, "hold", f"judging again after {now - plan.blind_since:.0f} s without: "
                                 "the walk goes on")

    def _event(self, app: str, kind: str, message: str) -> None:
        self.store.add_event(names.canary_target(app), kind, message, "sentinel")
        webhooks.on_event(self.store, app, kind, message, "sentinel")

    def _save(self, app: str, plan: Plan, expect: str | None = None) -> bool:
        """Store the plan; with `expect`, only if the stored plan is still in that state (a
        person may have approved meanwhile)."""
        with plan_lock:
            c = self.store.canary(app)
            if not c:  # gone means rolled back or promoted meanwhile
                return False
            if expect and (not c.progressive or c.progressive.state != expect):
                return False
            c.progressive = plan
            self.store.put_canary(c)
            return True

    def _start(self, app: str, kind: str, fn) -> bool:
        try:
            self.jobs.start(names.app_target(app), kind, fn, actor="sentinel")
            return True
        except Busy:
            return False

    def _rollback(self, app: str, reason: str, failing: list[str] | None = None) -> None:
        self._start(app, "canary-rollback",
                    lambda op: self.canary.rollback(op, app, reason, failing))

    def _promote(self, app: str, plan: Plan) -> None:
        def promote(op):
            c = self.store.canary(app)
            if not self.hooks.confirm(app, "confirm_promotion", self._payload(app, c), op):
                self._hold(app, plan, "the confirm-promotion hook did not answer 2xx")
                return {"held": "confirm_promotion"}
            try:
                return self.canary.promote(op, app)
            except Exception:
                self._save(app, plan.changed(state="awaiting_promotion"))
                self._event(app, "progress", "automatic promotion failed: see the operation's "
                                             "events; promote or roll back by hand")
                raise

        self._save(app, plan.changed(state="promoting"))
        if not self._start(app, "canary-promote", promote):
            self._save(app, plan)

    def _payload(self, app: str, c: Canary | None, **extra) -> dict:
        return webhooks.canary_payload("", self.store.app(app), c, **extra)

    def _hold(self, app: str, plan: Plan, why: str) -> None:
        """A confirm hook said no: stay at this weight one more interval, then judge and ask again."""
        t = time.time()
        self._save(app, plan.changed(state="running", next_at=t + self._every(plan)))
        self._event(app, "progress", f"{why}: holding at {plan.weight}%, "
                                     "asked again after the next interval")

    def _early(self, c: Canary, plan: Plan, now: float, config) -> bool:
        """The early check (critical metrics over the last seconds of the step); True when it
        rolled the canary back."""
        app = c.app
        critical = only_critical(config)
        if not critical:
            return False
        start = max(plan.step_started, now - EARLY_LOOKBACK)
        result = self.analyzer.judge(app, c, critical, start, now, kind="early", archive=False,
                                     count_requests=False)
        points = max(result["points"].values(), default=0)
        bad = early_failure(result)
        if bad and points >= EARLY_MIN_POINTS:
            result = self.analyzer.judge(app, c, critical, start, now, kind="early",
                                         count_requests=False)
            self._event(app, "judgment", f"early check at {c.weight}%: critical "
                                         f"{', '.join(bad)} regressed; rolling back")
            self._rollback(app, f"early check: critical metric {', '.join(bad)} regressed", bad)
            return True
        return False

    def _rollback_asked(self, c: Canary, plan: Plan) -> bool:
        """Flagger's rollback hook: asked once an interval; 2xx means roll back now."""
        app = c.app
        answer = self.hooks.call(app, "rollback", {**self._payload(app, c), "type": "rollback"},
                                 retries=0)
        if answer is not None and answer.ok:
            self._event(app, "progress", "the rollback hook answered 2xx: rolling back")
            self._rollback(app, "the rollback hook asked for it")
            return True
        return False

    def _step(self, c: Canary, plan: Plan, now: float) -> None:
        app = c.app
        config = analysis_config(c.analysis)
        if now < plan.next_at:
            self._early(c, plan, now, config)
            return
        if self._rollback_asked(c, plan):
            return
        result = self.analyzer.judge(app, c, config, plan.step_started, now, kind="step")
        action = decide(plan, result["verdict"], config.inconclusive.holds, config.inconclusive.then)
        self._event(app, "judgment", f"step {plan.step_index + 1}/{len(plan.steps)} at "
                                     f"{plan.weight}%: {describe(result)} -> {action}")
        if action in ("next", "promote") and self._gate(c, plan, now):
            return
        if action in ("next", "promote"):
            self._proceed(app, plan, action)
        elif action == "hold" and result["verdict"] == "inconclusive":
            self._save(app, plan.changed(data_holds=plan.data_holds + 1, next_at=now + self._every(plan)))
        elif action == "hold":
            self._save(app, plan.changed(holds=plan.holds + 1, next_at=now + self._every(plan)))
        elif action == "wait" and result["verdict"] == "inconclusive":
            self._save(app, plan.changed(state="awaiting_decision"))
            self._event(app, "progress", f"still not enough data after {config.inconclusive.holds} "
                                         f"holds: promote with `sentinel canary promote {app}` or roll back")
            notify.send(self.store, app, "gate", f"canary {c.image} has not enough data to be "
                        f"judged: promote or roll it back")
        elif action == "wait":
            self._save(app, plan.changed(state="awaiting_promotion"))
            self._event(app, "progress", "every step passed: promote with "
                                         f"`sentinel canary promote {app}` or roll back")
            notify.send(self.store, app, "gate", f"every step of canary {c.image} passed: "
                        "it waits for a promotion")
        else:
            failing = [m["name"] for m in result["metrics"] if m["classification"] in ("High", "Low")]
            self._rollback(app, f"judged {describe(result)}", failing)

    def _gate(self, c: Canary, plan: Plan, now: float) -> bool:
        """Stop at the step's gate, if it has one it has not passed; True when it stopped."""
        app, index = c.app, plan.step_index
        pause = step_pause(plan, index)
        if not pause or plan.gate_passed == index:
            return False
        weight = plan.weight
        if pause == "approve":
            self._save(app, plan.changed(state="awaiting_approval", poll_at=now + self._every(plan)))
            self._event(app, "gate", f"step {index + 1}/{len(plan.steps)} at {weight}% passed; "
                                     f"waiting for approval: `sentinel canary approve {app}`")
            notify.send(self.store, app, "gate", f"canary {c.image} at {weight}% waits for "
                        f"approval: `sentinel canary approve {app}`")
        else:
            self._save(app, plan.changed(state="pausing", resume_at=now + pause,
                                         poll_at=now + self._every(plan)))
            self._event(app, "gate", f"step {index + 1}/{len(plan.steps)} at {weight}% passed; "
                                     f"pausing {pause:g}s before going on")
        return True

    def _every(self, plan: Plan) -> float:
        return step_interval(plan, plan.step_index)

    def _after(self, plan: Plan) -> str:
        """What follows the current step once it passed: next, promote or wait."""
        if plan.step_index + 1 < len(plan.steps):
            return "next"
        return "promote" if plan.auto_promote else "wait"

    def _go_on(self, c: Canary, plan: Plan, now: float) -> None:
        """Past the gate: take the step the judgment had decided."""
        app = c.app
        plan = plan.changed(gate_passed=plan.step_index)
        action = self._after(plan)
        if action == "wait":
            self._save(app, plan.changed(state="awaiting_promotion"))
            self._event(app, "progress", "every step passed: promote with "
                                         f"`sentinel canary promote {app}` or roll back")
            return
        self._proceed(app, plan.changed(state="running"), action)

    def _proceed(self, app: str, plan: Plan, action: str) -> None:
        if action == "promote":
            self._promote(app, plan)
            return
        nxt = plan.steps[plan.step_index + 1]

        def advance(op):
            c = self.store.canary(app)
            if not self.hooks.confirm(app, "confirm_traffic_increase",
                                      self._payload(app, c, next_weight=nxt), op):
                self._hold(app, plan, "the confirm-traffic-increase hook did not answer 2xx")
                return {"held": "confirm_traffic_increase"}
            out = self.canary.traffic(op, app, nxt)
            t = time.time()
            index = plan.step_index + 1
            self._save(app, plan.changed(state="running", step_index=index, step_started=t,
                                         next_at=t + step_interval(plan, index), holds=0, data_holds=0))
            return out

        if plan.state != "running":
            self._save(app, plan.changed(state="running"))
        self._start(app, "canary-traffic", advance)

    def _wait(self, c: Canary, plan: Plan, now: float) -> None:
        """A canary waiting (for a person, a pause or a promotion): the early check keeps
        watching at a gate; the rollback hook is asked once an interval; a pause ends."""
        app, state = c.app, plan.state
        if state in GATES and self._early(c, plan, now, analysis_config(c.analysis)):
            return
        if now >= plan.poll_at:
            if self._rollback_asked(c, plan):
                return
            if not self._save(app, plan.changed(poll_at=now + self._every(plan)), expect=state):
                return  # a person approved (or something else changed it) meanwhile
        if state == "pausing" and now >= plan.resume_at:
            self._event(app, "gate", f"pause at {plan.weight}% over")
            self._go_on(c, plan, now)
