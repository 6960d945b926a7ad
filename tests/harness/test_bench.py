"""The benchmark runs end to end at a tiny size and writes a well-formed JSON (no timing thresholds here)."""
import json
import math
import sys

import pytest

from archlab.paths import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT))  # bench/ lives beside lib/, like `python -m bench` run from the repository root

from bench.__main__ import main  # noqa: E402
from bench.jobs import NOTEBOOKS  # noqa: E402
from bench.project import H100_BF16_FLOPS, flops, phases, project  # noqa: E402


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    main(["--size", "tiny", "--out", str(out), "--no-ray"])
    return json.loads(out.read_text())


def _positive(v):
    return isinstance(v, (int, float)) and math.isfinite(v) and v > 0


def test_json_has_provenance(report):
    assert report["size"] == "tiny" and report["data_source"] == "synthetic"
    assert {"torch", "torchvision", "python"} <= set(report["versions"])
    assert report["device"] and report["git_commit"]


def test_every_timing_and_ratio_is_a_positive_finite_number(report):
    (case,) = report["cases"]
    for key in ("fit_s", "bare_s", "conventional_s"):
        assert _positive(case[key]), key
    sweep = report["sweep"]
    assert sweep["local_ok"] == sweep["runs"] == sweep["batched_ok"] == 4  # 2 layouts x 2 seeds, none failed
    metrics = {r["metric"] for r in report["table"]}
    for m in ("trainer efficiency (bare loop / fit)", "speed-up over conventional loop",
              "sweep throughput batched / one-at-a-time", "host memory of the dataset cache (MB)"):
        assert m in metrics
    for r in report["table"]:
        assert _positive(r["value"]), r
    eff = next(r for r in report["table"] if r["metric"].startswith("trainer efficiency"))
    assert eff["value"] == pytest.approx(case["bare_s"] / case["fit_s"])
    # 256 synthetic 3x32x32 images (uint8) + 256 int64 labels
    cache = next(r for r in report["table"] if r["metric"].startswith("host memory"))
    assert cache["value"] == pytest.approx((256 * 3 * 32 * 32 + 256 * 8) / 2**20)


def test_projection_arithmetic():
    job = dict(model="small_cnn", kwargs={"width": 8, "num_classes": 10}, shape=(3, 32, 32), dataset="cifar10",
               batch_size=500, epochs=2)
    f = flops("small_cnn", job["kwargs"])
    assert f > 0
    # Overhead-bound (infinite FLOP rate): 2 epochs x 100 steps x 1 s; concurrency 4 divides it.
    p = project([job], overhead_s=1.0, flop_rate=1e30, concurrency=4.0)
    assert p["serial_h"] == pytest.approx(200 / 3600) and p["concurrent_h"] == pytest.approx(50 / 3600)
    # Compute-bound (no overhead): training 3x forward on 50k images plus a forward pass over 10k, per epoch.
    p = project([job], overhead_s=0.0, flop_rate=1e9, concurrency=4.0)
    expected = 2 * (3 * f * 50_000 + f * 10_000) / 1e9 / 3600
    assert p["serial_h"] == pytest.approx(expected) == p["concurrent_h"] == p["compute_bound_h"]
    assert p["train_pflop"] == pytest.approx(2 * (3 * f * 50_000 + f * 10_000) / 1e15)


def test_projection_phases_and_overrides():
    # A job in phases (a growing net, an ensemble trained member by member) costs what its phases cost as jobs.
    a = dict(model="small_cnn", kwargs={"width": 8, "num_classes": 10}, shape=(3, 32, 32), dataset="cifar10",
             batch_size=500, epochs=2)
    b = {**a, "kwargs": {"width": 16, "num_classes": 10}, "epochs": 3}
    grown = {**a, "epochs": 5, "phases": [dict(epochs=2), dict(kwargs=b["kwargs"], epochs=3)]}
    for rate in (1e9, 1e30):
        one, two = project([grown], 1.0, rate, 2.0), project([a, b], 1.0, rate, 2.0)
        assert one["runs"] == 1 and two["runs"] == 2
        for k in ("train_pflop", "serial_h", "compute_bound_h", "h100_floor_h"):
            assert one[k] == pytest.approx(two[k]), k
    # Full-batch GD on a set of explicit size, evaluated 3 times: 4 steps of 450 samples, 3 passes over 150.
    f = flops("small_cnn", a["kwargs"])
    gd = {**a, "dataset": "spirals", "n_train": 450, "n_test": 150, "batch_size": 450, "epochs": 4, "evals": 3}
    p = project([gd], overhead_s=1.0, flop_rate=1e30, concurrency=1.0)
    assert p["serial_h"] == pytest.approx(4 / 3600)
    assert p["train_pflop"] == pytest.approx((4 * 3 * f * 450 + 3 * f * 150) / 1e15)
    assert p["h100_floor_h"] == pytest.approx(p["train_pflop"] * 1e15 / H100_BF16_FLOPS / 3600)


@pytest.fixture(scope="module")
def paper_jobs():
    import torch

    # Multipath's width search runs real forward passes on small nets: with two threads on two cores that other work
    # also uses, they take ~30 s instead of ~1 s (threads waiting on each other); one thread keeps it ~1 s.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return {stem: make() for stem, make in NOTEBOOKS.items()}
    finally:
        torch.set_num_threads(threads)


