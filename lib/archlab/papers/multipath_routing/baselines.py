"""Paper 3 baselines at matched cost, and the budget utilities that match them [R; counts D].

- ``mp_plain_net``: the single-path VGG-like base (stem, 3 stages x k conv-BN-ReLU, max-pool between stages,
  GAP -> linear). Wider (``width_mult``) and deeper (``convs_per_stage``) baselines are the same factory.
- ``mp_se_net``: SE after every stage conv. torchvision's ``SqueezeExcitation`` with max(8, C/8) squeeze
  channels reproduces the reference table's 309,802 parameters exactly (the stem carries no SE).
- ``mp_sk_net``: SK-Net style selective kernels per conv (3x3 and dilated 3x3 branches, softmax across branches
  per channel), the natural adaptive baseline since cross-connections generalise SK's m -> 1 selection to m -> n.
- ``mp_ensemble``: k independently initialised bases whose softmax probabilities are averaged. Its forward returns
  log(mean probability), a valid logit vector; the experiment trains the members independently and only then
  assembles them, so the ensemble is never trained jointly through the average.

Budget: ``count_macs`` counts conv and linear multiply-adds with torch's flop counter (the routing einsum/bmm,
BN and pooling are left out, as in the reference table of docs/papers/multipath_routing.md), and ``width_search`` finds the width multiplier that brings
a baseline within +-5% of a target in both parameters and MACs. ``pool_input`` (every arm) average-pools the input
first, as ``models.MultiPathNet`` does: the cpu profile's half-resolution images.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.ops import SqueezeExcitation

from ...budget import match_scale
from ...models import register_model
from ...train import count_flops, count_params
from .models import check_pool

BLOCKS = ("conv", "se", "sk")
_SMALL = {"widths": (8, 16, 32), "stem": 8, "convs_per_stage": 1}


def conv_bn_relu(c_in: int, c_out: int, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=dilation, dilation=dilation, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class SKConv(nn.Module):
    """Selective-kernel conv (Li et al. 2019): U = sum of a 3x3 and a dilated 3x3 branch; z = FC-BN-ReLU(GAP(U))
    with d = max(C/r, L); per-branch FC logits, softmax across branches per channel; output = sum_b a_b * branch_b."""

    def __init__(self, c_in: int, c_out: int, reduction: int = 16, min_hidden: int = 32):
        super().__init__()
        d = max(c_out // reduction, min_hidden)
        self.branches = nn.ModuleList([conv_bn_relu(c_in, c_out), conv_bn_relu(c_in, c_out, dilation=2)])
        self.squeeze = nn.Sequential(nn.Conv2d(c_out, d, 1, bias=False), nn.BatchNorm2d(d), nn.ReLU(inplace=True))
        self.select = nn.Conv2d(d, 2 * c_out, 1)

    def forward(self, x):
        ys = torch.stack([b(x) for b in self.branches], 1)  # (B, 2, C, H, W)
        z = self.squeeze(F.adaptive_avg_pool2d(ys.sum(1), 1))
        a = self.select(z).unflatten(1, (2, -1)).softmax(1)  # (B, 2, C, 1, 1)
        return (a * ys).sum(1)


def _block(kind: str, c_in: int, c_out: int, sk_min_hidden: int = 32) -> nn.Module:
    if kind == "se":
        return nn.Sequential(conv_bn_relu(c_in, c_out), SqueezeExcitation(c_out, max(8, c_out // 8)))
    if kind == "sk":
        return SKConv(c_in, c_out, min_hidden=sk_min_hidden)
    return conv_bn_relu(c_in, c_out)


def scaled(widths, stem: int, mult: float) -> tuple[tuple, int]:
    """Widths times ``mult``, rounded (sqrt(2) * (32, 64, 128) -> (45, 91, 181), stem 45, as in the reference table)."""
    return tuple(max(1, round(w * mult)) for w in widths), max(1, round(stem * mult))


class SinglePathNet(nn.Module):
    def __init__(self, block: str = "conv", widths=(32, 64, 128), stem: int = 32, convs_per_stage: int = 2,
                 width_mult: float = 1.0, num_classes: int = 10, in_chans: int = 3, sk_min_hidden: int = 32,
                 pool_input: int = 1):
        super().__init__()
        if block not in BLOCKS:
            raise ValueError(f"unknown block {block!r}; valid blocks: {', '.join(BLOCKS)}")
        check_pool(pool_input)
        widths, stem = scaled(widths, stem, width_mult)
        layers, c = [conv_bn_relu(in_chans, stem)], stem
        if pool_input > 1:
            layers.insert(0, nn.AvgPool2d(pool_input))
        for s, w in enumerate(widths):
            if s:
                layers.append(nn.MaxPool2d(2))
            for _ in range(convs_per_stage):
                layers.append(_block(block, c, w, sk_min_hidden))
                c = w
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c, num_classes)

    def forward(self, x):
        return self.head(F.adaptive_avg_pool2d(self.features(x), 1).flatten(1))


@register_model(test_kwargs=_SMALL)
def mp_plain_net(widths=(32, 64, 128), stem: int = 32, convs_per_stage: int = 2, width_mult: float = 1.0,
                 num_classes: int = 10, input_shape: tuple = (3, 32, 32), pool_input: int = 1) -> SinglePathNet:
    """Single-path base; ``width_mult`` gives the wide baselines, ``convs_per_stage`` the deeper one."""
    return SinglePathNet("conv", widths, stem, convs_per_stage, width_mult, num_classes, input_shape[0],
                         pool_input=pool_input)


@register_model(test_kwargs=_SMALL)
def mp_se_net(widths=(32, 64, 128), stem: int = 32, convs_per_stage: int = 2, width_mult: float = 1.0,
              num_classes: int = 10, input_shape: tuple = (3, 32, 32), pool_input: int = 1) -> SinglePathNet:
    return SinglePathNet("se", widths, stem, convs_per_stage, width_mult, num_classes, input_shape[0],
                         pool_input=pool_input)


@register_model(test_kwargs=_SMALL)
def mp_sk_net(widths=(32, 64, 128), stem: int = 32, convs_per_stage: int = 2, width_mult: float = 1.0,
              num_classes: int = 10, input_shape: tuple = (3, 32, 32), sk_min_hidden: int = 32,
              pool_input: int = 1) -> SinglePathNet:
    """SK-Net's floor L=32 on the attention width is sized for ImageNet widths; scale it down with the widths
    (``sk_min_hidden``) or the attention alone outgrows a reduced-width budget."""
    return SinglePathNet("sk", widths, stem, convs_per_stage, width_mult, num_classes, input_shape[0], sk_min_hidden,
                         pool_input)


class Ensemble(nn.Module):
    """Averages the members' softmax probabilities; returns log(mean p), computed stably with logsumexp."""

    def __init__(self, members):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x):
        logp = torch.stack([m(x).float().log_softmax(-1) for m in self.members])
        return torch.logsumexp(logp, 0) - math.log(len(self.members))


