"""Paper 1 (Wang, Liao, Yeh: "Designing Network Design Strategies Through Gradient Path Analysis").

One CIFAR-scale macro [R, docs/papers/gradient_paths.md] with interchangeable stage bodies, so families differ only in
how gradients travel inside a stage: stem CBA(3, in, min(32, C1)) -> three stages (entry CBA3, stride 1
then 2, then a body at width C_s) -> global average pool -> Linear. All residual shortcuts are identities;
the stage-entry convs stay plain, so the stop-gradient variants touch identity-shortcut blocks only.

Registered names (``blocks`` is per stage: an int or a 3-tuple):

- ``gp_plain``, ``gp_resnet``, ``gp_resnet_sg_block``, ``gp_resnet_sg_identity``, ``gp_prn`` (rho):
  ``blocks`` BasicBlocks per stage.
- ``gp_csp_fusion|first|last|none``: one CSP stage body with ``blocks`` BasicBlocks at C/2.
- ``gp_vovnet`` (mid_ratio m/C): ``blocks`` OSA modules; ``gp_vovnet_elan``: the same conv chain with
  one transition per stage.
- ``gp_elan`` (hidden_ratio h/C, convs per computational block), ``gp_csp_elan`` (hidden_ratio, inner
  BasicBlocks per unit): ``blocks`` computational blocks per stage.

``fig7_net`` builds the 5-layer toy nets of the paper's Fig. 7 (Linear layers on vectors, no training);
they are not registered because they are analysis fixtures, not classifiers.
"""
from __future__ import annotations

from functools import partial

import torch
import torch.nn as nn

from ...models import register_model
from .blocks import CBA, FUSIONS, CSPELANStage, CSPStage, ELANStage, OSAStage, ResStage, VoVELANStage

TEST_KWARGS = dict(widths=(8, 16, 32), blocks=1)


def _per_stage(blocks, n_stages: int) -> tuple:
    blocks = (blocks,) * n_stages if isinstance(blocks, int) else tuple(blocks)
    if len(blocks) != n_stages or any(not isinstance(b, int) or b < 1 for b in blocks):
        raise ValueError(f"blocks={blocks!r}: need one int >= 1 per stage ({n_stages} stages)")
    return blocks


