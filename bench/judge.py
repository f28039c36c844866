"""Benchmark the canary judge on synthetic canary runs.

For each scenario we simulate many canary runs (control = baseline, experiment
= canary, 30 one-minute intervals a side), judge each with Sentinel's judge
(the built-in default analysis) and with a fixed-threshold judge in the style
of Flagger, and report how often each judge stops the canary.

Scenarios (per interval, per side):
  * requests: 1,000; 5xx errors ~ Binomial(1000, 0.5%); error_ratio = errors / 1000
  * latency: each request ~ LogNormal(median 100 ms, sigma 0.5);
    latency_p50 / latency_p99 = that interval's empirical quantiles
  * cpu ~ Normal(0.5 cores, 0.05); memory ~ Normal(512 MiB, 10)
  A/A:              canary drawn exactly like the baseline
  2x error rate:    canary errors ~ Binomial(1000, 1.0%)
  +20% latency:     every canary request 1.2x slower

Judges:
  * Sentinel: control_plane.analysis.default_analysis(); the canary is stopped
    unless the verdict is "pass" (a final "marginal" does not promote either).
    The "fail" column counts only verdict "fail".
  * Fixed thresholds (Flagger style): stop if the canary's mean error ratio
    > 1% (Flagger's usual "request success rate >= 99%") or its mean p99 >
    1.1 x the baseline's mean p99.

Usage: python bench/judge.py [--runs 1000] [--seeds 3] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from multiprocessing import Pool

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from control_plane.analysis import default_analysis, judge  # noqa: E402

INTERVALS = 30
REQUESTS = 1000
ERROR_RATE = 0.005
LATENCY_MEDIAN_MS = 100.0
LATENCY_SIGMA = 0.5
FLAGGER_MAX_ERROR_RATIO = 0.01
FLAGGER_MAX_P99_RATIO = 1.1

SCENARIOS = {
    "A/A (no change)": {"error_factor": 1.0, "latency_factor": 1.0},
    "2x error rate": {"error_factor": 2.0, "latency_factor": 1.0},
    "+20% latency": {"error_factor": 1.0, "latency_factor": 1.2},
}


def _side(rng: np.random.Generator, runs: int, error_factor: float, latency_factor: float) -> dict[str, np.ndarray]:
    """Per-interval metric series for `runs` runs: arrays of shape (runs, INTERVALS)."""
    errors = rng.binomial(REQUESTS, ERROR_RATE * error_factor, size=(runs, INTERVALS))
    p50 = np.empty((runs, INTERVALS))
    p99 = np.empty((runs, INTERVALS))
    for i in range(runs):  # one run at a time keeps memory small
        lat = rng.lognormal(np.log(LATENCY_MEDIAN_MS), LATENCY_SIGMA, size=(INTERVALS, REQUESTS)) * latency_factor
        p50[i], p99[i] = np.quantile(lat, [0.5, 0.99], axis=1)
    return {
        "error_ratio": errors / REQUESTS,
        "latency_p50": p50,
        "latency_p99": p99,
        "cpu": rng.normal(0.5, 0.05, size=(runs, INTERVALS)),
        "memory": rng.normal(512.0, 10.0, size=(runs, INTERVALS)),
    }


def _task(args: tuple[str, int, int]) -> tuple[str, int, float, float, float]:
    scenario, seed, runs = args
    rng = np.random.default_rng([seed, list(SCENARIOS).index(scenario)])
    control = _side(rng, runs, 1.0, 1.0)
    experiment = _side(rng, runs, **SCENARIOS[scenario])
    config = default_analysis()
    stopped = failed = flagger = 0
    for i in range(runs):
        data = {m: {"control": control[m][i].tolist(), "experiment": experiment[m][i].tolist()} for m in control}
        verdict = judge(config, data).verdict
        stopped += verdict != "pass"
        failed += verdict == "fail"
        flagger += bool(
            experiment["error_ratio"][i].mean() > FLAGGER_MAX_ERROR_RATIO
            or experiment["latency_p99"][i].mean() > FLAGGER_MAX_P99_RATIO * control["latency_p99"][i].mean()
        )
    return scenario, seed, stopped / runs, failed / runs, flagger / runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1000, help="canary runs per scenario and seed")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    started = time.monotonic()
    tasks = [(s, seed, args.runs) for s in SCENARIOS for seed in range(args.seeds)]
    with Pool(args.workers) as pool:
        results = pool.map(_task, tasks)
    elapsed = time.monotonic() - started

    def cell(values: list[float]) -> str:
        v = 100 * np.asarray(values)
        return f"{np.median(v):5.1f}% ({v.min():.1f}-{v.max():.1f})"

    print(f"{args.runs} runs per scenario and seed, {args.seeds} seeds, {INTERVALS} intervals a side; "
          "median over seeds (min-max)")
    print()
    print("| scenario | goal | Sentinel: stopped (not pass) | Sentinel: verdict fail | fixed thresholds: stopped |")
    print("|---|---|---|---|---|")
    for s in SCENARIOS:
        rows = [r for r in results if r[0] == s]
        goal = "stopped <= 1%" if s.startswith("A/A") else "stopped >= 95%"
        print(f"| {s} | {goal} | {cell([r[2] for r in rows])} | {cell([r[3] for r in rows])} | "
              f"{cell([r[4] for r in rows])} |")
    print()
    print(f"elapsed {elapsed:.1f} s with {args.workers} workers")


if __name__ == "__main__":
    main()
