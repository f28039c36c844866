"""Benchmark the canary judge on synthetic canary runs, beside Kayenta's algorithm and Flagger.

For each traffic regime and scenario we simulate many canary runs (control = baseline,
experiment = canary, 30 scrape intervals a side in one step judgment), judge each one with
three judges, and report how often each stops the canary and how often it fails it.

Traffic regimes (per interval, per side):
  * normal:       1,000 requests; latency of each request ~ LogNormal(median 0.1 s, sigma 0.5)
  * heavy-tailed: as normal, but 1% of requests time out at 10 s (so each interval's p99 jumps
                  between the lognormal tail and the timeout)
  * low traffic:  Poisson(1) requests (about 30 in the whole window, under the default
                  inconclusive.min_requests of 50), or Poisson(5) (about 150: above it, but
                  too few to rule out a doubling of 0.5% errors: the error ratio is "not
                  enough data"); an interval without requests has no latency and no error
                  ratio (null)
  5xx errors ~ Binomial(requests, 0.5%); error_ratio = errors / requests; latency_p50 and
  latency_p99 = that interval's empirical quantiles (seconds, as Prometheus gives them);
  cpu ~ Normal(0.5 cores, 0.05); memory ~ Normal(512 MiB, 10 MiB), unchanged.
Scenarios: A/A (canary drawn exactly like the baseline); 2x error rate (1.0%); +20% latency
(every canary request 1.2x slower; a timeout stays a timeout).

Judges, all with control_plane.analysis.default_analysis():
  * Sentinel: judge(config, data, requests) with each side's request and error counts in the
    window (as live judgments count them).
  * Kayenta: the same config judged by Kayenta's algorithm as its code has it (re-implemented
    here): R's root finder with the absolute tolerance 1e-4 (mann_whitney), the interval rule
    without a significance test or a minimum of points, the plain mean ratio, critical =
    flagged critical and High with ratio >= criticalIncrease (default 1), an empty series with
    nanStrategy replace is a Pass, only Nodata counts in the 50% rule, a group without data
    scores 100, the score rounded to 2 decimals.
  * Flagger style (fixed thresholds): stop if the canary's mean error ratio > 1% (Flagger's
    usual "request success rate >= 99%") or its mean p99 > 1.1 x the baseline's mean p99; a
    metric without any value stops it (Flagger halts on "no values found").
"stopped" = not promoted: for Sentinel and Kayenta any verdict but pass (a final marginal does
not promote; nor does inconclusive); "fail" = verdict fail (the canary is rolled back).

Usage: python bench/judge.py [--runs 1000] [--seeds 3] [--workers N]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from multiprocessing import Pool

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from control_plane.analysis import default_analysis, judge  # noqa: E402
from control_plane.analysis.mannwhitney import mann_whitney  # noqa: E402

INTERVALS = 30
ERROR_RATE = 0.005
LATENCY_MEDIAN_S = 0.1
LATENCY_SIGMA = 0.5
TIMEOUT_S = 10.0
FLAGGER_MAX_ERROR_RATIO = 0.01
FLAGGER_MAX_P99_RATIO = 1.1

REGIMES = {
    "normal": {"requests": 1000, "timeouts": 0.0},
    "heavy-tailed": {"requests": 1000, "timeouts": 0.01},
    "low traffic, ~1/interval": {"requests": None, "poisson": 1.0, "timeouts": 0.0},
    "low traffic, ~5/interval": {"requests": None, "poisson": 5.0, "timeouts": 0.0},
}
SCENARIOS = {
    "A/A (no change)": {"error_factor": 1.0, "latency_factor": 1.0},
    "2x error rate": {"error_factor": 2.0, "latency_factor": 1.0},
    "+20% latency": {"error_factor": 1.0, "latency_factor": 1.2},
}


def _latencies(rng: np.random.Generator, n: int, factor: float, timeouts: float) -> np.ndarray:
    lat = rng.lognormal(math.log(LATENCY_MEDIAN_S), LATENCY_SIGMA, size=n) * factor
    if timeouts:
        lat[rng.random(n) < timeouts] = TIMEOUT_S
    return lat


def _side(rng: np.random.Generator, runs: int, regime: dict, error_factor: float,
          latency_factor: float) -> tuple[dict[str, list[list]], np.ndarray, np.ndarray]:
    """Per-interval metric series for `runs` runs (None where an interval had no requests),
    and each run's total request and error counts."""
    out: dict[str, list[list]] = {m: [] for m in ("error_ratio", "latency_p50", "latency_p99", "cpu", "memory")}
    totals, failed = np.empty(runs), np.empty(runs)
    for i in range(runs):
        if regime["requests"] is not None:
            reqs = np.full(INTERVALS, regime["requests"])
        else:
            reqs = rng.poisson(regime["poisson"], size=INTERVALS)
        errors = rng.binomial(reqs, ERROR_RATE * error_factor)
        lat = _latencies(rng, int(reqs.sum()), latency_factor, regime["timeouts"])
        ends = np.cumsum(reqs)
        p50, p99 = [], []
        for start, end in zip(ends - reqs, ends):
            if end > start:
                q50, q99 = np.quantile(lat[start:end], [0.5, 0.99])
                p50.append(float(q50))
                p99.append(float(q99))
            else:
                p50.append(None)
                p99.append(None)
        out["error_ratio"].append([float(e / r) if r else None for e, r in zip(errors, reqs)])
        out["latency_p50"].append(p50)
        out["latency_p99"].append(p99)
        out["cpu"].append(rng.normal(0.5, 0.05, size=INTERVALS).tolist())
        out["memory"].append(rng.normal(512 * 2**20, 10 * 2**20, size=INTERVALS).tolist())
        totals[i], failed[i] = reqs.sum(), errors.sum()
    return out, totals, failed