def test_every_notebook_enumerates_paper_jobs_with_positive_flops(paper_jobs):
    assert {"00_overview", "01_gradient_paths", "02_deep_vs_shallow", "03_multipath_routing",
            "04_layer_insertion"} <= set(paper_jobs)
    for stem, jobs in paper_jobs.items():
        assert jobs, stem
        # ~100 jobs each: deep-vs-shallow has ~2,300 distinct architectures, ~10 s to count them all on 2 cores.
        sample = jobs[:: max(1, len(jobs) // 100)]
        assert all(p["flops"] > 0 and p["epochs"] > 0 and p["steps"] > 0 for j in sample for p in phases(j)), stem
        p = project(sample, overhead_s=1e-3, flop_rate=1e14, concurrency=1.0)
        for k in ("train_pflop", "serial_h", "concurrent_h", "compute_bound_h", "h100_floor_h"):
            assert _positive(p[k]), (stem, k)


def test_every_paper_package_projects_its_paper_profile(paper_jobs):
    # bench takes each notebook's jobs from its package (archlab.papers): a new paper joins without touching bench/.
    # Each paper's own tests check that its jobs are its grid's runs.
    from archlab.papers import PAPERS

    assert NOTEBOOKS.keys() == {p.STEM for p in PAPERS.values()} == paper_jobs.keys()


def test_compile_choice_is_validated():
    from archlab.config import ConfigError
    from archlab.train import TrainConfig

    assert TrainConfig().compile == "off"
    with pytest.raises(ConfigError, match="reduce-overhead"):
        TrainConfig.from_dict({"compile": "fast"})


@pytest.mark.slow
def test_compiled_fit_matches_eager_fit():
    # ~2 min on 2 shared CPU cores (inductor compiles C++); the compiled model computes the same function.
    from archlab.data import load_splits
    from archlab.models import create_model
    from archlab.train import TrainConfig, fit, seed_everything

    tr, te = load_splits("digits", train_size=256, test_size=128)
    hists = []
    for mode in ("off", "default"):
        seed_everything(0)
        model = create_model("small_cnn", input_shape=(1, 8, 8), width=8)
        hists.append(fit(model, tr, te, TrainConfig(epochs=2, batch_size=64, lr=3e-3, compile=mode, precision="fp64")))
    eager, compiled = hists
    assert compiled.status == "ok"
    # float64: a fused kernel's other summation order costs ~1e-16, which two epochs amplify far less than 1e-9.
    for e, c in zip(eager.epochs, compiled.epochs, strict=True):
        assert c["train_loss"] == pytest.approx(e["train_loss"], rel=1e-9)
        assert c["val_loss"] == pytest.approx(e["val_loss"], rel=1e-9)


@pytest.mark.slow
def test_ray_sweep_of_real_trainings_equals_local(tmp_path):
    # The deep-vs-shallow run function on a local Ray instance gives the local executor's numbers for the same seeds.
    ray = pytest.importorskip("ray")
    from archlab.store import RunStore
    from archlab.sweep import run_sweep
    from archlab.papers.deep_vs_shallow.run import train_run
    from bench.sweep import grid_configs

    import torch

    configs = grid_configs(dict(profile="smoke", levels=dict(L=[2], F=[4], train_size=[None]), seeds=2, epochs=1),
                           torch_device())
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each Ray worker (num_cpus=1): the same kernels sum in the same order
    try:
        local = run_sweep(train_run, configs, store=RunStore(tmp_path / "a.sqlite"), verbose=False)
    finally:
        torch.set_num_threads(threads)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        remote = run_sweep(train_run, configs, store=RunStore(tmp_path / "b.sqlite"), executor="ray", verbose=False)
    finally:
        ray.shutdown()
    assert (local.status == "ok").all() and (remote.status == "ok").all() and len(remote) == 4
    assert local.key.tolist() == remote.key.tolist()
    # One thread on both sides, the same machine: the same numbers to the last bit.
    for col in ("train_loss", "val_loss", "val_acc"):
        assert remote[col].tolist() == local[col].tolist(), col
    assert local.val_loss.nunique() == 4  # distinct layouts and seeds give distinct runs


def torch_device():
    import torch

    return torch.device("cpu")


def test_gpu_profile_is_projected_from_seconds_per_step_measured_per_family(report):
    # tiny: the overview's gpu runs only (one family, small_cnn), priced at the FLOP rate its timed steps achieved.
    (stem,) = report["projection"]["gpu_profile"]
    p = report["projection"]["gpu_profile"][stem]
    fam = p["families"]["small_cnn"]
    assert stem == "00_overview" and _positive(p["minutes"]) and p["aim_min"] == 20
    assert _positive(fam["sec_per_step"]) and fam["runs"] == 4 and fam["minutes"] == pytest.approx(p["minutes"])
    row = next(r for r in report["table"] if r["metric"].startswith("projected gpu profile"))
    assert row["value"] == pytest.approx(p["minutes"])


def test_every_packing_bench_net_is_a_cpu_profile_net_that_builds():
    """The packing bench's nets: each builds from the registry at its input shape and gives one logit row per image."""
    import torch

    import archlab.papers  # noqa: F401  (registers every paper's models)
    from archlab.models import create_model
    from bench.packing import ARCHS

    assert len({label for label, *_ in ARCHS}) == len(ARCHS)
    for label, name, kwargs, shape, batch in ARCHS:
        model = create_model(name, num_classes=10, input_shape=shape, **kwargs).eval()
        with torch.no_grad():
            assert model(torch.zeros(2, *shape)).shape == (2, 10), label
