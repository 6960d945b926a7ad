"""The harness's statistics: intervals, power and equivalence tests over scipy and statsmodels.

Everything here works on plain arrays of per-seed values in the claim's unit; ``archlab.outcomes`` turns these
numbers into verdicts. Conventions, each chosen for the 2-10 seeds per arm this project runs:

* Non-finite values (a failed run stored as NaN) are dropped and counted; pairs are dropped together.
* A reported interval is the *wider* of Student's t interval and a seeded percentile bootstrap (``mean_difference``),
  or, for skewed per-seed values, the distribution-free interval of the median (``median_difference``).
* Power uses the upper 80% confidence bound of the seed spread, not the spread itself (``sd_upper``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats
from statsmodels.stats.power import TTestIndPower, TTestPower
from statsmodels.stats.weightstats import DescrStatsW, ttost_ind, ttost_paired

__all__ = ["bootstrap_ci", "mean_std", "fmt_mean_std", "welch", "Interval", "finite", "mean_difference",
           "median_difference", "MEDIAN_MIN_SEEDS",
           "sd_upper", "detectable_effect", "seeds_needed", "tost_pvalue", "tost_power", "tost_seeds_needed",
           "tost_detectable_margin", "MAX_SEEDS"]

MEDIAN_MIN_SEEDS = 6  # the fewest values whose extremes bound the median with >= 95% confidence (1 - 2/2^6)
MAX_SEEDS = 1000  # seeds_needed answers None ("more than this") beyond it: the number is then only "hopeless"
N_RESAMPLES = 4999


def bootstrap_ci(values, statistic=np.median, confidence: float = 0.95, n_resamples: int = 2000,
                 seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic`` (scipy.stats.bootstrap); NaNs are dropped."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) < 2:
        return (float("nan"), float("nan"))
    res = stats.bootstrap((v,), statistic, confidence_level=confidence, n_resamples=n_resamples,
                          method="percentile", random_state=np.random.default_rng(seed), vectorized=False)
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def mean_std(values) -> tuple[float, float]:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return float("nan"), float("nan")
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


def fmt_mean_std(values, digits: int = 3) -> str:
    m, s = mean_std(values)
    return f"{m:.{digits}f} ± {s:.{digits}f}"


def welch(a, b) -> float:
    """Two-sided Welch t-test p-value (NaN with fewer than two values per side)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 2 or len(b) < 2:
        return float("nan")
    return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


# --- intervals -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Interval:
    """A mean difference with its interval, and what power calculations need to know about the design.

    ``design`` is "paired" (per-seed differences), "one-sample" (values minus a fixed floor) or "independent".
    ``n`` is the finite values per arm (one entry for paired/one-sample), ``sd`` the per-seed spread that power
    uses (sd of the differences, or the pooled sd of the two arms), ``df`` its degrees of freedom.
    """
    estimate: float
    low: float
    high: float
    method: str
    design: str
    n: tuple[int, ...]
    sd: float
    df: int
    dropped: int = 0


def finite(values) -> np.ndarray:
    """The finite entries of ``values`` as floats (NaN/inf stand for failed runs and are left out)."""
    v = np.atleast_1d(np.asarray(values, dtype=float))
    return v[np.isfinite(v)]


def _tied(v) -> bool:
    """All values equal up to float rounding (a deterministic run repeated): no spread to estimate."""
    return len(v) == 0 or float(np.ptp(v)) <= 1e-12 * max(1.0, float(np.abs(v).max()))


def _t_interval(x, y, design, confidence):
    if design == "independent":
        return stats.ttest_ind(x, y, equal_var=False).confidence_interval(confidence)
    return stats.ttest_1samp(x, 0.0).confidence_interval(confidence)


def _boot_interval(x, y, design, confidence, seed, n_resamples):
    if design == "independent":
        data, stat = (x, y), (lambda u, v, axis: u.mean(axis) - v.mean(axis))
    else:
        data, stat = (x,), (lambda u, axis: u.mean(axis))
    return stats.bootstrap(data, stat, vectorized=True, method="percentile", confidence_level=confidence,
                           n_resamples=n_resamples, rng=np.random.default_rng(seed)).confidence_interval


