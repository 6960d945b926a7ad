"""Paper 3's arms, profiles and jobs: arm names parse to the right models, searched arms are matched in cost, input
pooling is the pooling it claims to be, every profile plans the arms its claims need, and the frozen-router control
differs between seeds."""
import math

import pytest
import torch
import torch.nn.functional as F

from archlab.models import create_model
from archlab.papers.multipath_routing import arms as A
from archlab.papers.multipath_routing import grid, jobs, make_config
from archlab.papers.multipath_routing.baselines import budget
from archlab.papers.multipath_routing.claims import ARMS
from archlab.papers.multipath_routing.run import last_quarter_share
from archlab.train import count_flops, seed_everything


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_arm_names_parse_label_and_build():
    assert A.parse("sp_wide") is None
    assert A.parse("mp2_cross_connections_frozen") == {"paths": 2, "router": "cross_connections", "frozen": True,
                                                        "tau": 1.0, "matched": False}
    assert A.parse("mp2_cross_connections_tau0.25")["tau"] == 0.25
    assert A.parse("mp4_cross_prediction_conv_matched")["matched"]
    assert A.label("mp2_cross_connections_tau0.25") == "MP2-CC τ=0.25"
    assert A.label("mp2_cross_connections_frozen") == "MP2-CC (frozen router)"
    assert A.tau_arm(0.5) == "mp2_cross_connections_tau0.5"
    name, kw = A.model_spec("mp2_cross_connections_tau0.25", (8, 16, 32), 8, 2, pool_input=2)
    assert name == "multipath_net" and kw["tau"] == 0.25 and kw["pool_input"] == 2
    assert create_model(name, **kw).transitions()[1].tau == 0.25
    for bad in ("mp2_gated", "wide", "mp2_cross_connections_tau"):
        with pytest.raises(ValueError, match="valid: mp<m>_<router>"):
            A.parse(bad)


@pytest.mark.parametrize("widths,stem,pool", [((8, 16, 32), 8, 2), ((32, 64, 128), 32, 1)])
def test_searched_arms_within_5_percent_of_mp2_cc(widths, stem, pool):
    searched = ["sp_deeper", "sk", "mp2_cross_prediction_conv_matched"]
    mult = A.searched_multipliers(searched, widths, stem, 2, pool)
    name, kw = A.model_spec(A.CC, widths, stem, 2, pool_input=pool)
    target = budget(create_model(name, **kw))
    for arm in searched:
        name, kw = A.model_spec(arm, widths, stem, 2, mult[arm], pool)
        b = budget(create_model(name, **kw))
        assert abs(b["params"] / target["params"] - 1) <= 0.05 and abs(b["macs"] / target["macs"] - 1) <= 0.05, arm
    assert mult["mp2_cross_prediction_conv_matched"] < 1  # m*n convs per transition: narrower at the same cost


def test_pool_input_is_average_pooling_before_the_same_net():
    """pool_input=2 on 32x32 input computes exactly the pool_input=1 net on the 2x2-averaged input (the same ops on
    the same values), and its convolutions cost a quarter of the full-resolution ones."""
    for name, kw in (("multipath_net", {"router": "cross_connections"}), ("mp_plain_net", {})):
        torch.manual_seed(0)
        pooled = create_model(name, widths=(4, 8, 8), stem=4, convs_per_stage=1, pool_input=2, **kw).eval()
        torch.manual_seed(0)
        full = create_model(name, widths=(4, 8, 8), stem=4, convs_per_stage=1, **kw).eval()
        x = torch.randn(3, 3, 32, 32)
        assert torch.equal(pooled(x), full(F.avg_pool2d(x, 2)))
        conv = [count_flops(m, (3, 32, 32), ops={"convolution"}) for m in (pooled, full)]
        assert 4 * conv[0] == conv[1]  # every conv sees half the height and width
    with pytest.raises(ValueError, match="pool_input"):
        create_model("mp_plain_net", pool_input=0)


