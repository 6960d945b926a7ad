"""Paper 4's verdicts on synthetic runs frames with known outcomes: wins, losses, negligible effects, out of regime
(every precondition fed a value that fails it), failed studies, the cost tables' stated targets, the CNN claim that
must beat both fixed VGGs, the exact checks, and every claim's declared smallest effect and its source."""
import base64
import math

import numpy as np
import pandas as pd
import pytest

from archlab.papers.layer_insertion import CLAIMS, PROFILES, analysis, analysis_cnn, verdicts
from archlab.papers.layer_insertion.claims import CNN_CONVERGED, DIFFER, LARGE_PLATEAU, LOSS_MIN, SMALL_PLATEAU
from archlab.runs import failures

NOISE = np.array([0.0, 0.4, -0.3, 0.2, -0.1, 0.3, -0.2, 0.1, -0.4, 0.05])  # fixed "seed noise"
STEPS = 200


def curve(final: float, plateau: bool, steps: int = STEPS, flops_per_step: int = 100) -> dict:
    """A training-loss curve from 1.0 to ``final``: flat over its last half (plateau) or still falling linearly."""
    t = np.arange(steps) / (steps - 1)
    loss = final + (1 - final) * (np.clip(1 - 2 * t, 0, 1) ** 2 if plateau else (1 - t))
    return dict(step=list(range(steps)), loss=loss.tolist(), flops=[flops_per_step * (i + 1) for i in range(steps)])


