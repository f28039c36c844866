"""Mann–Whitney test + Hodges–Lehmann interval, checked three independent ways:

``mann_whitney`` is the step-for-step port of R; ``shift_test`` (what the judge
uses) snaps each interval end to the pairwise difference where the statistic
jumps. Both are checked:

1. against numbers printed by R itself. Two p-values are R output published on
   endmemo.com's wilcox.test page; all full-precision values were produced by
   running R 4.2.2 (Debian r-base-core 4.2.2.20221110-2) locally with
   ``wilcox.test(x, y, conf.int=TRUE, exact=FALSE, correct=TRUE, conf.level=L)``
   and printing with ``sprintf("%.17g")`` (see docs/judge.md, "Verification");
2. against scipy.stats.mannwhitneyu (asymptotic, continuity-corrected) for the p-value;
3. against a brute-force, pure-Python scan of the shift for the interval and the
   estimate (no numpy, no root finder: it evaluates the rank statistic at every
   pairwise difference and between them, and finds where it crosses).

Then ``shift_test`` against R (its ends are where R's root finder converges,
within R's tolerance), against Kayenta's own test vectors, and exactly against
the brute-force scan; then properties of the classification built on it
(hypothesis), among them: one extreme value never turns a clear High/Low into
Pass, and the estimate always lies inside its interval.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from statistics import NormalDist

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from control_plane.analysis.config import MetricConfig
from control_plane.analysis.judge import TOLERANCE, classify_metric
from control_plane.analysis.mannwhitney import mann_whitney, shift_test

KAYENTA = json.loads((Path(__file__).parent / "fixtures/kayenta_vectors.json").read_text())

# --- data sets ---------------------------------------------------------------

# Hollander & Wolfe depression scores (the data of R's ?wilcox.test example).
DEPR_X = [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30]
DEPR_Y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29]
# endmemo.com's wilcox.test example (ties, so R uses the normal approximation).
ENDMEMO_X = [1, 5, 9, 24, 56, 21, 3, 7, 21, 4]
ENDMEMO_Y = [12, 15, 5, 9, 9, 14, 56, 22, 3, 7, 32, 5]
ENDMEMO_Y2 = [1233, 4356, 987, 39999, 1111, 200000]
# Permeability constants (the other two-sample example of R's ?wilcox.test).
PERM_X = [0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46]
PERM_Y = [1.15, 0.88, 0.90, 0.74, 1.21]
# R: set.seed(42); round(rlnorm(30, log(120), 0.3), 1) then round(rlnorm(30, log(100), 0.3), 1)
LAT_X = [181.1, 101.3, 133.8, 145.1, 135.5, 116.2, 188.8, 116.6, 219.9, 117.8, 177.5, 238.3, 79.1, 110.4, 115.3,
         145.2, 110.2, 54.1, 57.7, 178.3, 109.5, 70.3, 114, 172.8, 211.9, 105.5, 111.1, 70.7, 137.8, 99]
LAT_Y = [114.6, 123.5, 136.4, 83.3, 116.4, 59.7, 79, 77.5, 48.5, 101.1, 106.4, 89.7, 125.5, 80.4, 66.3, 113.9,
         78.4, 154.2, 87.9, 121.7, 110.1, 79, 160.4, 121.3, 102.7, 108.7, 122.6, 102.7, 40.7, 108.9]
# ... then rbinom(30, 1000, 0.01)/1000 and rbinom(30, 1000, 0.005)/1000: an error ratio, many ties.
ERR_X = [0.009, 0.009, 0.01, 0.011, 0.012, 0.009, 0.015, 0.016, 0.008, 0.012, 0.014, 0.011, 0.011, 0.015, 0.013,
         0.01, 0.013, 0.006, 0.012, 0.011, 0.007, 0.006, 0.01, 0.012, 0.012, 0.013, 0.007, 0.015, 0.008, 0.007]
ERR_Y = [0.006, 0.004, 0.007, 0.004, 0.006, 0.007, 0.003, 0.001, 0.003, 0.006, 0.009, 0.005, 0.005, 0.003, 0.005,
         0.003, 0.005, 0.004, 0.002, 0.003, 0.006, 0.004, 0.004, 0.005, 0.004, 0.003, 0.007, 0.005, 0.007, 0.007]

# (x, y, conf.level, p-value, estimate, ci low, ci high) as printed by R 4.2.2.
R_REFERENCE = [
    pytest.param(DEPR_X, DEPR_Y, 0.98, 0.13291945818531886, 0.5600561608358734, -0.55995169526318367,
                 1.232960408303311, id="depression-98"),
    pytest.param(DEPR_X, DEPR_Y, 0.95, 0.13291945818531886, 0.5600561608358734, -0.36997737472725434,
                 1.1829707736879225, id="depression-95"),
    pytest.param(DEPR_Y, DEPR_X, 0.98, 0.13291945818531886, -0.56002945022384254, -1.2329413222276755,
                 0.55998010631773509, id="depression-swapped"),
    pytest.param(ENDMEMO_X, ENDMEMO_Y, 0.98, 0.59659690262798182, -1.9999928834347269, -11.000039631867882,
                 13.999953108550596, id="endmemo-ties"),
    pytest.param(ENDMEMO_X, ENDMEMO_Y2, 0.98, 0.0013643929543816088, -2785.2469658459331, -199976.00002704258,
                 -983.99999570907983, id="endmemo-far-apart"),
    pytest.param(PERM_X, PERM_Y, 0.98, 0.24462360512698336, 0.30250833904157232, -0.31999721322183022,
                 0.98994618206203366, id="permeability"),
    pytest.param([10, 20, 30, 40], [1, 2, 3, 4], 0.98, 0.030382821976577493, 22.5, 6, 39, id="kayenta-r-suite"),
    pytest.param([1], list(range(2, 61)), 0.98, 0.094022875902539105, -30, -59, -1, id="interval-at-range-ends"),
    pytest.param([0, 0, 0, 1, 2, 2], [0, 0, 1, 1, 1, 3, 3], 0.98, 0.54961716874246935, -0.55476368864798076,
                 -2.99993270753528, 1.0000173101824412, id="heavy-ties"),
    pytest.param(LAT_X, LAT_Y, 0.98, 0.01272963412938199, 25.267251182198617, 0.99995639714344109,
                 54.500002683084162, id="latency-30x30"),
    pytest.param(ERR_X, ERR_Y, 0.98, 4.7827286286287331e-10, 0.0060001885395864138, 0.0040316806745120913,
                 0.0079403379345052774, id="error-ratio-30x30"),
    pytest.param([1, 3], [2], 0.98, 1.0, 0.0, -1.0, 1.0, id="two-vs-one"),
]


@pytest.mark.parametrize("x, y, conf, p, est, lo, hi", R_REFERENCE)
def test_matches_r_wilcox_test(x, y, conf, p, est, lo, hi):
    got = mann_whitney(x, y, conf_level=conf)
    # Estimate and interval follow R's root finder step for step: equal to the
    # last bits in practice; 1e-12 leaves room for a different libm.
    assert got[1:] == pytest.approx((est, lo, hi), rel=1e-12, abs=1e-15)
    assert got[0] == pytest.approx(p, rel=1e-12)  # pnorm implementations differ in the last ulps


def test_published_endmemo_p_values():
    # As printed on endmemo.com (R output, 4 significant digits).
    assert round(mann_whitney(ENDMEMO_X, ENDMEMO_Y)[0], 4) == 0.5966
    assert round(mann_whitney(ENDMEMO_X, ENDMEMO_Y2)[0], 6) == 0.001364


def test_default_confidence_is_98_percent():
    assert mann_whitney(DEPR_X, DEPR_Y) == mann_whitney(DEPR_X, DEPR_Y, conf_level=0.98)


def test_non_finite_values_are_dropped_like_r():
    dirty_x = DEPR_X + [math.nan, math.inf]
    dirty_y = [-math.inf] + DEPR_Y
    assert mann_whitney(dirty_x, dirty_y) == mann_whitney(DEPR_X, DEPR_Y)


@pytest.mark.parametrize("x, y", [([], [1.0, 2.0]), ([1.0], []), ([math.nan], [1.0, 2.0])])
def test_empty_sample_is_an_error(x, y):
    with pytest.raises(ValueError, match="not enough"):
        mann_whitney(x, y)


@pytest.mark.parametrize("x, y", [([3.0, 3.0], [3.0]), ([10.0] * 5, [1.0] * 5), ([2.0], [1.0])])
def test_both_samples_constant_is_an_error_as_in_r(x, y):
    with pytest.raises(ValueError, match="tied"):
        mann_whitney(x, y)


@pytest.mark.parametrize("conf", [0.0, 1.0, 1.5])
def test_confidence_level_must_be_a_probability(conf):
    with pytest.raises(ValueError):
        mann_whitney(DEPR_X, DEPR_Y, conf_level=conf)


# --- p-value against scipy -----------------------------------------------------

samples = st.lists(st.integers(0, 20), min_size=1, max_size=25)


@settings(max_examples=200, deadline=None)
@given(samples, samples)
def test_p_value_matches_scipy_asymptotic(x, y):
    scipy_stats = pytest.importorskip("scipy.stats")
    assume(len(set(x + y)) > 1 and (len(set(x)) > 1 or len(set(y)) > 1))
    expected = scipy_stats.mannwhitneyu(x, y, use_continuity=True, alternative="two-sided", method="asymptotic")
    assert mann_whitney(x, y)[0] == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-15)


# --- brute force: interval and estimate ----------------------------------------


def _z(x, y, d, correct):
    """The rank-sum z-score at shift d, from its definition by pair counting."""
    m, n = len(x), len(y)
    u = sum((xi - d > yj) + 0.5 * (xi - d == yj) for xi in x for yj in y)
    dz = u - m * n / 2
    ties = sum(t**3 - t for t in Counter([xi - d for xi in x] + list(y)).values())
    sigma = math.sqrt(m * n / 12 * ((m + n + 1) - ties / ((m + n) * (m + n - 1))))
    corr = math.copysign(0.5, dz) if correct and dz != 0 else 0.0
    return (dz - corr) / sigma


def _crossings(x, y, level, correct):
    """Where z(d) - level changes sign, scanning every pairwise difference and
    the points between them (z only changes at pairwise differences)."""
    diffs = sorted({xi - yj for xi in x for yj in y})
    probes = [diffs[0] - 1.0] + [(a + b) / 2 for a, b in zip(diffs, diffs[1:])] + [diffs[-1] + 1.0]
    values = [_z(x, y, d, correct) - level for d in probes]
    out = [d for d, left, right in zip(diffs, values, values[1:]) if (left > 0 >= right) or (left >= 0 > right)]
    return out, values


def _check_bound(found, x, y, level, tol):
    candidates, values = _crossings(x, y, level, correct=True)
    lo_end, hi_end = min(x) - max(y), max(x) - min(y)
    if values[0] <= 0:  # z already below the level at the low end (R returns the end)
        candidates.append(lo_end)
    if values[-1] >= 0:
        candidates.append(hi_end)
    assert any(abs(found - c) <= tol for c in candidates), (found, candidates)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.integers(-30, 30), min_size=2, max_size=15),
    st.lists(st.integers(-30, 30), min_size=2, max_size=15),
    st.sampled_from([0.9, 0.95, 0.98]),
)
def test_interval_and_estimate_match_brute_force_scan(x, y, conf):
    assume(len(set(x)) > 1 or len(set(y)) > 1)
    tol = 1e-4 * 1.01 + 1e-12  # R's uniroot tolerance, with float slack
    _, est, lo, hi = mann_whitney(x, y, conf_level=conf)
    q = NormalDist().inv_cdf((1 - conf) / 2)
    _check_bound(lo, x, y, -q, tol)
    _check_bound(hi, x, y, q, tol)
    assert lo <= est + tol and est <= hi + tol
    # The estimate is the Hodges-Lehmann median of pairwise differences: R finds
    # it as the zero of the uncorrected z, which for an even number of pairs is
    # anywhere between the two middle differences.
    diffs = sorted(xi - yj for xi in x for yj in y)
    k = len(diffs)
    low_mid, high_mid = diffs[(k - 1) // 2], diffs[k // 2]
    assert low_mid - tol <= est <= high_mid + tol


def test_estimate_is_median_of_pairwise_differences_on_reference_data():
    for x, y in [(DEPR_X, DEPR_Y), (LAT_X, LAT_Y), (ERR_X, ERR_Y), (PERM_X, PERM_Y)]:
        diffs = sorted(a - b for a in x for b in y)
        k = len(diffs)
        median = (diffs[(k - 1) // 2] + diffs[k // 2]) / 2
        span = (diffs[k // 2] - diffs[(k - 1) // 2]) / 2
        assert mann_whitney(x, y)[1] == pytest.approx(median, abs=span + 1e-4)


def test_estimate_at_a_rounded_range_end_where_r_stops():
    # R 4.2.2: wilcox.test(c(0, 30, 30) * f, f, conf.int=TRUE, exact=FALSE) stops with
    # "f() values at end points not of opposite sign": 30f - (30f - f) rounds
    # above f, so the tie at the top end is lost. The root is at that end.
    f = 35.629429188294694
    _, est, lo, hi = mann_whitney([0, 30 * f, 30 * f], [f])
    assert est == 30 * f - f
    assert (lo, hi) == pytest.approx((-f, 29 * f), rel=1e-6)


def test_swapping_samples_negates_the_shift():
    p1, est1, lo1, hi1 = mann_whitney(LAT_X, LAT_Y)
    p2, est2, lo2, hi2 = mann_whitney(LAT_Y, LAT_X)
    assert p1 == pytest.approx(p2)
    assert (lo2, hi2) == pytest.approx((-hi1, -lo1), abs=2e-4)
    # 30 x 30 = 900 pairs: the estimate may sit anywhere between the two middle
    # differences (see above), so only that much asymmetry is allowed.
    diffs = sorted(a - b for a in LAT_X for b in LAT_Y)
    assert est2 == pytest.approx(-est1, abs=diffs[450] - diffs[449] + 2e-4)


# --- shift_test: R's interval without R's root tolerance ------------------------------


@pytest.mark.parametrize("x, y, conf, p, est, lo, hi", R_REFERENCE)
def test_shift_test_ends_are_where_r_converges(x, y, conf, p, est, lo, hi):
    t = shift_test(x, y, conf)
    assert t.p_value == pytest.approx(p, rel=1e-12)
    diffs = sorted(a - b for a in x for b in y)
    # Each end is a pairwise difference, within R's absolute tolerance (1e-4) of R's root.
    assert t.ci_low in diffs and t.ci_high in diffs
    assert abs(t.ci_low - lo) <= 1e-4 and abs(t.ci_high - hi) <= 1e-4
    # The estimate is the Hodges-Lehmann median; R's estimate lies between the two middle differences.
    k = len(diffs)
    assert t.estimate == (diffs[(k - 1) // 2] + diffs[k // 2]) / 2
    assert diffs[(k - 1) // 2] - 1e-4 <= est <= diffs[k // 2] + 1e-4


@pytest.mark.parametrize("x, y", [([10, 20, 30, 40], [1, 2, 3, 4]), ([1], list(range(2, 61))), ([1, 3], [2]),
                                  ([11, 12], [1, 2]), ([11, 12, 13], [1, 2, 3]), ([10], [1])])
def test_unreachable_significance_is_an_unbounded_interval(x, y):
    # R (and the old judge) returned the range ends here: 4 vs 4 at 98% gives [6, 39]
    # and the judge called it High with p = 0.03. No shift can be significant at 98%.
    t = shift_test(x, y, 0.98)
    assert not t.bounded and t.p_value > 0.02
    assert (t.ci_low, t.ci_high) == (min(x) - max(y), max(x) - min(y))


def test_five_a_side_is_enough_at_98_percent():
    t = shift_test([11, 12, 13, 14, 15], [1, 2, 3, 4, 5], 0.98)
    assert t.bounded and t.p_value < 0.02 and t.ci_low > 0


# R 4.2.2, wilcox.test(x, y, conf.int=TRUE, exact=FALSE, correct=TRUE, conf.level=0.98), printed with
# sprintf("%.17g"): p-value, estimate, interval. ctrl = 105 + 0.5 * (0:29); ctrl2 = 110 + 0.3 * (0:29).
CTRL = [105 + 0.5 * i for i in range(30)]
CTRL2 = [110 + 0.3 * i for i in range(30)]
R_OUTLIERS = [
    pytest.param([c + 20 for c in CTRL] + [1e6], CTRL, 2.0701106196976483e-11, 20.267374576200119,
                 17.499976937088203, 23.499975583451079, id="plus20-canary-timeout-1e6"),
    pytest.param([c + 10 for c in CTRL2] + [3e5], CTRL2, 2.0701106196976483e-11, 10.15811634999608,
                 8.499975708692542, 12.099998413933974, id="plus10-canary-timeout-3e5"),
    pytest.param([c - 20 for c in CTRL], CTRL + [1e6], 2.0701106196976483e-11, -20.245659936404991,
                 -23.499966197528451, -17.499966803606096, id="minus20-baseline-timeout-1e6"),
]


@pytest.mark.parametrize("x, y, p, est, lo, hi", R_OUTLIERS)
def test_one_timeout_does_not_widen_the_interval(x, y, p, est, lo, hi):
    # The old judge scaled the root tolerance by the range: with the 1e6 point it got
    # estimate 66.5, interval [5.5, 87.7] for the +20 ms canary, and Pass.
    t = shift_test(x, y, 0.98)
    assert t.p_value == pytest.approx(p, rel=1e-12)
    assert abs(t.ci_low - lo) <= 1e-4 and abs(t.ci_high - hi) <= 1e-4
    assert abs(t.estimate - est) <= 0.25  # R: anywhere between the middle differences
    expected = "High" if est > 0 else "Low"
    assert classify_metric(EITHER, y, x).classification == expected


@pytest.mark.parametrize("case", KAYENTA["mannwhitney"], ids=lambda c: c["name"])
def test_kayenta_mannwhitney_suite_vectors(case):
    # Kayenta's tie-outs with R: R's ends (absolute tolerance 1e-4) are within 1e-4 of ours.
    t = shift_test(case["experiment"], case["control"], case["confidence"])
    lo, hi = case["r_ci"]
    assert abs(t.ci_low - lo) <= 1e-4 and abs(t.ci_high - hi) <= 1e-4
    assert t.ci_low <= t.estimate <= t.ci_high


def test_zero_inflated_interval_contains_its_estimate():
    # Kayenta's "intermediate values" case (210 vs 210, mostly zeros): R and Kayenta give the
    # interval [3.5e-5, 2.0e-5] (low end above the high end) and an estimate outside it,
    # all artefacts of the root tolerance. Exactly: every end is the pairwise difference 0.
    case = next(c for c in KAYENTA["mannwhitney"] if c["name"].startswith("Mann-Whitney Intermediate"))
    r = mann_whitney(case["experiment"], case["control"], case["confidence"])
    assert r[2] > r[3]  # R's reproduced inversion
    t = shift_test(case["experiment"], case["control"], case["confidence"])
    assert (t.ci_low, t.estimate, t.ci_high) == (0.0, 0.0, 0.0)
    assert t.p_value < 1e-8 and t.z > 0  # the canary has many more non-zero values


@settings(max_examples=200, deadline=None)
@given(samples, samples)
def test_shift_test_p_value_matches_scipy(x, y):
    scipy_stats = pytest.importorskip("scipy.stats")
    assume(len(set(x + y)) > 1)
    expected = scipy_stats.mannwhitneyu(x, y, use_continuity=True, alternative="two-sided", method="asymptotic")
    assert shift_test(x, y).p_value == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-15)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(-30, 30), min_size=1, max_size=15),
    st.lists(st.integers(-30, 30), min_size=1, max_size=15),
    st.sampled_from([0.9, 0.95, 0.98]),
)
def test_shift_test_ends_are_exactly_the_brute_force_crossings(x, y, conf):
    q = NormalDist().inv_cdf((1 - conf) / 2)
    t = shift_test(x, y, conf)
    diffs = sorted({xi - yj for xi in x for yj in y})
    # z between consecutive differences (the stretches), and beyond both ends.
    probes = [diffs[0] - 1.0] + [(a + b) / 2 for a, b in zip(diffs, diffs[1:])] + [diffs[-1] + 1.0]
    z = [_z(x, y, d, True) for d in probes]
    if z[0] <= -q:  # even complete separation is not significant
        assert not t.bounded and (t.ci_low, t.ci_high) == (diffs[0], diffs[-1])
        return
    assert t.bounded
    # The lower end is the difference after which z is no longer above the upper quantile.
    lo = next(d for d, left, right in zip(diffs, z, z[1:]) if left > -q >= right)
    hi = next(d for d, left, right in zip(diffs, z, z[1:]) if left >= q > right)
    assert (t.ci_low, t.ci_high) == (lo, hi)


# --- classification properties (hypothesis) ------------------------------------

EITHER = MetricConfig(name="m", direction="either")
FLIP = {"High": "Low", "Low": "High", "Pass": "Pass", "Nodata": "Nodata", "NotEnoughData": "NotEnoughData"}
series = st.lists(st.integers(0, 60), min_size=0, max_size=20)


def _at_boundary(result) -> bool:
    """Exactly on a classification boundary (an interval end equal to a quarter of the
    estimate): there swapping the samples may legitimately answer differently, because
    the midpoint estimate of an even number of differences is not exactly antisymmetric."""
    if result.estimate is None or result.ci[0] is None:
        return False
    bound = TOLERANCE * abs(result.estimate)
    return math.isclose(result.ci[0], bound, abs_tol=1e-9) or math.isclose(result.ci[1], -bound, abs_tol=1e-9)


@settings(max_examples=300, deadline=None)
@given(series, series)
def test_swapping_control_and_experiment_flips_high_and_low(control, experiment):
    a = classify_metric(EITHER, control, experiment)
    assume(not _at_boundary(a))
    b = classify_metric(EITHER, experiment, control)
    assert b.classification == FLIP[a.classification]


@settings(max_examples=300, deadline=None)
@given(series, st.integers(-10, 40), st.integers(0, 10**6))
def test_shifting_both_samples_keeps_the_classification(control, shift, constant):
    # The canary is the control plus a shift (with some scrambling), i.e. "a shift".
    experiment = [max(0, v + shift + (i % 3) - 1) for i, v in enumerate(control)]
    a = classify_metric(EITHER, control, experiment)
    b = classify_metric(EITHER, [v + constant for v in control], [v + constant for v in experiment])
    assert b.classification == a.classification
    assert (b.estimate, b.ci) == (a.estimate, a.ci)  # integers: every difference is exact


@settings(max_examples=300, deadline=None)
@given(series, series, st.integers(-20, 20))
def test_scaling_by_a_power_of_two_keeps_the_classification_exactly(control, experiment, k):
    factor = 2.0**k  # exact in binary floating point: every step scales exactly
    a = classify_metric(EITHER, control, experiment)
    b = classify_metric(EITHER, [v * factor for v in control], [v * factor for v in experiment])
    assert b.classification == a.classification
    if a.estimate is not None:
        assert b.estimate == a.estimate * factor
        assert b.ci == [None if v is None else v * factor for v in a.ci]


@settings(max_examples=300, deadline=None)
@given(series, series, st.floats(1e-3, 1e3))
def test_scaling_by_any_positive_constant_keeps_the_classification(control, experiment, factor):
    a = classify_metric(EITHER, control, experiment)
    # Rounding can only matter exactly at a boundary (an end equal to a quarter of the estimate).
    assume(not _at_boundary(a))
    b = classify_metric(EITHER, [v * factor for v in control], [v * factor for v in experiment])
    assert b.classification == a.classification


# Values: latencies in ms, error ratios, zero-inflated counts; anything finite.
finite = st.floats(-1e9, 1e9, allow_nan=False, allow_infinity=False)
zero_inflated = st.lists(st.one_of(st.just(0.0), st.just(0.0), st.floats(0, 5)), min_size=1, max_size=40)


@settings(max_examples=500, deadline=None)
@given(st.one_of(zero_inflated, st.lists(finite, min_size=1, max_size=30), st.lists(st.integers(0, 5), min_size=1, max_size=30)),
       st.one_of(zero_inflated, st.lists(finite, min_size=1, max_size=30), st.lists(st.integers(0, 5), min_size=1, max_size=30)),
       st.sampled_from([0.8, 0.9, 0.95, 0.98, 0.99]))
def test_the_estimate_always_lies_inside_its_interval(x, y, conf):
    t = shift_test(x, y, conf)
    assert t.ci_low <= t.estimate <= t.ci_high
    r = classify_metric(MetricConfig(name="m", min_points=1), y, x, conf)
    if r.ci[0] is not None:
        assert r.ci[0] <= r.estimate <= r.ci[1]


EXTREMES = [1e6, 1e9, 3e5, 0.0, -1e6, 1e-9]


@st.composite
def clear_shift(draw):
    """A clear regression: n >= 10 points a side, the canary's values all above (or below)
    the baseline's by more than a quarter of the widest difference, ratio >= 1.3."""
    n = draw(st.integers(10, 40))
    m = draw(st.integers(10, 40))
    base = draw(st.floats(1.0, 1e4))
    spread = base * draw(st.floats(0.01, 0.2))
    control = [base + spread * draw(st.floats(0, 1)) for _ in range(n)]
    up = draw(st.booleans())
    if up:  # at least +50%: min(x) - max(y) >= base*0.5 - spread > 0.25 * (max(x) - min(y))
        experiment = [base * 1.5 + spread + spread * draw(st.floats(0, 1)) for _ in range(m)]
    else:  # at most -50%
        experiment = [base * 0.5 - spread * draw(st.floats(0, 1)) for _ in range(m)]
    return control, experiment, "High" if up else "Low"


