"""Mann–Whitney U test with the Hodges–Lehmann shift and its confidence interval.

Two functions:

* :func:`shift_test` is what the judge uses: the same statistic, with each
  interval end taken exactly as the pairwise difference where the rank
  statistic jumps across the normal quantile (no root finder, no tolerance, so
  no dependence on the unit or on one extreme value), the estimate exactly as
  the median of the pairwise differences, and a flag saying whether any shift
  could be significant at all with these sample sizes;
* :func:`mann_whitney` reproduces R step for step (below). It is kept as the
  reference the tests compare ``shift_test`` with.

``mann_whitney`` is a reimplementation, from its documented algorithm, of what R computes for

    wilcox.test(experiment, control, conf.int=TRUE, exact=FALSE, correct=TRUE,
                conf.level=conf_level)

(the two-sample, normal-approximation branch of ``stats:::wilcox.test.default``):

* p-value: normal approximation of the rank-sum statistic W, with the variance
  corrected for ties and a continuity correction of 0.5 towards zero;
* confidence interval: the shifts ``d`` at which the (tie- and continuity-
  corrected) z-score of ``rank-sum(experiment - d, control)`` crosses the normal
  quantiles, found by Brent root finding (R's ``uniroot``/``zeroin``) between
  ``min(x) - max(y)`` and ``max(x) - min(y)`` with R's absolute tolerance 1e-4;
* estimate: the shift at which the uncorrected z-score is 0, found the same way.
  Because W(d) is a step function this is the Hodges–Lehmann estimate (median of
  all pairwise differences experiment_i - control_j) up to the root tolerance,
  not necessarily bit-for-bit that median: R does it this way, so do we.

Only numpy (imported lazily, so the CLI starts fast) and the standard library
are used: ``statistics.NormalDist.inv_cdf`` is Wichura's AS241, the algorithm
behind R's ``qnorm``, so the quantiles (and hence the interval) agree with R
bit for bit; the normal tail comes from ``math.erfc``.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from dataclasses import dataclass
from typing import Callable, Sequence

_EPS = 2.220446049250313e-16  # DBL_EPSILON, as used by R's zeroin
_STD_NORMAL = NormalDist()


def _pnorm_lower(z: float) -> float:
    """P(Z <= z) for a standard normal Z, accurate in the far tails too."""
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


@dataclass(frozen=True)
class ShiftTest:
    """Result of :func:`shift_test` (shift = experiment - control)."""

    p_value: float  # two-sided, normal approximation with tie and continuity corrections (as R)
    z: float  # the corrected z-score at shift 0: > 0 when the experiment ranks higher
    estimate: float  # Hodges–Lehmann: median of all pairwise differences
    ci_low: float  # interval ends: pairwise differences; the range ends when not bounded
    ci_high: float
    bounded: bool  # False: no shift at all would be significant with these samples


def _test_at_zero(x, y) -> tuple[float, float]:
    """R's two-sided p-value of the rank-sum test at shift 0 (tie and continuity corrected),
    and its z-score."""
    import numpy as np

    nx, ny = float(x.size), float(y.size)
    pooled = np.concatenate((x, y))
    _, inverse, counts = np.unique(pooled, return_inverse=True, return_counts=True)
    avg_rank = np.cumsum(counts) - (counts - 1) / 2.0
    dz = float(avg_rank[inverse[: x.size]].sum()) - nx * (nx + 1) / 2 - nx * ny / 2
    ties = float((counts.astype(float) ** 3 - counts).sum())
    variance = (nx * ny / 12) * ((nx + ny + 1) - ties / ((nx + ny) * (nx + ny - 1)))
    if variance <= 0:  # every value equal: no evidence of any shift (R answers NaN)
        return 1.0, 0.0
    z = (dz - math.copysign(0.5, dz) if dz else 0.0) / math.sqrt(variance)
    return min(1.0, 2 * min(_pnorm_lower(z), _pnorm_lower(-z))), z


def shift_test(experiment: Sequence[float], control: Sequence[float], conf_level: float = 0.98) -> ShiftTest:
    """Mann–Whitney test of experiment vs control with the exact Hodges–Lehmann interval.

    The statistic is R's (``wilcox.test(experiment, control, conf.int=TRUE,
    exact=FALSE, correct=TRUE)``). R finds each interval end as a root of
    z(d) - q, where z(d) is the continuity-corrected z-score of the rank sum of
    ``experiment - d`` against ``control``. Between two consecutive pairwise
    differences z(d) is constant (only ties within a sample count there, so its
    standard deviation s is fixed) and non-increasing in d; it changes only at
    the pairwise differences. With the M = nx*ny differences sorted,
    d(1) <= ... <= d(M), z on the stretch after d(k) is
    ``(M/2 - k -+ 1/2) / s``, so it falls below q exactly from k = ceil(K) on,
    where ``K = M/2 - 1/2 - q*s``. The interval is therefore
    ``[d(ceil K), d(M + 1 - ceil K)]``: the points R's root finder converges
    to, without its tolerance. Likewise the zero of the uncorrected z is the
    median of the differences (the Hodges–Lehmann estimate), which is always
    inside that interval.

    If K <= 0 even completely separated samples would not be significant: the
    interval is unbounded and R returns the range ends; so do we, with
    ``bounded=False``.

    Non-finite values are dropped. Raises ValueError for an empty sample.
    """
    import numpy as np

    if not 0.0 < conf_level < 1.0:
        raise ValueError("conf_level must be strictly between 0 and 1")
    x = np.asarray(experiment, dtype=float)
    y = np.asarray(control, dtype=float)
    x = x[np.isfinite(x)]
    y = y[np.isfinite(y)]
    if x.size < 1:
        raise ValueError("not enough (non-missing) experiment observations")
    if y.size < 1:
        raise ValueError("not enough control observations")

    nx, ny = x.size, y.size
    n = nx + ny
    # Off the pairwise differences only ties within each sample remain.
    within = sum(float((c.astype(float) ** 3 - c).sum()) for c in (np.unique(x, return_counts=True)[1],
                                                                   np.unique(y, return_counts=True)[1]))
    s = math.sqrt((nx * ny / 12) * ((n + 1) - within / (n * (n - 1))))
    q = -_STD_NORMAL.inv_cdf((1 - conf_level) / 2)
    m = nx * ny
    k_real = m / 2 - 0.5 - q * s
    bounded = k_real > 0
    k = max(1, math.ceil(k_real)) if bounded else 1  # 1-based rank of the lower end

    diffs = np.subtract.outer(x, y).ravel()
    mid = [(m - 1) // 2, m // 2]
    wanted = sorted({k - 1, m - k, *mid, 0, m - 1})
    part = np.partition(diffs, wanted)
    estimate = (float(part[mid[0]]) + float(part[mid[1]])) / 2
    if mid[0] == mid[1] or part[mid[0]] == part[mid[1]]:
        estimate = float(part[mid[1]])  # exact, no rounding in the mean
    if bounded:
        lo, hi = float(part[k - 1]), float(part[m - k])
    else:
        lo, hi = float(part[0]), float(part[m - 1])
    p_value, z = _test_at_zero(x, y)
    return ShiftTest(p_value, z, estimate, lo, hi, bounded)


def mann_whitney(
    experiment: Sequence[float],
    control: Sequence[float],
    conf_level: float = 0.98,
    tol_root: float = 1e-4,
) -> tuple[float, float, float, float]:
    """Return ``(p_value, estimate, ci_low, ci_high)`` for experiment vs control.

    ``estimate`` and the interval are for the shift experiment - control.
    Non-finite values are dropped first, as R does. ``tol_root`` is R's
    ``tol.root`` argument (absolute tolerance of the root finder).

    Raises ValueError where R stops with an error: an empty sample, or both
    samples constant (the shift search interval is then a single point and the
    variance at that shift is zero). One R error is not reproduced: see the
    comment at the estimate.
    """
    import numpy as np

    if not 0.0 < conf_level < 1.0:
        raise ValueError("conf_level must be strictly between 0 and 1")
    x = np.asarray(experiment, dtype=float)
    y = np.asarray(control, dtype=float)
    x = x[np.isfinite(x)]
    y = y[np.isfinite(y)]
    if x.size < 1:
        raise ValueError("not enough (non-missing) experiment observations")
    if y.size < 1:
        raise ValueError("not enough control observations")

    nx, ny = float(x.size), float(y.size)
    mumin = float(x.min() - y.max())
    mumax = float(x.max() - y.min())
    if not mumin < mumax:
        # R: uniroot() stops with "lower < upper is not fulfilled".
        raise ValueError("cannot compute confidence interval when all observations are tied")

    def z_of_shift(d: float, correct: bool) -> float:
        """R's W(d): z-score of the rank sum of (x - d) among (x - d, y)."""
        pooled = np.concatenate((x - d, y))
        _, inverse, counts = np.unique(pooled, return_inverse=True, return_counts=True)
        # Average ranks: a tie group ending at cumulative position k with t
        # members occupies ranks k-t+1..k, whose mean is k - (t-1)/2.
        avg_rank = np.cumsum(counts) - (counts - 1) / 2.0
        dz = float(avg_rank[inverse[: x.size]].sum()) - nx * (nx + 1) / 2 - nx * ny / 2
        ties = float((counts.astype(float) ** 3 - counts).sum())
        correction = (0.5 if dz > 0 else -0.5 if dz < 0 else 0.0) if correct else 0.0
        sigma = math.sqrt((nx * ny / 12) * ((nx + ny + 1) - ties / ((nx + ny) * (nx + ny - 1))))
        if sigma == 0:
            raise ValueError("cannot compute confidence interval when all observations are tied")
        return (dz - correction) / sigma

    # The test itself is W at shift 0 (mu = 0), continuity-corrected.
    z = z_of_shift(0.0, True)
    p_value = min(_pnorm_lower(z), _pnorm_lower(-z)) * 2

    alpha = 1 - conf_level
    w_min = z_of_shift(mumin, True)
    w_max = z_of_shift(mumax, True)

    def root(zq: float) -> float:
        f_lower = w_min - zq
        if f_lower <= 0:  # extreme cases: the bound is the end of the range
            return mumin
        f_upper = w_max - zq
        if f_upper >= 0:
            return mumax
        return _zeroin(lambda d: z_of_shift(d, True) - zq, mumin, mumax, f_lower, f_upper, tol_root)

    # R: qnorm(alpha/2, lower.tail=FALSE) and qnorm(alpha/2); AS241 is symmetric.
    q = _STD_NORMAL.inv_cdf(alpha / 2)
    ci_low = root(-q)
    ci_high = root(q)

    # R sets correct <- FALSE before the estimate and lets uniroot evaluate the ends.
    e_lower = z_of_shift(mumin, False)
    e_upper = z_of_shift(mumax, False)
    if e_lower > 0 and e_upper > 0:
        # Exactly, z >= 0 at mumin and <= 0 at mumax. Rounding in x - mumax can
        # break a tie there (e.g. x = (0, 30f, 30f), y = f for some f) and R then
        # stops ("f() values at end points not of opposite sign"). The only
        # deviation from R: we return the end the root is at, as root() does.
        estimate = mumax
    elif e_lower < 0 and e_upper < 0:
        estimate = mumin
    else:
        estimate = _zeroin(lambda d: z_of_shift(d, False), mumin, mumax, e_lower, e_upper, tol_root)
    return p_value, estimate, ci_low, ci_high