def run(study, method, seed, loss, *, plateau=True, err=0.1, status="ok", flops=100, params=(27, 57), jump=0.0,
        evals=None, acc=None, arch="fnn", widths=(5,)):
    grows = method in ("sensli", "min", "random", "fixed")
    c = curve(loss, plateau, flops_per_step=flops)
    res = dict(curve=c, flops=c["flops"][-1], evals=evals or [], sens=[], position=0 if grows else -1,
               insertions=[dict(step=STEPS // 4, position=0, loss_jump=jump)] if grows else [])
    p0, p1 = params
    row = dict(study=study, method=method, seed=seed, status=status, error="boom" if status == "failed" else None,
               arch=arch, widths=widths, dataset="spirals", data_kw={}, insert_at=(STEPS // 4,), batch_size=0,
               train_loss=loss, test_err=err, test_acc=1 - err if acc is None else acc, params_start=p0,
               params=p1 if grows or method == "large" else p0, flops=res["flops"],
               position=res["position"], result=res)
    if status != "ok":
        row.update(train_loss=math.nan, test_err=math.nan, test_acc=math.nan, result={})
    return row


def study(name, li, small, **kw):
    """One spirals study: SensLI and the small net per seed (losses ``li``, ``small``), plus a plateaued large net."""
    rows = [run(name, "sensli", s, a, **kw) for s, a in enumerate(li)]
    rows += [run(name, "small", s, b, **kw) for s, b in enumerate(small)]
    rows += [run(name, "large", s, 0.2) for s in range(len(li))]
    return pd.DataFrame(rows)


def verdict_of(frames, cid, profile="cpu"):
    return {r["id"]: r for r in verdicts(frames, profile)}[cid]


def test_clear_win_and_clear_loss_against_the_small_net():
    li, small = 0.1 * (1 + 0.1 * NOISE), 0.3 * (1 + 0.1 * NOISE[::-1])
    row = verdict_of({"fnn": study("fnn", li, small)}, "C1")
    assert row["verdict"] == "reproduced" and row["regime_ok"] is True and row["seeds"] == "10/10"
    assert row["effect"] == pytest.approx(np.median(np.log(small / li))) and row["ci_low"] > LOSS_MIN
    assert row["ci_method"].startswith("sign-test median")
    assert verdict_of({"fnn": study("fnn", small, li)}, "C1")["verdict"] == "not reproduced"


def test_a_consistent_but_negligible_gain_is_not_reproduced():
    """SensLI 2% lower in every seed: a real effect below the 10% that matters, so the interval refutes the claim."""
    small = 0.3 * (1 + 0.1 * NOISE)
    row = verdict_of({"fnn": study("fnn", small * 0.98 * (1 + 0.001 * NOISE[::-1]), small)}, "C1")
    assert row["verdict"] == "not reproduced" and row["ci_low"] > 0 and row["ci_high"] < LOSS_MIN


def test_a_small_net_still_learning_is_out_of_regime_not_a_verdict():
    li, small = 0.1 * (1 + 0.1 * NOISE), 0.3 * (1 + 0.1 * NOISE[::-1])
    row = verdict_of({"fnn": study("fnn", li, small, plateau=False)}, "C1")
    assert row["verdict"] == "out of regime" and "statistics alone: reproduced" in row["note"]
    assert "not met" in row["regime_measured"] and row["regime_ok"] is False


def test_three_seeds_give_no_median_interval_so_no_decision():
    """A distribution-free 95% interval of a median needs 6 values: with 3 the log-ratio claims stay inconclusive."""
    li, small = np.array([0.1, 0.11, 0.09]), np.array([0.3, 0.33, 0.28])
    row = verdict_of({"fnn": study("fnn", li, small)}, "C1")
    assert row["verdict"] == "inconclusive" and "no interval" in row["note"] and np.isnan(row["ci_low"])


def test_a_study_whose_every_run_failed_is_not_run_with_the_reason():
    rows = [run("fnn", m, s, 0.1, status="failed") for m in ("sensli", "small", "large") for s in range(3)]
    frames = {"fnn": pd.DataFrame(rows), "resnet": pd.DataFrame()}
    out = {r["id"]: r for r in verdicts(frames, "cpu")}
    for cid in ("C1", "C3", "C4"):
        assert out[cid]["verdict"] == "not run" and "every run of fnn failed" in out[cid]["note"]
        assert "boom" in out[cid]["note"]
    assert out["C2"]["verdict"] == "not run" and "study resnet has no runs in this profile" in out["C2"]["note"]
    assert len(failures(frames, ["method", "seed"], "study")) == 9


def test_a_diverged_run_scores_chance_and_a_failed_one_is_dropped():
    rows = [run("fnn", "sensli", 0, 0.1), run("fnn", "sensli", 1, 0.1, status="failed"),
            {**run("fnn", "sensli", 2, 0.1), "status": "diverged"}]
    df = analysis.runs_frame({"fnn": pd.DataFrame(rows)})
    s = analysis.scores(df, "train_loss")
    assert s.iloc[0] == pytest.approx(0.1) and np.isnan(s.iloc[1]) and s.iloc[2] == pytest.approx(math.log(2))
    assert analysis.scores(df, "test_err").iloc[2] == pytest.approx(0.5)


def test_cost_table_states_its_target_and_the_verdict_reads_it():
    """SensLI's curve runs at half the FLOPs per step and reaches the common target first: cheaper in every seed."""
    rows = [run("fnn", "sensli", s, 0.2 * (1 + 0.05 * NOISE[s]), flops=50) for s in range(10)]
    rows += [run("fnn", "large", s, 0.2 * (1 + 0.05 * NOISE[s]), flops=100) for s in range(10)]
    frames = {"fnn": pd.DataFrame(rows)}
    df = analysis.runs_frame(frames)
    ct = analysis.cost_table(df, "fnn")
    assert (ct["target_rule"] == analysis.COMMON_LOSS).all() and ct["ratio"].to_numpy() == pytest.approx(0.5, rel=0.05)
    summary = analysis.cost_summary(df)
    assert summary["target_rule"].iloc[0] == analysis.COMMON_LOSS and summary["sensli_cheaper"].iloc[0] == 10
    row = verdict_of(frames, "C4")
    assert row["verdict"] == "reproduced" and row["effect"] == pytest.approx(-np.log(ct["ratio"]).median())


def test_a_large_net_still_learning_puts_the_cost_claim_out_of_regime():
    rows = [run("fnn", "sensli", s, 0.2 * (1 + 0.05 * NOISE[s]), flops=50) for s in range(10)]
    rows += [run("fnn", "large", s, 0.2 * (1 + 0.05 * NOISE[s]), flops=100, plateau=False) for s in range(10)]
    row = verdict_of({"fnn": pd.DataFrame(rows)}, "C4")
    assert row["verdict"] == "out of regime" and "large net" in row["regime_measured"]
    assert "not met" in row["regime_measured"]


def validity_frame(pairs: int) -> dict:
    """The validity study with ``pairs`` seeds where SensLI and the random rule chose different positions."""
    rows = []
    for s in range(8):
        for method, loss in (("sensli", 0.1), ("random", 0.2)):
            r = run("validity", method, s, loss, arch="fnn", widths=(4, 4))
            r["result"].update(status="ok", position=1 if method == "random" and s < pairs else 0)
            rows.append(r)
    return {"validity": pd.DataFrame(rows)}


def test_too_few_differing_positions_put_the_rule_claims_out_of_regime():
    assert verdict_of(validity_frame(8), "C6")["verdict"] == "reproduced"
    row = verdict_of(validity_frame(DIFFER.threshold - 1), "C6")
    assert row["verdict"] == "out of regime" and "positions" in row["regime_measured"]


def cnn_evals(final, flops_per_epoch, rise=10, epochs=30):
    """Per-epoch accuracies from 0.1 rising linearly to ``final`` by epoch ``rise``, then flat."""
    return [dict(epoch=e, step=e, flops=flops_per_epoch * e, test_acc=0.1 + (final - 0.1) * min(e / rise, 1.0))
            for e in range(epochs + 1)]


def cnn_frames(li_final, small_final, big_final=0.50, li_flops=50, big_rise=10, seeds=6):
    rows = []
    for s in range(seeds):
        arms = (("sensli", li_final + 0.002 * NOISE[s], li_flops, 10), ("small", small_final + 0.002 * NOISE[-s], 40, 10),
                ("large", big_final + 0.002 * NOISE[s], 100, big_rise))
        for method, final, f, rise in arms:
            ev = cnn_evals(final, f, rise)
            rows.append(run("cnn", method, s, 1.0, acc=ev[-1]["test_acc"], evals=ev, arch="vgg", widths=(4, 8, 8),
                            params=(1000, 1100)))
    return {"cnn": pd.DataFrame(rows)}


def test_cnn_cost_claim_must_beat_both_fixed_nets():
    both = verdict_of(cnn_frames(li_final=0.55, small_final=0.50), "C15", "gpu")
    assert both["verdict"] == "reproduced" and both["regime_ok"] is True
    assert "(a) fewer FLOPs" in both["measured"] and "(b) final accuracy" in both["measured"]
    # cheaper than the big VGG, but 3 pp below the small one: part (b) fails, so the claim does
    worse_than_small = verdict_of(cnn_frames(li_final=0.52, small_final=0.55, big_final=0.45), "C15", "gpu")
    assert worse_than_small["verdict"] == "not reproduced" and "weakest part (b)" in worse_than_small["note"]
    # as accurate as the small VGG, but it costs more than the big VGG to reach the big VGG's level
    expensive = verdict_of(cnn_frames(li_final=0.55, small_final=0.50, li_flops=400), "C15", "gpu")
    assert expensive["verdict"] == "not reproduced" and "weakest part (a)" in expensive["note"]
    df = analysis.runs_frame(cnn_frames(li_final=0.55, small_final=0.50))
    ct = analysis_cnn.cnn_cost_table(df)
    assert (ct["target_rule"] == analysis_cnn.BIG_LEVEL).all() and (ct["ratio"] < 1).all()
    summary = analysis.cost_summary(df, analysis_cnn.cnn_cost_table)
    assert summary.set_index("study").loc["cnn", "target_rule"] == analysis_cnn.BIG_LEVEL


def test_cnn_claims_need_every_arm_converged():
    row = verdict_of(cnn_frames(li_final=0.55, small_final=0.50, big_rise=30), "C15", "gpu")  # big still rising
    assert row["verdict"] == "out of regime" and row["regime_ok"] is False
    assert verdict_of(cnn_frames(li_final=0.55, small_final=0.50), "C14", "gpu")["verdict"] == "reproduced"
    # a SensLI 0.2 pp above the small VGG in every seed: present but below the 0.5 pp that matters
    assert verdict_of(cnn_frames(li_final=0.502, small_final=0.50), "C14", "gpu")["verdict"] == "not reproduced"


def test_the_cpu_cnn_study_is_a_plumbing_check_with_no_verdicts():
    """At widths 4/8/16 the dense head holds nearly all parameters: the same clear win gives no verdict on cpu."""
    frames = cnn_frames(li_final=0.55, small_final=0.50)
    for cid in ("C14", "C15"):
        row = verdict_of(frames, cid, "cpu")
        assert row["verdict"] == "not run" and "plumbing check" in row["note"] and "% of the" in row["note"]
    shares = analysis_cnn.conv_shares(PROFILES["gpu"]["cnn"])
    assert shares["conv_share_pct"] > 10 and shares["inserted_flops_pct"][0] > 50  # the authors' widths: it matters
    assert analysis_cnn.conv_shares(PROFILES["cpu"]["cnn"])["conv_share_pct"] < 1


def test_test_noise_splits_the_test_accuracy_claims_spread():
    """C3 from stored per-point correctness: a SensLI right on 10 more of 150 points in every seed has no seed
    spread, only the test-set part."""
    def bits(k):
        v = np.zeros(150, bool)
        v[:k] = True
        return base64.b64encode(np.packbits(v).tobytes()).decode("ascii")

    rows = [run("fnn", m, s, 0.1) for m in ("sensli", "small") for s in range(4)]
    for r in rows:
        r["result"]["test_correct"] = bits(100 + 5 * r["seed"] + (10 if r["method"] == "sensli" else 0))
    t = analysis.test_noise(analysis.runs_frame({"fnn": pd.DataFrame(rows)})).set_index("claim")
    assert list(t.index) == ["C3"] and t.loc["C3", "n_test"] == 150 and t.loc["C3", "seeds"] == 4
    assert t.loc["C3", "effect"] == pytest.approx(100 * 10 / 150)
    assert t.loc["C3", "sd_seed"] == pytest.approx(0, abs=1e-6) and t.loc["C3", "sd_test"] > 0


@pytest.mark.parametrize("regime, value", [(SMALL_PLATEAU, [0.05, 0.3, 0.4]), (LARGE_PLATEAU, [0.25]),
                                           (DIFFER, 5), (CNN_CONVERGED, [0.2, 1.5])])
def test_every_precondition_fails_on_a_value_it_must_reject(regime, value):
    assert regime.check(value).ok is False


def test_a_still_falling_curve_fails_the_plateau_and_a_flat_one_passes():
    """Measured on the run itself (constant lr, so nothing in the schedule flattens it)."""
    falling, flat = dict(curve=curve(0.1, plateau=False)), dict(curve=curve(0.1, plateau=True))
    assert SMALL_PLATEAU.check([analysis.plateau_drop(falling)]).ok is False
    assert SMALL_PLATEAU.check([analysis.plateau_drop(flat)]).ok is True


IMAGE_MLP = {"C10", "C11", "C12", "C13"}


def test_every_claim_declares_its_smallest_effect_and_where_it_comes_from():
    for c in CLAIMS:
        if c.kind == "directional":
            assert c.min_effect > 0 and c.min_effect_source.strip() and c.revised, c.id
        if c.unit == "log-ratio" and c.id not in IMAGE_MLP:
            assert c.interval == "median" and "median interval" in c.min_effect_source, c.id
        if c.id in IMAGE_MLP:  # losses far from 0: the mean's interval, as before their seeds went 3 -> 16
            assert c.interval == "mean" and "mean interval" in c.min_effect_source, c.id
    by = {c.id: c for c in CLAIMS}
    assert by["C4"].min_effect == pytest.approx(-np.log(0.872), abs=1e-3)
    assert by["C5"].min_effect == pytest.approx(-np.log(0.913), abs=1e-3)


def test_exact_checks_parameter_counts_and_continuity():
    rows = [run("fnn", "sensli", 0, 0.1, params=(27, 57)), run("fnn", "small", 0, 0.2, params=(27, 27)),
            run("fnn", "large", 0, 0.2, params=(57, 57))]
    rows += [run("resnet", m, 0, 0.3, params=p) for m, p in (("sensli", (38, 59)), ("small", (38, 38)),
                                                              ("large+1", (80, 80)))]
    frames = {"fnn": pd.DataFrame(rows[:3]), "resnet": pd.DataFrame(rows[3:])}
    assert verdict_of(frames, "C16")["verdict"] == "reproduced" and verdict_of(frames, "C17")["verdict"] == "reproduced"
    bad = {**frames, "fnn": pd.DataFrame([run("fnn", "sensli", 0, 0.1, params=(27, 58), jump=1e-3), *rows[1:3]])}
    assert verdict_of(bad, "C16")["verdict"] == verdict_of(bad, "C17")["verdict"] == "not reproduced"
    assert verdict_of(bad, "C16")["kind"] == "exact"
