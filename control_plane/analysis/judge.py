"""The canary judge: classify each metric, then score and grade the run.

A reimplementation of Netflix Kayenta's NetflixACAJudge from its published
description (see docs/judge.md for how we read it and where we differ):

1. per metric: clean (NaN strategy), validate (no data -> Nodata/NodataFail),
   Mann–Whitney test with the Hodges–Lehmann shift and its 98% interval;
2. classify: High/Low when the interval lies clearly (beyond a quarter of the
   estimate) above/below zero in a direction the metric cares about and the
   mean ratio reaches the allowed effect size; else Pass;
3. score: per-group pass percentages, weighted; 0 on any critical failure or
   when half or more of the metrics have no data; verdict by thresholds.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal, Mapping, Optional, Sequence

from pydantic import BaseModel

from .config import AnalysisConfig, MetricConfig, parse_judge_file

CONFIDENCE = 0.98  # Kayenta's NetflixACAJudge uses a 98% interval
TOLERANCE = 0.25  # the interval must clear zero by a quarter of |estimate| (Kayenta's default)
# R's uniroot tolerance is absolute (1e-4). We pass R's own tol.root argument
# scaled to the data, so the result does not depend on the metric's unit
# (an error ratio of 0.001 and a latency of 300 ms get the same relative precision).
RELATIVE_ROOT_TOLERANCE = 1e-4

Classification = Literal["Pass", "High", "Low", "Nodata", "NodataFail", "Error"]
FAILURES = ("High", "Low", "NodataFail", "Error")


class MetricResult(BaseModel):
    name: str
    classification: Classification
    critical: bool  # this metric's failure fails the whole run
    estimate: Optional[float] = None  # Hodges–Lehmann shift, experiment - control
    ci: list[Optional[float]] = [None, None]
    ratio: Optional[float] = None  # mean(experiment) / mean(control)


class JudgeResult(BaseModel):
    score: float
    verdict: Literal["pass", "marginal", "fail"]
    metrics: list[MetricResult]
    groups: dict[str, Optional[float]]  # None: no metric in the group could be judged


def _finite(v: Optional[float]) -> Optional[float]:
    """JSON has no NaN or infinity: report those as null."""
    return float(v) if v is not None and math.isfinite(v) else None


def _clean(values: Sequence[Optional[float]], strategy: str) -> list[float]:
    out: list[float] = []
    for v in values:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            if strategy == "replace":  # e.g. "no errors were counted" means 0 errors
                out.append(0.0)
        else:
            out.append(float(v))
    return out


def _mean_ratio(experiment: list[float], control: list[float]) -> Optional[float]:
    e = math.fsum(experiment) / len(experiment)
    c = math.fsum(control) / len(control)
    if c == 0:
        # No change from zero is "no change"; any move away from zero is an
        # unbounded ratio, which we leave undefined (null) and treat as large.
        return 1.0 if e == 0 else None
    return e / c


def _at_least(ratio: Optional[float], threshold: float) -> bool:
    return ratio is None or ratio >= threshold


def _at_most(ratio: Optional[float], threshold: float) -> bool:
    return ratio is None or ratio <= threshold


def classify_metric(
    cfg: MetricConfig,
    control: Sequence[Optional[float]],
    experiment: Sequence[Optional[float]],
) -> MetricResult:
    """Classify one metric's canary (experiment) series against the baseline (control)."""
    from .mannwhitney import mann_whitney

    x = _clean(experiment, cfg.nan_strategy)
    y = _clean(control, cfg.nan_strategy)
    if not x or not y:
        fail = cfg.must_have_data
        return MetricResult(name=cfg.name, classification="NodataFail" if fail else "Nodata", critical=fail and cfg.critical)
    if not all(math.isfinite(v) for v in x + y):
        return MetricResult(name=cfg.name, classification="Error", critical=cfg.critical)

    ratio = _mean_ratio(x, y)
    spread = (max(x) - min(y)) - (min(x) - max(y))
    if spread == 0:
        # Both series constant: R refuses (zero variance at the only candidate
        # shift), but every pairwise difference is the same number, so that
        # number is the shift, known exactly. Kayenta also judges this case.
        estimate = ci_low = ci_high = x[0] - y[0]
    else:
        try:
            _, estimate, ci_low, ci_high = mann_whitney(x, y, CONFIDENCE, RELATIVE_ROOT_TOLERANCE * spread)
        except (ValueError, ArithmeticError):
            return MetricResult(name=cfg.name, classification="Error", critical=cfg.critical, ratio=_finite(ratio))

    bound = TOLERANCE * abs(estimate)
    classification: Classification = "Pass"
    critical = False
    if cfg.direction in ("increase", "either") and ci_low > bound and _at_least(ratio, cfg.allowed_increase):
        classification = "High"
        # critical_increase of 1.0 (the default) means "no escalation": a ratio
        # of 1 is no change, so it cannot be a threshold for a critical rise.
        critical = cfg.critical or (cfg.critical_increase > 1.0 and _at_least(ratio, cfg.critical_increase))
    elif cfg.direction in ("decrease", "either") and ci_high < -bound and _at_most(ratio, cfg.allowed_decrease):
        classification = "Low"
        critical = cfg.critical or (cfg.critical_decrease < 1.0 and _at_most(ratio, cfg.critical_decrease))
    return MetricResult(
        name=cfg.name,
        classification=classification,
        critical=critical,
        estimate=_finite(estimate),
        ci=[_finite(ci_low), _finite(ci_high)],
        ratio=_finite(ratio),
    )


