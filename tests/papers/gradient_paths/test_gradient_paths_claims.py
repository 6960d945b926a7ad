"""Paper 1's verdicts on synthetic run frames with known outcomes (clear wins and losses, a regime not reached, an
experiment whose every run failed), and the notebook's path when a run function raises."""
import json
import math

import numpy as np
import pandas as pd
import pytest

from archlab.papers.gradient_paths import analysis, claims, grid, static

NOISE = np.array([0.003, -0.002, 0.001, -0.002])  # fixed per-seed accuracy noise (fractions): sd ~0.25 pp
SEEDS = range(4)
FLOPS = {"gp_resnet": 100, "gp_prn": 100}


@pytest.fixture(scope="module")
def e1():
    fig7 = static.fig7_table()
    toy, slopes = static.table1_slopes(layers=(5, 9, 17))
    stack = static.stacking_table((8, 16, 32), ks=range(1, 4), families=static.SHIFT_MODELS)
    shifts = static.shift_table((8, 16, 32), range(1, 3))
    return fig7, slopes, shifts, stack


def _arm(model, acc=0.5, loss=1.0, plateau=0.02, sims=(0.5, 0.6), flops=100, params=100, status="ok", roll=0,
         **eq):
    """Four seeds of one arm: accuracy and loss plus the fixed noise (rolled by ``roll`` seeds, so two arms'
    paired differences vary), given plateau and similarity change."""
    noise = np.roll(NOISE, roll)
    return [dict(model=model, seed=s, acc=acc + noise[s], loss=loss * (1 + noise[s]), plateau=plateau,
                 sim_init=sims[0], sim_final=sims[1] + noise[s], flops=flops, params=params, status=status,
                 error=None if status == "ok" else "boom", **eq) for s in SEEDS]


def _frame(*arms):
    df = pd.DataFrame([r for a in arms for r in a])
    for c in ("k", "point", "rho"):
        if c not in df:
            df[c] = np.nan
    return df


def _e2(full=0.6, blk=0.55, ide=0.5, loss=0.8):
    return _frame(_arm("gp_resnet", full, loss=loss), _arm("gp_resnet_sg_block", blk),
                  _arm("gp_resnet_sg_identity", ide))


def _e3(vov=(0.2, 1.8), rep=(0.2, 0.7), elan=(0.2, 0.7), res=(0.1, 0.8)):
    """E3's training losses (at k = 1 and 6; k = 3 halfway): every family but VoVNet fits as well as ResNet at k = 6,
    and each fits more slowly deeper, as in any finite schedule."""
    arms = []
    for m, (lo, hi) in (("gp_vovnet", vov), ("gp_vovnet_elan", rep), ("gp_elan", elan), ("gp_resnet", res)):
        arms += [_arm(m, loss=lo, k=1), _arm(m, loss=(lo + hi) / 2, k=3), _arm(m, loss=hi, k=6)]
    return _frame(*arms)


def _e456(csp=0.6, elan=0.65, prn=0.61, status="ok"):
    base = dict(point="base")
    arms = [_arm("gp_resnet", 0.6, status=status, **base)]
    arms += [_arm("gp_prn", prn if r == 0.5 else 0.6, rho=r, sims=(0.3, 0.35), status=status, **base)
             for r in (0.25, 0.5, 0.75)]
    arms += [_arm(m, csp - 0.001 * i, flops=80 - i, params=75 - i, point="csp point", status=status, roll=i)
             for i, m in enumerate(grid.CSP_MODELS)]
    arms += [_arm(m, a, point="equal FLOPs", status=status)
             for m, a in (("gp_csp_fusion", 0.62), ("gp_elan", elan), ("gp_csp_elan", elan))]
    return _frame(*arms)


def _verdicts(e1, e2=None, e3=None, e456=None):
    rows = claims.verdicts(*e1, _e2() if e2 is None else e2, _e3() if e3 is None else e3,
                           _e456() if e456 is None else e456, profile="test")
    return {r["id"]: r for r in rows}


def test_every_claim_is_declared_once_with_its_kind_and_regime():
    ids = [c.id for c in claims.CLAIMS]
    assert ids[:3] == ["C1", "C2", "C3"] and len(set(ids)) == len(ids)
    assert {"C4", "C4b", "C5", "C5b", "C6", "C6b", "C7", "C7b", "C8"} <= set(ids)  # the old ids stay
    for c in claims.CLAIMS:
        assert c.kind == "exact" or any(r.name in ("trained", "depth control") for r in c.requires), c.id
        assert c.source, c.id
    assert all(any(r.name == "depth control" for r in claims.BY_ID[i].requires) for i in ("C5", "C5b"))
    assert not any(r.name == "depth control" for r in claims.BY_ID["C4"].requires)  # E2's arms share one depth


def test_exact_claims_hold_on_the_construction(e1):
    v = _verdicts(e1)
    assert all(v[i]["verdict"] == "reproduced" and v[i]["kind"] == "exact" for i in ("C1", "C2", "C3"))


def test_clear_wins_are_reproduced(e1):
    v = _verdicts(e1)
    for i in ("C4", "C4b", "C5", "C5b", "C6", "C6c", "C8", "C8b"):
        assert v[i]["verdict"] == "reproduced", (i, v[i]["note"], v[i]["measured"])
    assert v["C4"]["effect"] == pytest.approx(5.0)  # the weaker part, 55 - 50 pp (same noise in both arms)
    assert v["C5"]["regime_ok"] is True and "depth control" in v["C5"]["regime"]


