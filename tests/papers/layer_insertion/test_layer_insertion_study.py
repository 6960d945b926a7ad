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
    assert plan["insert_at"] == (90,) and plan["when"] == (30, 50, 70, 90, 110, 130, 150, 170)


@pytest.mark.parametrize("profile", ["cpu", "gpu", "paper"])
def test_profiles_keep_the_papers_regime(profile):
    """Reduced profiles shrink data, width and seeds, never the training a claim is about: the spirals studies run
    the paper's schedule (1850 steps or epochs, insertion at 450) with 100 seeds of fnn/resnet/validity (issue 31),
    the when study >= 5 times in 150..850, the image MLPs >= 10 seeds, the CNN study 15 + 15 epochs or more with the
    four arms and >= 4 seeds where it is judged; the cpu CNN study is a plumbing check (``judged`` False)."""
    from archlab.papers.layer_insertion import make_config
    from archlab.papers.layer_insertion.grid import CNN_ARMS

    p = make_config(profile=profile).plan()
    assert (p["epochs"], p["insert_at"], p["seeds"]) == (1850, (450,), tuple(range(len(p["seeds"]))))
    assert len(p["seeds"]) >= 100
    assert p["minibatch"]["epochs"] == 1850 and p["minibatch"]["insert_at"] == (450,) and p["minibatch"]["seeds"] >= 10
    assert len(p["when"]) >= 5 and min(p["when"]) == 150 and max(p["when"]) == 850 and len(p["when_seeds"]) >= 10
    assert p["mnist"]["seeds"] >= 10 and p["cifar10"]["seeds"] >= 10
    cnn = p["cnn"]
    assert tuple(cnn["methods"]) == CNN_ARMS and cnn["insert_at"] == (cnn["epochs"] // 2,)
    assert cnn.get("judged", True) is (profile != "cpu")
    if profile != "cpu":
        assert cnn["epochs"] >= 30 and cnn["seeds"] >= 4 and cnn["train_size"] is None and cnn["test_size"] is None


def test_seeds_are_a_list_for_the_spirals_studies_and_the_profile_counts_by_default():
    """``seeds`` (a list, empty: the profile's 0..n-1, as the old count gave) picks the spirals studies' seeds, the
    when study's included; minibatch and the image studies keep their profile's."""
    from archlab.papers.layer_insertion import make_config
    from archlab.papers.layer_insertion.grid import grids

    assert make_config(profile="smoke").plan()["seeds"] == (0, 1)
    g = grids(make_config(profile="smoke", seeds=[5, 7]))
    assert {c["seed"] for s in ("fnn", "resnet", "validity", "when") for c in g[s]} == {5, 7}
    assert {c["seed"] for s in ("minibatch", "mnist", "cnn") for c in g[s]} == {0, 1}


def test_run_growth_shares_the_trajectory_until_insertion():
    from archlab.papers.layer_insertion.grid import spiral_config
    from archlab.papers.layer_insertion.run import run_growth

    common = dict(study="fnn", arch="fnn", widths=(5,), lr=0.2, factor=1.0, epochs=30, insert_at=(10,), sens_every=5,
                  eval_every=10)
    small, li, large = (run_growth(spiral_config(3, method=m, **common)) for m in ("small", "sensli", "large"))
    assert small["curve"]["loss"][:10] == li["curve"]["loss"][:10]
    assert small["curve"]["loss"][10] == pytest.approx(li["curve"]["loss"][10], abs=1e-6)  # continuity
    assert (small["params"], li["params"], large["params_start"]) == (27, 57, 57)
    assert li["widths_end"] == [5, 5] and li["position"] == 0 and small["position"] == -1
    assert li["flops"] > small["flops"] and len(li["evals"]) == 4
    assert large["curve"]["loss"][0] != small["curve"]["loss"][0], "the large net starts from a fresh init"


def test_flops_to_target():
    from archlab.papers.layer_insertion.analysis import flops_to_reach

    curve = dict(loss=[1.0, 0.5, 0.7, 0.4], flops=[10, 20, 30, 40])
    assert flops_to_reach(curve, 0.6) == 20 and flops_to_reach(curve, 0.45) == 40
    assert flops_to_reach(curve, 0.1) == float("inf")


def test_spirals_studies_run_batched_and_stored_per_seed(store):
    from archlab.papers import layer_insertion as P
    from archlab.papers.layer_insertion.grid import spiral_configs
    from archlab.papers.layer_insertion.run import run_growth_seeds

    runs = P.run(P.make_config(profile="smoke", studies=["fnn", "minibatch"]), store=store)
    assert list(runs) == ["fnn", "minibatch"] and runs.cfg.studies == ("fnn", "minibatch")
    assert all((f["status"] == "ok").all() and f["seed"].nunique() == 2 for f in runs.values())
    assert len(store.runs(run_growth_seeds)) == sum(len(f) for f in runs.values())
    config = spiral_configs("fnn", P.make_config(profile="smoke").plan())[0]
    with pytest.raises(ValueError, match="spirals studies"):
        run_growth_seeds([{**config, "study": "mnist"}])


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


def test_cpu_runs_use_one_thread_and_restore_the_setting():
    """Paper 4's nets are too small to split across threads (``run.tiny_threads``); other devices keep torch's."""
    import torch

    from archlab.papers.layer_insertion.run import tiny_threads

    original = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with tiny_threads({"device": "cpu", "dataset": "cifar10"}):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        with tiny_threads({"device": "cuda", "dataset": "cifar10"}):
            assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(original)


def test_the_speed_check_is_timed_once_per_store(store):
    """A stored run: rendering again loads the first timing (and its hardware) instead of timing anew."""
    import pandas as pd

    from archlab.papers import layer_insertion as P
    from archlab.papers.layer_insertion import interactive

    cfg = P.make_config(profile="smoke")
    first = interactive.speed_check(cfg, store)
    assert len(first) == 1 and first.speedup.iloc[0] > 0 and first.hardware.iloc[0].startswith("CPU")
    assert first.max_final_loss_diff.iloc[0] < 1e-3  # batched and one at a time differ by rounding only
    n = len(store)
    pd.testing.assert_frame_equal(interactive.speed_check(cfg, store), first)
    assert len(store) == n
