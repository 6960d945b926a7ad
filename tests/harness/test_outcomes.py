"""archlab.outcomes: each rule fed synthetic samples with known truth; the claims row, counts and forest plot."""
import math
import re

import matplotlib
import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.power import TTestPower

from archlab import stats
from archlab.claims import COLUMNS, Claim, collect_claims, read_claims, summary_counts, verdict, write_claims
from archlab.outcomes import (Outcome, Regime, combine, directional, equivalence, exact, judge, not_run,
                              ratio_margin, within)

matplotlib.use("Agg")

CONVERGED = Regime("converged", "final training loss", "<", 0.5)
SRC = "chosen: a test claim"
WIN = Claim("win", "9", "A beats B", "95% interval of A - B above 0.01", unit="pp", min_effect=0.01,
            min_effect_source=SRC, requires=(CONVERGED,))
BIG = Claim("big", "9", "A beats B by 2 pp", "95% interval above 2 pp", unit="pp", min_effect=2.0,
            min_effect_source="chosen: half the paper's gap")
CLOSE = Claim("close", "9", "A about equals B", "90% interval of log(A/B) in log(0.98)..log(1.10)",
              kind="equivalence", unit="log-ratio", margin=ratio_margin(0.98, 1.10), min_effect_source="paper Table 2")
SKEW = Claim("skew", "9", "A's loss below B's", "95% median interval of log(B/A) above 0.05", unit="log-ratio",
             min_effect=0.05, min_effect_source=SRC, interval="median")
EXACT = Claim("parity", "9", "same parameters", "P(a) == P(b)", kind="exact")
BASE = np.array([0.0, 0.4, -0.3, 0.2, -0.1, 0.3, -0.2, 0.1, -0.4, 0.05])  # fixed "seed noise", mean 0.005


def seeds_in(note):
    m = re.search(r"about (\d+) seeds", note)
    return int(m.group(1)) if m else None


# --- directional -----------------------------------------------------------------------------------------------

def test_clear_win_and_clear_loss():
    a, b = 10 + BASE, 5 + BASE[::-1]
    assert directional(WIN, a, b).verdict == "reproduced"
    assert directional(WIN, b, a).verdict == "not reproduced"
    assert directional(WIN, b[:3], a[:3]).verdict == "not reproduced"  # a clear loss refutes at 3 seeds
    assert "reversed" in directional(WIN, b, a).note


def test_lower_is_better_flips_the_sign():
    loss_a, loss_b = 0.2 + 0.01 * BASE, 0.5 + 0.01 * BASE
    o = directional(WIN, loss_a, loss_b, higher_is_better=False)
    assert o.verdict == "reproduced" and o.effect == pytest.approx(0.3)


def test_equal_arms_are_inconclusive():
    a = np.array([1.0, 2.0, 3.0, 4.0])
    o = directional(WIN, a, a + np.array([0.1, -0.1, 0.05, -0.05]), paired=True)
    assert o.verdict == "inconclusive" and o.ci_low < 0 < o.ci_high


def test_too_few_seeds_never_raise():
    o = directional(WIN, [3.0], [1.0, 2.0])
    assert o.verdict == "inconclusive" and "fewer than 2" in o.note and o.seeds == "1/2"
    o = directional(WIN, [3.0, 3.4], [1.0, 2.2])  # two seeds: an interval, but a very wide one
    assert o.verdict == "inconclusive" and np.isfinite(o.ci_low) and "planning" in o.note
    assert directional(WIN, [], [1.0, 2.0]).verdict == "not run"
    assert directional(WIN, [np.nan, np.nan], [1.0, 2.0]).verdict == "not run"  # nothing measured: no finite value