def test_frozen_router_control_differs_between_seeds():
    """Seeds give the frozen arm different initial routers (and so different frozen routing) and different nets:
    the old '43.40 +- 0.00' over two seeds was two equal accuracies, not one run counted twice."""
    name, kw = A.model_spec("mp2_cross_connections_frozen", (8, 16, 32), 8, 2)
    models = []
    for seed in (0, 1):
        seed_everything(seed)
        models.append(create_model(name, **kw))
    r0, r1 = ([p.detach().clone() for p in m.router_parameters()] for m in models)
    assert not all(torch.equal(a, b) for a, b in zip(r0, r1))
    assert not any(p.requires_grad for m in models for p in m.router_parameters())
    cfg = make_config(profile="cpu")
    frozen = [c for c in grid.run_configs(cfg) if c["arm"] == "mp2_cross_connections_frozen"]
    assert sorted(c["seed"] for c in frozen) == list(range(6))


def test_profiles_plan_the_arms_every_claim_needs_with_paired_seeds():
    for profile in ("smoke", "cpu", "gpu", "paper"):
        cfg = make_config(profile=profile)
        g = cfg.plan()
        configs = grid.run_configs(cfg, datasets=grid.PROFILES[profile]["datasets"])
        keys = {(c["arm"], c["dataset"], c["seed"]) for c in configs}
        assert len(keys) == len(configs)  # no duplicates
        first = g["datasets"][0]
        for cid, arms in ARMS.items():
            ds = first + "+inverted" if cid.startswith("C8") else first
            for arm in arms:
                assert {s for a, d, s in keys if a == arm and d == ds} == set(g["seeds"]), (profile, cid, arm)
        assert g["seeds"] == tuple(range(len(g["seeds"]))) and len(g["seeds"]) >= (4 if profile != "smoke" else 2)
        assert len({c["epochs"] for c in configs}) == 1  # every arm trains the same schedule
    cpu = make_config(profile="cpu")
    configs = grid.run_configs(cpu)
    assert len(configs) == 74 and cpu.plan()["epochs"] == 50 and cpu.plan()["train_size"] == 500
    assert {c["test_size"] for c in configs} == {None}  # the full test split: accuracy claims are judged on it
    assert grid.routed(["mp2_cross_connections", "mp2_none", "mp2_cross_connections"]) == ["mp2_cross_connections"]


def test_the_notebooks_seeds_replace_the_profiles_for_every_arm():
    """Empty: the profile's, 0-5 for the arms a claim compares and 0-1 for the others (the run keys of the cpu
    reference runs); a list: exactly those seeds for every arm."""
    cpu = grid.run_configs(make_config(profile="cpu"))
    assert {c["seed"] for c in cpu if c["arm"] == "sp_deeper"} == set(range(6))
    assert {c["seed"] for c in cpu if c["arm"] not in grid.JUDGED} == {0, 1}  # the temperature ablation
    chosen = grid.run_configs(make_config(profile="cpu", seeds=[3, 7]))
    assert {c["seed"] for c in chosen} == {3, 7} and len(chosen) == 2 * len({(c["arm"], c["dataset"]) for c in cpu})


def test_jobs_count_every_run_and_mark_cifar100_optional():
    gpu = jobs("gpu")
    assert len(gpu) == len(grid.run_configs(make_config(profile="gpu"), datasets=("cifar10", "cifar100")))
    assert {j["dataset"] for j in gpu} == {"cifar10", "cifar100"}
    assert all(bool(j.get("optional")) == (j["dataset"] == "cifar100") for j in gpu)
    cpu = jobs("cpu")
    assert {j["n_train"] for j in cpu} == {500} and {j["n_test"] for j in cpu} == {10_000}
    assert all(j["kwargs"].get("pool_input") == 2 for j in cpu)
    ens = next(j for j in cpu if j["model"] == "mp_ensemble")
    assert len(ens["phases"]) == 2


def test_last_quarter_share_on_known_curves():
    linear = [3.0 - 0.1 * i for i in range(20)]  # steady learning: epochs 15..20 bring 5 of 19 steps
    assert last_quarter_share(linear) == pytest.approx(5 / 19, rel=1e-12)
    levelled = [2.0, 1.5, 1.2, 1.1] + [1.0] * 16
    assert last_quarter_share(levelled) == 0.0
    assert last_quarter_share([2.0, 2.0, 2.0, 2.0]) == 1.0  # never learned: counted as not converged
    assert math.isnan(last_quarter_share([2.0, 1.0])) and math.isnan(last_quarter_share([2.0, float("nan"), 1.0]))
