"""The dry run's training step: one optimizer step of an architecture through the trainer training would use.

The dry run (``archlab.dryrun``) must catch what would break on a GPU, and on a GPU training takes the CUDA-only
branches (bf16 autocast, channels_last, fused optimizers) and, where the profile batches, the vmapped step of
``archlab.batched``. Rather than re-deciding any of that, the step here calls ``archlab.train.fit`` (or
``archlab.batched.fit_batched`` for a vmapped group) itself on two synthetic samples with the run's own
``TrainConfig`` cut to one step, with ``ARCHLAB_FORCE_CUDA_PATHS`` set on a CPU so those branches run; what was
exercised is read off the step (the logits' dtype, the input's memory format, the optimizer that stepped).
"""
from __future__ import annotations

import contextlib
import os

import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook

from .cudapaths import ENV, uses_cuda_paths

# TrainConfig fields that change which code a step runs; the others (seed, epochs, batch size, ...) only change
# numbers, so architectures that differ only in them share one dry-run row.
PATH_FIELDS = ("optimizer", "momentum", "nesterov", "weight_decay", "schedule", "precision", "augment", "compile")


@contextlib.contextmanager
def cuda_paths(device: torch.device):
    """Force the CUDA-only branches for the block when ``device`` is a CPU (on CUDA they run anyway)."""
    saved = os.environ.get(ENV)
    if device.type != "cuda":
        os.environ[ENV] = "1"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = saved


def recipe_key(train: dict | None, group: list[dict]) -> tuple:
    """What of a run's training decides the code a dry-run step exercises: the path fields, the vmap group size
    and whether its models differ in learning rate (``batched.step_scaled``)."""
    if train is None:
        return ("own loop",)
    return (*(train.get(f) for f in PATH_FIELDS), len(group), len({g.get("lr") for g in group}) > 1)


def synthetic(shape: tuple, num_classes: int, n: int = 2):
    """``n`` random samples of ``shape`` (uint8 images or float vectors, as archlab.data holds them)."""
    from .data import ArrayDataset

    g = torch.Generator().manual_seed(0)
    image = len(shape) == 3
    x = torch.randint(0, 256, (n, *shape), generator=g, dtype=torch.uint8) if image else torch.randn(n, *shape, generator=g)
    chans = shape[0] if image else 1
    return ArrayDataset(x, torch.arange(n) % num_classes, num_classes, (0.5,) * chans, (0.25,) * chans, "dry-run")


def one_step(cfg, n: int):
    """``cfg`` cut to one optimizer step on ``n`` samples: one epoch of one batch, no warm-up, no compilation
    (compiling costs minutes and is benchmarked in bench/)."""
    return cfg.replace(epochs=1, batch_size=n, warmup_epochs=0.0, eval_every=1, log_every=0, compile="off")


class _Seen:
    """What a training step ran: the input's memory format, the optimizers that stepped."""

    def __init__(self):
        self.channels_last = None
        self.optimizers = []

    def forward(self, module, args, out):
        x = args[0]
        with contextlib.suppress(RuntimeError):  # a vmapped (batched) tensor has no strides to ask
            # channels innermost (stride 1): the channels_last layout, also for one channel, where both formats
            # are contiguous
            self.channels_last = x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) \
                and x.stride(1) == 1

    def step(self, opt, args, kwargs):
        fused = bool(opt.defaults.get("fused"))
        self.optimizers.append(f"{type(opt).__name__}{' fused' if fused else ''}")


class NonFinite(RuntimeError):
    """A training step gave a non-finite loss or weights."""


def train_step(models: list, shape: tuple, num_classes: int, trains: list[dict], device, force: bool = True) -> dict:
    """One optimizer step of ``models`` (one, or a vmapped group, one TrainConfig dict each) as training takes it
    on ``device`` (``force``: the CUDA branches forced on a CPU); returns what was exercised. A group vmap refuses (``NotBatchable``) steps one model alone, as
    the run functions fall back to one at a time, and says so."""
    from .batched import NotBatchable, fit_batched
    from .train import TrainConfig, autocast_dtype, fit

    device = torch.device(device)
    ds = synthetic(shape, num_classes)
    cfgs = [one_step(TrainConfig.from_dict(t), len(ds)) for t in trains]
    seen, vmap = _Seen(), "-"
    hooks = [m.register_forward_hook(seen.forward) for m in models]
    opt_hook = register_optimizer_step_pre_hook(seen.step)
    try:
        with cuda_paths(device) if force else contextlib.nullcontext():
            if len(models) > 1:
                try:
                    hists, vmap = fit_batched(models, ds, None, cfgs, device=device), f"{len(models)} models"
                except NotBatchable as e:
                    vmap = f"refused, trains one at a time ({e})"
            if vmap == "-" or vmap.startswith("refused"):
                hists = [fit(models[0], ds, None, cfgs[0], device=device)]
            precision = autocast_dtype(cfgs[0], device)
            cuda = uses_cuda_paths(device)
    finally:
        opt_hook.remove()
        for h in hooks:
            h.remove()
    bad = [h.status for h in hists if h.status != "ok"]
    if bad or not all(torch.isfinite(p).all() for m in models for p in m.parameters()):
        raise NonFinite(f"the training step gave a non-finite loss or weights ({bad or 'weights'})")
    return dict(precision=f"{str(precision).removeprefix('torch.')} autocast" if precision
                else "fp64" if cfgs[0].precision == "fp64" else "fp32",
                memory_format="channels_last" if seen.channels_last else "contiguous", vmap=vmap,
                optimizer=", ".join(dict.fromkeys(seen.optimizers)) or "none", cuda_paths=cuda)



def with_recipes(jobs: list[dict], configs: list[dict], trains: list[dict | None], group_by=None) -> list[dict]:
    """``jobs`` (one per run config, in order) with each run's recipe for the dry run: ``train`` (the TrainConfig
    dict its ``fit`` takes; None: the paper's own loop) and ``group`` (the index of the vmapped group it trains in,
    as ``run_sweep(..., group_by=group_by)`` forms them; None: one at a time)."""
    from .sweep import group_units

    if not len(jobs) == len(configs) == len(trains):
        raise ValueError(f"need one config and one recipe per job: {len(jobs)} jobs, {len(configs)} configs, "
                         f"{len(trains)} recipes")
    group = [None] * len(jobs)
    if group_by is not None:
        for g, unit in enumerate(group_units(list(enumerate(configs)), group_by)):
            for i, _ in unit:
                group[i] = g if len(unit) > 1 else None  # a group of one trains alone (the run functions' rule)
    return [{**j, "train": t, "group": g} for j, t, g in zip(jobs, trains, group)]
