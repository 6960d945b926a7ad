"""Paper 2's executor throughput: runs per hour of the Ray executor and of batched training against one run at a time
on one GPU (the time per training step of both layouts, the speed claim's measure, is ``run.step_times``)."""
from __future__ import annotations

import os
import tempfile
import time

import pandas as pd
import torch

from ...store import RunStore
from ...sweep import run_sweep
from .grid import PROFILES, DeepShallowConfig
from .run import GROUP_BY, train_run, train_run_batched


def benchmark_executors(cfg: DeepShallowConfig, n: int = 8, epochs: int = 1, device=None):
    """Runs per hour of the ray executor (``gpus_per_run`` of a GPU each) and of batched training (the paper grid's
    learning rates of one architecture in one vmapped step) against one run at a time, on the same runs (the
    first grid configs, each at the paper grid's learning rates) for ``epochs`` epochs, each way into its own
    throw-away store so no result is reused."""
    lrs = PROFILES["paper"]["levels"]["lr"]
    configs = [{**c, "steps": 0, "epochs": epochs, "lr": lr} for c in cfg.configs(device)[: max(1, n // len(lrs))] for lr in lrs]
    ways = {"local": dict(fn=train_run), "ray": dict(fn=train_run, executor="ray", gpus_per_run=cfg.gpus_per_run),
            "batched": dict(fn=train_run_batched, group_by=GROUP_BY)}
    # Untimed warm-up of each way (CUDA context, cuDNN plans, decoded data, one Ray worker per slot): the
    # start-up is paid once per session, so steady-state throughput is what a 72-run grid sees.
    slots = max(1, int(1 / cfg.gpus_per_run))
    _init_ray()
    for way, warm in (("local", configs[:1]), ("ray", configs[:slots]), ("batched", configs[: len(lrs)])):
        with tempfile.TemporaryDirectory() as tmp:
            kw = dict(ways[way])
            run_sweep(kw.pop("fn"), warm, store=RunStore(f"{tmp}/warm.sqlite"), verbose=False, **kw)
    rows = []
    for way, kw in ways.items():
        kw = dict(kw)
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            df = run_sweep(kw.pop("fn"), configs, store=RunStore(f"{tmp}/bench.sqlite"), desc=f"bench-{way}",
                           verbose=False, **kw)
            seconds = time.perf_counter() - t0
        rows.append({"executor": way, "gpus_per_run": cfg.gpus_per_run if way == "ray" else 1.0,
                     "runs": len(configs), "ok": int((df.status == "ok").sum()), "seconds": round(seconds, 1),
                     "runs_per_hour": round(3600 * len(configs) / seconds, 1)})
    return pd.DataFrame(rows)


def _init_ray():
    import ray

    if not ray.is_initialized() and not os.environ.get("RAY_ADDRESS"):  # a cluster is joined by run_sweep itself
        # The GPU count told, not detected (see archlab.sweep._run_ray): a missed GPU never schedules a task.
        ray.init(include_dashboard=False, log_to_driver=False, num_gpus=torch.cuda.device_count())
