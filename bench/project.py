"""Projected time of notebooks' ``paper`` profiles on the benchmarking device, from throughput measured in the
same benchmark run (a projection, not a measurement; the README says which is which).

Model of one run: every step costs the larger of a fixed per-step overhead (kernel launches, optimizer, Python:
measured on the sweep benchmark's smallest models) and its compute at the achieved FLOP rate (measured on the
largest model of the trainer benchmark: ResNet-18 on a GPU), plus a forward pass over the test set per epoch:

    run seconds = epochs * (steps * max(overhead, 3 * flops * batch / rate) + flops * n_test / rate)

``flops`` is the forward cost per sample (``archlab.train.count_flops`` on a meta-device model, so nothing is
allocated; training is ~3x forward). Narrow convolutions reach a lower FLOP rate than ResNet-18, so compute-bound
runs are projected optimistically; the pure-compute lower bound (total FLOPs / rate) is reported beside it.
Concurrent execution (Ray or batched seeds) is applied as the measured sweep speed-up on the overhead-bound part.
"""
from __future__ import annotations

from functools import lru_cache

import torch

from archlab.models import create_model
from archlab.train import count_flops

# Standard training/test set sizes (the full downloads a GPU machine uses; the offline MNIST copy is smaller).
SIZES = {"mnist": (60_000, 10_000), "fashion_mnist": (60_000, 10_000), "cifar10": (50_000, 10_000),
         "cifar100": (50_000, 10_000)}


def flops(model: str, kwargs: dict, shape: tuple = (3, 32, 32)) -> int:
    """Forward FLOPs per sample of a registered model, counted on the meta device (no memory, no compute)."""
    return _flops(model, tuple(sorted(kwargs.items())), tuple(shape))


@lru_cache(maxsize=None)
def _flops(model: str, kwargs: tuple, shape: tuple) -> int:
    with torch.device("meta"):
        m = create_model(model, **dict(kwargs))
    return count_flops(m, shape, device="meta")


def deep_vs_shallow_jobs() -> list[dict]:
    """The 6,912 runs of the deep-vs-shallow ``paper`` profile as (model, kwargs, data, batch, epochs) jobs."""
    from archlab.experiments.deep_vs_shallow import SHAPES, DeepShallowConfig

    jobs = []
    for c in DeepShallowConfig(profile="paper").configs(device="cpu"):
        shape = SHAPES[c["dataset"]]
        kwargs = dict(layers=c["L"], filters=c["F"], kernel=c["k"], activation=c["activation"], pool=c["pool"],
                      batchnorm=c["batchnorm"], head=c["head"], input_shape=shape, num_classes=10)
        jobs.append(dict(model=c["layout"], kwargs=kwargs, shape=shape, dataset=c["dataset"],
                         batch_size=c["batch_size"], epochs=c["epochs"]))
    return jobs


def overview_jobs() -> list[dict]:
    from archlab.experiments.overview import OverviewConfig, grid

    jobs = []
    for c in grid(OverviewConfig(profile="paper")):
        jobs.append(dict(model=c["model"], kwargs={**c["model_kwargs"], "num_classes": 10}, shape=(3, 32, 32),
                         dataset=c["dataset"], batch_size=c["train"]["batch_size"], epochs=c["train"]["epochs"]))
    return jobs


NOTEBOOKS = {"02_deep_vs_shallow": deep_vs_shallow_jobs, "00_overview": overview_jobs}


def project(jobs: list[dict], overhead_s: float, flop_rate: float, concurrency: float) -> dict:
    """Projected hours one at a time and with the measured concurrency, and the compute-only lower bound."""
    serial = bound = concurrent = flops_total = 0.0
    for j in jobs:
        n_train, n_test = SIZES[j["dataset"]]
        f = flops(j["model"], j["kwargs"], j["shape"])
        steps = n_train // j["batch_size"]
        compute = j["epochs"] * (steps * 3 * f * j["batch_size"] + f * n_test) / flop_rate
        overhead_bound = j["epochs"] * steps * overhead_s
        serial += j["epochs"] * (steps * max(overhead_s, 3 * f * j["batch_size"] / flop_rate) + f * n_test / flop_rate)
        # Concurrency hides overhead, never compute: each run costs at least its compute.
        concurrent += max(compute, overhead_bound / concurrency)
        bound += compute
        flops_total += j["epochs"] * (3 * f * n_train + f * n_test)
    return {"runs": len(jobs), "train_pflop": flops_total / 1e15, "serial_h": serial / 3600,
            "concurrent_h": concurrent / 3600, "compute_bound_h": bound / 3600}


def project_all(overhead_s: float, flop_rate: float, concurrency: float, stems=tuple(NOTEBOOKS)) -> dict:
    out = {}
    for stem in stems:
        make = NOTEBOOKS[stem]
        try:
            out[stem] = project(make(), overhead_s, flop_rate, concurrency)
        except Exception as e:  # noqa: BLE001 - a notebook module another engineer is changing must not stop the bench
            out[stem] = {"error": f"{type(e).__name__}: {e}"}
    return out