@register_model(test_kwargs={"members": 2, **_SMALL})
def mp_ensemble(members: int = 2, widths=(32, 64, 128), stem: int = 32, convs_per_stage: int = 2,
                width_mult: float = 1.0, num_classes: int = 10, input_shape: tuple = (3, 32, 32),
                pool_input: int = 1) -> Ensemble:
    return Ensemble([SinglePathNet("conv", widths, stem, convs_per_stage, width_mult, num_classes, input_shape[0],
                                   pool_input=pool_input) for _ in range(members)])


# ----------------------------------------------------------------------------- budget

_MAC_OPS = ("convolution", "addmm", "mm")  # conv and linear layers; bmm (the routing mix) is left out


def count_macs(model: nn.Module, input_shape=(3, 32, 32)) -> int:
    """Conv + linear multiply-adds per sample: the reference table's budget counts only these ops."""
    return count_flops(model, input_shape, ops=_MAC_OPS) // 2


def count_all_params(model: nn.Module) -> int:
    """All parameters, frozen ones included (a frozen router still costs what a trained one costs)."""
    return count_params(model, trainable_only=False)


def routing_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.router_parameters()) if hasattr(model, "router_parameters") else 0


def budget(model: nn.Module, input_shape=(3, 32, 32)) -> dict:
    return {"params": count_all_params(model), "routing_params": routing_params(model),
            "macs": count_macs(model, input_shape)}


def within(value: float, target: float, tol: float = 0.05) -> bool:
    return abs(value / target - 1) <= tol


def width_search(build, target_params: int, target_macs: int, tol: float = 0.05, lo: float = 0.25,
                 hi: float = 4.0, input_shape=(3, 32, 32)) -> tuple[float, dict]:
    """The width multiplier ``s`` (4 decimals) where ``build(s)``'s summed log-ratio of params and MACs to the
    target crosses zero (``archlab.budget.match_scale``; both counts grow with s).

    Raises if the result misses either target by more than ``tol``, since an unmatched baseline is no baseline.
    The multipliers are in the run keys: every profile's equal the earlier 20-step log bisection's (one root sits on
    the rounding tie 0.71875, a step of the 16-channel stage; both solvers end below it: 0.7187).
    """
    def gap(s):
        b = budget(build(s), input_shape)
        return math.log(b["params"] / target_params) + math.log(b["macs"] / target_macs)

    s = round(match_scale(gap, 0.0, lo, hi, xtol=1e-7, clip=True), 4)
    b = budget(build(s), input_shape)
    if not (within(b["params"], target_params, tol) and within(b["macs"], target_macs, tol)):
        raise ValueError(f"width search: best multiplier {s} gives {b}, not within {tol:.0%} of "
                         f"params {target_params} and MACs {target_macs}")
    return s, b
