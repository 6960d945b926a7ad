"""Paper 3's test-set vs seed noise table, and the packed training path of its single-path arms."""
import base64
import importlib

import numpy as np
import pandas as pd
import pytest

from archlab import testnoise
from archlab.papers.multipath_routing import claims, grid, noise

R = importlib.import_module("archlab.papers.multipath_routing.run")
N = 400


def _bits(acc, seed):
    rng = np.random.default_rng(seed)
    v = np.zeros(N, bool)
    v[rng.choice(N, int(acc * N), replace=False)] = True
    return base64.b64encode(np.packbits(v).tobytes()).decode()  # correct_bits' format


def _frame(gain):
    rows = []
    for arm in ("sp_wide", "sp_wide_se", "sk", "ens2", "sp_deeper", claims.MATCHED_CP, "mp2_static", claims.FROZEN,
                claims.CC):
        for ds in ("cifar10", "cifar10+inverted"):
            for s in range(3):
                acc = 0.5 + (gain if arm == claims.CC else 0.0)
                result = {"n_test": N, "test_bits": _bits(acc, 100 * s + len(rows))}  # as the run store keeps it
                rows.append({"arm": arm, "dataset": ds, "seed": s, "status": "ok", **result, "result": result})
    return pd.DataFrame(rows)


def test_noise_table_has_a_row_per_judged_pair_with_the_effect_and_both_parts():
    t = noise.table(_frame(0.1), "cifar10")
    assert len(t) == 9  # C1, C2 x2, C3, C4, C6b, C8b, C10 x2
    assert set(t["claim"]) >= {"C1 vs SP-wide ×1.41", "C10 vs MP2-static", "C8b vs SP-wide ×1.41"}
    assert np.allclose(t["effect"], 10.0)  # pp
    # independent draws of 400 images: the spread is test sampling, about sqrt(2 * 0.25 / 400) = 3.5 pp per seed
    assert (t["sd_test"] > 2.5).all() and (t["sd_test"] < 4.5).all()
    assert (t["sd_at_10000"] < t["sd_test"] + t["sd_seed"]).all()
    with pytest.raises(ValueError, match="valid"):
        noise.pairs("C7")


def test_noise_table_is_empty_without_stored_correctness():
    assert noise.table(_frame(0.1).drop(columns=["test_bits", "result"]), "cifar10").empty
    older = _frame(0.1).assign(result=[{"n_test": N}] * len(_frame(0.1)))  # runs stored before v3: no test_bits
    assert noise.table(older, "cifar10").empty


def test_every_arm_but_the_ensemble_may_pack():
    assert R.packable("sp_wide") and R.packable("sp_wide_se") and R.packable("sp_deeper")
    assert R.packable(claims.CC) and R.packable("mp2_static") and R.packable(claims.CC + "_frozen")
    assert not R.packable("ens2")  # its members train on seeds of their own


def _smoke_configs(arm):
    cfg = grid.make_config(profile="smoke", seeds=[0, 1])
    return [c for c in grid.run_configs(cfg) if c["arm"] == arm and c["dataset"] == "synthetic"]


@pytest.mark.parametrize("arm, memory_format", [("sp_wide", "channels_last"), (claims.CC, "contiguous")])
def test_packed_seeds_give_train_arm_results(arm, memory_format, monkeypatch):
    """Two seeds trained packed, in the format the sweep chose, store what two separate train_arm runs store (the
    routing analyses included), up to the summation order of a grouped convolution. The sweep decided that this
    group packs, so the group is not probed again."""
    import archlab.packed_train as pt

    def probe(*a, **k):
        raise AssertionError("a group the sweep sent to be packed was probed again")

    monkeypatch.setattr(pt, "packing_choice", probe)
    configs = _smoke_configs(arm)
    together = R.train_arm_packed(configs, formats={(arm, "synthetic"): memory_format})
    alone = [R.train_arm(c) for c in configs]
    for t, a in zip(together, alone):
        assert set(t) == set(a) and t["packed"] == 2 and a["packed"] == 1
        assert t["params"] == a["params"] and t["n_test"] == a["n_test"]
        assert t["train_loss"] == pytest.approx(a["train_loss"], abs=0.02)
        assert testnoise.unpack(t["test_bits"], t["n_test"]).mean() == pytest.approx(t["test_acc"])
        if "mi_last" in a:  # a routed arm: its member's routing, read back after unpacking
            assert t["entropy_last"] == pytest.approx(a["entropy_last"], abs=0.02)


def test_packing_summary_names_the_arms_trained_together():
    runs = pd.DataFrame([{"arm": "sp_wide_se", "dataset": "cifar10", "seed": s, "packed": 6, "wall_time": 2.0}
                         for s in range(6)] + [{"arm": claims.CC, "dataset": "cifar10", "seed": 0, "packed": 1,
                                                "wall_time": 9.0}])
    text = R.packing_summary(runs)
    assert "SP-wide ×1.41 + SE on cifar10: 6 runs, 6 together" in text and "MP2-CC" not in text
    assert R.packing_summary(runs[runs["arm"] == claims.CC]).startswith("no run trained packed")
    assert R.packing_choice_here({"arm": "ens2"}, 6) is None  # the ensemble: never probed, never packed