def mean_difference(a, b=None, *, paired: bool = False, confidence: float = 0.95, seed: int = 0,
                    n_resamples: int = N_RESAMPLES) -> Interval:
    """mean(a) - mean(b) with an interval that stays honest at 3-5 seeds.

    ``b`` is an array (paired by position when ``paired``: equal lengths required) or a scalar floor (one-sample:
    a - floor) or None (one-sample against 0). Non-finite values are dropped (with their partner when paired) and
    counted in ``dropped``. The interval is the union of Student's t interval (Welch's for independent arms) and a
    seeded percentile bootstrap: at small n the bootstrap only resamples the few values seen, so it is far too
    narrow (with 3 seeds it never leaves their range), and the t interval is what carries the small-sample
    uncertainty; at larger n, with skewed values, the bootstrap may be the wider on one side, so neither alone is
    kept. Percentile rather than BCa because BCa's jackknife acceleration from 3-5 values is itself noise and is
    undefined for tied values. ``method`` says which interval gave the bounds. With fewer than 2 values per arm
    the bounds are NaN. The bootstrap is seeded, so the result is bit-for-bit repeatable.
    """
    a_raw = np.atleast_1d(np.asarray(a, dtype=float))
    scalar = b is None or np.ndim(b) == 0
    if scalar:
        x, y, design = a_raw - (0.0 if b is None else float(b)), None, "one-sample"
        keep = np.isfinite(x)
        x, dropped = x[keep], int((~keep).sum())
    elif paired:
        b_raw = np.atleast_1d(np.asarray(b, dtype=float))
        if len(a_raw) != len(b_raw):
            raise ValueError(f"paired arms need one value per seed each: got {len(a_raw)} and {len(b_raw)} values")
        keep = np.isfinite(a_raw) & np.isfinite(b_raw)
        x, y, design, dropped = (a_raw - b_raw)[keep], None, "paired", int((~keep).sum())
    else:
        x, y, design = finite(a_raw), finite(b), "independent"
        dropped = len(a_raw) + np.size(b) - len(x) - len(y)
    n = (len(x),) if y is None else (len(x), len(y))
    est = float(x.mean() - (y.mean() if y is not None else 0.0)) if min(n) else float("nan")
    if design == "independent":
        df = len(x) + len(y) - 2
        pooled = ((len(x) - 1) * x.var(ddof=1) + (len(y) - 1) * y.var(ddof=1)) / df if min(n) > 1 else np.nan
        sd = float(np.sqrt(pooled))
    else:
        df, sd = len(x) - 1, float(x.std(ddof=1)) if len(x) > 1 else np.nan
    nan = float("nan")
    if min(n) < 2:
        return Interval(est, nan, nan, "none (fewer than 2 values per arm)", design, n, sd, df, dropped)
    if _tied(x) and (y is None or _tied(y)):
        return Interval(est, est, est, "exact (no spread across seeds)", design, n, 0.0, df, dropped)
    t = _t_interval(x, y, design, confidence)
    bs = _boot_interval(x, y, design, confidence, seed, n_resamples)
    low, high = min(t.low, bs.low), max(t.high, bs.high)
    name = "Welch t" if design == "independent" else "t"
    parts = [name] * 2 if t.low <= bs.low and t.high >= bs.high else \
        ["bootstrap" if bs.low < t.low else name, "bootstrap" if bs.high > t.high else name]
    method = (f"{parts[0]} {confidence:.0%}" if parts[0] == parts[1] else
              f"{confidence:.0%}: low from {parts[0]}, high from {parts[1]}")
    return Interval(est, float(low), float(high), method, design, n, sd, df, dropped)


