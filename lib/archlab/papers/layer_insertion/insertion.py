"""Sensitivity-based layer insertion (SensLI, paper 4): sensitivities, insertion, and the training loop.

The loop is separate from ``archlab.train.fit`` because the method needs things ``fit`` does not
do: full-batch gradient descent with the authors' backtracking line search, a change of
architecture (and a fresh optimizer) mid-run, and exact FLOP accounting of every step including the
sensitivity pass, so curves can be drawn against work rather than iterations.

FLOPs are measured, not estimated: each distinct (phase, kind, batch size) step runs once under
``torch.utils.flop_counter.FlopCounterMode`` and the count is reused for identical steps. This
counts what the counter counts (matrix products of forward and backward; 2 FLOPs per
multiply-add), not element-wise bias/activation work or the O(#params) optimizer update.

Sensitivity norms: ``fro`` (squared Frobenius norm of the mean virtual-weight gradient, the FNN/ResNet
rule) and ``op22`` (its squared operator norm, by FFT for convs: the authors' v2 CNN rule).
"""
from __future__ import annotations

import copy
import math
from contextlib import contextmanager
from typing import Callable, Iterable

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from ...train import count_params

SELECT = ("max", "min", "random")  # or an int: a fixed position ("pos 0" in the authors' code)
NORMS = ("fro", "op22")  # squared Frobenius norm (FNN/ResNet) or squared operator norm (CNN, v2)


def _as_batches(batches):
    """Accept one ``(x, y)`` batch or an iterable of batches (a loader)."""
    if isinstance(batches, (tuple, list)) and len(batches) == 2 and isinstance(batches[0], torch.Tensor):
        return [batches]
    return batches


def virtual_gradients(model, batches):
    """Mean over batches of dL_b/dV for every candidate's ``sensitive_weight`` V, with V's input sizes.

    All candidates sit in the network at once (each is an exact identity), so one backward pass per
    batch gives every position's gradient; ``autograd.grad`` asks only for the virtual weights, so
    the model's own ``.grad`` is untouched and no update happens. Returns ``(grads, sizes, mean loss)``;
    ``sizes[i]`` is the spatial shape of candidate i's input (``()`` for vectors), which the conv
    operator norm needs.
    """
    virtual = model.candidates()
    weights = [v.sensitive_weight for v in virtual]
    total = [torch.zeros_like(w) for w in weights]
    sizes = [()] * len(virtual)
    hooks = [v.register_forward_pre_hook(lambda _m, args, i=i: sizes.__setitem__(i, tuple(args[0].shape[2:])))
             for i, v in enumerate(virtual)]
    n, loss_sum = 0, 0.0
    try:
        for x, y in _as_batches(batches):
            loss = F.cross_entropy(model(x, virtual=virtual), y)
            for t, g in zip(total, torch.autograd.grad(loss, weights)):
                t += g
            n, loss_sum = n + 1, loss_sum + loss.detach()
    finally:
        for h in hooks:
            h.remove()
    return [t / n for t in total], sizes, float(loss_sum / n)


def op_norm_sq(weight: torch.Tensor, size: tuple = ()) -> torch.Tensor:
    """Squared largest singular value of the linear map a weight applies ("op22" in the authors' v2 code).

    A matrix: its spectral norm. A conv kernel (out, in, k, k) acting on ``size`` inputs: by Sedghi, Gupta
    and Long (2019) the singular values of the (circularly padded) conv operator are those of the
    per-frequency (out x in) matrices of the 2-D FFT of the kernel zero-padded to the input size. Circular
    rather than zero padding (what the net uses) changes only border terms; cross-correlation rather than
    convolution conjugates each matrix, which keeps its singular values.
    """
    if weight.dim() == 2:
        return torch.linalg.matrix_norm(weight, ord=2) ** 2
    if len(size) != 2 or min(size) < max(weight.shape[-2:]):
        raise ValueError(f"op22 of a {tuple(weight.shape[-2:])} kernel needs a 2-D input size at least that big, "
                         f"got {size}")
    transfer = torch.fft.fft2(weight, s=size).permute(2, 3, 0, 1)  # (H, W, out, in)
    return torch.linalg.svdvals(transfer).max() ** 2


def sensitivity(grads, sizes, norm: str = "fro") -> torch.Tensor:
    """Per candidate: ``fro`` = ||G||_F^2 (the FNN/ResNet rule) or ``op22`` = ||G||_op^2 (the CNN rule)."""
    if norm == "fro":
        return torch.stack([g.pow(2).sum() for g in grads]).detach()
    if norm == "op22":
        return torch.stack([op_norm_sq(g, s) for g, s in zip(grads, sizes)]).detach()
    check_norm(norm)


def check_norm(norm: str) -> None:
    if norm not in NORMS:
        raise ValueError(f"norm={norm!r} is not valid; choose one of {list(NORMS)}")


def sensitivities(model, batches, *, norm: str = "fro", return_loss: bool = False):
    """Per candidate position, the ``norm`` of the mean gradient of the virtual weight (spec section 2).

    The norm is of the *mean* gradient over batches (the full-batch gradient for equal batch sizes),
    not a mean of per-batch norms, as in the authors' code.
    """
    grads, sizes, loss = virtual_gradients(model, batches)
    s = sensitivity(grads, sizes, norm)
    return (s, loss) if return_loss else s


def insert(model, position: int):
    """A copy of ``model`` with the identity-initialised candidate inserted at ``position``."""
    model.check_position(position)
    return copy.deepcopy(model).grow(position)


