"""The insertion decision of SensLI: which candidate to insert, inserting it, and the record of the decision.

``insertion_step`` is the moment of insertion shared by both training loops (``loop.train_growing``, one net, and
``batched.train_seeds``, many seeds of one net at once): a sensitivity pass over one epoch of the training data
(counted in the FLOPs), the choice of position, the grown net, and a record with every candidate's sensitivity and
the loss jump (zero up to rounding: the candidate is an identity). ``first_step_decrease`` is the first-order check
of the selection rule (validity study, E3).
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F

from .sensitivity import sensitivity, virtual_gradients

SELECT = ("max", "min", "random")  # or an int: a fixed position ("pos 0" in the authors' code)


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


def insertion_step(model, loader, select, gen, meter, log: dict, step: int, probe_lr: float = 0.0, norm: str = "fro"):
    """Sensitivity pass over one epoch (counted), choose, insert; log the decision and loss continuity.

    Only the pass's forward and backward are counted: the norms run once per insertion, independent of
    the data (op22 on the default VGG: ~1e10 FLOPs of FFT and SVDs, ~0.1% of the pass over CIFAR-10),
    and FlopCounterMode has no formula for FFT/SVD. Returns the grown net; appends the record to ``log``.
    """
    grads, sizes, loss_ext = virtual_gradients(model, loader, meter)
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
