"""A VGG that can grow by one conv layer during training (paper 4 v2, its CNN variant; experiment E5b in
docs/papers/layer_insertion.md).

The authors' v2 baseline: three stages of [Conv3x3 (pad 1) -> ReLU -> MaxPool 2] with widths m = [64, 128, 256],
then Linear(m3 * 16, 500) -> ReLU -> Linear(500, 500) -> ReLU -> Linear(500, 10, no bias); no BatchNorm.

Candidate position i is the end of stage i: after its last conv's ReLU, before its pool (3 positions, at any
depth, so repeated insertions stack inside a stage). A candidate is Conv2d(m_i, m_i, 3, pad 1) + ReLU with a
Dirac kernel (``torch.nn.init.dirac_``: centre tap = identity over channels, other taps 0) and bias 0. Its input
is a post-ReLU activation a >= 0, so ReLU(dirac * a) = a: inserting it leaves the function exactly unchanged,
which is what makes the kernel's gradient a sensitivity (see ``models.py``). No BatchNorm because
a BN layer after the candidate would break that identity (and the authors' net has none).

The stages are the ``hidden`` list of :class:`~.models.GrowingNet`, so ``candidates``,
``check_position`` and ``insertion`` work unchanged; this class only redefines what a stage is, where
its candidate goes and the classifier after the last pool.

At m = [64, 128, 256] on 32 x 32 inputs every candidate costs the same, m_i^2 * 9 * (32 / 2^i)^2 multiply-adds
= 75.5 MFLOP per image forward, against ~83.6 MFLOP for the whole baseline (docs/papers/layer_insertion.md; tested).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from ...models import register_model
from .models import GrowingNet

FC_WIDTH = 500  # the authors' classifier width


class ConvReLU(nn.Module):
    """Conv3x3 (pad 1) + ReLU; ``sensitive_weight`` is the kernel."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(self.conv(x))

    @property
    def sensitive_weight(self) -> torch.Tensor:
        return self.conv.weight


class GrowingVGG(GrowingNet):
    """Stages of ``depths[i]`` ConvReLU layers of width ``widths[i]``, each followed by MaxPool 2, then the MLP."""

    POSITIONS = "position i sits at the end of conv stage i, before its pool"

    def __init__(self, in_chans: int, widths, num_classes: int, depths=None, image_size: int = 32):
        widths = list(widths)
        depths = list(depths) if depths is not None else [1] * len(widths)
        if len(depths) != len(widths) or min(depths, default=0) < 1:
            raise ValueError(f"depths {depths} must give one count >= 1 per stage of widths {widths}")
        side = image_size >> len(widths)
        if side < 1 or side << len(widths) != image_size:
            raise ValueError(f"image_size {image_size} must be divisible by 2^{len(widths)} (one pool per stage)")
        stages, c = [], in_chans
        for w, d in zip(widths, depths):
            stages.append(nn.Sequential(ConvReLU(c, w), *[ConvReLU(w, w) for _ in range(d - 1)]))
            c = w
        super().__init__(stages, FC_WIDTH, num_classes, head_bias=False)
        self.pool = nn.MaxPool2d(2)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(c * side * side, FC_WIDTH), nn.ReLU(),
                                        nn.Linear(FC_WIDTH, FC_WIDTH), nn.ReLU())

    @property
    def widths(self) -> list[int]:
        """Output channels of every conv layer, in order (e.g. [64, 64, 128, 256] after an insertion at 0)."""
        return [layer.conv.out_channels for stage in self.hidden for layer in stage]

    def candidate(self, position: int) -> nn.Module:
        self.check_position(position)
        w = self.hidden[position][-1].conv.out_channels
        layer = ConvReLU(w, w)
        with torch.no_grad():
            nn.init.dirac_(layer.conv.weight)
            layer.conv.bias.zero_()
        return self._like(layer)

    def forward(self, x, virtual: list[nn.Module] | None = None):
        for i, stage in enumerate(self.hidden):
            x = stage(x)
            if virtual is not None:
                x = virtual[i](x)
            x = self.pool(x)
        return self.head(self.classifier(x))

    def grow(self, position: int, layer: nn.Module | None = None) -> "GrowingVGG":
        """Append ``layer`` (default: the Dirac candidate) to the end of stage ``position``, in place."""
        self.check_position(position)
        self.hidden[position].append(layer if layer is not None else self.candidate(position))
        return self


@register_model(input_shape=(3, 16, 16), test_kwargs=dict(widths=(4, 4, 8)))
def growing_vgg(input_shape: tuple = (3, 32, 32), widths=(64, 128, 256), depths=(1, 1, 1),
                num_classes: int = 10) -> GrowingVGG:
    """The authors' v2 CIFAR-10 VGG on square images of ``input_shape`` (C, S, S); ``depths=(2, 1, 1)`` is their
    big net (a second conv in stage 0)."""
    if len(input_shape) != 3 or input_shape[-2] != input_shape[-1]:
        raise ValueError(f"input_shape={tuple(input_shape)} must be (channels, side, side): square images")
    return GrowingVGG(input_shape[0], widths, num_classes, depths, input_shape[-1])
