"""The SensLI training loop for one net: train, insert at the scheduled epochs, count every FLOP.

The loop is separate from ``archlab.train.fit`` because the method needs things ``fit`` does not
do: full-batch gradient descent with the authors' backtracking line search, a change of
architecture (and a fresh optimizer) mid-run, and exact FLOP accounting of every step including the
sensitivity pass, so curves can be drawn against work rather than iterations. ``batched.train_seeds``
trains many seeds of one spirals net at once with the same schedule and the same records.

FLOPs are measured, not estimated: each distinct (phase, kind, batch size) step runs once under
``torch.utils.flop_counter.FlopCounterMode`` and the count is reused for identical steps. This
counts what the counter counts (matrix products of forward and backward; 2 FLOPs per
multiply-add), not element-wise bias/activation work or the O(#params) optimizer update.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Callable, Iterable

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from ...train import count_params
from .insertion import check_schedule, insertion_step
from .sensitivity import check_norm, sensitivities


class FlopMeter:
    """Cumulative FLOPs; a step measured once under FlopCounterMode is reused for identical steps."""

    def __init__(self):
        self.total, self.cache = 0, {}

    @contextmanager
    def count(self, key=None):
        """Count the FLOPs of the block; ``key=None`` always measures (one-off work such as a sensitivity pass)."""
        if key is not None and key in self.cache:
            yield
            self.total += self.cache[key]
            return
        with FlopCounterMode(display=False) as fc:
            yield
        flops = fc.get_total_flops()
        if key is not None:
            self.cache[key] = flops
        self.total += flops

    def new_architecture(self):
        self.cache.clear()


def new_log() -> dict:
    """The record a training loop fills: per-window losses with cumulative FLOPs, evaluations, sensitivities,
    insertions, and the status (``ok`` or ``diverged`` at ``diverged_step``)."""
    return dict(step=[], loss=[], flops=[], evals=[], sens=[], insertions=[], status="ok", diverged_step=None)


def _backtrack(model, opt, x, y, loss, meter, trials: int = 10, shrink: float = 0.9) -> float:
    """The authors' backtracking: first alpha in 1, 0.9, 0.81, ... with a strict decrease on this batch.

    The accepted alpha becomes the optimizer's lr and stays there. The trial is undone (the caller's
    ``opt.step`` makes the real update). If no alpha decreases the loss, lr is left unchanged.
    """
    params = [p for p in model.parameters() if p.grad is not None]
    saved = [p.detach().clone() for p in params]
    alpha, accepted = 1.0, None
    with torch.no_grad():
        for _ in range(trials):
            for p, p0 in zip(params, saved):
                p.copy_(p0 - alpha * p.grad)
            with meter.count(("forward", len(y))):
                trial = F.cross_entropy(model(x), y)
            if trial < loss:
                accepted = alpha
                break
            alpha *= shrink
        for p, p0 in zip(params, saved):
            p.copy_(p0)
    if accepted is not None:
        for group in opt.param_groups:
            group["lr"] = accepted
    return opt.param_groups[0]["lr"]


def train_growing(
    model,
    loader: Iterable,
    *,
    epochs: int,
    lr: float,
    insert_at=(),
    select="max",
    factor: float = 1.0,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    backtrack_epochs: int = 0,
    log_every: int = 1,
    sens_every: int = 0,
    evaluate: Callable | None = None,
    eval_every: int = 0,
    probe_lr: float = 0.0,
    norm: str = "fro",
    seed: int = 0,
):
    """Train, inserting a layer after each epoch count in ``insert_at``. Returns ``(model, log)``.

    ``loader`` yields ``(x, y)`` batches once per epoch (one batch = full-batch GD). Each phase gets a
    new SGD optimizer (momentum state resets, as in the authors' code) with lr = factor x the lr at
    the end of the previous phase. ``log`` (``new_log``) holds per-window training losses (before the update) with
    cumulative FLOPs, evaluations, logged sensitivities and one record per insertion. ``norm`` is the
    sensitivity that decides (``fro`` or ``op22``, see ``sensitivity``).
    """
    check_schedule(insert_at, epochs, select, model.num_positions)
    check_norm(norm)  # before any training, not at the first insertion
    gen = torch.Generator().manual_seed(seed)
    meter = FlopMeter()
    log = new_log()
    bounds = [0, *insert_at, epochs]
    step, window, n_window = 0, 0.0, 0

    def record_eval():
        if evaluate is not None:
            log["evals"].append({"step": step, "flops": meter.total, **evaluate(model)})

    for phase, (start, end) in enumerate(zip(bounds[:-1], bounds[1:])):
        if phase > 0:
            model = insertion_step(model, loader, select, gen, meter, log, step, probe_lr, norm)
            lr = opt.param_groups[0]["lr"] * factor
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
        meter.new_architecture()
        for epoch in range(start, end):
            for x, y in loader:
                if sens_every and step % sens_every == 0:  # diagnostic only: not counted, no update
                    log["sens"].append({"step": step, "s": sensitivities(model, (x, y), norm=norm).tolist()})
                if eval_every and step % eval_every == 0:
                    record_eval()
                opt.zero_grad(set_to_none=True)
                with meter.count(("train", len(y))):
                    loss = F.cross_entropy(model(x), y)
                    loss.backward()
                if epoch - start < backtrack_epochs:
                    _backtrack(model, opt, x, y, loss.detach(), meter)
                opt.step()
                window, n_window, step = window + loss.detach(), n_window + 1, step + 1
                if n_window == log_every:
                    mean = float(window / n_window)
                    log["step"].append(step - 1), log["loss"].append(mean), log["flops"].append(meter.total)
                    window, n_window = 0.0, 0
                    if not math.isfinite(mean):
                        log["status"], log["diverged_step"] = "diverged", step - 1
                        return model, log
    record_eval()
    log["lr_final"] = opt.param_groups[0]["lr"]
    return model, log


def growth_result(model, log: dict, *, params_start: int, train_metrics: tuple, test_metrics: tuple,
                  flops: float, evals: list | None = None) -> dict:
    """The stored result of one training run: status, final train/test metrics, size, work, the insertion record
    and the curves. ``*_metrics`` are (loss, accuracy); ``evals`` defaults to the log's."""
    (train_loss, train_acc), (test_loss, test_acc) = train_metrics, test_metrics
    ins = log["insertions"]
    return dict(status=log["status"], diverged_step=log["diverged_step"], train_loss=train_loss, train_acc=train_acc,
                test_loss=test_loss, test_acc=test_acc, test_err=1.0 - test_acc, params_start=params_start,
                params=count_params(model), flops=flops,
                position=ins[0]["position"] if ins else -1, widths_end=model.widths,
                curve=dict(step=log["step"], loss=log["loss"], flops=log["flops"]),
                evals=log["evals"] if evals is None else evals, sens=log["sens"], insertions=ins)