# --- Kayenta's algorithm, as its code has it (see the docstring) ---------------------------------


def _kayenta_metric(m, control: list, experiment: list) -> tuple[str, bool]:
    def clean(values):
        if m.nan_strategy == "replace":
            return [0.0 if v is None else v for v in values]
        return [v for v in values if v is not None]

    x, y = clean(experiment), clean(control)
    if not x or not y:
        if m.nan_strategy == "replace":
            return "Pass", False
        if m.must_have_data and not m.critical:
            return "NodataFail", False
        return "Nodata", m.critical
    if sorted(x) == sorted(y) or len(set(x) | set(y)) == 1:
        return "Pass", False
    try:
        if len(set(x)) == 1 and len(set(y)) == 1:  # Kayenta adds tiny noise; the shift is exact
            est = lo = hi = x[0] - y[0]
        else:
            _, est, lo, hi = mann_whitney(x, y, 0.98)  # R's uniroot, absolute tolerance 1e-4
    except ValueError:
        return "Error", False
    mx, my = sum(x) / len(x), sum(y) / len(y)
    ratio = math.nan if mx == 0 or my == 0 else mx / my
    bound = 0.25 * abs(est)
    cls = "Pass"
    if m.direction in ("increase", "either") and lo > bound and (math.isnan(ratio) or ratio >= m.allowed_increase):
        cls = "High"
    elif m.direction in ("decrease", "either") and hi < -bound and (math.isnan(ratio) or ratio <= m.allowed_decrease):
        cls = "Low"
    critical = m.critical and (
        (cls == "High" and (math.isnan(ratio) or ratio >= m.critical_increase))
        or (cls == "Low" and (math.isnan(ratio) or ratio <= m.critical_decrease)))
    return cls, critical