def test_min_effect_is_the_bar_to_clear():
    assert directional(BIG, 13 + BASE, 10 + BASE).verdict == "reproduced"
    o = directional(BIG, 11 + BASE, 10 + BASE)  # clearly positive, clearly below the stated 2 pp
    assert o.verdict == "not reproduced" and o.ci_low > 0 and o.ci_high < 2 and "negligible" in o.note
    assert directional(WIN, 11 + BASE, 10 + BASE).verdict == "reproduced"  # same data, a smaller size of interest
    present = directional(BIG, 12 + 3 * BASE, 10 + BASE)  # interval clears 0 but not 2 pp
    assert present.verdict == "inconclusive" and "effect present, size not shown" in present.note


def test_a_directional_claim_declares_a_nonzero_smallest_effect_with_its_source():
    with pytest.raises(ValueError, match="non-zero min_effect"):
        Claim("z", "9", "A beats B", "above 0", unit="pp", min_effect_source=SRC)
    with pytest.raises(ValueError, match="min_effect_source"):
        Claim("z", "9", "A beats B", "above 1", unit="pp", min_effect=1.0)
    with pytest.raises(ValueError, match="interval"):
        Claim("z", "9", "A beats B", "above 1", min_effect=1.0, min_effect_source=SRC, interval="mode")


def test_non_inferiority_with_a_negative_min_effect():
    o = directional(WIN, 9.8 + BASE, 10 + BASE, min_effect=-1.0)
    assert o.verdict == "reproduced" and o.effect < 0 and o.threshold == "> -1 pp"


def test_effect_size_floor_one_sample():
    mi = Claim("C7", "9", "routing specialises", "normalised MI 95% interval above 0.05", unit="nats",
               min_effect=0.05, min_effect_source=SRC)
    assert directional(mi, [0.08, 0.09, 0.07, 0.085], 0.0).verdict == "reproduced"
    tiny = directional(mi, [3e-4, 4e-4, 2e-4, 3.5e-4], 0.0)
    assert tiny.verdict == "not reproduced" and tiny.seeds == "4"
    assert directional(WIN, [0.08, 0.09, 0.07, 0.085], 0.05, min_effect=0).verdict == "reproduced"  # floor as b


def test_paired_design_removes_shared_seed_variation():
    seed_effect = np.array([0.0, 10.0, 20.0, 30.0, 5.0])
    a, b = seed_effect + 1.0 + 0.05 * BASE[:5], seed_effect
    assert directional(WIN, a, b, paired=True).verdict == "reproduced"
    assert directional(WIN, a, b).verdict == "inconclusive"
    with pytest.raises(ValueError, match="one value per seed"):
        directional(WIN, a, b[:4], paired=True)


def test_failed_runs_are_dropped_and_counted():
    a = np.r_[10 + BASE[:5], np.nan]
    o = directional(WIN, a, 5 + BASE[:6], paired=True)
    assert o.seeds == "5/5" and "1 non-finite value(s) dropped" in o.note and o.verdict == "reproduced"
    o = directional(WIN, np.r_[10 + BASE[:4], np.inf], 5 + BASE[:4])
    assert o.seeds == "4/4" and "1 non-finite" in o.note


def test_planning_note_gives_a_sensible_seed_count():
    a = np.array([1.0, -1.5, 3.5]) + 1.0  # paired differences, true mean 1, seed sd about 2
    o = directional(WIN, a, 0.0, min_effect=0)
    n = seeds_in(o.note)
    assert o.verdict == "inconclusive" and o.detectable > abs(o.effect) and n is not None
    sd = stats.sd_upper(np.std(a, ddof=1), 2)
    power = lambda k: TTestPower().power(effect_size=abs(o.effect) / sd, nobs=k, alpha=0.05)  # noqa: E731
    assert 3 < n < 1000 and power(n) >= 0.8 > power(n - 1)