def median_difference(a, b=None, *, paired: bool = False, confidence: float = 0.95) -> Interval:
    """The median of a (paired: of a - b; one-sample: of a - b for a scalar b) with a distribution-free interval.

    For per-seed values that are skewed or heavy-tailed (log-ratios of near-zero losses, say) a mean's t interval is
    not valid at 3-30 seeds and a bootstrap of 10 values is too narrow; the interval from the sign test
    (``scipy.stats.quantile_test``: order statistics whose coverage follows from Binomial(n, 1/2)) holds for any
    continuous distribution. It needs ``MEDIAN_MIN_SEEDS`` values for 95% (fewer: NaN bounds, so no decision).
    Independent arms have no paired median difference; pair them or use ``mean_difference``.
    """
    if b is not None and np.ndim(b) > 0 and not paired:
        raise ValueError("median_difference needs paired arms or a scalar b (got independent arrays)")
    a_raw = np.atleast_1d(np.asarray(a, dtype=float))
    b_raw = 0.0 if b is None else (float(b) if np.ndim(b) == 0 else np.atleast_1d(np.asarray(b, dtype=float)))
    if np.ndim(b_raw) and len(b_raw) != len(a_raw):
        raise ValueError(f"paired arms need one value per seed each: got {len(a_raw)} and {len(b_raw)} values")
    diff = a_raw - b_raw
    x = diff[np.isfinite(diff)]
    design, n, dropped = "paired" if np.ndim(b_raw) else "one-sample", (len(x),), int(len(diff) - len(x))
    sd = float(x.std(ddof=1)) if len(x) > 1 else float("nan")
    est = float(np.median(x)) if len(x) else float("nan")
    nan = float("nan")
    if len(x) < MEDIAN_MIN_SEEDS:
        return Interval(est, nan, nan, f"none (a median interval needs {MEDIAN_MIN_SEEDS}+ values)", design, n, sd,
                        len(x) - 1, dropped)
    ci = stats.quantile_test(x, q=0.0, p=0.5).confidence_interval(confidence)
    return Interval(est, float(ci.low), float(ci.high), f"sign-test median {confidence:.0%}", design, n, sd,
                    len(x) - 1, dropped)


# --- power -----------------------------------------------------------------------------------------------------

def sd_upper(sd: float, df: int, level: float = 0.8) -> float:
    """Upper ``level`` confidence bound of a standard deviation estimated with ``df`` degrees of freedom.

    Power from 3 seeds' spread is itself a guess: a spread that is small by chance would make any design look
    powerful. Planning with the upper 80% bound of the sd (chi-square, Browne 1995, "On the use of a pilot sample
    for sample size determination") is the standard guard, and it is what keeps a lucky tight triple of seeds from
    certifying a "not reproduced".
    """
    if not np.isfinite(sd) or df < 1:
        return float("nan")
    return float(sd * np.sqrt(df / stats.chi2.ppf(1 - level, df)))


def _solver(design):
    return TTestIndPower() if design == "independent" else TTestPower()


def _nobs(design, n):
    return dict(nobs1=n[0], ratio=n[1] / n[0]) if design == "independent" else dict(nobs=n[0])