def kayenta_verdict(config, data: dict) -> str:
    results = [(m, *_kayenta_metric(m, data[m.name]["control"], data[m.name]["experiment"])) for m in config.metrics]
    if any(crit and cls != "Pass" for _, cls, crit in results):
        return "fail"
    if 100 * sum(cls == "Nodata" for _, cls, _ in results) / len(results) >= 50:
        return "fail"
    groups: dict[str, list[str]] = {}
    for m, cls, _ in results:
        groups.setdefault(m.group_names[0], []).append(cls)
    listed = sum(config.groups.values())
    unlisted = [g for g in groups if g not in config.groups]
    share = (100 - listed) / len(unlisted) if unlisted else 0.0
    score = 0.0
    for g, labels in groups.items():
        total = sum(c in ("Pass", "High", "Low", "NodataFail") for c in labels)
        group_score = 100.0 if total == 0 else 100.0 * labels.count("Pass") / total
        score += group_score * config.groups.get(g, share) / 100
    score = round(score, 2)
    t = config.thresholds
    return "pass" if score >= t.pass_ else "marginal" if score >= t.marginal else "fail"


def flagger_stops(control: dict, experiment: dict, i: int) -> bool:
    def mean(values):
        v = [x for x in values if x is not None]
        return sum(v) / len(v) if v else None

    err = mean(experiment["error_ratio"][i])
    p99, base_p99 = mean(experiment["latency_p99"][i]), mean(control["latency_p99"][i])
    if err is None or p99 is None or base_p99 is None:
        return True  # "no values found for metric": Flagger halts the canary
    return err > FLAGGER_MAX_ERROR_RATIO or p99 > FLAGGER_MAX_P99_RATIO * base_p99


def _task(args: tuple[str, str, int, int]) -> tuple[str, str, int, dict[str, float]]:
    regime, scenario, seed, runs = args
    rng = np.random.default_rng([seed, list(REGIMES).index(regime), list(SCENARIOS).index(scenario)])
    control, c_req, c_err = _side(rng, runs, REGIMES[regime], 1.0, 1.0)
    experiment, e_req, e_err = _side(rng, runs, REGIMES[regime], **SCENARIOS[scenario])
    config = default_analysis()
    n = dict.fromkeys(("s_stop", "s_fail", "s_inc", "k_stop", "k_fail", "f_stop"), 0)
    for i in range(runs):
        data = {m: {"control": control[m][i], "experiment": experiment[m][i]} for m in control}
        counts = {"control": float(c_req[i]), "experiment": float(e_req[i]),
                  "control_errors": float(c_err[i]), "experiment_errors": float(e_err[i])}
        v = judge(config, data, counts).verdict
        n["s_stop"] += v != "pass"
        n["s_fail"] += v == "fail"
        n["s_inc"] += v == "inconclusive"
        k = kayenta_verdict(config, data)
        n["k_stop"] += k != "pass"
        n["k_fail"] += k == "fail"
        n["f_stop"] += flagger_stops(control, experiment, i)
    return regime, scenario, seed, {key: value / runs for key, value in n.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1000, help="canary runs per scenario and seed")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()

    started = time.monotonic()
    tasks = [(r, s, seed, args.runs) for r in REGIMES for s in SCENARIOS for seed in range(args.seeds)]
    with Pool(args.workers) as pool:
        results = pool.map(_task, tasks)
    elapsed = time.monotonic() - started

    def cell(rows, key) -> str:
        v = 100 * np.asarray([r[3][key] for r in rows])
        return f"{np.median(v):.1f}% ({v.min():.1f}-{v.max():.1f})"

    print(f"{args.runs} runs per scenario and seed, {args.seeds} seeds, {INTERVALS} intervals a side; "
          "median over seeds (min-max)")
    print()
    print("| traffic | scenario | goal | Sentinel: stopped | Sentinel: fail | Sentinel: inconclusive "
          "| Kayenta: stopped | Kayenta: fail | Flagger style: stopped |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in REGIMES:
        for s in SCENARIOS:
            rows = [x for x in results if x[0] == r and x[1] == s]
            goal = "fail <= 1%" if s.startswith("A/A") else "stopped >= 95%"
            print(f"| {r} | {s} | {goal} | {cell(rows, 's_stop')} | {cell(rows, 's_fail')} | "
                  f"{cell(rows, 's_inc')} | {cell(rows, 'k_stop')} | {cell(rows, 'k_fail')} | "
                  f"{cell(rows, 'f_stop')} |")
    print()
    print(f"elapsed {elapsed:.1f} s with {args.workers} workers")


if __name__ == "__main__":
    main()