def test_scale_and_log_put_everything_in_the_claims_unit():
    acc_a, acc_b = 0.90 + 0.001 * BASE, 0.85 + 0.001 * BASE
    o = directional(BIG, acc_a, acc_b, scale=100)
    assert o.effect == pytest.approx(5.0) and o.verdict == "reproduced" and "pp" in o.detail
    o = directional(WIN, 2.0 * (1 + 0.01 * BASE), 1.0 + 0.01 * BASE, log=True, paired=True, min_effect=0.1)
    assert o.effect == pytest.approx(math.log(2.0)) and "ratio 2" in o.detail


def test_bootstrap_is_seeded_so_outcomes_repeat_bit_for_bit():
    a, b = np.random.default_rng(0).normal(size=(2, 12))
    assert repr(directional(WIN, a, b)) == repr(directional(WIN, a, b))


@pytest.mark.parametrize("n", [3, 4, 6, 10])
@pytest.mark.parametrize("me", [0.0, 0.5])
def test_acceptance_flipping_the_effects_around_the_threshold_flips_the_verdict(n, me):
    """One interval decides both ways: effects mirrored around the threshold give mirrored verdicts."""
    delta = 2.0 + 0.3 * BASE[:n]  # clearly above the threshold, some spread
    up = directional(WIN, me + delta, 0.0, min_effect=me)
    down = directional(WIN, me - delta, 0.0, min_effect=me)
    assert (up.verdict, down.verdict) == ("reproduced", "not reproduced")
    assert up.ci_low - me == pytest.approx(me - down.ci_high)  # the same evidence on either side
    paired = directional(WIN, 10 + me + delta, np.full(n, 10.0), paired=True, min_effect=me)
    assert paired.verdict == "reproduced"
    assert directional(WIN, 10 + me - delta, np.full(n, 10.0), paired=True, min_effect=me).verdict == "not reproduced"


def _rates(truth, me, n, sims=200, sd=1.0, seed=0):
    rng = np.random.default_rng(seed)
    v = [directional(WIN, rng.normal(truth, sd, n), 0.0, min_effect=me).verdict for _ in range(sims)]
    return {k: v.count(k) / sims for k in ("reproduced", "not reproduced", "inconclusive")}


@pytest.mark.parametrize("n", [3, 4, 6, 10])
def test_acceptance_error_rates_over_simulated_experiments(n):
    """At a true effect of 0 "reproduced" is rare; at the claimed (smallest) effect "not reproduced" is rare.

    Each is a one-sided miss of a two-sided 95% interval, so at most 2.5% under normality (the bootstrap part can
    only widen the interval). Fixed generator seeds; at the threshold, 400 experiments put the 5% bound 3 binomial
    standard deviations above the expected 2.5% (at zero truth the expected rate is far below it).
    """
    me = 0.5
    assert _rates(0.0, me, n, seed=n)["reproduced"] <= 0.05
    assert _rates(me, me, n, sims=400, seed=100 + n)["not reproduced"] <= 0.05


def test_acceptance_a_clear_reversal_is_refuted_at_ten_seeds():
    rates = _rates(-1.0, 0.5, 10, seed=7)
    assert rates["not reproduced"] > 0.5 and rates["not reproduced"] > rates["inconclusive"]


def test_median_interval_for_skewed_values():
    ratios = np.array([0.4, 2.5, 0.2, 0.9, 0.1, 3.8, 0.3, 0.6, 0.15, 1.2])  # all positive, heavy right tail
    assert directional(SKEW, ratios, 0.0).verdict == "reproduced"
    assert "sign-test median" in directional(SKEW, ratios, 0.0).ci_method
    assert directional(SKEW, -ratios, 0.0).verdict == "not reproduced"
    few = directional(SKEW, ratios[:5], 0.0)  # 5 values cannot bound a median at 95%
    assert few.verdict == "inconclusive" and np.isnan(few.ci_low) and "no interval" in few.note
    with pytest.raises(ValueError, match="paired"):
        directional(SKEW, ratios, ratios + 1)


# --- equivalence -----------------------------------------------------------------------------------------------