class GradPathNet(nn.Module):
    """Stem, stages of (entry CBA3 + body), GAP, Linear. ``body(c, n)`` builds one stage body."""

    def __init__(self, body, widths=(32, 64, 128), blocks=2, num_classes: int = 10, in_chans: int = 3,
                 stem_width: int | None = None, stem_stride: int = 1):
        super().__init__()
        widths = tuple(int(w) for w in widths)
        blocks = _per_stage(blocks, len(widths))
        stem = stem_width or min(32, widths[0])  # the reconstruction's stem is 32 wide at its full width sets
        self.widths, self.blocks = widths, blocks
        if stem_stride not in (1, 2):
            raise ValueError(f"stem_stride={stem_stride!r}; valid: 1 (the reconstructed CIFAR macro) or 2 (stages at half "
                             f"the resolution, the cpu profile's cost lever)")
        self.stem = CBA(3, in_chans, stem, stem_stride)
        stages, prev = [], stem
        for i, (c, n) in enumerate(zip(widths, blocks)):
            stages.append(nn.Sequential(CBA(3, prev, c, 1 if i == 0 else 2), body(c, n)))
            prev = c
        self.stages = nn.ModuleList(stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(prev, num_classes)

    def forward(self, x):
        x = self.stem(x)
        for s in self.stages:
            x = s(x)
        return self.head(torch.flatten(self.pool(x), 1))

    def block_groups(self) -> dict[str, list[nn.Module]]:
        """Same-shaped repeated units per stage, for gradient-similarity heatmaps."""
        return {f"stage{i + 1}": list(s[1].blocks) for i, s in enumerate(self.stages)}


def _half(c: int, ratio: float) -> int:
    return max(1, int(round(c * ratio)))


def _net(body, widths, blocks, num_classes, input_shape, stem_stride=1):
    """The macro on inputs of ``input_shape`` (C, H, W): only the channels matter (global pooling at the end)."""
    return GradPathNet(body, widths, blocks, num_classes, input_shape[0], stem_stride=stem_stride)


def _family(body, doc: str):
    """A factory with the macro's common signature for a stage body ``body(c, n)`` without extra options."""
    def factory(widths=(32, 64, 128), blocks=2, num_classes=10, input_shape=(3, 32, 32), stem_stride=1):
        return _net(body, widths, blocks, num_classes, input_shape, stem_stride)

    factory.__doc__ = doc
    return factory


FIXED_BODIES = {
    "gp_plain": (partial(ResStage, shortcut="none"), "PlainNet: ResNet's convs without the shortcut."),
    "gp_resnet": (partial(ResStage, shortcut="identity"), "ResNet BasicBlocks with identity shortcuts."),
    "gp_resnet_sg_block": (partial(ResStage, shortcut="sg_block"), "Fig. 9(a): y = F(sg(x)) + x in every block."),
    "gp_resnet_sg_identity": (partial(ResStage, shortcut="sg_identity"),
                              "Fig. 9(b): y = F(x) + sg(x); ResNet's forward pass with PlainNet's gradient path."),
    **{f"gp_csp_{f}": (partial(CSPStage, fusion=f), f"CSP stage body, 50/50 split, fusion pattern {f!r} (Table 6).")
       for f in FUSIONS},
}
for _name, (_body, _doc) in FIXED_BODIES.items():
    register_model(_family(_body, _doc), name=_name, test_kwargs=TEST_KWARGS)


@register_model(test_kwargs=TEST_KWARGS)
def gp_prn(widths=(32, 64, 128), blocks=2, num_classes=10, input_shape=(3, 32, 32), rho=0.5, stem_stride=1):
    """Partial residual: the identity reaches only the first floor(rho*C) channels; params equal ResNet's."""
    if not 0.0 <= rho <= 1.0:
        raise ValueError(f"rho={rho!r} must lie in [0, 1]")
    return _net(lambda c, n: ResStage(c, n, "prn", rho), widths, blocks, num_classes, input_shape, stem_stride)


@register_model(test_kwargs=TEST_KWARGS)
def gp_vovnet(widths=(32, 64, 128), blocks=2, num_classes=10, input_shape=(3, 32, 32), mid_ratio=0.5, stem_stride=1):
    """VoVNet-V1: ``blocks`` OSA modules per stage, each with its own transition (m = mid_ratio * C)."""
    return _net(lambda c, n: OSAStage(c, n, _half(c, mid_ratio)), widths, blocks, num_classes, input_shape, stem_stride)


@register_model(test_kwargs=TEST_KWARGS)
def gp_vovnet_elan(widths=(32, 64, 128), blocks=2, num_classes=10, input_shape=(3, 32, 32), mid_ratio=0.5,
                   stem_stride=1):
    """VoVNet re-planned the ELAN way (Table 4): the OSA conv chain with only the stage's last transition."""
    return _net(lambda c, n: VoVELANStage(c, n, _half(c, mid_ratio)), widths, blocks, num_classes, input_shape, stem_stride)


@register_model(test_kwargs=TEST_KWARGS)
def gp_elan(widths=(32, 64, 128), blocks=2, num_classes=10, input_shape=(3, 32, 32), hidden_ratio=0.5, convs=2,
            stem_stride=1):
    """ELAN, "stack in computational block": ``blocks`` blocks of ``convs`` 3x3 convs share one transition."""
    return _net(lambda c, n: ELANStage(c, n, _half(c, hidden_ratio), convs), widths, blocks, num_classes, input_shape, stem_stride)


@register_model(test_kwargs=TEST_KWARGS)
def gp_csp_elan(widths=(32, 64, 128), blocks=2, num_classes=10, input_shape=(3, 32, 32), hidden_ratio=0.5, inner=1,
                stem_stride=1):
    """CSP-ELAN (GELAN without re-parameterisation): units of [fusion-first CSP (``inner`` blocks), CBA3]."""
    def body(c, n):
        h = _half(c, hidden_ratio)
        return CSPELANStage(c, n, h + h % 2, inner)  # the inner CSP split needs an even width
    return _net(body, widths, blocks, num_classes, input_shape, stem_stride)


class Fig7Net(nn.Module):
    """The toy nets of the paper's Fig. 7: ``layers`` Linear layers of width ``width``; layer L is next to the loss.

    plain: a chain. resnet: shortcuts join the outputs of layers 1->3, 3->5, ... (layers must be odd).
    prn: the same shortcuts carry only the first half of the channels (group a). densenet: every layer
    sees the concatenation of all earlier outputs and every output goes to the loss.
    """

    KINDS = ("plain", "resnet", "prn", "densenet")

    def __init__(self, kind: str = "resnet", layers: int = 5, width: int = 4):
        super().__init__()
        if kind not in self.KINDS:
            raise ValueError(f"kind={kind!r}; valid: {self.KINDS}")
        if kind in ("resnet", "prn") and layers % 2 == 0:
            raise ValueError(f"{kind} toy nets need an odd number of layers (1 + 2 per block), got {layers}")
        self.kind, self.c = kind, width // 2
        fan_in = [width * (i + 1) if kind == "densenet" else width for i in range(layers)]
        self.layers = nn.ModuleList(nn.Linear(f, width) for f in fan_in)

    def forward(self, x):
        if self.kind == "densenet":
            outs = [x]
            for lin in self.layers:
                outs.append(lin(torch.cat(outs, 1)))
            return torch.cat(outs[1:], 1)
        x = self.layers[0](x)
        if self.kind == "plain":
            for lin in self.layers[1:]:
                x = lin(x)
            return x
        for i in range(1, len(self.layers), 2):
            f = self.layers[i + 1](self.layers[i](x))
            c = self.c
            x = f + x if self.kind == "resnet" else torch.cat([f[:, :c] + x[:, :c], f[:, c:]], 1)
        return x


def fig7_net(kind: str, layers: int = 5, width: int = 4) -> Fig7Net:
    return Fig7Net(kind, layers, width)
