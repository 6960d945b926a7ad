"""Paper 2's truncation math: the expansion of a residual stack over paths and how far its first-order
truncation (the parallel layer) is from it. Everything runs in float64, so the fitted slopes measure the expansion
(third-order terms move them by ~1e-3), not rounding."""
import math

import numpy as np
import pytest
import torch

from archlab.papers.deep_vs_shallow.models import ResidualBody
from archlab.papers.deep_vs_shallow.truncation import (expansion_terms, linear_truncation_error, loglog_slope,
                                                       relative_deviation, truncation_curve)

# ----------------------------------------------------------------------------- truncation math


def random_weights(L=4, d=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(d, d, generator=g, dtype=torch.float64) / math.sqrt(d) for _ in range(L)]


def test_expansion_terms_sum_to_the_product_and_count_binomial_paths():
    ws = random_weights()
    eye = torch.eye(6, dtype=torch.float64)
    product = (eye + ws[3]) @ (eye + ws[2]) @ (eye + ws[1]) @ (eye + ws[0])
    torch.testing.assert_close(sum(expansion_terms(ws)), product)
    # With every W_i = 1 (1x1), E_k counts the paths of length k: C(L, k), 2^L in all (Veit et al.).
    ones = [torch.ones(1, 1, dtype=torch.float64)] * 6
    assert [int(t) for t in expansion_terms(ones)] == [math.comb(6, k) for k in range(7)]


@pytest.mark.parametrize("order,slope", [(1, 2.0), (2, 3.0)])
def test_linear_truncation_error_shrinks_quadratically_then_cubically(order, slope):
    ws = random_weights()
    eps = np.logspace(-3, -1, 5)
    errors = [linear_truncation_error([e * w for w in ws], order) for e in eps]
    assert loglog_slope(eps, errors) == pytest.approx(slope, abs=0.05)
    assert linear_truncation_error(ws, order=len(ws)) < 1e-12  # all 2^L paths kept: exact


@pytest.mark.parametrize("activation", ["tanh", "relu", "identity"])
def test_nonlinear_deviation_shrinks_linearly_with_branch_scale(activation):
    curve = truncation_curve(np.logspace(-3, -1, 5), activation=activation, dtype=torch.float64)
    assert loglog_slope(curve.scale, curve.rel_deviation) == pytest.approx(1.0, abs=0.05)


def test_layouts_differ_clearly_at_default_init_and_agree_for_one_layer():
    dev = truncation_curve([1.0], activation="tanh").rel_deviation.iloc[0]
    assert 0.2 < dev < 0.9  # of order 0.5 for a small tanh stack
    torch.manual_seed(0)
    body = ResidualBody(1, 4, 3, "tanh").double()
    assert relative_deviation(body, torch.randn(2, 4, 8, 8, dtype=torch.float64)) < 1e-12  # rounding only