def test_equivalence_inside_outside_straddling():
    seq = 1.0 + 0.1 * np.abs(BASE)
    inside = equivalence(CLOSE, seq * 1.03 * (1 + 0.002 * BASE), seq, paired=True, log=True)
    assert inside.verdict == "reproduced" and inside.ci_low > math.log(0.98) and inside.ci_high < math.log(1.10)
    assert "ratio 0.98-1.1" in inside.threshold and "TOST p" in inside.detail
    outside = equivalence(CLOSE, seq * 1.30 * (1 + 0.002 * BASE), seq, paired=True, log=True)
    assert outside.verdict == "not reproduced" and outside.ci_low > math.log(1.10) and "wholly outside" in outside.note
    wobbly = seq * np.exp(np.array([0.09, -0.05, 0.2, 0.0, -0.1, 0.15, 0.05, -0.02, 0.12, 0.08]))
    straddle = equivalence(CLOSE, wobbly[:4], seq[:4], paired=True, log=True)
    assert straddle.verdict == "inconclusive" and straddle.ci_low < math.log(1.10) < straddle.ci_high


def test_equivalence_underpowered_note_and_margin_on_a_difference():
    c = Claim("eq", "9", "about equal", "90% interval of A - B within 1 pp", kind="equivalence", unit="pp",
              margin=(-1.0, 1.0), min_effect_source=SRC)
    o = equivalence(c, [0.5, -1.0, 1.2, 0.3], [0.0, 0.0, 0.0, 0.0], paired=True)
    n = seeds_in(o.note)
    assert o.verdict == "inconclusive" and n is not None and n > 4 and o.detectable > 1.0
    assert stats.tost_power(o.effect, stats.sd_upper(np.std([0.5, -1.0, 1.2, 0.3], ddof=1), 3), n, "paired",
                            -1.0, 1.0) >= 0.8
    assert equivalence(c, [0.5], [0.0]).verdict == "inconclusive"
    with pytest.raises(ValueError, match="margin"):
        Claim("bad", "9", "x", "y", kind="equivalence", min_effect_source=SRC)


# --- regimes, exact, combine -----------------------------------------------------------------------------------

def test_regime_check_texts():
    assert CONVERGED.check(0.31).text == "final training loss 0.31 < 0.5: met"
    chk = CONVERGED.check([0.2, 0.31, 0.72])
    assert chk.ok is False and chk.value == pytest.approx(0.72) and "worst of 3" in chk.text
    assert CONVERGED.check(None).ok is None and CONVERGED.check([np.nan]).ok is None
    gap = Regime("over-fitting present", "val - train gap", ">", 0.3, over="mean")
    assert gap.check([0.2, 0.5]).ok is True and gap.describe() == "val - train gap > 0.3"


def test_out_of_regime_is_never_not_reproduced():
    loss = directional(WIN, 5 + BASE, 10 + BASE)
    assert loss.verdict == "not reproduced"
    row = judge(WIN, loss, regimes={"converged": [0.4, 0.9]})
    assert row["verdict"] == "out of regime" and row["regime_ok"] is False
    assert "0.9 >= 0.5: not met" in row["regime_measured"] and "statistics alone: not reproduced" in row["note"]
    assert row["effect"] == pytest.approx(-5.0)  # shown, not judged
    row = judge(WIN, loss, regimes={"converged": None})
    assert row["verdict"] == "not run" and "not measured" in row["note"]
    with pytest.raises(ValueError, match="regime"):
        judge(WIN, loss)
    with pytest.raises(ValueError, match="no regime named"):
        judge(BIG, loss, regimes={"converged": 0.1})


