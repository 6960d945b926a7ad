"""Paper 1, E1: the exact gradient-path accounting (Fig. 7, Table 1, the stacking argument) from traced graphs."""
import numpy as np
import pytest
import torch.nn as nn

from archlab.papers.gradient_paths import static
from archlab.papers.gradient_paths.models import fig7_net
from archlab.papers.gradient_paths.paths import GradientPathError, analyse, analyse_registered

W = (4, 8, 16)


def _sets(kind):
    rep = analyse(fig7_net(kind), (4,))
    return {f"L{int(r.layer.rsplit('.', 1)[1]) + 1}{r.group}": r.timestamps for r in rep.groups.itertuples()}, rep


@pytest.mark.parametrize("kind", ["resnet", "prn", "densenet"])
def test_fig7_sets_and_combination_counts(kind):
    sets, rep = _sets(kind)
    assert sets == static.FIG7_PAPER[kind]
    assert rep.combinations == {"resnet": 5, "prn": 7, "densenet": 5}[kind]


def test_table1_shortest_path_slopes():
    toy, slopes = static.table1_slopes(layers=(5, 9, 17, 33))
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
    stack = static.stacking_table(W, ks=range(1, 5), families=("gp_resnet", "gp_vovnet", "gp_elan"))
    ls = stack.pivot(index="blocks", columns="model", values="longest_shortest")
    lo = stack.pivot(index="blocks", columns="model", values="longest")
    assert ls.gp_resnet.nunique() == 1 and ls.gp_elan.nunique() == 1
    assert list(np.diff(ls.gp_vovnet)) == [3, 3, 3]  # +1 per stacked OSA module in each of three stages
    assert (np.diff(lo.gp_elan) > 0).all() and (np.diff(lo.gp_resnet) > 0).all()
    shift = static.shortest_shift("gp_vovnet", W, ks=(1, 2))
    assert (shift.min_shift >= 1).all()
    assert (static.shortest_shift("gp_elan", W, ks=(1, 2))[["min_shift", "max_shift"]] == 0).all().all()


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


def test_stacking_x_axis_counts_three_by_three_convs_per_stage():
    # "blocks" is a different unit per family: an OSA module holds 3 3x3 convs, a BasicBlock 2, E3's ELAN block 3.
    stack = static.stacking_table(W, ks=(1, 2), families=("gp_vovnet", "gp_resnet", "gp_elan", "gp_csp_elan"))
    conv3 = {(r.model, r.blocks): r.conv3 for r in stack.itertuples()}
    assert conv3[("gp_vovnet", 1)] == 3 and conv3[("gp_vovnet", 2)] == 6
    assert conv3[("gp_resnet", 1)] == 2 and conv3[("gp_elan", 2)] == 6
    assert conv3[("gp_csp_elan", 1)] == 3  # one fusion-first CSP BasicBlock (2) plus the unit's CBA3


def test_live_view_draws_every_family_and_refuses_an_unknown_one():
    import matplotlib.pyplot as plt

    from archlab.papers.gradient_paths import live

    for family in live.controls()["family"]:
        fig, table = live.gradient_paths_view(family, 2, W)
        assert table.loc[0, "longest"] >= table.loc[0, "longest_shortest"] >= 1
        plt.close(fig)
    with pytest.raises(ValueError, match="valid"):
        live.gradient_paths_view("DenseNet", 2, W)
