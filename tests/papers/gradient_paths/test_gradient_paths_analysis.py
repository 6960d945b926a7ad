"""Paper 1: gradient diagnostics, the experiment config and grids, the run functions, the labelled run frames and
their regime measures, and the jobs."""
import importlib
import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn as nn

from archlab.config import ConfigError
from archlab.models import create_model
from archlab.papers.gradient_paths import analysis, grid
from archlab.papers.gradient_paths.gradients import block_gradient_similarity, mean_offdiag, weight_grad_norms
from archlab.papers.gradient_paths.paths import analyse_registered
from archlab.papers.gradient_paths.run import train_run, train_run_batched
from archlab.runs import failures, last_quarter_fall, why_not_judged

W = (4, 8, 16)


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
    with pytest.raises(ConfigError, match="choose one of"):
        grid.make_config(batched="sometimes")
    p = grid.make_config(profile="smoke", depth=3).plan()
    assert p["depth"] == 3 and p["dataset"] == "synthetic" and p["executor"] == "local" and not p["batched"]


@pytest.mark.parametrize("profile", ["cpu", "gpu", "paper"])
def test_every_real_profile_keeps_the_regime_the_claims_need(profile):
    p = grid.make_config(profile=profile).plan()
    assert p["sg_depth"] == 9  # the paper's ResNet-56-like depth for the stop-gradient ablation
    assert {1, 3, 6} <= set(p["stacking"]) and "schedule" not in p  # one-cycle, as the note says
    # flip + crop everywhere but E2/E3 on the cpu profile (200 images fitted without it; see grid's docstring)
    assert grid.experiment_plan(p, "e456")["augment"] and p["augment"] == (profile != "cpu")
    assert p["seeds"] >= 6 and p["side_seeds"] == 2 and set(p["rhos"]) >= {0.25, 0.5, 0.75}
    assert p["batched"] == (profile != "cpu")  # batching pays on a GPU only (0.87x on the CPU)
    configs = grid.training_configs(p)
    assert len({json.dumps(c, sort_keys=True) for c in configs}) == len(configs)


def test_seeds_override_every_experiment():
    p = grid.make_config(profile="cpu", seeds=[0, 1, 2, 3, 4]).plan()
    assert p["seed_list"] == tuple(range(5)) and p["side_seed_list"] == (0, 1)
    assert grid.experiment_plan(p, "e456")["seed_list"] == tuple(range(5))  # over E4-E6's own 4 seeds too
    assert grid.make_config(profile="cpu", seeds=[0]).plan()["side_seed_list"] == (0,)
    q = grid.make_config(profile="cpu", seeds=[7, 3, 9]).plan()  # a list is taken as given; side arms its first two
    assert q["seed_list"] == (7, 3, 9) and q["side_seed_list"] == (7, 3)


def test_the_profiles_seeds_are_the_counts_they_always_were():
    """``seeds = []`` (the notebook's default) keeps every run key: seeds 0..n-1 of each profile's count."""
    for profile, judged, e456 in (("smoke", 1, 1), ("cpu", 6, 4), ("gpu", 6, 5), ("paper", 6, 6)):
        cfg = grid.make_config(profile=profile)
        p = cfg.plan()
        assert cfg.seeds == () and cfg.resolved_seeds == p["seed_list"] == tuple(range(judged)), profile
        assert grid.experiment_plan(p, "e456")["seed_list"] == tuple(range(e456)), profile
        assert p["side_seed_list"] == tuple(range(min(2, judged))), profile


def test_the_cpu_profile_sizes_e2_e3_and_e456_apart_and_the_notebook_overrides_win():
    p = grid.make_config(profile="cpu").plan()
    e2, e456 = grid.e2_configs(p)[0], grid.e456_configs(p)[0]
    assert (e2["train_size"], e2["model_kwargs"]["widths"], e2["train"]["epochs"]) == (200, [4, 8, 16], 50)
    assert not e2["train"]["augment"] and e456["train"]["augment"] and e456["train"]["batch_size"] == 32
    assert e2["train_size"] // e2["train"]["batch_size"] * e2["train"]["epochs"] >= 600  # ResNet-56 fits in 600
    assert (e456["train_size"], e456["model_kwargs"]["widths"], e456["train"]["epochs"]) == (500, [8, 16, 32], 80)
    assert e456["train_size"] * e456["train"]["epochs"] // e456["train"]["batch_size"] >= 1_000  # the steps it needs
    q = grid.make_config(profile="cpu", epochs=3, widths=[6, 12, 24]).plan()
    c = grid.e456_configs(q)[0]
    assert c["train"]["epochs"] == 3 and c["model_kwargs"]["widths"] == [6, 12, 24] and c["train_size"] == 500


