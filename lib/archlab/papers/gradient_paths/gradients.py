"""Dynamic gradient diagnostics (docs/papers/gradient_paths.md, "Gradient diagnostics"): what the gradients actually look like on a batch.

- ``weight_grad_norms``: ||dL/dW||_F and ||dL/dW|| / ||W|| for every conv/linear layer in forward
  execution order (recorded with forward hooks, because registration order is not execution order in
  branched bodies such as ELAN).
- ``block_gradient_similarity``: C[b, b'] = mean_i cos(g_b[i], g_b'[i]) between the gradients at the
  outputs of the same-shaped blocks of a stage. This is the companion's own measure of the paper's
  "duplicated gradient information" (the paper has none); residual links copy one gradient to every
  block, so a high C is what the argument calls duplication.

Both work on a deep copy in train mode, so the caller's model (and its BN running statistics) is left
exactly as it was.
"""
from __future__ import annotations

import copy

import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F

WEIGHT_MODULES = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)


def _backward(model, x, y, hooks_fn=None):
    """Forward + cross-entropy backward on a train-mode deep copy; ``hooks_fn(copy)`` installs hooks first."""
    m = copy.deepcopy(model).train()
    m.zero_grad(set_to_none=True)
    handles = hooks_fn(m) if hooks_fn else []
    try:
        F.cross_entropy(m(x), y).backward()
    finally:
        for h in handles:
            h.remove()
    return m


def weight_grad_norms(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> pd.DataFrame:
    """One row per weight layer, in forward execution order: depth, layer, grad_norm, weight_norm, relative."""
    order: list[str] = []

    def install(m):
        def hook(name):
            return lambda mod, inp, out: order.append(name) if name not in order else None
        return [mod.register_forward_hook(hook(n)) for n, mod in m.named_modules() if isinstance(mod, WEIGHT_MODULES)]

    m = _backward(model, x, y, install)
    mods = dict(m.named_modules())
    rows = []
    for depth, name in enumerate(order, 1):
        w = mods[name].weight
        g = w.grad.norm().item() if w.grad is not None else 0.0
        wn = w.detach().norm().item()
        rows.append(dict(depth=depth, layer=name, grad_norm=g, weight_norm=wn, relative=g / max(wn, 1e-12)))
    return pd.DataFrame(rows)


def block_gradient_similarity(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                              groups: dict[str, list[nn.Module]] | None = None,
                              channel_split: float | None = None) -> dict[str, pd.DataFrame]:
    """Per group (stage): the b x b matrix of mean per-sample cosine similarity between block-output gradients.

    ``groups`` defaults to ``model.block_groups()``; it names modules of ``model`` and is mapped onto the
    copy by module path. ``channel_split`` (PRN's rho) adds one matrix for channels [:int(rho*C)] (group a,
    carried by the partial shortcut) and one for the rest (group b), keyed ``"<stage>/a"`` and ``"<stage>/b"``:
    the two groups see different gradient sources.
    """
    groups = groups if groups is not None else model.block_groups()
    path = {id(mod): n for n, mod in model.named_modules()}
    names = {g: [path[id(b)] for b in blocks] for g, blocks in groups.items()}
    grads: dict[str, torch.Tensor] = {}

    def install(m):
        mods = dict(m.named_modules())

        def hook(name):
            def fwd(mod, inp, out):
                out.register_hook(lambda g: grads.__setitem__(name, g.detach().flatten(2) if g.dim() > 2 else g))
            return fwd
        return [mods[n].register_forward_hook(hook(n)) for ns in names.values() for n in ns]

    _backward(model, x, y, install)
    out = {}
    for g, ns in names.items():
        c = grads[ns[0]].shape[1] if ns and ns[0] in grads else 0
        split = {} if channel_split is None else {"a": slice(0, int(channel_split * c)),
                                                    "b": slice(int(channel_split * c), None)}
        for label, sl in {"": slice(None), **split}.items():
            flat = [grads[n][:, sl].flatten(1) if n in grads else None for n in ns]
            mat = torch.full((len(ns), len(ns)), float("nan"))
            for i, gi in enumerate(flat):
                for j, gj in enumerate(flat):
                    if gi is not None and gj is not None and gi.shape == gj.shape:
                        mat[i, j] = F.cosine_similarity(gi, gj, dim=1).mean()
            idx = [f"b{i + 1}" for i in range(len(ns))]
            out[g + (f"/{label}" if label else "")] = pd.DataFrame(mat.numpy(), index=idx, columns=idx)
    return out


def mean_offdiag(mat: pd.DataFrame) -> float:
    """Mean of the off-diagonal entries (NaN for a single block): one number per similarity heatmap."""
    a = mat.to_numpy()
    if a.shape[0] < 2:
        return float("nan")
    mask = ~torch.eye(a.shape[0], dtype=torch.bool).numpy()
    return float(a[mask].mean())