def test_clear_losses_are_not_reproduced(e1):
    v = _verdicts(e1, e2=_e2(blk=0.45), e3=_e3(vov=(0.2, 0.7), rep=(0.2, 1.6)),
                  e456=_e456(csp=0.5, elan=0.55, prn=0.55))
    assert v["C4"]["verdict"] == "not reproduced" and v["C4b"]["verdict"] == "reproduced"  # full still beats both
    assert v["C5"]["verdict"] == "not reproduced"  # deep VoVNet fits better than the ResNet of its depth
    assert v["C5b"]["verdict"] == "not reproduced"  # the re-planned VoVNet fits twice as badly as that ResNet
    for i in ("C6", "C7", "C8"):
        assert v[i]["verdict"] == "not reproduced", (i, v[i]["note"])


def test_equal_arms_are_inconclusive_never_not_reproduced(e1):
    v = _verdicts(e1, e2=_e2(0.6, 0.6, 0.6), e456=_e456(prn=0.6))
    assert v["C4"]["verdict"] == "inconclusive" and v["C7"]["verdict"] == "inconclusive"
    assert v["C6b"]["verdict"] == "inconclusive"  # four fusions 0.1 pp apart, within their seed noise


def test_an_untrained_reference_arm_is_out_of_regime_with_the_measured_value(e1):
    v = _verdicts(e1, e2=_e2(loss=1.7))  # the full ResNet removed a quarter of the chance loss (2.30 -> 1.7)
    assert v["C4"]["verdict"] == "out of regime" and v["C4"]["regime_ok"] is False
    assert "1.7 >= 1.151: not met" in v["C4"]["regime_measured"] and "statistics alone: reproduced" in v["C4"]["note"]
    assert v["C6"]["verdict"] == "reproduced"  # the other experiments are judged on their own arms


def test_a_deepest_resnet_that_does_not_train_puts_the_stacking_claims_out_of_regime(e1):
    v = _verdicts(e1, e3=_e3(res=(1.0, 1.3)))  # the schedule is too short for E3's depth (the 4-epoch profile)
    assert v["C5"]["verdict"] == v["C5b"]["verdict"] == "out of regime"
    assert "statistics alone: reproduced" in v["C5"]["note"]  # VoVNet's 1.8 is still above ResNet's 1.3
    assert v["C4"]["verdict"] == "reproduced" and v["C7"]["verdict"] != "out of regime"  # other experiments
    assert "final training loss of ResNet at the largest k" in v["C5"]["regime_measured"]
    assert "1.3 >= 1.151: not met" in v["C5"]["regime_measured"]


def test_prn_similarity_claim_reads_the_change_from_initialisation(e1):
    # PRN starts lower (0.3 vs 0.5) but rises by 0.05 against ResNet's 0.1: the change, not the level, decides
    v = _verdicts(e1)
    assert v["C7b"]["verdict"] == "reproduced" and v["C7b"]["effect"] == pytest.approx(0.05)
    same = _e456()
    same.loc[same.model == "gp_prn", "sim_init"] = 0.25  # PRN now rises by 0.1 as well: no difference
    assert _verdicts(e1, e456=same)["C7b"]["verdict"] != "reproduced"


def test_an_experiment_whose_every_run_failed_gives_not_run_and_the_others_go_on(e1):
    failed = _e456(status="environment")
    failed[["acc", "loss", "plateau"]] = math.nan
    v = _verdicts(e1, e456=failed)
    for i in ("C6", "C6b", "C6c", "C7", "C7b", "C8", "C8b"):
        assert v[i]["verdict"] == "not run" and "every run of E4-E6 failed" in v[i]["note"], i
    assert v["C4"]["verdict"] == "reproduced" and v["C5"]["verdict"] == "reproduced"
    empty = _verdicts(e1, e2=_e2().iloc[:0])
    assert empty["C4"]["verdict"] == "not run" and "no runs" in empty["C4"]["note"]


def test_the_notebook_survives_a_run_function_that_raises(store, e1, monkeypatch):
    """Every run of E4-E6 raises (as a missing dataset would): the frames keep their rows, the figures skip, the
    failures are listed and E4-E6's claims say "not run" with the error, while E2 and E3 are judged."""
    import importlib

    from archlab.papers import gradient_paths as P
    from archlab.papers.gradient_paths import plots

    run = importlib.import_module("archlab.papers.gradient_paths.run")  # the module (P.run is its function)
    real = run._prepare
    cfg = P.make_config(profile="smoke", epochs=2, stacking=[1, 2])  # two epochs: a measurable plateau
    e456_only = {json.dumps(c, sort_keys=True) for c in grid.e456_configs(cfg.plan())}

    def broken(config, train, seed):
        if json.dumps(config, sort_keys=True) in e456_only:
            raise FileNotFoundError("dataset 'cifar10' not found (simulated)")
        return real(config, train, seed)

    monkeypatch.setattr(run, "_prepare", broken)
    e2, e3, e456 = (P.run(cfg, store, experiment=x) for x in ("e2", "e3", "e456"))
    assert (e456.status == "environment").all() and len(analysis.failures({"E4-E6": e456})) == len(e456)
    assert plots.pareto(e456) is None and plots.prn_sweep(e456) is None and plots.similarity(e456) is None
    assert analysis.e456_summary(e456).empty
    v = {r["id"]: r for r in P.verdicts(*e1, e2, e3, e456, profile="smoke")}
    assert v["C8"]["verdict"] == "not run" and "simulated" in v["C8"]["note"]
    assert v["C4"]["verdict"] not in ("not run",) and v["C1"]["verdict"] == "reproduced"
