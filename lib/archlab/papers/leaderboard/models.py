"""The leaderboard's entries: every family of the four papers, as a registered model and its factory arguments.

The leaderboard registers no model of its own. Each entry names a model of another paper's package through the
registry (``archlab.models.create_model``), the factory arguments it keeps fixed, and how it is scaled to a
parameter budget (``budgets.match``): ``widths`` (stage widths ``base * s``, rounded; an ensemble's members each
at those widths) or ``filters`` (paper 2's width F, an integer). Only names and arguments of registered
factories are used, so the other papers' packages can change inside without breaking this one.

``Growable`` is the one model code here: a growing VGG (paper 4) with its insertion candidates held as spare
parameters from the start, so the shared recipe's optimizer and schedule run unchanged across the insertion
(see ``growth``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch.nn as nn

from ...models import create_model

KNOBS = ("widths", "filters")
METHODS = ("fit", "ensemble", "sensli")


@dataclass(frozen=True)
class Entry:
    """One leaderboard row family: ``model`` (registered name) built with ``fixed`` plus the scaled knob."""
    name: str
    paper: str  # "1".."4"; the residual baseline is paper 1's ResNet
    label: str
    model: str
    fixed: dict = field(default_factory=dict)
    knob: str = "widths"
    base: tuple = (16, 32, 64)  # widths at scale 1 (knob "widths"/"members"); (F,) for "filters"
    stem: bool = False  # the factory takes a stem width, scaled like the first stage
    step: int = 1  # widths are multiples of this (CSP splits every stage 50/50)
    method: str = "fit"
    note: str = ""

    def __post_init__(self):
        if self.knob not in KNOBS or self.method not in METHODS:
            raise ValueError(f"entry {self.name!r}: knob must be one of {KNOBS}, method one of {METHODS}")


def scaled(base: tuple, s: float, step: int = 1) -> tuple:
    """``base * s`` rounded to multiples of ``step``, at least ``step`` channels each: the widths of scale ``s``."""
    return tuple(step * max(1, round(b * s / step)) for b in base)


_GP = "paper 1 macro: stem, three stages (entry conv + body, blocks=2), GAP, linear"
_MP = "paper 3 backbone: stem, three stages of 2 conv-BN-ReLU, max-pool between stages, GAP, linear"
_P2 = dict(layers=4, kernel=3, activation="relu", pool=4, batchnorm=True, head="flatten")
ENTRIES = {e.name: e for e in [
    Entry("plain", "1", "PlainNet", "gp_plain", {"blocks": 2}, note=_GP + "; no shortcuts"),
    Entry("resnet", "1", "ResNet", "gp_resnet", {"blocks": 2}, note=_GP + "; the residual baseline"),
    Entry("prn", "1", "PRN", "gp_prn", {"blocks": 2, "rho": 0.5}, note=_GP + "; partial residual, rho 0.5"),
    Entry("csp", "1", "CSP (fusion)", "gp_csp_fusion", {"blocks": 2}, step=2,
          note=_GP + "; CSP stage, the fusion pattern best in the paper's Table 6"),
    Entry("vovnet", "1", "VoVNet", "gp_vovnet", {"blocks": 2, "mid_ratio": 0.5}, note=_GP + "; OSA modules"),
    Entry("elan", "1", "ELAN", "gp_elan", {"blocks": 2, "hidden_ratio": 0.5, "convs": 2}, note=_GP + "; ELAN"),
    Entry("csp_elan", "1", "CSP-ELAN", "gp_csp_elan", {"blocks": 2, "hidden_ratio": 0.5, "inner": 1},
          note=_GP + "; CSP-ELAN units"),
    Entry("sequential", "2", "Sequential (deep)", "sequential", _P2, knob="filters", base=(16,),
          note="paper 2: stem conv, L=4 residual 3x3 convs one after another, max-pool 4, flatten, linear"),
    Entry("parallel", "2", "Parallel (shallow)", "parallel", _P2, knob="filters", base=(16,),
          note="paper 2: the same 4 convs side by side (first-order truncation), same parameters"),
    Entry("mp2_cc", "3", "MP2-CC", "multipath_net", {"paths": 2, "router": "cross_connections",
                                                     "convs_per_stage": 2}, stem=True,
          note=_MP + "; 2 paths per layer, cross-connection routing"),
    Entry("mp4_cc", "3", "MP4-CC", "multipath_net", {"paths": 4, "router": "cross_connections",
                                                     "convs_per_stage": 2}, stem=True,
          note=_MP + "; 4 paths per layer, cross-connection routing"),
    Entry("sp_wide", "3", "SP-wide", "mp_plain_net", {"convs_per_stage": 2}, stem=True,
          note=_MP + "; single path widened to the budget (paper 3's widening baseline)"),
    Entry("se", "3", "SP + SE", "mp_se_net", {"convs_per_stage": 2}, stem=True,
          note=_MP + "; squeeze-excitation after every stage conv"),
    Entry("sk", "3", "SK", "mp_sk_net", {"convs_per_stage": 2}, stem=True,
          note=_MP + "; selective-kernel convs (attention floor scaled with the widths, as paper 3 does)"),
    Entry("ens2", "3", "Ens2", "mp_ensemble", {"members": 2, "convs_per_stage": 2}, stem=True, method="ensemble",
          note=_MP + "; two single-path nets trained independently, softmax-averaged"),
    Entry("sensli", "4", "SensLI VGG", "growing_vgg", {"depths": (1, 1, 1)}, method="sensli",
          note="paper 4 v2: three conv stages + the authors' 500-500 classifier, grown by one Dirac conv "
               "at the most sensitive stage halfway through training"),
]}
BASELINE = "resnet"
PAPER_NAMES = {"1": "gradient paths", "2": "deep vs shallow", "3": "multi-path routing", "4": "layer insertion"}


def entry(name: str) -> Entry:
    if name not in ENTRIES:
        raise ValueError(f"unknown entry {name!r}; valid entries: {', '.join(ENTRIES)}")
    return ENTRIES[name]


STORED_INPUT = ("input_shape", "image_size")


def factory_kwargs(e: Entry, s: float, shape: tuple) -> dict:
    """The stored ``kwargs`` of entry ``e`` at scale ``s`` (an int F for "filters") on ``shape``: the registered
    factory's arguments but for the input shape and classes, which :func:`build` adds. Paper 2's entries and the
    SensLI VGG also carry their input size (``input_shape``, ``image_size``; ``STORED_INPUT``): runs are keyed by
    their config, so those stay where they were stored, and :func:`build` checks them against the shape it is given."""
    kw = dict(e.fixed)
    if e.knob == "filters":
        return {**kw, "filters": int(s), "input_shape": tuple(shape)}
    widths = scaled(e.base, s, e.step)
    kw["widths"] = widths
    if e.stem:
        kw["stem"] = widths[0]
    if e.model == "mp_sk_net":  # SK's attention floor L=32 at widths (32, 64, 128), scaled with them (paper 3)
        kw["sk_min_hidden"] = max(4, 32 * widths[-1] // 128)
    if e.model == "growing_vgg":
        kw["image_size"] = shape[-1]  # stored, see STORED_INPUT
    return kw


def factory_args(kwargs: dict, input_shape: tuple = (3, 32, 32), num_classes: int = 10) -> dict:
    """A run's stored ``kwargs`` as the registered factory's arguments on inputs of ``input_shape`` (what the first
    layer sees: the profile's input pooling applied) with ``num_classes``: the stored input size (``STORED_INPUT``)
    replaced by ``input_shape``, refused where the two disagree."""
    shape = tuple(input_shape)
    stored_shape = tuple(kwargs.get("input_shape", shape))
    if stored_shape != shape or kwargs.get("image_size", shape[-1]) != shape[-1]:
        raise ValueError(f"kwargs {kwargs} were stored for another input than {shape}")
    kw = {k: v for k, v in kwargs.items() if k not in STORED_INPUT}
    return {**kw, "input_shape": shape, "num_classes": num_classes}


def build(model: str, kwargs: dict, num_classes: int = 10, input_shape: tuple = (3, 32, 32)) -> nn.Module:
    """The registered model of a run's stored ``kwargs`` with the data's classes, on inputs of ``input_shape``."""
    return create_model(model, **factory_args(kwargs, input_shape, num_classes))


class Growable(nn.Module):
    """A growing net plus one identity-initialised candidate per position, held as spare submodules.

    The spares are in ``parameters()`` from the start, so an optimizer built before training already holds them;
    until one is inserted it takes no part in the forward, gets no gradient and so no update (SGD and AdamW skip
    parameters without a gradient). ``insert(p)`` puts spare ``p`` into the net in place: training continues
    with the same optimizer, schedule and data order, the only change is the new layer.
    """

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net
        self.spares = nn.ModuleList(net.candidate(p) for p in range(net.num_positions))
        self.inserted: list[int] = []

    def forward(self, x):
        return self.net(x)

    def insert(self, position: int) -> None:
        self.net.grow(position, self.spares[position])
        self.inserted.append(position)
