"""Sweep throughput: runs per hour for a batch of small deep-vs-shallow configurations, one at a time against
concurrent execution, each way through the run store (a throw-away one, so nothing is reused):

- ``local``: ``run_sweep(train_run, ..., executor="local")``, one run after another;
- ``ray``: ``run_sweep(train_run, ..., executor="ray")`` with ``1/group`` of a GPU per run, ``group`` being the
  runs of one architecture (on a CPU: one core per run);
- ``batched``: ``run_sweep(train_run_batched, ..., group_by=("seed", "lr"))``, the seeds and learning rates of one
  architecture trained in one vmapped step (archlab.batched), as the notebook's ``batched`` option runs them.
The configurations come from ``archlab.papers.deep_vs_shallow`` (its grid for a profile, with levels and
seeds overridden) and run through its own ``train_run``. Warm-ups (one run, one batched group and one Ray round
that starts the workers) are untimed; Ray's own start-up is excluded too, since a session pays it once.
"""
from __future__ import annotations

import tempfile
import time

import torch

from archlab.data import load_splits
from archlab.store import RunStore
from archlab.sweep import run_sweep

from .common import device, peak_mb, reset_peak


def grid_configs(spec: dict, dev: torch.device) -> list[dict]:
    """The spec's slice of the deep-vs-shallow grid: ``spec['seeds']`` seeds of every model."""
    from archlab.papers.deep_vs_shallow import make_config

    cfg = make_config(profile=spec["profile"], levels=spec["levels"], epochs=spec["epochs"],
                      seeds=list(range(spec["seeds"])))
    return cfg.configs(dev)


def _timed_sweep(run, configs) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        df = run(configs, RunStore(f"{tmp}/runs.sqlite"))
        seconds = time.perf_counter() - t0
    return seconds, int((df.status == "ok").sum())


def bench_sweep(spec: dict, use_ray: bool) -> dict:
    from archlab.papers.deep_vs_shallow.run import GROUP_BY, train_run, train_run_batched

    dev = device()
    configs = grid_configs(spec, dev)
    try:
        load_splits(configs[0]["dataset"], configs[0]["train_size"], configs[0]["test_size"])
    except FileNotFoundError:  # no local copy of the grid's dataset: same models on synthetic images
        spec = {**spec, "levels": {**spec["levels"], "dataset": ["synthetic"]}}
        configs = grid_configs(spec, dev)
    group = spec["seeds"] * len(spec["levels"].get("lr", [None]))  # runs of one architecture: one batched group
    gpus = 1.0 / group
    modes = {
        "local": lambda cs, st: run_sweep(train_run, cs, store=st, verbose=False),
        "batched": lambda cs, st: run_sweep(train_run_batched, cs, store=st, group_by=GROUP_BY, verbose=False),
    }
    if use_ray:
        modes["ray"] = lambda cs, st: run_sweep(train_run, cs, store=st, executor="ray", gpus_per_run=gpus,
                                                verbose=False)
    c = configs[0]
    train, _ = load_splits(c["dataset"], c["train_size"], c["test_size"])
    batch = min(c["batch_size"], len(train))
    out = {"runs": len(configs), "runs_per_group": group, "dataset": c["dataset"], "n_train": len(train),
           "epochs": c["epochs"], "batch_size": batch, "steps_per_epoch": len(train) // batch,
           "gpus_per_run": gpus if dev.type == "cuda" else 0, "levels": spec["levels"]}
    _timed_sweep(modes["local"], configs[:1])  # warm-up: data cache, kernels
    _timed_sweep(modes["batched"], configs[:2])
    if use_ray:
        _start_ray()
        _timed_sweep(modes["ray"], configs[:group])  # starts the workers (they import torch once)
    for name, run in modes.items():
        reset_peak(dev)  # Ray workers are other processes: their memory is not seen here
        seconds, ok = _timed_sweep(run, configs)
        out[f"{name}_s"], out[f"{name}_ok"] = seconds, ok
        out[f"{name}_peak_mb"] = None if name == "ray" else peak_mb(dev)
        out[f"{name}_runs_per_hour"] = 3600 * len(configs) / seconds
    if use_ray:
        import ray

        ray.shutdown()
    return out


def _start_ray() -> None:
    import os

    import ray

    # A cluster named by RAY_ADDRESS is joined by run_sweep itself (shipping archlab to its workers).
    if not ray.is_initialized() and not os.environ.get("RAY_ADDRESS"):
        import torch

        # The GPU count told, not detected (see archlab.sweep._run_ray): a missed GPU never schedules a task.
        ray.init(include_dashboard=False, log_to_driver=False, num_gpus=torch.cuda.device_count())
