"""Paper 1 analysis: exact gradient-path accounting (spec Fig. 7, Table 1, stacking), gradient diagnostics,
the experiment config and the verdict rules."""
import math

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn as nn

from archlab.config import ConfigError
from archlab.models import create_model
from archlab.papers.gradient_paths import analysis, claims, grid
from archlab.papers.gradient_paths.gradients import block_gradient_similarity, mean_offdiag, weight_grad_norms
from archlab.papers.gradient_paths.models import fig7_net
from archlab.papers.gradient_paths.paths import GradientPathError, analyse, analyse_registered
from archlab.papers.gradient_paths.run import train_run

W = (4, 8, 16)


def _sets(kind):
    rep = analyse(fig7_net(kind), (4,))
    return {f"L{int(r.layer.rsplit('.', 1)[1]) + 1}{r.group}": r.timestamps for r in rep.groups.itertuples()}, rep


@pytest.mark.parametrize("kind", ["resnet", "prn", "densenet"])
def test_fig7_sets_and_combination_counts(kind):
    sets, rep = _sets(kind)
    assert sets == analysis.FIG7_SPEC[kind]
    assert rep.combinations == {"resnet": 5, "prn": 7, "densenet": 5}[kind]


def test_table1_shortest_path_slopes():
    toy, slopes = analysis.table1_slopes(layers=(5, 9, 17, 33))
    # The path lengths are exact integers: N for PlainNet, a constant for ResNet and DenseNet.
    lengths = {k: list(g.longest_shortest) for k, g in toy.groupby("net")}
    assert lengths["plain"] == [5, 9, 17, 33]
    assert len(set(lengths["resnet"])) == 1 and len(set(lengths["densenet"])) == 1
    # So the fitted slopes are exactly 1 and 0 up to the rounding of a 4-point float64 regression (~1e-15);
    # 1e-9 bounds that on any machine.
    got = dict(zip(slopes.net, slopes.slope))
    assert got["plain"] == pytest.approx(1.0, abs=1e-9)
    assert got["resnet"] == pytest.approx(0.0, abs=1e-9) and got["densenet"] == pytest.approx(0.0, abs=1e-9)


def test_plain_macro_layer_at_depth_d_has_shortest_equal_longest_equal_d():
    rep = analyse_registered("gp_plain", widths=W, blocks=2)
    lay = rep.layers.sort_values("order", ascending=False)
    assert list(lay.shortest) == list(range(1, len(lay) + 1))  # head 1, last conv 2, ..., stem = depth
    assert (lay.shortest == lay.longest).all()


def test_stop_gradient_on_identity_has_plainnets_paths():
    a = analyse_registered("gp_resnet_sg_identity", widths=W, blocks=3).layers
    b = analyse_registered("gp_plain", widths=W, blocks=3).layers
    assert list(a.timestamps) == list(b.timestamps)


def test_stop_gradient_on_block_is_bounded_by_block_length():
    reps = [analyse_registered("gp_resnet_sg_block", widths=W, blocks=k) for k in (1, 4)]
    assert reps[0].longest == reps[1].longest  # stacking blocks no longer lengthens any path
    for r in reps:
        assert (r.layers.shortest == r.layers.longest).all()  # every weight sees a single gradient timestamp


def test_stacking_osa_lengthens_shortest_paths_residual_and_elan_do_not():
    stack = analysis.stacking_table(W, ks=range(1, 5), families=("gp_resnet", "gp_vovnet", "gp_elan"))
    ls = stack.pivot(index="blocks", columns="model", values="longest_shortest")
    lo = stack.pivot(index="blocks", columns="model", values="longest")
    assert ls.gp_resnet.nunique() == 1 and ls.gp_elan.nunique() == 1
    assert list(np.diff(ls.gp_vovnet)) == [3, 3, 3]  # +1 per stacked OSA module in each of three stages
    assert (np.diff(lo.gp_elan) > 0).all() and (np.diff(lo.gp_resnet) > 0).all()
    shift = analysis.shortest_shift("gp_vovnet", W, ks=(1, 2))
    assert (shift.min_shift >= 1).all()
    assert (analysis.shortest_shift("gp_elan", W, ks=(1, 2))[["min_shift", "max_shift"]] == 0).all().all()


