"""The verdicts on synthetic run tables with known outcomes: a clear win, a clear loss, a tie at 3 seeds, a net that
did not plateau, a design that never ran, every run failed; diverged runs count at chance; the exact matching check."""
import numpy as np
import pandas as pd
import pytest

from archlab.papers.leaderboard import CLAIMS, verdicts
from archlab.papers.leaderboard.analysis import COLUMNS, leaderboard, ranked
from archlab.papers.leaderboard.claims import DESIGNS, MIN_GAIN, per_budget


def _runs(acc: dict, seeds=5, budget=50_000, fall=0.02, noise=0.002, status="ok", rng=0) -> pd.DataFrame:
    """A run table: entry -> mean test accuracy (fraction); per seed a shared offset plus small noise."""
    g = np.random.default_rng(rng)
    shared = g.normal(0, 0.01, seeds)  # seed effect common to every entry: what pairing removes
    rows = []
    for name, a in acc.items():
        for s in range(seeds):
            rows.append(dict(entry=name, label=name, paper="1", budget=budget, seed=s, status=status, params=budget,
                             flops=1e7, train_flops=1e13, sec_per_epoch=1.0, test_acc=a + shared[s] + g.normal(0, noise),
                             test_loss=1.0, train_acc=0.8, train_loss=0.5, loss_fall_q4=fall, seconds=10.0, error=None,
                             params_start=budget if name == "sensli" else np.nan, position=np.nan))
    return pd.DataFrame(rows, columns=COLUMNS)


def _verdict(table, cid):
    return next(r for r in verdicts(table, "cpu") if r["id"] == cid)


def test_a_clear_win_is_reproduced_and_a_clear_loss_is_not():
    table = _runs({"resnet": 0.60, "elan": 0.63, "parallel": 0.55})
    assert _verdict(table, "C1")["verdict"] == "reproduced"
    assert _verdict(table, "C2")["verdict"] == "not reproduced"
    assert _verdict(table, "C1")["effect"] == pytest.approx(3.0, abs=0.5)


def test_a_gain_below_the_smallest_effect_of_interest_is_not_a_win():
    table = _runs({"resnet": 0.60, "elan": 0.60 + MIN_GAIN / 200}, noise=0.0005, seeds=8)
    assert _verdict(table, "C1")["verdict"] != "reproduced"


def test_three_noisy_seeds_of_the_claimed_effect_are_never_refuted():
    for rng in range(10):
        table = _runs({"resnet": 0.60, "elan": 0.60 + MIN_GAIN / 100}, seeds=3, noise=0.01, rng=rng)
        assert _verdict(table, "C1")["verdict"] in ("inconclusive", "reproduced"), rng


def test_a_net_that_did_not_plateau_is_out_of_regime_with_the_measured_value():
    table = _runs({"resnet": 0.60, "elan": 0.63})
    table.loc[table.entry == "elan", "loss_fall_q4"] = 0.25
    row = _verdict(table, "C1")
    assert row["verdict"] == "out of regime" and "0.25" in row["regime_measured"]


def test_the_weakest_budget_decides():
    table = pd.concat([_runs({"resnet": 0.60, "elan": 0.63}), _runs({"resnet": 0.70, "elan": 0.65}, budget=200_000)])
    assert _verdict(table, "C1")["verdict"] == "not reproduced"
    parts = per_budget(table, "cpu")
    assert list(parts[parts.claim == "C1"].verdict) == ["reproduced", "not reproduced"]


def test_designs_not_trained_are_not_run_with_the_reason():
    table = _runs({"resnet": 0.60, "elan": 0.63})
    row = _verdict(table, "C4")
    assert row["verdict"] == "not run" and "SensLI" in row["note"]


def test_every_run_failed_gives_not_run_everywhere_and_empty_tables():
    table = _runs({"resnet": 0.6, "elan": 0.6, "sensli": 0.6}, status="failed")
    table[["test_acc", "params"]] = np.nan
    rows = verdicts(table, "cpu")
    assert [r["verdict"] for r in rows] == ["not run"] * len(CLAIMS)
    assert leaderboard(table).empty and ranked(table, 50_000).empty


def test_diverged_runs_count_at_chance_accuracy():
    table = _runs({"resnet": 0.60, "elan": 0.63})
    table.loc[table.entry == "elan", "status"] = "diverged"
    table.loc[table.entry == "elan", "test_acc"] = np.nan
    lb = leaderboard(table)
    assert lb.set_index("entry").test_acc["elan"] == pytest.approx(10.0)
    assert _verdict(table, "C1")["verdict"] != "reproduced"


def test_the_matching_check_fails_when_a_run_is_off_budget():
    table = _runs({"resnet": 0.60, "elan": 0.63})
    assert _verdict(table, "C5")["verdict"] == "reproduced"
    table.loc[0, "params"] = 60_000
    assert _verdict(table, "C5")["verdict"] == "not reproduced"


def test_claims_are_declared_with_kind_threshold_and_regime():
    ids = [c.id for c in CLAIMS]
    assert ids == ["C1", "C2", "C3", "C4", "C5"] and set(DESIGNS) == set(ids[:4])
    for c in CLAIMS[:4]:
        assert c.kind == "directional" and c.min_effect == MIN_GAIN and c.unit == "pp" and c.requires
    assert CLAIMS[4].kind == "exact"