def test_cost_points_put_csp_at_about_minus_twenty_percent_and_the_rest_at_resnets_flops():
    p = grid.experiment_plan(grid.make_config(profile="cpu").plan(), "e456")
    kw = dict(blocks=p["depth"], stem_stride=p["stem_stride"])
    ref = grid.model_cost("gp_resnet", p["widths"], **kw)["flops"]
    pts = grid.cost_points(p)
    csp = grid.model_cost("gp_csp_fusion", pts[("gp_csp_fusion", "csp point")], **kw)["flops"]
    assert abs(csp / ref - (1 - p["csp_saving"])) <= 0.1 * (1 - p["csp_saving"])
    for m in grid.MATCHED:
        assert abs(grid.model_cost(m, pts[(m, "equal FLOPs")], **kw)["flops"] / ref - 1) <= 0.10
    elan = grid.model_cost("gp_elan", pts[("gp_elan", "elan point")], **kw)["flops"]  # Table 7: -26%
    assert abs(elan / ref - (1 - p["elan_saving"])) <= 0.1 * (1 - p["elan_saving"])


def test_matched_widths_reach_the_target_flops():
    target = grid.model_cost("gp_resnet", (8, 16, 32), blocks=3)["flops"]
    w = grid.matched_widths("gp_elan", target, (8, 16, 32), blocks=3)
    assert abs(grid.model_cost("gp_elan", w, blocks=3)["flops"] / target - 1) <= 0.10
    with pytest.raises(ValueError, match="within"):
        grid.matched_widths("gp_elan", target * 1e4, (8, 16, 32), blocks=3)


def test_stem_stride_enters_the_run_key_only_when_it_is_not_the_default():
    cpu, gpu = (grid.make_config(profile=x).plan() for x in ("cpu", "gpu"))
    assert grid.run_config(cpu, "gp_resnet", 0, blocks=1)["model_kwargs"]["stem_stride"] == 2
    assert "stem_stride" not in grid.run_config(gpu, "gp_resnet", 0, blocks=1)["model_kwargs"]


def test_train_run_smoke_learns_and_records_diagnostics():
    p = grid.make_config(profile="smoke", epochs=3).plan()
    cfg = grid.run_config(p, "gp_prn", 0, blocks=2)
    r = train_run(cfg)
    losses = [e["train_loss"] for e in r["history"]["epochs"]]
    assert r["status"] == "ok" and losses[-1] < losses[0]
    rep = analyse_registered("gp_prn", widths=tuple(p["widths"]), blocks=2, stem_stride=p["stem_stride"])
    assert (r["max_shortest"], r["combinations"]) == (rep.longest_shortest, rep.combinations)
    assert {"stage1", "stage1/a", "stage1/b"} <= set(r["diag_final"]["similarity"])
    assert math.isfinite(r["sim_init"]) and len(r["diag_init"]["grad_norms"]["depth"]) == len(rep.layers)


def test_batched_seeds_give_the_same_results_as_one_at_a_time():
    # fp64 so that the two computations, equal in exact arithmetic, agree to rounding (~1e-12) on any machine;
    # a wrong seed, init or data order moves the losses by O(0.1).
    p = grid.make_config(profile="smoke", epochs=2).plan()
    cfgs = [grid.run_config(p, "gp_resnet", s, blocks=1) for s in (0, 1)]
    for c in cfgs:
        c["train"]["precision"] = "fp64"
    one, both = [train_run(c) for c in cfgs], train_run_batched(cfgs)
    for a, b in zip(one, both):
        assert a["status"] == b["status"] == "ok"
        assert abs(a["train_loss"] - b["train_loss"]) <= 1e-9 and a["params"] == b["params"]
    assert one[0]["train_loss"] != one[1]["train_loss"]  # two seeds really differ


