"""Projected time of notebooks' ``paper`` profiles on the benchmarking device, from throughput measured in the
same benchmark run (a projection, not a measurement; the README says which is which).

Model of one run: every step costs the larger of a fixed per-step overhead (kernel launches, optimizer, Python:
measured on the sweep benchmark's smallest models) and its compute at the achieved FLOP rate (measured on the
largest model of the trainer benchmark: ResNet-18 on a GPU), plus a forward pass over the test set per epoch:

    run seconds = epochs * (steps * max(overhead, 3 * flops * batch / rate) + flops * n_test / rate)

summed over a run's phases where its architecture changes (a growing net) or it trains members one after the other
(an ensemble); a run may also evaluate less often than every epoch (see ``phases``). The job lists, one per
notebook, are in ``bench/jobs.py``.

``flops`` is the forward cost per sample (``archlab.train.count_flops`` on a meta-device model, so nothing is
allocated; training is ~3x forward). Narrow convolutions reach a lower FLOP rate than ResNet-18, so compute-bound
runs are projected optimistically; the pure-compute lower bound (total FLOPs / rate) is reported beside it.
Concurrent execution (Ray or batched seeds) is applied as the measured sweep speed-up on the overhead-bound part.
``h100_floor_h`` is the total FLOPs at an H100's dense bf16 matmul rate: a hard lower bound, not a projection.
"""
from __future__ import annotations

from archlab.data import FILE_SETS
from archlab.train import model_cost

from .jobs import NOTEBOOKS

# bf16 dense matrix-product rate measured on this workplace's H100 (8192^3 bf16 matmul): 798 TFLOP/s. Total FLOPs at
# this rate is a hard lower bound on an H100, far below what small convnets achieve: a floor, not an estimate.
H100_BF16_FLOPS = 798e12


def flops(model: str, kwargs: dict, shape: tuple = (3, 32, 32)) -> int:
    """Forward FLOPs per sample of a registered model, counted on the meta device (no memory, no compute)."""
    return model_cost(model, shape, **kwargs)["flops"]


def phases(job: dict) -> list[dict]:
    """A job as phases of one architecture each, with every quantity ``project`` uses filled in.

    Most jobs are one phase: FLOPs from model/kwargs/shape, sizes from ``archlab.data.FILE_SETS``, n_train // batch_size
    steps per epoch and one test-set pass per epoch. A job may override ``n_train``, ``n_test``, ``steps`` (per
    epoch) and ``evals`` (test-set passes), and give ``phases``, a list of overrides (e.g. ``kwargs``, ``epochs``):
    a growing net has one phase per architecture, an ensemble trained member by member one per member.
    """
    out = []
    for over in job.get("phases", [{}]):
        info = FILE_SETS.get(job["dataset"], {})
        n_train, n_test = info.get("n_train"), info.get("n_test")
        p = {"n_train": n_train, "n_test": n_test, **job, **over}
        p.setdefault("steps", p["n_train"] // p["batch_size"])
        p.setdefault("evals", p["epochs"])
        p["flops"] = flops(p["model"], p["kwargs"], p["shape"])
        out.append(p)
    return out


def project(jobs: list[dict], overhead_s: float, flop_rate: float, concurrency: float) -> dict:
    """Projected hours one at a time and with the measured concurrency, the compute-only lower bound at the measured
    rate, and the H100 floor (total FLOPs at the H100's dense bf16 matmul rate)."""
    serial = bound = concurrent = flops_total = 0.0
    for j in jobs:
        compute = overhead_bound = 0.0
        for p in phases(j):
            e, f, b = p["epochs"], p["flops"], p["batch_size"]
            test = p["evals"] * f * p["n_test"]
            compute += (e * p["steps"] * 3 * f * b + test) / flop_rate
            overhead_bound += e * p["steps"] * overhead_s
            serial += e * p["steps"] * max(overhead_s, 3 * f * b / flop_rate) + test / flop_rate
            flops_total += e * 3 * f * p["n_train"] + test
        # Concurrency hides overhead, never compute: each run costs at least its compute.
        concurrent += max(compute, overhead_bound / concurrency)
        bound += compute
    return {"runs": len(jobs), "train_pflop": flops_total / 1e15, "serial_h": serial / 3600,
            "concurrent_h": concurrent / 3600, "compute_bound_h": bound / 3600,
            "h100_floor_h": flops_total / H100_BF16_FLOPS / 3600}


def project_all(overhead_s: float, flop_rate: float, concurrency, stems=tuple(NOTEBOOKS)) -> dict:
    """Projections per notebook; ``concurrency`` is one factor, or a dict of them by stem (with a "default")."""
    out = {}
    for stem in stems:
        make = NOTEBOOKS[stem]
        c = concurrency.get(stem, concurrency["default"]) if isinstance(concurrency, dict) else concurrency
        try:
            out[stem] = {**project(make(), overhead_s, flop_rate, c), "concurrency": c}
        except Exception as e:  # noqa: BLE001 - a notebook module another engineer is changing must not stop the bench
            out[stem] = {"error": f"{type(e).__name__}: {e}"}
    return out