def test_prn_channel_groups_add_combinations_in_the_macro():
    prn = analyse_registered("gp_prn", widths=W, blocks=2)
    res = analyse_registered("gp_resnet", widths=W, blocks=2)
    assert prn.combinations > res.combinations
    assert (prn.groups.group == "b").any()  # the layers feeding a partial shortcut split into two groups


def test_untraceable_model_names_the_module():
    class Gate(nn.Module):
        def forward(self, x):
            return x if x.sum() > 0 else -x

    net = nn.Sequential(nn.Linear(4, 4), Gate(), nn.Linear(4, 2))
    with pytest.raises(GradientPathError, match=r"module '1' \(Gate\)"):
        analyse(net, (4,))


class Scale(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.s = s

    def forward(self, x):
        return x * self.s


def test_block_gradient_similarity_on_known_gradients():
    torch.manual_seed(0)
    b1, b2, b3 = Scale(2.0), Scale(-3.0), Scale(0.5)
    net = nn.Sequential(nn.Linear(4, 6), b1, b2, b3, nn.Linear(6, 3)).double()
    x, y = torch.randn(5, 4, dtype=torch.float64), torch.randint(3, (5,))
    sims = block_gradient_similarity(net, x, y, {"s": [b1, b2, b3]}, channel_split=0.5)
    # g_b1 = -1.5 g_b3 and g_b2 = 0.5 g_b3 per sample: cosines are exactly -1 and 1. Computed in float64 (error
    # ~1e-15) and stored as float32, the matrix is within float32's half-ulp at 1 (6e-8) of them on any machine.
    expect = np.array([[1, -1, -1], [-1, 1, 1], [-1, 1, 1]])
    for key in ("s", "s/a", "s/b"):
        assert np.abs(sims[key].to_numpy() - expect).max() <= 6e-8
    assert mean_offdiag(sims["s"]) == pytest.approx(-1 / 3, abs=1e-7)  # plus one float32 division


def test_weight_grad_norms_match_autograd_and_leave_model_untouched():
    torch.manual_seed(0)
    m = create_model("gp_elan", widths=W, blocks=2).double()
    before = {k: v.clone() for k, v in m.state_dict().items()}
    x, y = torch.randn(4, 3, 32, 32, dtype=torch.float64), torch.randint(10, (4,))
    df = weight_grad_norms(m, x, y)
    assert all(torch.equal(before[k], v) for k, v in m.state_dict().items())  # BN running stats unchanged
    torch.nn.functional.cross_entropy(m(x), y).backward()
    mods = dict(m.named_modules())
    for r in df.itertuples():
        # The same float64 computation twice: any difference is summation order, far below 1e-9 relative.
        assert r.grad_norm == pytest.approx(mods[r.layer].weight.grad.norm().item(), rel=1e-9)
    assert df.layer.iloc[0] == "stem.conv" and df.layer.iloc[-1] == "head"  # forward execution order


def test_config_refuses_bad_values():
    with pytest.raises(ConfigError, match="valid parameters"):
        grid.make_config(widht=[8, 16, 32])
    with pytest.raises(ConfigError, match="even"):
        grid.make_config(widths=[8, 15, 32])
    with pytest.raises(ConfigError, match="embedded"):
        grid.make_config(profile="smoke", dataset="cifar10")
    with pytest.raises(ConfigError, match="stacking"):
        grid.make_config(stacking=[1, 0])
    with pytest.raises(ConfigError, match="choose one of"):
        grid.make_config(executor="slurm")
    p = grid.make_config(profile="smoke", depth=3).plan()
    assert p["depth"] == 3 and p["dataset"] == "synthetic" and p["executor"] == "local"


def test_matched_widths_reach_the_target_flops():
    target = grid.model_cost("gp_resnet", (8, 16, 32), blocks=3)["flops"]
    w = grid.matched_widths("gp_elan", target, (8, 16, 32), blocks=3)
    assert abs(grid.model_cost("gp_elan", w, blocks=3)["flops"] / target - 1) <= 0.10
    with pytest.raises(ValueError, match="within"):
        grid.matched_widths("gp_elan", target * 1e4, (8, 16, 32), blocks=3)


def test_train_run_smoke_learns_and_records_diagnostics():
    p = grid.make_config(profile="smoke", epochs=3).plan()
    cfg = grid.run_config(p, "gp_prn", 0, blocks=2)
    r = train_run(cfg)
    losses = [e["train_loss"] for e in r["history"]["epochs"]]
    assert r["status"] == "ok" and losses[-1] < losses[0]
    rep = analyse_registered("gp_prn", widths=W, blocks=2)
    assert (r["max_shortest"], r["combinations"]) == (rep.longest_shortest, rep.combinations)
    assert {"stage1", "stage1/a", "stage1/b"} <= set(r["diag_final"]["similarity"])
    assert math.isfinite(r["sim_init"]) and len(r["diag_init"]["grad_norms"]["depth"]) == len(rep.layers)


def _frame(groups: dict) -> pd.DataFrame:
    rows = [dict(model=m, acc=a, status="ok", matched=False, flops=1, params=1, sim_final=0.5, sim_init=0.5, k=1)
            for m, accs in groups.items() for a in accs]
    return pd.DataFrame(rows)


@pytest.mark.parametrize("accs, outcome", [
    ((0.80, 0.70, 0.60), "reproduced"),
    ((0.80, 0.60, 0.70), "not reproduced"),  # SG-block below SG-identity: the flip the spec warns about
    ((0.700, 0.699, 0.698), "inconclusive"),
])
def test_stop_gradient_verdict_rule(accs, outcome):
    e2 = _frame({m: [a - 0.001, a + 0.001] for m, a in zip(grid.E2_MODELS, accs)})
    assert claims._ordering({m: claims.accuracies(e2[e2.model == m]) for m in grid.E2_MODELS})[0] == outcome


def test_diverged_runs_count_at_chance_and_failed_runs_are_left_out():
    df = pd.DataFrame(dict(model="gp_resnet", status=["ok", "diverged", "failed", "oom"],
                           test_acc=[0.9, np.nan, np.nan, np.nan]))
    df["acc"] = analysis.scored_accuracy(df)
    assert list(claims.accuracies(df)) == [0.9, analysis.CHANCE]
    assert claims.compare([0.9, 0.91], [0.5, 0.52])[0] == 1 and claims.compare([0.5], [0.502])[0] == 0


def test_run_trains_an_experiment_once_then_loads_it(store):
    from archlab.papers import gradient_paths as P

    cfg = P.make_config(profile="smoke", epochs=1)
    e2 = P.run(cfg, store, experiment="e2")
    assert list(e2.family) == ["ResNet", "SG on block", "SG on identity"] and len(store) == 3
    again = P.run(cfg, store, experiment="e2")
    assert len(store) == 3 and list(again.key) == list(e2.key) and list(again.acc) == list(e2.acc)
    with pytest.raises(ValueError, match="choose one of"):
        P.run(cfg, store, experiment="e7")


def test_jobs_are_the_training_runs():
    from archlab.papers import gradient_paths as P

    p = P.make_config(profile="smoke").plan()
    jobs = P.jobs("smoke")
    assert [j["model"] for j in jobs] == [c["model"] for c in grid.training_configs(p)]
    assert all(j["shape"] == (3, 32, 32) and j["kwargs"]["num_classes"] == 10 for j in jobs)


def test_the_run_name_is_stable_and_remembers_the_old_module_path():
    from archlab.store import fn_name

    assert fn_name(train_run) == "gradient_paths.train" and train_run.code_version == 1
    assert train_run.formerly == ("archlab.experiments.gradient_paths.train_run",)
