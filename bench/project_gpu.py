"""Projected minutes of each notebook's ``gpu`` profile on the benchmarking device, from seconds per training step
measured here per architecture family (a projection, not a measurement of the notebooks).

Per notebook, the runs are the paper package's own ``dry_jobs("gpu")`` (its ``jobs("gpu")`` with each run's
TrainConfig). Per family (registered model name) one architecture, the family's median by forward FLOPs, trains a
few steps through ``archlab.train.fit`` with a run's own TrainConfig (so bf16, channels_last and fused optimizers on
CUDA, as the notebook trains) on synthetic data of the run's shape, which gives the family's achieved FLOP rate:

    rate = 3 * flops * batch / (seconds per step)

and ``bench.project.project`` prices every run of the family at that rate, as it prices the ``paper`` profile:
epochs x steps per epoch x 3 x flops x batch, plus a forward pass over the test set per evaluation, summed over a
run's phases. Runs are priced one at a time (no Ray, no vmapped groups), so where a notebook batches seeds the
projection is an upper bound. On a CPU the batch is capped (``CPU_BATCH``) to keep ``make bench`` short; the rate is
then the small-batch rate, which on a CPU is close to the large-batch one.
"""
from __future__ import annotations

import statistics

import torch

from archlab.dryrun_train import one_step, synthetic
from archlab.papers import PAPERS

from .common import timed
from .project import flops, project

AIM_MIN = 20.0  # the gpu profile's aim per notebook on one GPU (README)
CPU_BATCH = 32  # batch cap on a CPU: seconds per step there grow ~linearly with the batch anyway
STEPS = {"cpu": 2, "cuda": 5}  # timed steps after one untimed epoch (warm-up: allocation, cuDNN autotuning)


def families(jobs: list[dict]) -> dict[str, list[dict]]:
    """Jobs by architecture family (the registered model name)."""
    out: dict[str, list[dict]] = {}
    for j in jobs:
        out.setdefault(j["model"], []).append(j)
    return out


def representative(jobs: list[dict]) -> dict:
    """The family's job whose architecture has the median forward FLOPs (its middle-sized net)."""
    costs = [flops(j["model"], j["kwargs"], tuple(j["shape"])) for j in jobs]
    median = statistics.median_low(costs)
    return jobs[costs.index(median)]


def seconds_per_step(job: dict, device: torch.device, cap: int | None = None) -> tuple[float, int]:
    """(seconds per training step, batch) of ``job``'s architecture through ``fit`` with its own TrainConfig."""
    from archlab.models import create_model
    from archlab.train import TrainConfig, fit

    batch = min(job["batch_size"], cap or job["batch_size"])
    steps = STEPS["cuda" if device.type == "cuda" else "cpu"]
    model = create_model(job["model"], **job["kwargs"])
    probe = model(torch.zeros(1, *job["shape"]))
    ds = synthetic(tuple(job["shape"]), probe.shape[-1], n=batch * steps)
    cfg = one_step(TrainConfig.from_dict(job.get("train") or {}), batch)
    fit(model, ds.take(torch.arange(batch)), None, cfg, device=device)  # warm-up
    with timed(device) as t:  # fit reads its losses back once per epoch, so the queued GPU work is inside
        fit(model, ds, None, cfg, device=device)
    return t.seconds / steps, batch


def project_notebook(jobs: list[dict], device: torch.device, cap: int | None, log=print) -> dict:
    """Projected minutes of ``jobs`` with each family priced at its measured FLOP rate."""
    rows, minutes = {}, 0.0
    for name, fam in families(jobs).items():
        rep = representative(fam)
        sec, batch = seconds_per_step(rep, device, cap)
        rate = 3 * flops(rep["model"], rep["kwargs"], tuple(rep["shape"])) * batch / sec
        p = project(fam, overhead_s=0.0, flop_rate=rate, concurrency=1.0)
        rows[name] = {"runs": len(fam), "sec_per_step": sec, "batch": batch, "flop_rate": rate,
                      "minutes": p["serial_h"] * 60}
        minutes += p["serial_h"] * 60
        log(f"  {name}: {sec * 1e3:.0f} ms/step at batch {batch}, {len(fam)} runs, {p['serial_h'] * 60:.1f} min")
    return {"minutes": minutes, "aim_min": AIM_MIN, "within_aim": minutes <= AIM_MIN, "families": rows}


def project_gpu_profile(device: torch.device, stems=None, cap: int | None = None, log=print) -> dict:
    """``stem -> projection`` of every notebook's ``gpu`` profile (``stems``: only those); a notebook whose jobs
    cannot be built or timed gets ``{"error": ...}``, so one paper under change does not stop the bench."""
    out = {}
    threads = torch.get_num_threads()
    for package in PAPERS.values():
        if stems is not None and package.STEM not in stems:
            continue
        log(f"gpu profile of {package.STEM}")
        try:
            torch.set_num_threads(1)  # the width searches some jobs() run: two busy threads wait on each other
            jobs = getattr(package, "dry_jobs", package.jobs)("gpu")
            torch.set_num_threads(threads)
            out[package.STEM] = project_notebook(jobs, device, cap, log)
        except Exception as e:  # noqa: BLE001 - a notebook module another engineer is changing must not stop the bench
            out[package.STEM] = {"error": f"{type(e).__name__}: {e}"}
        finally:
            torch.set_num_threads(threads)
    return out
