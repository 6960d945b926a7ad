"""Paper 2 (Bermeitinger et al., "Make Deep Networks Shallow Again"): deep sequential vs shallow parallel
residual convolution stacks with exactly the same parameters.

Both layouts share one body module that holds the L branch convolutions as a single ``Conv2d(F -> L*F)``
weight (and, with batch norm, one ``BatchNorm2d(L*F)``):

- ``sequential``: h_i = h_{i-1} + act(W_i * h_{i-1} + b_i), applying slices of that weight one after another;
- ``parallel``: h = h_0 + sum_i act(W_i * h_0 + b_i), the first-order truncation of the same stack, computed as
  one wide convolution, one activation and a block sum over the L groups of F channels.

Holding both layouts in the same tensors makes parameter parity hold by construction (not by bookkeeping), lets
the truncation check evaluate both layouts on identical weights, and makes the parallel layer a single kernel
call instead of a Python loop over branches. Stem and head are our reconstruction [R]: Conv(C -> F, k,
'same') + act, then MaxPool(p) -> Flatten -> Linear(F*(H/p)*(W/p) -> classes).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...models import register_model

# identity is here for the truncation math (linear case); the paper's grid uses relu and tanh.
ACTIVATIONS = {"relu": F.relu, "tanh": torch.tanh, "gelu": F.gelu, "identity": lambda z: z}
LAYOUTS = ("sequential", "parallel")
HEADS = ("flatten", "gap")


class ResidualBody(nn.Module):
    """L residual conv branches of width F stored as one wide convolution; ``layout`` picks how they compose."""

    def __init__(self, layers: int, filters: int, kernel: int, activation: str = "relu",
                 batchnorm: bool = False, layout: str = "sequential"):
        super().__init__()
        self.layers, self.filters, self.layout = layers, filters, layout
        self.act = ACTIVATIONS[activation]
        self.conv = nn.Conv2d(filters, layers * filters, kernel, padding="same")
        # One BN over all L*F channels: in the sequential layout each layer normalises its own slice, so both
        # layouts own the same affine parameters and running statistics.
        self.bn = nn.BatchNorm2d(layers * filters) if batchnorm else None

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.parallel(h) if self.layout == "parallel" else self.sequential(h)

    def parallel(self, h0: torch.Tensor) -> torch.Tensor:
        z = self.conv(h0)
        if self.bn is not None:
            z = self.bn(z)
        # (B, L*F, H, W) -> (B, L, F, H, W): channel c = i*F + j belongs to branch i, matching the weight slices
        # the sequential layout uses.
        return h0 + self.act(z).unflatten(1, (self.layers, self.filters)).sum(1)

    def sequential(self, h: torch.Tensor) -> torch.Tensor:
        weights = self.conv.weight.split(self.filters)
        biases = self.conv.bias.split(self.filters)
        for i in range(self.layers):
            z = F.conv2d(h, weights[i], biases[i], padding="same")
            if self.bn is not None:
                z = self._bn_slice(z, i)
            h = h + self.act(z)
        return h

    def _bn_slice(self, z: torch.Tensor, i: int) -> torch.Tensor:
        """Batch norm on layer i's slice; the running-stat slices are views, so updates land in the shared buffers."""
        bn, s = self.bn, slice(i * self.filters, (i + 1) * self.filters)
        use_batch_stats = self.training or bn.running_mean is None
        return F.batch_norm(z, bn.running_mean[s], bn.running_var[s], bn.weight[s], bn.bias[s],
                            use_batch_stats, bn.momentum if bn.momentum is not None else 0.1, bn.eps)


class ResidualConvNet(nn.Module):
    """Stem conv + act, a ``ResidualBody`` in either layout, then max-pool (or global average pool) and a dense head."""

    def __init__(self, layout: str = "sequential", layers: int = 4, filters: int = 16, kernel: int = 3,
                 activation: str = "relu", pool: int = 2, batchnorm: bool = False,
                 input_shape: tuple = (3, 32, 32), num_classes: int = 10, head: str = "flatten"):
        super().__init__()
        check_args(layout, layers, filters, kernel, activation, pool, input_shape, head)
        c, hgt, wid = input_shape
        self.act = ACTIVATIONS[activation]
        self.stem = nn.Conv2d(c, filters, kernel, padding="same")
        self.body = ResidualBody(layers, filters, kernel, activation, batchnorm, layout)
        # 'gap' is our receptive-field ablation: it removes the dense head's spatial integration.
        self.pool = nn.AdaptiveAvgPool2d(1) if head == "gap" else nn.MaxPool2d(pool) if pool > 1 else nn.Identity()
        n_in = filters if head == "gap" else filters * (hgt // pool) * (wid // pool)
        self.fc = nn.Linear(n_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.body(self.act(self.stem(x)))
        return self.fc(self.pool(h).flatten(1))


def check_args(layout, layers, filters, kernel, activation, pool, input_shape, head="flatten") -> None:
    """Refuse impossible shapes with the bad value and the valid range, before any weight is allocated."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout={layout!r} is not valid; choose one of {list(LAYOUTS)}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation={activation!r} is not valid; choose one of {sorted(ACTIVATIONS)}")
    if head not in HEADS:
        raise ValueError(f"head={head!r} is not valid; choose one of {list(HEADS)}")
    if len(input_shape) != 3:
        raise ValueError(f"input_shape={tuple(input_shape)} must be (channels, height, width)")
    side = min(input_shape[1:])
    for name, value, lo, hi in (("layers", layers, 1, None), ("filters", filters, 1, None),
                                ("kernel", kernel, 1, side), ("pool", pool, 1, side)):
        if not isinstance(value, int) or value < lo or (hi is not None and value > hi):
            bound = f"an integer >= {lo}" if hi is None else f"an integer in [{lo}, {hi}] for a {side}px feature map"
            raise ValueError(f"{name}={value!r} is not valid; it must be {bound}")


def parameter_count(layers: int, filters: int, kernel: int, pool: int, input_shape: tuple, num_classes: int = 10,
                    batchnorm: bool = False, head: str = "flatten") -> int:
    """Closed-form parameter count of either layout, so grids can be binned by Q without building models."""
    c, hgt, wid = input_shape
    stem = c * filters * kernel**2 + filters
    body = layers * (filters * filters * kernel**2 + filters) + (2 * layers * filters if batchnorm else 0)
    n_in = filters if head == "gap" else filters * (hgt // pool) * (wid // pool)
    return stem + body + n_in * num_classes + num_classes


_TEST_KWARGS = dict(layers=2, filters=4, kernel=3, pool=2, batchnorm=True)


@register_model(input_shape=(1, 8, 8), test_kwargs=_TEST_KWARGS)
def sequential(layers=4, filters=16, kernel=3, activation="relu", pool=2, batchnorm=False,
               input_shape=(3, 32, 32), num_classes=10, head="flatten"):
    """Deep layout: L residual conv layers applied one after another."""
    return ResidualConvNet("sequential", layers, filters, kernel, activation, pool, batchnorm, input_shape,
                           num_classes, head)


@register_model(input_shape=(1, 8, 8), test_kwargs=_TEST_KWARGS)
def parallel(layers=4, filters=16, kernel=3, activation="relu", pool=2, batchnorm=False,
             input_shape=(3, 32, 32), num_classes=10, head="flatten"):
    """Shallow layout: the same L conv branches side by side on the stem output, summed with the identity."""
    return ResidualConvNet("parallel", layers, filters, kernel, activation, pool, batchnorm, input_shape,
                           num_classes, head)