def test_exact_checks():
    assert judge(EXACT, exact(EXACT, True, "P = 1234 both"))["verdict"] == "reproduced"
    row = judge(EXACT, exact(EXACT, False))
    assert row["verdict"] == "not reproduced" and row["kind"] == "exact" and row["threshold"] == "exact"
    assert exact(EXACT, None).verdict == "not run"
    with pytest.raises(ValueError, match="exact"):
        judge(WIN, exact(EXACT, True), regimes={"converged": 0.1})
    with pytest.raises(ValueError, match="directional"):
        judge(EXACT, directional(EXACT, 10 + BASE, BASE))


def test_combine_ordering_parts():
    a, b, c = 20 + BASE, 15 + BASE[::-1], 10 + BASE
    win_ab, win_bc = directional(WIN, a, b), directional(WIN, b, c)
    both = combine({"A>B": win_ab, "B>C": win_bc})
    assert both.verdict == "reproduced" and both.detail.count("reproduced") == 2
    weak = directional(WIN, c + 0.2 + 3 * BASE[::-1], c)
    mixed = combine({"A>B": win_ab, "B>C": weak})
    assert mixed.verdict == weak.verdict == "inconclusive" and mixed.effect == weak.effect
    assert "weakest part B>C" in mixed.note
    lost = combine({"A>B": win_ab, "B>C": directional(WIN, c, b), "C>D": weak})
    assert lost.verdict == "not reproduced"
    oor = within(win_bc, (CONVERGED,), {"converged": 0.9})
    assert combine({"A>B": win_ab, "B>C": oor, "C>D": weak}).verdict == "out of regime"
    assert combine({"A>B": win_ab, "B>C": not_run("no runs")}).verdict == "not run"
    close_ab = combine({"A>B": win_ab, "B>C": win_bc})
    assert close_ab.effect == pytest.approx(min(win_ab, win_bc, key=lambda o: o.slack).effect)
    with pytest.raises(ValueError):
        combine({})


# --- the row, the table, the plot ------------------------------------------------------------------------------

def test_row_format():
    o = directional(WIN, 10 + BASE[:4], 5 + BASE[4:8], paired=True)
    row = judge(WIN, o, regimes={"converged": [0.2, 0.3, 0.1, 0.25]}, measured="A 10.0, B 5.0", profile="cpu")
    assert list(row) == COLUMNS
    assert row["verdict"] == "reproduced" and row["seeds"] == "4/4" and row["kind"] == "directional"
    assert row["regime"] == "final training loss < 0.5" and row["regime_ok"] is True
    assert row["ci_low"] <= row["effect"] <= row["ci_high"] and row["ci_method"] == "t 95%"
    assert row["measured"].startswith("A 10.0, B 5.0; +5") and row["threshold"] == "> 0.01 pp"
    assert row["min_effect_source"] == SRC and row["revised"] == ""
    assert row["profile"] == "cpu" and np.isfinite(row["detectable"])


def test_old_verdict_call_fills_new_columns():
    row = verdict(Claim("C1", "2", "x", "y", min_effect=1, min_effect_source=SRC), "1.0", "reproduced", "cpu")
    assert list(row) == COLUMNS and row["kind"] == "directional" and np.isnan(row["effect"])
    assert verdict(CLOSE, "", "out of regime")["threshold_low"] == pytest.approx(math.log(0.98))


def _mixed_table():
    rows = [judge(WIN, directional(WIN, 10 + BASE, 5 + BASE), regimes={"converged": 0.1}, profile="cpu"),
            judge(BIG, directional(BIG, 11 + BASE, 10 + BASE)),
            judge(CLOSE, equivalence(CLOSE, 1.03 * (1 + 0.01 * BASE), np.ones(10), log=True)),
            judge(EXACT, exact(EXACT, True)),
            judge(Claim("e2", "8", "x", "y", kind="exact"), exact(None, False)),
            judge(Claim("nr", "8", "z", "w", unit="nats", min_effect=1, min_effect_source=SRC), not_run("no runs")),
            verdict(Claim("old", "8", "an old-style claim", "p < 0.1", min_effect=1, min_effect_source=SRC), "p = 0.3",
                    "inconclusive")]
    return pd.DataFrame(rows, columns=COLUMNS)


