"""Budget matching (issue 19: every entry within +-5% of its budget, checked for every entry and budget of every
profile) and the counts the leaderboard reports (parameters, forward and training FLOPs)."""
import pytest
import torch

from archlab.papers.leaderboard import PROFILES, budgets, models
from archlab.papers.leaderboard.grid import input_shape, make_config
from archlab.train import count_params

PAIRS = sorted({(e, b, input_shape(p)) for p in PROFILES.values() for b, es in p["budgets"].items() for e in es},
               key=str)


@pytest.mark.parametrize("name,budget,shape", PAIRS)
def test_every_entry_of_every_profile_is_within_5_percent_of_its_budget(name, budget, shape):
    m = budgets.match(name, budget, shape)
    if m is None:  # only the SensLI VGG may be unmatched, and only below what its fixed classifier holds
        assert name == "sensli" and budgets.smallest(name, shape) > budget * (1 - budgets.TOLERANCE)
        return
    net = budgets.meta_model(models.entry(name).model, m.kwargs, shape)
    assert count_params(net) == m.params  # the count is of the net the run builds
    assert abs(m.params / budget - 1) <= budgets.TOLERANCE
    if name == "sensli":  # every insertion it could choose keeps it within the tolerance too
        for p in range(net.num_positions):
            grown = count_params(net) + count_params(net.candidate(p))
            assert abs(grown / budget - 1) <= budgets.TOLERANCE, (p, grown)


def test_the_gpu_profile_matches_every_entry_at_every_budget_but_sensli_below_800k():
    cfg = make_config(profile="gpu")
    assert {e for e, _ in cfg.pairs()} == set(models.ENTRIES)
    assert cfg.unmatched() == [("sensli", 50_000), ("sensli", 200_000)]
    assert budgets.smallest("sensli", (3, 32, 32)) > 255_000  # the 500x500 + 500x10 classifier alone: 255,510


def test_widths_follow_the_step_and_grow_with_the_scale():
    assert models.scaled((16, 32, 64), 1.0) == (16, 32, 64)
    assert models.scaled((16, 32, 64), 0.74, step=2) == (12, 24, 48)
    assert all(w % 2 == 0 for w in budgets.match("csp", 50_000).kwargs["widths"])
    small, big = budgets.match("elan", 50_000), budgets.match("elan", 200_000)
    assert all(a < b for a, b in zip(small.kwargs["widths"], big.kwargs["widths"]))


def test_bad_budgets_and_entries_are_refused():
    with pytest.raises(ValueError, match="budget"):
        budgets.match("resnet", 12.5)
    with pytest.raises(ValueError, match="valid entries"):
        budgets.match("resnet50", 50_000)


def test_a_training_step_costs_between_two_and_three_forward_passes():
    # backward of a conv or linear layer is at most two products (input and weight gradients), the first layer's
    # input gradient is never needed, so forward + backward lies in [2, 3] x forward for these counted ops
    m = budgets.match("resnet", 50_000, (3, 16, 16))
    net = budgets.meta_model("gp_resnet", m.kwargs, (3, 16, 16))
    step = budgets.step_flops(net, (3, 16, 16))
    assert 2 * m.flops <= step <= 3 * m.flops


def test_an_ensemble_step_is_the_sum_of_its_members():
    m = budgets.match("ens2", 50_000, (3, 16, 16))
    net = budgets.meta_model("mp_ensemble", m.kwargs, (3, 16, 16))
    assert budgets.step_flops(net, (3, 16, 16)) == 2 * budgets.step_flops(net.members[0], (3, 16, 16))


def test_the_sensitivity_pass_costs_more_than_a_forward_pass_of_the_extended_net():
    m = budgets.match("sensli", 290_000, (3, 16, 16))
    net = budgets.meta_model("growing_vgg", m.kwargs, (3, 16, 16))
    assert budgets.sensitivity_flops(net, (3, 16, 16)) > m.flops
    assert budgets.module_flops(net, (3, 16, 16)) == m.flops
    with torch.device("meta"):
        grown = models.build("growing_vgg", m.kwargs, input_shape=(3, 16, 16)).grow(0)
    assert budgets.module_flops(grown, (3, 16, 16)) > m.flops


def test_the_cached_step_count_equals_the_count_of_the_built_net():
    m = budgets.match("resnet", 12_000, (3, 16, 16))
    net = budgets.meta_model("gp_resnet", m.kwargs, (3, 16, 16))
    assert budgets.model_step_flops("gp_resnet", m.kwargs, (3, 16, 16)) == budgets.step_flops(net, (3, 16, 16))
