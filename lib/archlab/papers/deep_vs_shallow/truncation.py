"""The truncation math behind paper 2: a residual stack as an expansion over paths, and how far its first-order
truncation (the parallel layer) is from it.

Linear case (act = id, no bias): prod_i (I + W_i) = sum_k E_k, where E_k sums the ordered products of k distinct
layers (2^L paths, C(L, k) of length k; Veit et al. 2016). Keeping E_0 + E_1 is the parallel layer; the error of
that truncation is O(eps^2) when every W_i = eps * A_i, and O(eps^3) once E_2 is kept as well.

Nonlinear case: the relative deviation ||seq - par|| / ||seq - h_0|| of the two layouts of one ``ResidualBody``
(identical weights) shrinks linearly with a common scale on the branch weights, because the neglected terms are
second order while the kept ones are first order.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from .models import ResidualBody


def expansion_terms(weights: list[torch.Tensor]) -> list[torch.Tensor]:
    """E_0..E_L of prod_i (I + W_i) (later layers on the left), by the recursion E_k <- E_k + W_i E_{k-1}.

    The recursion adds one layer at a time, so it never enumerates the 2^L paths explicitly.
    """
    eye = torch.eye(weights[0].shape[0], dtype=weights[0].dtype)
    terms = [eye] + [torch.zeros_like(eye) for _ in weights]
    for w in weights:
        for k in range(len(terms) - 1, 0, -1):
            terms[k] = terms[k] + w @ terms[k - 1]
    return terms


def linear_truncation_error(weights: list[torch.Tensor], order: int = 1) -> float:
    """Frobenius norm of prod_i (I + W_i) minus its expansion kept up to ``order`` (1 = the parallel layer)."""
    eye = torch.eye(weights[0].shape[0], dtype=weights[0].dtype)
    product = torch.linalg.multi_dot([eye + w for w in reversed(weights)] + [eye])
    kept = sum(expansion_terms(weights)[: order + 1])
    return float(torch.linalg.matrix_norm(product - kept))


@torch.no_grad()
def relative_deviation(body, x: torch.Tensor) -> float:
    """||seq(x) - par(x)|| / ||seq(x) - x|| for one ``ResidualBody``: how much the truncation drops, relative to
    everything the branches add."""
    seq, par = body.sequential(x), body.parallel(x)
    return float(torch.linalg.vector_norm(seq - par) / torch.linalg.vector_norm(seq - x))


@torch.no_grad()
def truncation_curve(scales, layers: int = 4, filters: int = 8, kernel: int = 3, activation: str = "tanh",
                     size: int = 8, batch: int = 16, seed: int = 0, dtype=torch.float32) -> pd.DataFrame:
    """Relative seq/par deviation of one randomly initialised body (default PyTorch init) whose branch weights
    and biases are multiplied by each scale; scale 1 is the default initialisation.

    ``dtype=torch.float64`` (the same weights and inputs, cast) measures the expansion rather than rounding: at
    scale 1e-3 the float32 deviation carries ~0.3% rounding error."""
    torch.manual_seed(seed)
    body = ResidualBody(layers, filters, kernel, activation).eval().to(dtype)
    x = torch.randn(batch, filters, size, size).to(dtype)
    w0, b0 = body.conv.weight.clone(), body.conv.bias.clone()
    rows = []
    for s in scales:
        body.conv.weight.copy_(s * w0)
        body.conv.bias.copy_(s * b0)
        rows.append(dict(scale=float(s), rel_deviation=relative_deviation(body, x), layers=layers,
                         activation=activation))
    return pd.DataFrame(rows)


def loglog_slope(x, y) -> float:
    """Least-squares slope of log y against log x: the order at which y shrinks with x."""
    return float(np.polyfit(np.log(np.asarray(x, float)), np.log(np.asarray(y, float)), 1)[0])