def test_packed_seeds_store_each_members_own_test_correctness():
    """The packed path computes each run's per-example test correctness from its member's model after unpacking:
    in fp64 the bits equal those of the same run trained alone, and their mean is the run's test accuracy."""
    from archlab.packed_train import NotPackable, fit_packed
    R = importlib.import_module("archlab.papers.gradient_paths.run")  # the module (P.run is its function)
    from archlab.testnoise import unpack

    p = grid.make_config(profile="smoke", epochs=2).plan()
    cfgs = [grid.run_config(p, "gp_resnet", s, blocks=1) for s in (0, 1)]
    for c in cfgs:
        c["train"]["precision"] = "fp64"
    one, both = [train_run(c) for c in cfgs], R._train_group(cfgs, fit_packed, NotPackable)
    for a, b in zip(one, both):
        assert a["n_test"] == b["n_test"] == p["test_size"] and b["test_bits"] == a["test_bits"]
        assert unpack(b["test_bits"], b["n_test"]).mean() == pytest.approx(b["test_acc"])
    assert abs(one[0]["train_loss"] - both[0]["train_loss"]) <= 1e-9


def _hist(*losses):
    return {"epochs": [{"epoch": i + 1, "train_loss": v} for i, v in enumerate(losses)]}


def test_plateau_is_the_relative_fall_over_the_last_quarter():
    assert analysis.plateau(_hist(2.0, 1.0, 1.0, 0.9, 0.8, 0.8, 0.8, 0.72)) == pytest.approx(0.1)  # 0.8 -> 0.72
    assert analysis.plateau(_hist(2.0, 1.0)) == pytest.approx(0.5)
    assert math.isnan(analysis.plateau(_hist(2.0, float("nan")))) and math.isnan(analysis.plateau(None))
    assert math.isnan(analysis.plateau(_hist(2.0, None)))  # an epoch without a training loss


def test_plateau_is_the_harness_convergence_measure():
    """One definition (``archlab.runs.last_quarter_fall``): the reference epoch is (3n)//4 - 1, so at the cpu's 50
    epochs it is epoch 37 (index 36), where the former round(n/4) rule read epoch 38."""
    losses = [2.0] * 36 + [1.0] + [0.5] * 13
    assert analysis.plateau(_hist(*losses)) == pytest.approx(0.5) == last_quarter_fall(losses)


def test_labelled_frames_score_diverged_at_chance_and_failed_as_missing():
    df = pd.DataFrame(dict(model="gp_resnet", status=["ok", "diverged", "failed", "oom"],
                           test_acc=[0.9, np.nan, np.nan, np.nan], train_loss=[0.5, np.nan, np.nan, np.nan]))
    assert list(analysis.scored_accuracy(df).iloc[:2]) == [0.9, analysis.CHANCE]
    assert list(analysis.scored_loss(df).iloc[:2]) == [0.5, analysis.CHANCE_LOSS]
    assert analysis.scored_accuracy(df).iloc[2:].isna().all() and analysis.scored_loss(df).iloc[2:].isna().all()


def test_a_frame_of_failed_runs_keeps_every_column_and_is_reported():
    p = grid.make_config(profile="smoke").plan()
    configs = grid.e2_configs(p)
    failed = pd.DataFrame([{**c, "status": "environment", "error": "dataset 'cifar10' not found", "result": None,
                            "key": str(i)} for i, c in enumerate(configs)])
    df = analysis.label_runs(failed, p)
    assert set(analysis.COLS) <= set(df.columns) and df.acc.isna().all() and df.plateau.isna().all()
    assert len(failures({"E2": df}, analysis.FAILURE_KEYS)) == len(configs)
    assert "every run of E2 failed" in why_not_judged(df, "E2")
    assert why_not_judged(df.iloc[:0], "E2").startswith("experiment E2 has no runs")
    assert analysis.e2_summary(df).empty


