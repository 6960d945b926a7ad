"""The dry run of a profile on a CPU: every architecture of every run built and stepped as training will step it.

No GPU has run the big profiles, so a shape bug, a bad grid level or a break in a CUDA-only branch would otherwise
surface after a user has spent GPU hours. ``python -m archlab.run NOTEBOOK --dry-run -p profile gpu`` takes the
notebook's jobs (the paper package's ``jobs(profile)``, the list ``make bench`` projects; ``dry_jobs`` where the
package has it, which adds each run's training recipe: ``train``, its TrainConfig dict, and ``group``, the runs
trained together in one vmapped step), builds each distinct (model, kwargs, input shape, recipe) once and
- counts it: one fp32 forward/backward on a batch of two gives forward FLOPs per sample and the activation bytes
  backward keeps, for an estimate of the training memory at the run's batch size;
- steps it as training will (``archlab.dryrun_train``): one optimizer step through ``fit`` (or ``fit_batched`` for a
  vmapped group) with the run's TrainConfig, the CUDA-only branches forced on a CPU (bf16 autocast,
  channels_last, fused optimizers), and reports what ran. Runs without a ``train`` recipe train in the paper's
  own loop, which takes none of those branches; they get the counting step only.
One thread: the steps are tiny, and two threads on two busy cores wait on each other (~15x slower, measured).
"""
from __future__ import annotations

import copy
import json
import time

import pandas as pd
import torch
import torch.nn.functional as F

from .dryrun_train import NonFinite, recipe_key, train_step

BYTES_PER_PARAM = 16  # fp32 weights, gradients and AdamW's two moments
EXERCISED = ("precision", "memory_format", "vmap", "optimizer")  # what the training step reports it ran


def architectures(jobs: list[dict]) -> list[dict]:
    """Distinct (model, kwargs, shape, training recipe) over jobs and their phases, each with its run count,
    largest batch and ``trains``: the TrainConfig dicts of its first vmapped group (one for a run trained alone;
    none for the paper's own loop)."""
    groups: dict = {}
    for job in jobs:
        if job.get("group") is not None:
            groups.setdefault(job["group"], []).append(job["train"])
    archs: dict[str, dict] = {}
    for job in jobs:
        trains = groups.get(job.get("group"), [job["train"]]) if job.get("train") is not None else []
        for ph in job.get("phases") or [{}]:
            kwargs = ph.get("kwargs", job["kwargs"])
            a = dict(model=ph.get("model", job["model"]), kwargs=kwargs, shape=tuple(job["shape"]))
            key = json.dumps([a, recipe_key(job.get("train"), trains)], sort_keys=True, default=str)
            entry = archs.setdefault(key, {**a, "trains": trains, "runs": 0, "batch_size": 0, "datasets": set()})
            entry["runs"] += 1
            entry["batch_size"] = max(entry["batch_size"], int(job.get("batch_size") or 0))
            entry["datasets"].add(job["dataset"])
    return list(archs.values())


