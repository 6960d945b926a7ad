"""Paper 2's speed measurements: time per training step of both layouts, each model timed alone (the basis of the
speed claim), and runs per hour of the Ray executor and of batched training against one run at a time on one GPU."""
from __future__ import annotations

import logging
import os
import tempfile
import time

import pandas as pd
import torch
import torch.nn.functional as F

from ...models import create_model
from ...profiles import default_device
from ...store import RunStore
from ...sweep import run_sweep
from .grid import FACTORS, PROFILES, SHAPES, DeepShallowConfig
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


def step_times(cfg: DeepShallowConfig, device=None, batch_size: int = 256, min_run_time: float = 0.2,
               blocks: int = 3):
    """Milliseconds per training step (forward, backward, AdamW step) of both layouts of every architecture of the
    grid, one model at a time on random inputs, in ``blocks`` interleaved rounds: one row per architecture, layout
    and block (``analysis.step_ratios`` takes each layout's median over blocks).

    The sweep's own seconds per epoch are shared with other runs when the ray executor packs several onto one GPU,
    so the speed claim is judged on these isolated timings (torch.utils.benchmark syncs CUDA and picks the count).
    Every round times every model once, so a slow spell of a shared machine (another process, a clock change)
    lands on both layouts of an architecture instead of on one of them.
    """
    if not isinstance(blocks, int) or blocks < 1:
        raise ValueError(f"blocks={blocks!r} is not valid; it must be an integer >= 1")
    # torch.utils.benchmark imports cpp_extension, which warns about a missing CUDA toolkit on CPU-only machines.
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
    from torch.utils import benchmark

    device = torch.device(device or default_device(cfg.resolved_profile))
    keys = [f for f in FACTORS if f not in ("lr", "train_size")]  # one timing per architecture
    configs = {tuple(c[k] for k in keys): c for c in cfg.configs(device)}  # one per architecture
    steps = [(c, _step_fn(c, device, batch_size)) for c in configs.values()]
    rows = []
    for block in range(blocks):
        for c, step in steps:
            t = benchmark.Timer("step()", globals={"step": step}).blocked_autorange(min_run_time=min_run_time)
            rows.append({**{k: c[k] for k in keys}, "device": device.type, "block": block,
                         "ms_per_step": 1e3 * t.median})
    return pd.DataFrame(rows)


def _step_fn(c: dict, device: torch.device, batch_size: int):
    """One training step of the config's model on a fixed random batch, warmed up once (cuDNN plans, allocator)."""
    cuda = device.type == "cuda"
    shape = SHAPES[c["dataset"]]
    model = create_model(c["layout"], layers=c["L"], filters=c["F"], kernel=c["k"], activation=c["activation"],
                         pool=c["pool"], batchnorm=c["batchnorm"], head=c["head"], input_shape=shape).to(device)
    x = torch.randn(batch_size, *shape, device=device)
    y = torch.randint(0, 10, (batch_size,), device=device)
    if cuda:  # as in archlab.train.fit: channels_last and bf16 autocast on CUDA
        model, x = model.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def step():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
            loss = F.cross_entropy(model(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()
    return step