def choose_position(s: torch.Tensor, select, generator: torch.Generator | None = None) -> int:
    """``max`` (SensLI), ``min`` (the authors' "LIother"), ``random``, or a fixed int position."""
    if isinstance(select, int):
        return select
    if select == "max":
        return int(torch.argmax(s))
    if select == "min":
        return int(torch.argmin(s))
    if select == "random":
        return int(torch.randint(len(s), (1,), generator=generator))
    raise ValueError(f"select={select!r} is not valid; choose one of {list(SELECT)} or an int position")


def check_schedule(insert_at, epochs: int, select, num_positions: int) -> None:
    """Refuse, before training, a schedule with times outside (0, epochs) or a position that will not exist."""
    times = list(insert_at)
    if epochs < 1:
        raise ValueError(f"epochs={epochs} must be at least 1")
    if times != sorted(set(times)):
        raise ValueError(f"insertion times {times} must be strictly increasing")
    bad = [t for t in times if not 0 < t < epochs]
    if bad:
        raise ValueError(f"insertion time(s) {bad} fall outside training; valid times are 1..{epochs - 1} (epochs={epochs})")
    if isinstance(select, bool) or not (isinstance(select, int) or select in SELECT):
        raise ValueError(f"select={select!r} is not valid; choose one of {list(SELECT)} or an int position")
    if isinstance(select, int) and times and not 0 <= select < num_positions:
        raise ValueError(f"insertion position {select} does not exist; valid positions are 0..{num_positions - 1}")


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


def _one_step_decrease(model, x, y, lr: float) -> float:
    """Loss drop on (x, y) after one plain GD step of a copy of ``model``, in float64.

    float64 because ResNet sensitivities are ~1e-6: lr * s falls below float32 resolution of the loss.
    """
    model, x = copy.deepcopy(model).double(), x.double()
    loss = F.cross_entropy(model(x), y)
    grads = torch.autograd.grad(loss, list(model.parameters()))
    with torch.no_grad():
        for w, g in zip(model.parameters(), grads):
            w -= lr * g
        return float(loss - F.cross_entropy(model(x), y))


def first_step_decrease(model, x, y, lr: float) -> list[float]:
    """Per candidate: extra loss drop of one GD step after inserting it, over a step without insertion.

    To first order a GD step lowers the loss by lr * ||grad||^2, and insertion adds only the new
    layer's gradient, so for small lr this gain tracks lr * (sensitivity + bias term): E3's
    first-order check of the selection rule.
    """
    base = _one_step_decrease(model, x, y, lr)
    return [_one_step_decrease(insert(model, p), x, y, lr) - base for p in range(model.num_positions)]


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
    the end of the previous phase. ``log`` holds per-window training losses (before the update) with
    cumulative FLOPs, evaluations, logged sensitivities and one record per insertion. ``norm`` is the
    sensitivity that decides (``fro`` or ``op22``, see ``sensitivity``).
    """
    check_schedule(insert_at, epochs, select, model.num_positions)
    check_norm(norm)  # before any training, not at the first insertion
    gen = torch.Generator().manual_seed(seed)
    meter = FlopMeter()
    log = dict(step=[], loss=[], flops=[], evals=[], sens=[], insertions=[], status="ok", diverged_step=None)
    bounds = [0, *insert_at, epochs]
    step, window, n_window = 0, 0.0, 0

    def record_eval():
        if evaluate is not None:
            log["evals"].append({"step": step, "flops": meter.total, **evaluate(model)})

    for phase, (start, end) in enumerate(zip(bounds[:-1], bounds[1:])):
        if phase > 0:
            model = _insertion(model, loader, select, gen, meter, log, step, probe_lr, norm)
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
                  total_flops: float, evals: list | None = None) -> dict:
    """The stored result of one ``train_growing`` run: status, final train/test metrics, size, work, the
    insertion record and the curves. ``*_metrics`` are (loss, accuracy); ``evals`` defaults to the log's."""
    (train_loss, train_acc), (test_loss, test_acc) = train_metrics, test_metrics
    ins = log["insertions"]
    return dict(status=log["status"], diverged_step=log["diverged_step"], final_loss=train_loss, train_acc=train_acc,
                test_loss=test_loss, test_acc=test_acc, test_err=1.0 - test_acc, params_start=params_start,
                params_end=count_params(model), total_flops=total_flops,
                position=ins[0]["position"] if ins else -1, widths_end=model.widths,
                curve=dict(step=log["step"], loss=log["loss"], flops=log["flops"]),
                evals=log["evals"] if evals is None else evals, sens=log["sens"], insertions=ins)


def _insertion(model, loader, select, gen, meter, log, step, probe_lr, norm="fro"):
    """Sensitivity pass over one epoch (counted), choose, insert; log the decision and loss continuity.

    Only the pass's forward and backward are counted: the norms run once per insertion, independent of
    the data (op22 on the default VGG: ~1e10 FLOPs of FFT and SVDs, ~0.1% of the pass over CIFAR-10),
    and FlopCounterMode has no formula for FFT/SVD.
    """
    with meter.count(None):
        grads, sizes, loss_ext = virtual_gradients(model, loader)
    s = sensitivity(grads, sizes, norm)
    position = choose_position(s, select, gen)
    x, y = next(iter(loader))
    grown = insert(model, position)
    with torch.no_grad():
        jump = float(F.cross_entropy(grown(x), y) - F.cross_entropy(model(x), y))
    record = dict(step=step, flops=meter.total, position=position, sensitivities=s.tolist(), loss_extended=loss_ext,
                  loss_jump=jump, widths_before=model.widths, widths_after=grown.widths)
    if norm != "fro":  # log the Frobenius variant beside the deciding norm, as the authors' v2 code does
        record["norm"], record["sensitivities_fro"] = norm, sensitivity(grads, sizes, "fro").tolist()
    if probe_lr:
        record["first_step_decrease"] = first_step_decrease(model, x, y, probe_lr)
    log["insertions"].append(record)
    return grown
