"""archlab.stats: intervals honest at small n, power from statsmodels, TOST, and the descriptive helpers."""
import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.power import TTestIndPower, TTestPower

from archlab import stats


def test_descriptive_helpers():
    assert stats.fmt_mean_std([1.0, 2.0, 3.0], 1) == "2.0 ± 1.0"
    assert np.isnan(stats.welch([1.0], [2.0, 3.0]))


def test_three_seeds_use_the_t_interval_not_the_narrow_bootstrap():
    d = np.array([0.5, 1.5, 4.0])
    iv = stats.mean_difference(d, 0.0)
    t = sps.ttest_1samp(d, 0.0).confidence_interval(0.95)
    assert (iv.low, iv.high) == (pytest.approx(t.low), pytest.approx(t.high))
    assert iv.method == "t 95%" and iv.design == "one-sample" and iv.n == (3,)
    assert iv.low < d.min() and iv.high > d.max()  # a bootstrap of 3 values never leaves their range


def test_interval_is_the_union_of_t_and_bootstrap():
    x = np.random.default_rng(3).lognormal(0.0, 1.5, 30)  # skewed: the bootstrap may be wider on one side
    iv = stats.mean_difference(x, None)
    t = sps.ttest_1samp(x, 0.0).confidence_interval(0.95)
    assert iv.low <= t.low and iv.high >= t.high
    assert iv.high - iv.low >= t.high - t.low


def test_interval_is_deterministic():
    a, b = np.random.default_rng(1).normal(size=(2, 8))
    first, second = stats.mean_difference(a, b), stats.mean_difference(a, b)
    assert first == second


def test_paired_needs_equal_lengths_and_drops_pairs_with_nan():
    with pytest.raises(ValueError, match="one value per seed"):
        stats.mean_difference([1.0, 2.0, 3.0], [1.0, 2.0], paired=True)
    iv = stats.mean_difference([1.0, 2.0, np.nan, 4.0], [0.0, 1.5, 2.0, 3.0], paired=True)
    assert iv.n == (3,) and iv.dropped == 1 and iv.design == "paired"
    assert iv.estimate == pytest.approx(np.mean([1.0, 0.5, 1.0]))


def test_independent_arms_use_welch_and_pooled_sd():
    a, b = np.array([1.0, 2.0, 3.0, 4.0]), np.array([2.0, 4.0, 9.0])
    iv = stats.mean_difference(a, b)
    t = sps.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert iv.low <= t.low and iv.high >= t.high and iv.n == (4, 3) and iv.df == 5
    assert iv.sd == pytest.approx(np.sqrt((3 * a.var(ddof=1) + 2 * b.var(ddof=1)) / 5))


def test_too_few_values_or_no_spread():
    iv = stats.mean_difference([1.0], [2.0, 3.0])
    assert np.isnan(iv.low) and np.isnan(iv.high) and iv.n == (1, 2)
    iv = stats.mean_difference([2.0, 2.0, 2.0], [1.0, 1.0, 1.0])
    assert (iv.low, iv.estimate, iv.high) == (1.0, 1.0, 1.0) and "no spread" in iv.method


def test_sd_upper_bound_is_wider_at_small_df():
    assert stats.sd_upper(1.0, 2) > stats.sd_upper(1.0, 9) > stats.sd_upper(1.0, 200) > 1.0
    assert stats.sd_upper(1.0, 2) == pytest.approx(np.sqrt(2 / sps.chi2.ppf(0.2, 2)))


def test_detectable_effect_has_80_percent_power():
    for design, n, solver, kw in (("paired", (4,), TTestPower(), dict(nobs=4)),
                                  ("independent", (4, 4), TTestIndPower(), dict(nobs1=4, ratio=1.0))):
        mde = stats.detectable_effect(2.0, n, design)
        assert solver.power(effect_size=mde / 2.0, alpha=0.05, **kw) == pytest.approx(0.8, abs=1e-3)
    assert stats.detectable_effect(1.0, (3,), "paired") > stats.detectable_effect(1.0, (10,), "paired")
    assert np.isnan(stats.detectable_effect(1.0, (1,), "paired"))


def test_seeds_needed_is_the_first_size_with_enough_power():
    n = stats.seeds_needed(1.0, 2.0, "paired")
    power = lambda k: TTestPower().power(effect_size=0.5, nobs=k, alpha=0.05)  # noqa: E731
    assert power(n) >= 0.8 > power(n - 1)
    assert 30 <= n <= 40  # normal approximation (1.96 + 0.84)^2 / 0.5^2 = 31.4, plus the t correction
    assert stats.seeds_needed(0.001, 2.0, "paired") is None  # beyond MAX_SEEDS
    assert stats.seeds_needed(0.0, 2.0, "paired") is None


def test_tost_agrees_with_the_90_percent_t_interval():
    rng = np.random.default_rng(5)
    for _ in range(20):
        a, b = rng.normal(0.0, 1.0, 6), rng.normal(0.2, 1.0, 6)
        t = sps.ttest_ind(a, b, equal_var=False).confidence_interval(0.90)
        inside = -1.0 < t.low and t.high < 1.0
        assert (stats.tost_pvalue(a, b, -1.0, 1.0) < 0.05) == inside
    d = rng.normal(0.0, 0.1, 5)
    assert stats.tost_pvalue(d, 0.0, -0.5, 0.5) < 0.05 and stats.tost_pvalue(d + 1.0, 0.0, -0.5, 0.5) > 0.5


def test_tost_power_and_margins():
    m = stats.tost_detectable_margin(1.0, (10,), "paired")
    assert float(stats.tost_power(0.0, 1.0, 10, "paired", -m, m)) == pytest.approx(0.8, abs=1e-3)
    n = stats.tost_seeds_needed(0.1, 1.0, "independent", -0.5, 0.5)
    assert stats.tost_power(0.1, 1.0, n, "independent", -0.5, 0.5) >= 0.8
    assert stats.tost_power(0.1, 1.0, n - 1, "independent", -0.5, 0.5) < 0.8
    assert stats.tost_seeds_needed(0.6, 1.0, "paired", -0.5, 0.5) is None  # outside the margin: never
