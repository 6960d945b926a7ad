"""The dry run of a profile on a CPU: every architecture of every run built once and stepped once.

No GPU has run the big profiles, so a shape bug or a bad grid level would otherwise surface after a user has
spent GPU hours. ``python -m archlab.run NOTEBOOK --dry-run -p profile gpu`` takes the notebook's jobs (the paper
package's ``jobs(profile)``, the list ``make bench`` projects), builds each distinct (model, kwargs, input shape)
once, runs one forward/backward step on a batch of two on the CPU, and reports per architecture its runs,
parameters, forward FLOPs per sample and an estimate of the training memory at the run's batch size.
"""
from __future__ import annotations

import json
import time

import pandas as pd
import torch
import torch.nn.functional as F

BYTES_PER_PARAM = 16  # fp32 weights, gradients and AdamW's two moments


def architectures(jobs: list[dict]) -> list[dict]:
    """Distinct (model, kwargs, shape) over jobs and their phases, each with its run count and largest batch."""
    archs: dict[str, dict] = {}
    for job in jobs:
        phases = job.get("phases") or [{}]
        for ph in phases:
            kwargs = ph.get("kwargs", job["kwargs"])
            a = dict(model=job["model"], kwargs=kwargs, shape=tuple(job["shape"]))
            key = json.dumps(a, sort_keys=True, default=str)
            entry = archs.setdefault(key, {**a, "runs": 0, "batch_size": 0, "datasets": set()})
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


def dry_run(jobs: list[dict]) -> pd.DataFrame:
    """One row per architecture (raises on the first model that cannot be built or stepped, naming it)."""
    from .models import create_model
    from .train import count_params

    rows = []
    for a in architectures(jobs):
        torch.manual_seed(0)
        try:
            model = create_model(a["model"], **a["kwargs"])
            s = step(model, a["shape"])
        except Exception as e:
            raise RuntimeError(f"dry run: {a['model']}({a['kwargs']}) on input {a['shape']} failed: "
                               f"{type(e).__name__}: {e}") from e
        if not s["finite"]:
            raise RuntimeError(f"dry run: {a['model']}({a['kwargs']}) gives a non-finite output or gradient")
        params = count_params(model)
        mem = params * BYTES_PER_PARAM + s["act_bytes"] * a["batch_size"]
        rows.append(dict(model=a["model"], kwargs=_short(a["kwargs"]), shape="x".join(map(str, a["shape"])),
                         datasets=",".join(sorted(a["datasets"])), runs=a["runs"], batch_size=a["batch_size"],
                         params=params, flops=s["flops"], est_memory_mb=mem / 2**20))  # unrounded: a tiny net is KB
    return pd.DataFrame(rows)


def _short(kwargs: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(kwargs.items()) if k not in ("num_classes", "in_chans"))


def report(stem: str, profile: str, jobs: list[dict], max_rows: int = 40) -> pd.DataFrame:
    """Run :func:`dry_run` and print its table (the largest ``max_rows`` architectures by memory when longer)."""
    t0 = time.perf_counter()
    table = dry_run(jobs)
    shown = table if len(table) <= max_rows else table.nlargest(max_rows, "est_memory_mb")
    print(f"{stem} --dry-run, profile {profile}: {len(jobs)} runs, {len(table)} architectures, each built and "
          f"stepped once on the CPU in {time.perf_counter() - t0:.1f}s")
    with pd.option_context("display.width", 220, "display.max_colwidth", 70, "display.float_format", "{:.3g}".format):
        print(shown.to_string(index=False))
    if len(shown) < len(table):
        print(f"... {len(table) - len(shown)} smaller architectures not shown")
    print(f"largest estimated training memory {table.est_memory_mb.max():.0f} MB; largest model "
          f"{table.params.max():,} parameters; {table.flops.max() / 1e6:,.1f} MFLOPs per sample at most")
    return table