def step(model: torch.nn.Module, shape: tuple) -> dict:
    """One training forward/backward on a batch of two: forward FLOPs per sample, saved activation bytes per
    sample (what backward keeps alive), and whether every output and gradient is finite."""
    from torch.utils.flop_counter import FlopCounterMode

    saved = []

    def pack(t):
        saved.append(t.numel() * t.element_size())
        return t

    model.train()
    x = torch.randn(2, *shape)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), FlopCounterMode(display=False) as fc:
        out = model(x)
    flops = fc.get_total_flops() // 2
    F.cross_entropy(out.float(), torch.zeros(len(out), dtype=torch.long)).backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    finite = bool(torch.isfinite(out).all()) and all(bool(torch.isfinite(g).all()) for g in grads)
    return dict(flops=flops, act_bytes=sum(saved) // 2, finite=finite, logits=tuple(out.shape))


def dry_run(jobs: list[dict], device="cpu") -> pd.DataFrame:
    """One row per architecture (raises on the first model that cannot be built or stepped, naming it); the
    training step runs on ``device`` (forcing the CUDA branches on a CPU)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return pd.DataFrame([_row(a, device) for a in architectures(jobs)])
    finally:
        torch.set_num_threads(threads)


def _row(a: dict, device) -> dict:
    """The counting step and the training step of one architecture, as its table row."""
    from .models import create_model
    from .train import count_params

    try:
        torch.manual_seed(0)
        model = create_model(a["model"], **a["kwargs"])
        s = step(model, a["shape"])
        exercised = {**dict(zip(EXERCISED, ("fp32", "contiguous", "-", "own loop"))), "note": ""}
        if a["trains"]:
            models = []
            for k in range(len(a["trains"])):  # a group's models, each its own initialisation as its seed gives
                torch.manual_seed(k)
                models.append(create_model(a["model"], **a["kwargs"]))
            exercised = _train_step(models, a, s["logits"][-1], device)
    except Exception as e:
        raise RuntimeError(f"dry run: {a['model']}({a['kwargs']}) on input {a['shape']} failed: "
                           f"{type(e).__name__}: {e}") from e
    if not s["finite"]:
        raise RuntimeError(f"dry run: {a['model']}({a['kwargs']}) gives a non-finite output or gradient")
    params = count_params(model)
    mem = params * BYTES_PER_PARAM + s["act_bytes"] * a["batch_size"]
    exercised.pop("cuda_paths", None)
    return dict(model=a["model"], kwargs=_short(a["kwargs"]), shape="x".join(map(str, a["shape"])),
                datasets=",".join(sorted(a["datasets"])), runs=a["runs"], batch_size=a["batch_size"],
                params=params, flops=s["flops"], est_memory_mb=mem / 2**20, **exercised)  # unrounded: a tiny net is KB


def _train_step(models: list, a: dict, num_classes: int, device) -> dict:
    """``train_step`` with the CUDA branches forced; where that gives non-finite numbers on a CPU but the plain
    fp32 step does not, the row says so instead of failing: torch's CPU kernels for those branches are not the
    GPU's (a dilated bf16 channels_last convolution's weight gradient is NaN on torch 2.x CPUs, finite in fp32)."""
    states = [copy.deepcopy(m.state_dict()) for m in models]
    try:
        return {**train_step(models, a["shape"], num_classes, a["trains"], device), "note": ""}
    except NonFinite as e:
        if torch.device(device).type == "cuda":
            raise
        for m, st in zip(models, states):
            m.load_state_dict(st)
        plain = train_step(models, a["shape"], num_classes, a["trains"], device, force=False)  # raises if it too is
        return {**plain, "note": f"forced CUDA branches on the CPU: {e}; the fp32 step is finite: check on a GPU"}


def _short(kwargs: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(kwargs.items()) if k not in ("num_classes", "input_shape"))


def report(stem: str, profile: str, jobs: list[dict], max_rows: int = 40) -> pd.DataFrame:
    """Run :func:`dry_run` and print its table (the largest ``max_rows`` architectures by memory when longer)."""
    t0 = time.perf_counter()
    table = dry_run(jobs)
    shown = table if len(table) <= max_rows else table.nlargest(max_rows, "est_memory_mb")
    print(f"{stem} --dry-run, profile {profile}: {len(jobs)} runs, {len(table)} architectures, each built, counted "
          f"and given one training step as training takes it (CUDA branches forced) on the CPU in "
          f"{time.perf_counter() - t0:.1f}s")
    with pd.option_context("display.width", 220, "display.max_colwidth", 70, "display.float_format", "{:.3g}".format):
        print(shown.drop(columns="note").to_string(index=False))
    if len(shown) < len(table):
        print(f"... {len(table) - len(shown)} smaller architectures not shown")
    for col in EXERCISED:
        print(f"{col}: " + "; ".join(f"{v} x{n}" for v, n in table[col].value_counts().items()))
    for _, r in table[table.note != ""].iterrows():
        print(f"NOTE {r.model}({r.kwargs}): {r.note}")
    print(f"largest estimated training memory {table.est_memory_mb.max():.0f} MB; largest model "
          f"{table.params.max():,} parameters; {table.flops.max() / 1e6:,.1f} MFLOPs per sample at most")
    return table