def detectable_effect(sd: float, n: tuple[int, ...], design: str, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest true mean difference a two-sided t test at ``alpha`` finds with ``power``, for this sd and n.

    Two-sided at 0.05 because the decision interval is a two-sided 95% interval. Independent arms use the pooled sd
    (statsmodels' power is for the equal-variance test; close to Welch's for similar spreads). NaN below 2 per arm.
    """
    if min(n) < 2 or not np.isfinite(sd):
        return float("nan")
    if sd == 0:
        return 0.0
    d = _solver(design).solve_power(effect_size=None, alpha=alpha, power=power, **_nobs(design, n))
    return float(np.squeeze(d) * sd)


def seeds_needed(effect: float, sd: float, design: str, alpha: float = 0.05, power: float = 0.8,
                 cap: int = MAX_SEEDS) -> int | None:
    """Seeds per arm (pairs when paired) for ``power`` to detect ``effect``; None when more than ``cap``."""
    if not (np.isfinite(effect) and np.isfinite(sd)) or effect == 0:
        return None
    if sd == 0:
        return 2
    ns = np.arange(2, cap + 1)
    kw = dict(nobs1=ns, ratio=1.0) if design == "independent" else dict(nobs=ns)
    p = _solver(design).power(effect_size=abs(effect) / sd, alpha=alpha, **kw)
    hit = np.flatnonzero(np.asarray(p) >= power)
    return int(ns[hit[0]]) if len(hit) else None


# --- equivalence -----------------------------------------------------------------------------------------------

def tost_pvalue(a, b, low: float, high: float, *, paired: bool = False) -> float:
    """Two one-sided tests that mean(a) - mean(b) lies in (low, high) (statsmodels; Welch for independent arms).

    ``b`` may be a scalar (one-sample TOST of a - b). Non-finite values are dropped as in ``mean_difference``.
    NaN with fewer than 2 values per arm.
    """
    a = np.atleast_1d(np.asarray(a, float))
    if b is None or np.ndim(b) == 0:
        x = finite(a - (0.0 if b is None else float(b)))
        return float(DescrStatsW(x).ttost_mean(low, high)[0]) if len(x) > 1 and not _tied(x) else float("nan")
    b = np.atleast_1d(np.asarray(b, float))
    if paired:
        keep = np.isfinite(a) & np.isfinite(b)
        a, b = a[keep], b[keep]
        ok = len(a) > 1 and not _tied(a - b)
        return float(ttost_paired(a, b, low, high)[0]) if ok else float("nan")
    a, b = finite(a), finite(b)
    ok = min(len(a), len(b)) > 1 and not (_tied(a) and _tied(b))
    return float(ttost_ind(a, b, low, high, usevar="unequal")[0]) if ok else float("nan")


def tost_power(effect: float, sd: float, n, design: str, low: float, high: float, alpha: float = 0.05):
    """Power of TOST at true difference ``effect``: P(low side) + P(high side) - 1, floored at 0.

    statsmodels has no t-based TOST power, so it is composed from its one-sided t powers at each bound (the usual
    Bonferroni-type approximation; accurate where it matters, near 0.8). ``n`` may be an array of per-arm sizes.
    """
    solver = _solver(design)
    kw = dict(nobs1=n, ratio=1.0) if design == "independent" else dict(nobs=n)
    p_low = solver.power(effect_size=(effect - low) / sd, alpha=alpha, alternative="larger", **kw)
    p_high = solver.power(effect_size=(high - effect) / sd, alpha=alpha, alternative="larger", **kw)
    return np.clip(np.asarray(p_low) + np.asarray(p_high) - 1.0, 0.0, 1.0)


def tost_seeds_needed(effect: float, sd: float, design: str, low: float, high: float, alpha: float = 0.05,
                      power: float = 0.8, cap: int = MAX_SEEDS) -> int | None:
    """Seeds per arm for TOST ``power`` at true difference ``effect``; None beyond ``cap`` or outside the margin."""
    if not (np.isfinite(effect) and np.isfinite(sd)) or not low < effect < high:
        return None
    if sd == 0:
        return 2
    ns = np.arange(2, cap + 1)
    hit = np.flatnonzero(tost_power(effect, sd, ns, design, low, high, alpha) >= power)
    return int(ns[hit[0]]) if len(hit) else None


def tost_detectable_margin(sd: float, n: tuple[int, ...], design: str, alpha: float = 0.05,
                           power: float = 0.8) -> float:
    """Half-width m of the tightest margin (-m, m) this design confirms with TOST ``power`` if the truth is 0.

    At zero truth both one-sided tests have equal power p with 2p - 1 = ``power``, so each side is solved by
    statsmodels at (1 + power) / 2. It is the equivalence analogue of ``detectable_effect``.
    """
    if min(n) < 2 or not np.isfinite(sd):
        return float("nan")
    if sd == 0:
        return 0.0
    d = _solver(design).solve_power(effect_size=None, alpha=alpha, power=(1 + power) / 2, alternative="larger",
                                    **_nobs(design, n))
    return float(np.squeeze(d) * sd)
