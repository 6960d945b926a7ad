"""Paper 4's study code: the notebook config, the run function, the paired statistics, the benchmark jobs."""
import pytest


@pytest.mark.parametrize(
    "params, match",
    [(dict(insert_at=[5000]), r"1\.\.119"), (dict(epochs=100, insert_at=[100]), r"1\.\.99"), (dict(when=[0, 50]), "[0]"),
     (dict(fixed_position=2), r"valid positions: \[0, 1\]"), (dict(studies=["vgg"]), "'cnn'"), (dict(insert_ta=[3]), "insert_at")],
)
def test_experiment_config_refuses_bad_input(params, match):
    from archlab.config import ConfigError
    from archlab.papers.layer_insertion import make_config

    with pytest.raises(ConfigError, match=match):
        make_config(profile="smoke", **params)


def test_experiment_config_scales_insertion_with_epochs():
    from archlab.papers.layer_insertion import make_config

    plan = make_config(profile="cpu", epochs=370).plan()
    assert plan["insert_at"] == (90,) and plan["when"] == (30, 90, 170)


def test_run_growth_shares_the_trajectory_until_insertion():
    from archlab.papers.layer_insertion.grid import spiral_config
    from archlab.papers.layer_insertion.run import run_growth

    common = dict(study="fnn", arch="fnn", widths=(5,), lr=0.2, factor=1.0, epochs=30, insert_at=(10,), sens_every=5,
                  eval_every=10)
    small, li, large = (run_growth(spiral_config(3, method=m, **common)) for m in ("small", "sensli", "large"))
    assert small["curve"]["loss"][:10] == li["curve"]["loss"][:10]
    assert small["curve"]["loss"][10] == pytest.approx(li["curve"]["loss"][10], abs=1e-6)  # continuity
    assert (small["params_end"], li["params_end"], large["params_start"]) == (27, 57, 57)
    assert li["widths_end"] == [5, 5] and li["position"] == 0 and small["position"] == -1
    assert li["total_flops"] > small["total_flops"] and len(li["evals"]) == 4
    assert large["curve"]["loss"][0] != small["curve"]["loss"][0], "the large net starts from a fresh init"


def test_paired_statistics_and_flops_to_target():
    from archlab.papers.layer_insertion.analysis import flops_to_reach, win_stats

    s = win_stats([1, 1, 1, 1, 1, 1, 2], [2, 2, 2, 2, 2, 2, 2])
    assert (s["n"], s["wins"], s["losses"]) == (7, 6, 0) and s["p"] == pytest.approx(0.5**6)
    curve = dict(loss=[1.0, 0.5, 0.7, 0.4], flops=[10, 20, 30, 40])
    assert flops_to_reach(curve, 0.6) == 20 and flops_to_reach(curve, 0.45) == 40
    assert flops_to_reach(curve, 0.1) == float("inf")


def test_jobs_follow_the_grid():
    """One job per run config, one phase per architecture a run trains (the VGG adds its sensitivity pass, priced
    as an epoch of the extended net); embedded smoke sets are measured, file-backed ones come from dataset_info."""
    from archlab.papers.layer_insertion import jobs, make_config
    from archlab.papers.layer_insertion.grid import GROWING, grids

    for profile in ("smoke", "cpu"):
        configs = [c for cs in grids(make_config(profile=profile)).values() for c in cs]
        found = jobs(profile)
        assert len(found) == len(configs)
        for c, j in zip(configs, found):
            phases = 1 + (len(c["insert_at"]) + (c["arch"] == "vgg") if c["method"] in GROWING else 0)
            assert (j["model"], len(j["phases"])) == (f"growing_{c['arch']}", phases), c