def _group_weights(config: AnalysisConfig, groups: list[str]) -> dict[str, float]:
    """Configured weights; unlisted groups share what is left of 100 equally (as Kayenta)."""
    unlisted = [g for g in groups if g not in config.groups]
    share = (100.0 - sum(config.groups.values())) / len(unlisted) if unlisted else 0.0
    return {g: config.groups.get(g, share) for g in groups}


def score_results(config: AnalysisConfig, results: list[MetricResult]) -> tuple[float, str, dict[str, Optional[float]]]:
    """Return (score, verdict, group scores) for classified metrics."""
    group_of = {m.name: m.group for m in config.metrics}
    groups = list(dict.fromkeys(m.group for m in config.metrics))
    passed = dict.fromkeys(groups, 0)
    judged = dict.fromkeys(groups, 0)
    for r in results:
        g = group_of[r.name]
        if r.classification == "Pass":
            passed[g] += 1
        if r.classification != "Nodata":  # Nodata is neither a pass nor a failure
            judged[g] += 1
    group_scores = {g: (100.0 * passed[g] / judged[g] if judged[g] else None) for g in groups}

    weights = _group_weights(config, groups)
    scored = [g for g in groups if group_scores[g] is not None]
    total = sum(weights[g] for g in scored)
    # Groups without a score drop out and the others' weights are renormalised.
    # If no weighted group could be scored there is no evidence: score 0.
    score = sum(weights[g] * group_scores[g] for g in scored) / total if total > 0 else 0.0
    score = round(score, 9)  # 33.3+33.3+33.4 weights must give 100, not 99.99999999999999

    no_data = sum(r.classification in ("Nodata", "NodataFail") for r in results)
    if any(r.critical for r in results) or 2 * no_data >= len(results):
        return 0.0, "fail", group_scores  # "fail" even if the marginal threshold is 0
    t = config.thresholds
    verdict = "pass" if score >= t.pass_ else "marginal" if score >= t.marginal else "fail"
    return score, verdict, group_scores


def judge(config: AnalysisConfig, data: Mapping[str, Mapping[str, Sequence[Optional[float]]]]) -> JudgeResult:
    """Judge a canary run. ``data`` maps metric name -> {"control": [...], "experiment": [...]};
    a configured metric missing from ``data`` has no data."""
    results = []
    for m in config.metrics:
        series = data.get(m.name, {})
        results.append(classify_metric(m, series.get("control", []), series.get("experiment", [])))
    score, verdict, groups = score_results(config, results)
    return JudgeResult(score=score, verdict=verdict, metrics=results, groups=groups)


def judge_file(path: str | Path) -> dict[str, Any]:
    """Judge a ``{"config": ..., "data": ...}`` file; returns the JSON-ready result.
    Raises AnalysisError (one-line message) for a bad file."""
    config, data = parse_judge_file(path)
    return judge(config, data).model_dump()


def default_analysis() -> AnalysisConfig:
    """The built-in metric set used when no ``--analysis`` file is given."""
    return AnalysisConfig.model_validate(
        {
            "metrics": [
                # 5xx / all requests. No requests in an interval means no errors.
                # Critical: a real error regression fails the run outright.
                {"name": "error_ratio", "group": "errors", "direction": "increase", "critical": True,
                 "nan_strategy": "replace", "allowed_increase": 1.1},
                # Latency: ignore rises under 10%; a doubling fails the whole run.
                {"name": "latency_p50", "group": "latency", "direction": "increase",
                 "allowed_increase": 1.1, "critical_increase": 2.0},
                {"name": "latency_p99", "group": "latency", "direction": "increase",
                 "allowed_increase": 1.1, "critical_increase": 2.0},
                # Resources are noisy and cheap to over-provision: only +50% counts.
                {"name": "cpu", "group": "resources", "direction": "increase", "allowed_increase": 1.5},
                {"name": "memory", "group": "resources", "direction": "increase", "allowed_increase": 1.5},
            ],
            "groups": {"errors": 50, "latency": 30, "resources": 20},
            "thresholds": {"pass": 95, "marginal": 75},
        }
    )