@settings(max_examples=300, deadline=None)
@given(clear_shift(), st.sampled_from(EXTREMES), st.booleans(),
       st.sampled_from(["either", "increase", "decrease"]))
def test_one_extreme_value_never_turns_a_clear_regression_into_pass(case, extreme, on_canary, direction):
    control, experiment, expected = case
    assume(direction == "either" or (direction == "increase") == (expected == "High"))
    cfg = MetricConfig(name="m", direction=direction, allowed_increase=1.2, allowed_decrease=0.8)
    assert classify_metric(cfg, control, experiment).classification == expected
    if on_canary:
        experiment = experiment + [extreme]
    else:
        control = control + [extreme]
    # The default confidence (98%) and min_points; one value among >= 10 a side is a rank among many.
    assert classify_metric(cfg, control, experiment).classification == expected


def test_one_extreme_value_can_matter_with_few_points():
    # Why the property above needs about 8 points a side: 5 vs 5 completely separated is
    # significant (p = 0.012), but one canary value below every baseline value makes it
    # 6 vs 5 with one crossing, p = 0.08: not significant, honestly.
    control, experiment = [1.0, 2, 3, 4, 5], [11.0, 12, 13, 14, 15]
    assert classify_metric(EITHER, control, experiment).classification == "High"
    assert classify_metric(EITHER, control, experiment + [0.0]).classification == "Pass"
