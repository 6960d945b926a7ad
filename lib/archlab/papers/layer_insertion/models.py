"""Networks that can grow by one layer during training (paper 4, sensitivity-based layer insertion).

Both families keep their hidden layers in one ``nn.ModuleList`` and name *candidate positions*:
position ``i`` sits directly after hidden layer ``i``. A candidate ("virtual layer") built by
``candidate(i)`` is initialised so that inserting it leaves the network function exactly unchanged,
which is what makes the gradient with respect to its weights a first-order sensitivity (a shadow
price of the constraint "this layer stays at its identity value"):

- ``GrowingFNN`` ([Flatten] -> (Linear -> ReLU) x L -> Linear): candidate Linear(w, w) + ReLU with
  W = I, b = 0. Its input is a post-ReLU activation a >= 0, so ReLU(I a) = a. This is why the
  activation is fixed to ReLU: the identity init exists only there (docs/papers/layer_insertion.md, "The method").
- ``GrowingResNet`` (the authors' "res2"): Linear(d, w) + tanh, then blocks x + W2 tanh(W1 x + b1).
  Candidate W1 = 0.8 I, b1 = 0, W2 = 0: W2 = 0 makes the block the identity, and W1 != 0 keeps
  dL/dW2 = mean(delta tanh(0.8 x)^T) non-zero (at W2 = 0 the W1 gradient vanishes).

``forward(x, virtual=layers)`` runs the network with one virtual layer at every position at once,
so all candidates' sensitivities come from one backward pass without building a network per
candidate (see ``insertion``). The layer whose weight counts for the sensitivity is the
candidate's ``sensitive_weight`` (W for the FNN, the outer W2 for the ResNet, as in the authors' code).
The v2 CNN (a growing VGG with Dirac-initialised conv candidates) subclasses ``GrowingNet`` in ``models_cnn``.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn

from ...models import register_model

RESNET_INNER_SCALE = 0.8  # hard-coded in the authors' code; any non-zero value gives a non-zero W2 gradient


class Dense(nn.Module):
    """Linear + activation; ``sensitive_weight`` is the Linear weight."""

    def __init__(self, d_in: int, d_out: int, act: type[nn.Module] = nn.ReLU):
        super().__init__()
        self.linear = nn.Linear(d_in, d_out)
        self.act = act()

    def forward(self, x):
        return self.act(self.linear(x))

    @property
    def sensitive_weight(self) -> torch.Tensor:
        return self.linear.weight


class ResidualBlock(nn.Module):
    """x + h * W2 tanh(W1 x + b1), W2 without bias (res2 in the authors' code, h = 1)."""

    def __init__(self, width: int, h: float = 1.0):
        super().__init__()
        self.inner = nn.Linear(width, width)
        self.outer = nn.Linear(width, width, bias=False)
        self.h = h

    def forward(self, x):
        return x + self.h * self.outer(torch.tanh(self.inner(x)))

    @property
    def sensitive_weight(self) -> torch.Tensor:
        return self.outer.weight


class GrowingNet(nn.Module):
    """Shared forward/grow logic; subclasses build the first layers and the candidates."""

    POSITIONS = "position i sits after hidden layer i"  # what a position means, for error messages

    def __init__(self, hidden: list[nn.Module], width_out: int, num_classes: int, head_bias: bool = True):
        super().__init__()
        self.hidden = nn.ModuleList(hidden)
        self.head = nn.Linear(width_out, num_classes, bias=head_bias)

    @property
    def num_positions(self) -> int:
        return len(self.hidden)

    @property
    def widths(self) -> list[int]:
        return [_out_width(m) for m in self.hidden]

    def candidate(self, position: int) -> nn.Module:
        raise NotImplementedError

    def check_position(self, position: int) -> None:
        if not isinstance(position, int) or not 0 <= position < self.num_positions:
            raise ValueError(
                f"insertion position {position!r} does not exist; this network has candidate positions "
                f"0..{self.num_positions - 1} ({self.POSITIONS})"
            )

    def candidates(self) -> list[nn.Module]:
        """One identity-initialised virtual layer per position, on the model's device and dtype."""
        return [self.candidate(p) for p in range(self.num_positions)]

    def forward(self, x, virtual: list[nn.Module] | None = None):
        x = x.flatten(1)
        for i, layer in enumerate(self.hidden):
            x = layer(x)
            if virtual is not None:
                x = virtual[i](x)
        return self.head(x)

    def grow(self, position: int, layer: nn.Module | None = None) -> "GrowingNet":
        """Insert ``layer`` (default: the identity candidate) at ``position``, in place."""
        self.check_position(position)
        self.hidden.insert(position + 1, layer if layer is not None else self.candidate(position))
        return self

    def _like(self, module: nn.Module) -> nn.Module:
        p = self.head.weight
        return module.to(device=p.device, dtype=p.dtype)


class GrowingFNN(GrowingNet):
    """[Flatten] -> (Linear -> ReLU) x L -> Linear, PyTorch default init."""

    def __init__(self, in_features: int, widths, num_classes: int):
        dims = [in_features, *widths]
        super().__init__([Dense(a, b) for a, b in zip(dims[:-1], dims[1:])], dims[-1], num_classes)

    def candidate(self, position: int) -> nn.Module:
        self.check_position(position)
        w = self.widths[position]
        layer = Dense(w, w)
        with torch.no_grad():
            layer.linear.weight.copy_(torch.eye(w))
            layer.linear.bias.zero_()
        return self._like(layer)


class GrowingResNet(GrowingNet):
    """Linear(d, w) + tanh, then ``len(widths) - 1`` residual blocks of width w (all widths equal)."""

    def __init__(self, in_features: int, widths, num_classes: int):
        widths = list(widths)
        if len(set(widths)) != 1:
            raise ValueError(f"residual widths must all be equal (the skip adds x), got {widths}")
        w = widths[0]
        super().__init__([Dense(in_features, w, nn.Tanh)] + [ResidualBlock(w) for _ in widths[1:]], w, num_classes)

    def candidate(self, position: int) -> nn.Module:
        self.check_position(position)
        w = self.widths[position]
        block = ResidualBlock(w)
        with torch.no_grad():
            block.inner.weight.copy_(RESNET_INNER_SCALE * torch.eye(w))
            block.inner.bias.zero_()
            block.outer.weight.zero_()
        return self._like(block)


def _out_width(m: nn.Module) -> int:
    return m.linear.out_features if isinstance(m, Dense) else m.outer.out_features


@register_model(input_shape=(2,), test_kwargs=dict(widths=(3, 3)))
def growing_fnn(input_shape: tuple = (2,), widths=(5,), num_classes: int = 2) -> GrowingFNN:
    """The authors' spirals FNN (default [5]: 27 parameters)."""
    return GrowingFNN(math.prod(input_shape), widths, num_classes)


@register_model(input_shape=(2,), test_kwargs=dict(widths=(3, 3)))
def growing_resnet(input_shape: tuple = (2,), widths=(3, 3), num_classes: int = 2) -> GrowingResNet:
    """The authors' spirals res2 (default [3, 3]: 38 parameters)."""
    return GrowingResNet(math.prod(input_shape), widths, num_classes)


@register_model(input_shape=(1, 28, 28), test_kwargs=dict(widths=(8, 8)))
def growing_fnn_mnist(input_shape: tuple = (1, 28, 28), widths=(64, 64), num_classes: int = 10) -> GrowingFNN:
    return GrowingFNN(math.prod(input_shape), widths, num_classes)


@register_model(input_shape=(3, 32, 32), test_kwargs=dict(widths=(8, 8)))
def growing_resnet_cifar(input_shape: tuple = (3, 32, 32), widths=(256, 256, 256),
                         num_classes: int = 10) -> GrowingResNet:
    return GrowingResNet(math.prod(input_shape), widths, num_classes)
