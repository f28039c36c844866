"""Progressive delivery decisions: plan validation, what a verdict leads to, the early check."""
import pytest

from control_plane.errors import InvalidInput
from control_plane.analysis import default_analysis
from control_plane.records import Canary, Plan
from control_plane.services.analysis import analysis_config, only_critical
from control_plane.services.plan import (MAX_HOLDS, decide, describe, early_failure, new_plan,
                                         validate_plan)


def test_a_plan_needs_increasing_weights_and_an_interval():
    validate_plan([5, 20, 50], 60, True, False, 2)
    validate_plan(None, None, False, False, 2)
    for steps, interval, msg in [([], 60, "at least one"), ([5, 5], 60, "must increase"),
                                 ([20, 5], 60, "must increase"), ([0, 5], 60, "from 1 to 100"),
                                 ([5, 101], 60, "from 1 to 100"), ([5, 20], None, "needs --interval"),
                                 ([5, 20], 4, "at least 6s")]:
        with pytest.raises(InvalidInput, match=msg):
            validate_plan(steps, interval, False, False, 2)


def test_with_a_baseline_steps_stop_at_fifty():
    with pytest.raises(InvalidInput, match="from 1 to 50"):
        validate_plan([10, 60], 60, False, True, 2)


def test_auto_promote_alone_is_refused():
    with pytest.raises(InvalidInput, match="need --steps"):
        validate_plan(None, None, True, False, 2)


def test_pass_walks_the_steps_then_promotes_or_waits():
    plan = new_plan([5, 20, 50], 60, True, now=1000)
    assert plan.next_at == 1060 and plan.step_index == 0
    assert decide(plan, "pass") == "next"
    last = plan.changed(step_index=2)
    assert decide(last, "pass") == "promote"
    assert decide(last.changed(auto_promote=False), "pass") == "wait"


def test_marginal_holds_a_bounded_number_of_times_then_rolls_back():
    plan = new_plan([5, 20], 60, False, now=0)
    assert decide(plan, "marginal") == "hold"
    assert decide(plan.changed(holds=MAX_HOLDS), "marginal") == "rollback"
    assert decide(plan, "fail") == "rollback"


def test_not_enough_data_holds_then_rolls_back_or_waits():
    plan = new_plan([5, 20], 60, True, now=0)
    assert decide(plan, "inconclusive") == "hold"  # never a pass, never the next step
    assert decide(plan.changed(data_holds=1), "inconclusive") == "hold"
    assert decide(plan.changed(data_holds=2), "inconclusive") == "rollback"
    assert decide(plan.changed(data_holds=2), "inconclusive", 2, "wait") == "wait"
    assert decide(plan, "inconclusive", 0, "wait") == "wait"
    # Inconclusive holds and marginal holds are counted apart.
    assert decide(plan.changed(data_holds=2), "marginal") == "hold"
    assert decide(plan.changed(holds=MAX_HOLDS), "inconclusive") == "hold"
    # A plan stored before this rule existed has no data_holds: it starts at 0.
    old = Plan.model_validate(plan.model_dump(exclude={"data_holds"}))
    assert old.data_holds == 0 and decide(old, "inconclusive") == "hold"


def test_describe_says_why_a_judgment_is_inconclusive():
    result = {"score": 100.0, "verdict": "inconclusive", "reason": "not enough data: 12 canary requests, "
              "at least 50 needed", "metrics": [{"name": "cpu", "classification": "Pass"},
                                                {"name": "latency_p99", "classification": "NotEnoughData"}]}
    assert describe(result) == ("score 100 (inconclusive): latency_p99 NotEnoughData; not enough data: "
                                "12 canary requests, at least 50 needed")


def test_early_config_keeps_the_level_and_the_inconclusive_policy():
    cfg = analysis_config({"metrics": [{"name": "error_ratio", "critical": True, "min_points": 7},
                                       {"name": "cpu"}], "confidence": 0.95,
                           "inconclusive": {"holds": 1, "then": "wait"}})
    crit = only_critical(cfg)
    assert crit.confidence == 0.95 and crit.inconclusive == cfg.inconclusive
    assert crit.metrics[0].min_points == 7


def test_early_check_acts_on_critical_regressions_only():
    result = {"metrics": [
        {"name": "error_ratio", "critical": True, "classification": "High"},
        {"name": "latency_p99", "critical": False, "classification": "High"},
        {"name": "cpu", "critical": True, "classification": "NodataFail"}]}
    assert early_failure(result) == ["error_ratio"]


def test_early_config_keeps_the_critical_metrics():
    crit = only_critical(default_analysis())
    assert [m.name for m in crit.metrics] == ["error_ratio"]
    none = analysis_config({"metrics": [{"name": "cpu"}]})
    assert only_critical(none) is None


def test_analysis_names_must_be_metrics_sentinel_collects():
    with pytest.raises(InvalidInput, match=r"metrics\[1\]\.name: 'rps' is not a metric"):
        analysis_config({"metrics": [{"name": "cpu"}, {"name": "rps"}]})
    with pytest.raises(InvalidInput, match=r"metrics\[0\]\.direction"):
        analysis_config({"metrics": [{"name": "cpu", "direction": "up"}]})


class _FakeProm:
    """Canary request rate 2 req/s, baseline 10 req/s, no 5xx; every other metric flat."""

    def range(self, query, start, end, step):
        if "5.." in query and " / " not in query:  # the 5xx rate the judge counts errors with
            return [[t, 0.0] for t in range(int(start), int(end) + 1, int(step))]
        if "requests_total" in query and "error" not in query and "5.." not in query and "duration" not in query:
            rate = 2.0 if "canary" in query else 10.0
            return [[t, rate] for t in range(int(start), int(end) + 1, int(step))]
        return [[t, 1.0 + (t % 3) * 0.01] for t in range(int(start), int(end) + 1, int(step))]


class _FakeStore:
    def __init__(self):
        self.saved = []

    def add_judgment(self, app, input, result):
        self.saved.append((input, result))


class _FakePlatform:
    scrape_seconds = 2.0

    def __init__(self):
        self.store = _FakeStore()

    def prometheus(self):
        return _FakeProm()


def test_live_judgments_count_requests_and_archive_them():
    from control_plane.services.analysis import Analyzer

    p = _FakePlatform()
    a = Analyzer(p)
    canary = Canary(app="todos", image="todo:2", baseline=True)
    cfg = analysis_config(None)
    # 20 s at 2 req/s: 40 canary requests, under the default 50: inconclusive, never a pass.
    result = a.judge("todos", canary, cfg, 1000.0, 1020.0, kind="step")
    counted = {"control": 200.0, "control_errors": 0.0, "experiment": 40.0, "experiment_errors": 0.0}
    assert result["requests"] == counted
    assert result["verdict"] == "inconclusive" and "40 canary requests" in result["reason"]
    saved_input, _ = p.store.saved[-1]
    assert saved_input["requests"] == counted
    # 60 s: 120 requests without an error still allow an error rate of 3.2%, above the 2% the
    # default analysis must rule out.
    sixty = a.judge("todos", canary, cfg, 1000.0, 1060.0)
    assert sixty["verdict"] == "inconclusive"
    assert sixty["reason"].startswith("not enough data: 120 canary requests with 0 error(s) cannot rule out")
    # 250 s: 500 requests without an error (at most 0.8%): judged on the metrics.
    assert a.judge("todos", canary, cfg, 1000.0, 1250.0)["verdict"] == "pass"
    # The early check does not count requests.
    assert a.judge("todos", canary, cfg, 1000.0, 1020.0, archive=False, count_requests=False)["requests"] is None