def _zeroin(
    f: Callable[[float], float],
    ax: float,
    bx: float,
    fa: float,
    fb: float,
    tol: float,
    maxit: int = 1000,
) -> float:
    """Brent's root finder, step for step as R's ``R_zeroin2`` (used by uniroot).

    Following R's iterations exactly matters here: W(d) is a step function, so
    any point inside the final bracket is "a root" and a different sequence of
    trial points would return a (slightly) different number.
    """
    if fa * fb > 0 or math.isnan(fa) or math.isnan(fb):
        raise ValueError("f() values at end points not of opposite sign")
    a, b = ax, bx
    c, fc = a, fa
    if fa == 0.0:
        return a
    if fb == 0.0:
        return b
    for _ in range(maxit + 1):
        prev_step = b - a
        if abs(fc) < abs(fb):  # make b the best approximation so far
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol_act = 2 * _EPS * abs(b) + tol / 2
        new_step = (c - b) / 2
        if abs(new_step) <= tol_act or fb == 0.0:
            return b
        if abs(prev_step) >= tol_act and abs(fa) > abs(fb):
            # Try interpolation: secant with two distinct points, else inverse quadratic.
            cb = c - b
            if a == c:
                t1 = fb / fa
                p = cb * t1
                q = 1.0 - t1
            else:
                q = fa / fc
                t1 = fb / fc
                t2 = fb / fa
                p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0))
                q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0)
            if p > 0:
                q = -q
            else:
                p = -p
            if p < (0.75 * cb * q - abs(tol_act * q) / 2) and p < abs(prev_step * q / 2):
                new_step = p / q
        if abs(new_step) < tol_act:
            new_step = tol_act if new_step > 0 else -tol_act
        a, fa = b, fb
        b += new_step
        fb = f(b)
        if (fb > 0 and fc > 0) or (fb < 0 and fc < 0):
            c, fc = a, fa
    return b  # R warns "_NOT_ converged" and returns the last iterate
