"""The dry run of the big profiles: every architecture of every notebook's gpu and paper runs builds and steps on
the CPU (no GPU has run these profiles; this is where a shape bug or a bad grid level shows first)."""
import os
import subprocess
import sys

import pytest

from archlab.cudapaths import ENV
from archlab.dryrun import architectures, dry_run
from archlab.dryrun_train import with_recipes
from archlab.papers import PAPERS
from archlab.paths import REPO_ROOT


@pytest.mark.slow
@pytest.mark.parametrize("profile", ["gpu", "paper"])
@pytest.mark.parametrize("paper", sorted(PAPERS))
def test_every_architecture_of_the_big_profiles_builds_and_steps(paper, profile):
    jobs = getattr(PAPERS[paper], "dry_jobs", PAPERS[paper].jobs)(profile)
    table = dry_run(jobs)
    assert len(jobs) > 0 and len(table) == len(architectures(jobs))
    assert table.runs.sum() >= len(jobs)  # every run (or phase of a growing run) belongs to an architecture
    assert (table.params > 0).all() and (table.flops > 0).all() and (table.est_memory_mb > 0).all()


def test_dry_run_refuses_a_model_that_cannot_step():
    bad = [dict(model="small_cnn", kwargs={"width": 8, "input_shape": (3, 8, 8)}, shape=(1, 8, 8), dataset="digits",
                batch_size=4, epochs=1)]  # three input channels declared, one given
    with pytest.raises(RuntimeError, match="small_cnn"):
        dry_run(bad)


def test_cli_dry_run_prints_the_table_and_trains_nothing(tmp_path):
    r = subprocess.run([sys.executable, "-m", "archlab.run", str(REPO_ROOT / "notebooks" / "00_overview.ipynb"),
                        "--dry-run", "-p", "profile", "gpu"], capture_output=True, text=True, timeout=300,
                       env={**__import__("os").environ, "ARCHLAB_RESULTS": str(tmp_path / "results")})
    assert r.returncode == 0, r.stderr
    assert "architectures" in r.stdout and "small_cnn" in r.stdout and "est_memory_mb" in r.stdout
    assert "precision: bfloat16 autocast" in r.stdout and "optimizer:" in r.stdout
    assert not (tmp_path / "results").exists()


def test_dry_run_steps_as_training_would_with_the_cuda_branches_forced():
    # The overview's gpu runs (SGD and AdamW, two small_cnn on 3x32x32; a one-channel input has no distinct
    # channels_last layout) step through fit: bf16 autocast, channels_last, fused optimizers.
    table = dry_run(PAPERS["overview"].dry_jobs("gpu"))
    assert set(table.precision) == {"bfloat16 autocast"} and set(table.memory_format) == {"channels_last"}
    assert set(table.optimizer) == {"SGD fused", "AdamW fused"} and set(table.vmap) == {"-"}
    assert os.environ.get(ENV) is None  # the switch is restored after the dry run


def _batched_jobs():
    return PAPERS["deep_vs_shallow"].dry_jobs("smoke", batched="on", seeds=[0, 1])


def test_dry_run_steps_a_vmapped_group_with_the_stacked_optimizer():
    jobs = _batched_jobs()
    table = dry_run(jobs[:4])
    assert table.vmap.str.endswith("models").all() and (table.precision == "bfloat16 autocast").all()
    assert (table.optimizer == "AdamW").all()  # fit_batched's stacked optimizer: not fused


def test_dry_run_reports_a_model_vmap_cannot_train():
    # Batch norm updating slices of shared running statistics (the sequential layout with batch norm): training
    # refuses vmap and trains one at a time; so does the dry run, and says so.
    jobs = [j for j in _batched_jobs() if j["model"] == "sequential"][:2]
    jobs = [{**j, "kwargs": {**j["kwargs"], "batchnorm": True}} for j in jobs]
    (row,) = dry_run(jobs).itertuples()
    assert row.vmap.startswith("refused") and row.optimizer == "AdamW fused"


def test_jobs_without_a_recipe_train_in_their_own_loop():
    table = dry_run([dict(model="small_cnn", kwargs={"width": 4, "input_shape": (1, 8, 8)}, shape=(1, 8, 8),
                          dataset="digits", batch_size=4, epochs=1)])
    assert table.optimizer.tolist() == ["own loop"] and table.precision.tolist() == ["fp32"]


def test_recipes_need_one_per_job():
    with pytest.raises(ValueError, match="2 jobs, 1 configs"):
        with_recipes([{}, {}], [{}], [None, None])