def test_run_trains_every_experiment_once_then_loads_it(store):
    from archlab.papers import gradient_paths as P

    cfg = P.make_config(profile="smoke", epochs=1, stacking=[1])
    runs = P.run(cfg, store)
    assert list(runs) == ["fig7", "toy", "slopes", "stack", "shifts", "e2", "e3", "e456"] and runs.cfg is cfg
    n = len(grid.training_configs(cfg.plan()))  # a run E2 and E3 share is trained once
    assert list(runs.e2.family) == ["ResNet", "SG on block", "SG on identity"] and len(store) == n
    assert len(runs.e3) == len(grid.e3_configs(cfg.plan())) and len(runs.e456) == len(grid.e456_configs(cfg.plan()))
    again = P.run(cfg, store, device="cpu")  # the profile's device: the same run keys, so loaded, not retrained
    assert len(store) == n and all(list(again[e].key) == list(runs[e].key) for e in ("e2", "e3", "e456"))
    assert list(again.e2.acc) == list(runs.e2.acc)


def test_e456_labels_every_arm_with_its_cost_point():
    p = grid.make_config(profile="cpu").plan()
    configs = grid.e456_configs(p)
    df = analysis.label_runs(pd.DataFrame([{**c, "status": "ok", "result": {}, "key": str(i)}
                                           for i, c in enumerate(configs)]), grid.experiment_plan(p, "e456"))
    points = df.groupby("model").point.agg(set).to_dict()
    assert points["gp_resnet"] == {"base"} and points["gp_prn"] == {"base"}
    assert points["gp_csp_fusion"] == {"csp point", "equal FLOPs"} and points["gp_csp_none"] == {"csp point"}
    assert points["gp_elan"] == {"equal FLOPs", "elan point"} and points["gp_csp_elan"] == {"equal FLOPs"}
    assert sorted(df[df.model == "gp_prn"].rho.unique()) == [0.25, 0.5, 0.75]
    # judged arms get every seed; PRN's side ratios (no claim judges them) the side seeds
    seeds, q = df.groupby(["model", "point", "rho"], dropna=False).seed.nunique(), grid.experiment_plan(p, "e456")
    assert q["seeds"] == 4 < p["seeds"]  # the cpu profile's E4-E6 seeds (its own override)
    assert seeds.loc[("gp_prn", "base", 0.25)] == q["side_seeds"] < seeds.loc[("gp_prn", "base", 0.5)] == q["seeds"]
    assert (seeds.drop("gp_prn", level="model") == q["seeds"]).all()


def test_jobs_are_the_training_runs():
    from archlab.papers import gradient_paths as P

    p = P.make_config(profile="smoke").plan()
    jobs = P.jobs("smoke")
    assert [j["model"] for j in jobs] == [c["model"] for c in grid.training_configs(p)]
    assert all(j["shape"] == (3, 32, 32) and j["kwargs"]["num_classes"] == 10 for j in jobs)
    cpu = P.jobs("cpu")
    # the cpu profile trains on subsets (E4-E6 on their own, larger one) and evaluates once, at the end
    cp = grid.make_config(profile="cpu").plan()
    sizes = [j["n_train"] for j in cpu]
    assert sizes.count(grid.PROFILES["cpu"]["e456"]["train_size"]) == len(grid.e456_configs(cp))
    assert sizes.count(grid.PROFILES["cpu"]["train_size"]) == len(cpu) - len(grid.e456_configs(cp))
    assert all(j["evals"] == 1 for j in cpu)  # E2/E3 report 1,000 test images; E4-E6 read the full split
    n_test = [j.get("n_test") for j in cpu]
    assert n_test.count(None) == len(grid.e456_configs(cp)) and n_test.count(1000) == len(cpu) - n_test.count(None)


def test_the_run_names_are_stable_and_remember_the_old_module_path():
    from archlab.store import fn_name

    assert fn_name(train_run) == "gradient_paths.train" and train_run.code_version == 2
    assert train_run.formerly == ("archlab.experiments.gradient_paths.train_run",)
    assert fn_name(train_run_batched) == "gradient_paths.train_batched"
