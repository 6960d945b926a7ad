"""Sensitivities of the loss to every candidate layer at once: the quantity SensLI decides by.

Every candidate ("virtual layer") is an exact identity, so the network with all of them inserted computes the same
function as the small net, and the gradient of the loss with respect to a candidate's weight is a first-order
sensitivity (a shadow price of the constraint "this layer stays at its identity value"; see
``docs/papers/layer_insertion.md``). One backward pass gives every candidate's gradient.

Norms: ``fro`` (squared Frobenius norm of the mean virtual-weight gradient, the authors' FNN/ResNet rule) and
``op22`` (its squared operator norm, by FFT for convs: the authors' v2 CNN rule).
"""
from __future__ import annotations

from contextlib import nullcontext

import torch
import torch.nn.functional as F

NORMS = ("fro", "op22")  # squared Frobenius norm (FNN/ResNet) or squared operator norm (CNN, v2)


def _as_batches(batches):
    """Accept one ``(x, y)`` batch or an iterable of batches (a loader)."""
    if isinstance(batches, (tuple, list)) and len(batches) == 2 and isinstance(batches[0], torch.Tensor):
        return [batches]
    return batches


def virtual_gradients(model, batches, meter=None):
    """Mean over batches of dL_b/dV for every candidate's ``sensitive_weight`` V, with V's input sizes.

    All candidates sit in the network at once (each is an exact identity), so one backward pass per
    batch gives every position's gradient; ``autograd.grad`` asks only for the virtual weights, so
    the model's own ``.grad`` is untouched and no update happens. Returns ``(grads, sizes, mean loss)``;
    ``sizes[i]`` is the spatial shape of candidate i's input (``()`` for vectors), which the conv
    operator norm needs. ``meter`` (a ``loop.FlopMeter``) counts each batch's forward and backward, measured
    once per batch size: counting every batch under FlopCounterMode cost more than the pass itself.
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
            with meter.count(("sensitivity", len(y))) if meter is not None else nullcontext():
                loss = F.cross_entropy(model(x, virtual=virtual), y)
                grads = torch.autograd.grad(loss, weights)
            for t, g in zip(total, grads):
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


def check_norm(norm: str) -> None:
    if norm not in NORMS:
        raise ValueError(f"norm={norm!r} is not valid; choose one of {list(NORMS)}")


def sensitivity(grads, sizes, norm: str = "fro") -> torch.Tensor:
    """Per candidate: ``fro`` = ||G||_F^2 (the FNN/ResNet rule) or ``op22`` = ||G||_op^2 (the CNN rule)."""
    check_norm(norm)
    if norm == "fro":
        return torch.stack([g.pow(2).sum() for g in grads]).detach()
    return torch.stack([op_norm_sq(g, s) for g, s in zip(grads, sizes)]).detach()


def sensitivities(model, batches, *, norm: str = "fro", return_loss: bool = False):
    """Per candidate position, the ``norm`` of the mean gradient of the virtual weight.

    The norm is of the *mean* gradient over batches (the full-batch gradient for equal batch sizes),
    not a mean of per-batch norms, as in the authors' code.
    """
    grads, sizes, loss = virtual_gradients(model, batches)
    s = sensitivity(grads, sizes, norm)
    return (s, loss) if return_loss else s