def test_summary_counts_keep_exact_checks_apart():
    counts = summary_counts(_mixed_table())
    assert list(counts.index) == ["8", "9", "all"]
    assert counts.loc["9", "reproduced"] == 2 and counts.loc["9", "not reproduced"] == 1
    assert counts.loc["9", "exact passed"] == 1 and counts.loc["8", "exact failed"] == 1
    assert counts.loc["8", "not run"] == 1 and counts.loc["8", "inconclusive"] == 1
    assert counts.loc["all"].sum() == len(_mixed_table())


def test_forest_plot_draws_a_mixed_table():
    from archlab.plots import forest_plot

    df = _mixed_table()
    fig = forest_plot(df)
    assert len(fig.axes) == df[df.kind != "exact"].unit.nunique()
    labels = [t.get_text() for ax in fig.axes for t in ax.get_yticklabels()]
    assert "P9 win" in labels and "P8 nr" in labels and "P9 parity" not in labels
    fig.canvas.draw()
    assert forest_plot(df[df.kind == "exact"]).axes  # nothing to draw: a labelled empty figure


def test_claims_files_round_trip_and_old_files_load(tmp_path):
    df = write_claims(_mixed_table().to_dict("records"), tmp_path / "new" / "claims.csv")
    back = read_claims(tmp_path / "new" / "claims.csv")
    assert list(back.columns) == COLUMNS and back.regime_ok.iloc[0] is True
    assert back.effect.dtype == float and back.effect.iloc[0] == pytest.approx(df.effect.iloc[0])
    old = tmp_path / "old" / "claims.csv"
    old.parent.mkdir()
    pd.DataFrame([{"paper": "2", "id": "C1", "claim": "x", "criterion": "y", "measured": "1.0",
                   "verdict": "reproduced", "profile": "cpu"}]).to_csv(old, index=False)
    loaded = read_claims(old)
    assert list(loaded.columns) == COLUMNS and loaded.kind.iloc[0] == "" and np.isnan(loaded.effect.iloc[0])
    assert loaded.verdict.iloc[0] == "reproduced" and loaded.regime_ok.iloc[0] is None
    declared = [Claim("C1", "2", "x", "y", min_effect=1, min_effect_source=SRC), Claim("C2", "2", "z", "w", kind="exact")]
    table = collect_claims(declared, tmp_path)  # old and new files side by side
    assert list(table.columns) == COLUMNS and set(table.kind) <= {"directional", "equivalence", "exact"}
    assert table.set_index("id").verdict.to_dict() == {"C1": "reproduced", "C2": "not run"}


def test_not_run_rows_keep_the_declared_threshold():
    row = judge(CLOSE, not_run("no finished runs"))
    assert row["verdict"] == "not run" and row["kind"] == "equivalence" and row["note"] == "no finished runs"
    assert row["threshold_high"] == pytest.approx(math.log(1.10)) and "ratio 0.98-1.1" in row["threshold"]


def test_outcome_defaults_are_blank():
    o = Outcome("directional", "inconclusive")
    assert np.isnan(o.effect) and o.note == "" and o.regime_ok is None


def test_a_measure_that_gave_no_finite_value_is_not_run_not_inconclusive():
    nan = np.full(6, np.nan)
    o = directional(WIN, nan, 0.0)
    assert o.verdict == "not run" and "all 6 value(s) of A are NaN" in o.note
    assert directional(WIN, [1.0, 2.0], [np.nan, np.inf], paired=True).verdict == "not run"
    assert equivalence(CLOSE, nan, [1.0] * 6, paired=True, log=True).verdict == "not run"
    one = directional(WIN, [np.nan, 0.5], 0.0)  # one finite value: measured, but no interval
    assert one.verdict == "inconclusive" and "no interval" in one.note
