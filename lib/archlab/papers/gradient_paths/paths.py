"""Static gradient-path analysis (docs/papers/gradient_paths.md, "Path accounting"): exact timestamps from a model's fx graph.

Rule [D] (reproduces the paper's Fig. 7): in the traced DAG, conv and linear calls cost 1 and every
other op (BN, activations, pooling, add, cat, chunk, slicing) costs 0; ``detach`` cuts an edge. A
weight layer's *gradient timestamps* are the costs of all paths from the layer to the loss, counting
the layer itself; the logits stand in for the loss. Shortest/longest path are the min/max of that set,
and the number of *gradient combinations* is the number of distinct sets over all (layer, channel
group) pairs.

Why per channel: PRN's partial shortcut gives two channel groups of one conv different timestamp sets
(Fig. 7: L1a {1,3,5} vs L1b {3,5}). Each tensor in the graph therefore carries one set per channel
(dim 1), and ``cat``/``chunk``/slicing on dim 1 route those sets exactly; any op the analysis does not
know mixes all channels, which can merge groups but never changes a path length. Sets are Python ints
used as bitmasks (bit t = timestamp t): union is ``|`` and passing a layer is ``<< 1``.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass, field
from functools import reduce

import pandas as pd
import torch
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F
from torch.fx.passes.shape_prop import ShapeProp, TensorMetadata

WEIGHT_MODULES = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
                  nn.ConvTranspose3d, nn.Linear)
WEIGHT_FUNCTIONS = (F.conv1d, F.conv2d, F.conv3d, F.linear)
# Ops that act on each channel separately (cost 0, channel c of the output depends on channel c only).
CHANNELWISE_MODULES = (nn.modules.batchnorm._BatchNorm, nn.Identity, nn.Dropout,
                       nn.Flatten, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d,
                       nn.AvgPool2d, nn.MaxPool2d, nn.SiLU, nn.ReLU, nn.GELU, nn.Tanh, nn.Sigmoid,
                       nn.LeakyReLU, nn.Hardswish, nn.Mish, nn.ReLU6, nn.ELU)
CHANNELWISE_CALLS = {F.relu, F.silu, F.gelu, torch.relu, torch.tanh, torch.sigmoid, F.adaptive_avg_pool2d,
                     F.avg_pool2d, F.max_pool2d, F.dropout, torch.flatten, "relu", "sigmoid", "tanh",
                     "flatten", "mean", "contiguous", "clone", "float", "to", "amax", "sum"}
ELEMENTWISE = {operator.add, operator.sub, operator.mul, operator.truediv, torch.add, torch.sub, torch.mul,
               "add", "sub", "mul", "div"}
SPLITS = {torch.chunk, torch.split, torch.tensor_split, "chunk", "split", "tensor_split", "unbind"}


class GradientPathError(RuntimeError):
    """The model cannot be analysed (fx tracing or shape propagation failed); names the module."""


@dataclass
class PathReport:
    """Per-layer timestamp sets and the paper's network-level metrics (docs/papers/gradient_paths.md).

    ``groups``: one row per (layer, channel group) with identical timestamp sets; ``layers``: one row per
    weight layer (union over its channels), in forward order (``order``).
    """

    groups: pd.DataFrame
    layers: pd.DataFrame = field(init=False)

    def __post_init__(self):
        agg = self.groups.groupby("layer", sort=False).agg(
            order=("order", "first"), kind=("kind", "first"), channels=("channels", "sum"),
            timestamps=("timestamps", lambda s: tuple(sorted(set().union(*s)))))
        agg["shortest"] = agg.timestamps.map(min)
        agg["longest"] = agg.timestamps.map(max)
        self.layers = agg.sort_values("order").reset_index()

    @property
    def longest_shortest(self) -> int:
        """Max over layers of the per-layer shortest path (the quantity the network-level rule keeps small)."""
        return int(self.layers.shortest.max())

    @property
    def longest(self) -> int:
        return int(self.layers.longest.max())

    @property
    def combinations(self) -> int:
        return int(self.groups.timestamps.nunique())

    def summary(self) -> dict:
        return dict(layers=len(self.layers), longest_shortest=self.longest_shortest, longest=self.longest,
                    combinations=self.combinations)


def fmt_set(ts) -> str:
    """(1, 3, 5) -> 'G1+G3+G5', the paper's notation for a gradient combination."""
    return "+".join(f"G{t}" for t in ts)


def _bits(mask: int) -> tuple:
    return tuple(i for i in range(mask.bit_length()) if mask >> i & 1)


class _NamingTracer(fx.Tracer):
    """fx tracer that remembers the innermost module being traced when tracing fails."""

    def __init__(self):
        super().__init__()
        self.failed_in = None

    def call_module(self, m, forward, args, kwargs):
        try:
            return super().call_module(m, forward, args, kwargs)
        except Exception:
            if self.failed_in is None:
                self.failed_in = (self.path_of_module(m) or "<root>", type(m).__name__)
            raise


def trace(model: nn.Module, example: torch.Tensor) -> fx.GraphModule:
    """Symbolic trace plus shape propagation; failures name the module that broke tracing."""
    tracer = _NamingTracer()
    try:
        graph = tracer.trace(model)
    except Exception as e:
        where = tracer.failed_in or ("<root>", type(model).__name__)
        raise GradientPathError(
            f"torch.fx cannot trace {type(model).__name__}: module '{where[0]}' ({where[1]}) broke tracing "
            f"({type(e).__name__}: {e}). Static gradient-path analysis needs a traceable forward "
            f"(no data-dependent control flow).") from e
    gm = fx.GraphModule(tracer.root, graph)
    was_training = model.training
    try:
        with torch.no_grad():
            ShapeProp(gm.eval()).propagate(example)
    except Exception as e:
        raise GradientPathError(f"shape propagation of {type(model).__name__} on input "
                                f"{tuple(example.shape)} failed: {e}") from e
    finally:
        gm.train(was_training)
    return gm


def _channels(node) -> int | None:
    meta = node.meta.get("tensor_meta") if isinstance(node, fx.Node) else None
    if isinstance(meta, TensorMetadata):
        return meta.shape[1] if len(meta.shape) > 1 else 1
    return None


def _tensor_args(node):
    return [a for a in node.all_input_nodes if _channels(a) is not None or _is_split(a)]


def _is_split(node) -> bool:
    return isinstance(node, fx.Node) and node.target in SPLITS


def _dim(node) -> int:
    """The dim argument of cat/chunk/split/unbind, normalised to be non-negative."""
    pos = 1 if node.target in ("cat", torch.cat, "unbind") else 2
    d = node.kwargs.get("dim", node.args[pos] if len(node.args) > pos else 0)
    meta = node.meta["tensor_meta"]
    ndim = len(meta.shape) if isinstance(meta, TensorMetadata) else len(meta[0].shape)
    return d % ndim


def analyse(model: nn.Module, input_shape=(3, 32, 32)) -> PathReport:
    """Gradient timestamps of every conv/linear layer of ``model`` for one input of ``input_shape``."""
    device = next(model.parameters(), torch.zeros(0)).device
    gm = trace(model, torch.zeros(2, *input_shape, device=device))
    modules = dict(gm.named_modules())
    sets: dict = {}  # node -> list of per-channel bitmasks (for split nodes: dict piece index -> list)
    layer_sets: dict = {}  # layer name -> (kind, order, per-output-channel bitmasks)
    order = {n: i for i, n in enumerate(gm.graph.nodes)}

    def push(node, per_channel):
        if _is_split(node):
            return  # split nodes are fed through their getitem users below
        cur = sets.setdefault(node, [0] * _channels(node))
        if len(per_channel) != len(cur):  # shape mismatch we do not model: mix (path lengths stay exact)
            per_channel = [reduce(operator.or_, per_channel, 0)] * len(cur)
        sets[node] = [a | b for a, b in zip(cur, per_channel)]

    def mix(node, mask):
        for a in _tensor_args(node):
            if _is_split(a):
                for i in range(len(a.meta["tensor_meta"])):
                    _push_piece(a, i, [mask] * a.meta["tensor_meta"][i].shape[1])
            else:
                push(a, [mask] * _channels(a))

    def _push_piece(split_node, i, per_channel):
        pieces = sets.setdefault(split_node, {})
        cur = pieces.get(i, [0] * len(per_channel))
        pieces[i] = [a | b for a, b in zip(cur, per_channel)]

    for node in reversed(gm.graph.nodes):
        if node.op == "output":
            for a in node.all_input_nodes:
                if _channels(a) is not None:
                    push(a, [1] * _channels(a))  # bit 0: the logits stand in for the loss
            continue
        if node.op in ("placeholder", "get_attr"):
            continue
        if _is_split(node):  # reassemble the pieces, then hand them to the input
            meta = node.meta["tensor_meta"]
            pieces = sets.get(node, {})
            src = node.all_input_nodes[0]
            per = [pieces.get(i, [0] * m.shape[1]) for i, m in enumerate(meta)]
            if _dim(node) == 1:
                push(src, [b for p in per for b in p])
            else:
                push(src, [reduce(operator.or_, col, 0) for col in zip(*per)])
            continue
        own = sets.get(node)
        if own is None:
            continue  # no gradient reaches this node (e.g. behind a detach, or unused)
        mod = modules.get(node.target) if node.op == "call_module" else None
        target = node.target

        if isinstance(mod, WEIGHT_MODULES) or target in WEIGHT_FUNCTIONS:
            name = node.target if mod is not None else node.name
            shifted = [m << 1 for m in own]
            kind, first, prev = layer_sets.get(name, (type(mod).__name__ if mod is not None else target.__name__,
                                                     order[node], [0] * len(own)))
            layer_sets[name] = (kind, first, [a | b for a, b in zip(prev, shifted)])
            src = node.all_input_nodes[0]
            groups = getattr(mod, "groups", 1)
            if groups == 1 or _channels(src) is None:
                push(src, [reduce(operator.or_, shifted, 0)] * (_channels(src) or 1))
            else:  # grouped conv: input group g only feeds output group g
                ci, co = _channels(src) // groups, len(shifted) // groups
                push(src, [reduce(operator.or_, shifted[g * co:(g + 1) * co], 0) for g in range(groups) for _ in range(ci)])
        elif target in ("detach", torch.detach):
            continue
        elif target in ("cat", torch.cat) and _dim(node) == 1:
            start = 0
            for a in node.args[0]:
                c = _channels(a)
                push(a, own[start:start + c])
                start += c
        elif target is operator.getitem and _is_split(node.args[0]):
            _push_piece(node.args[0], node.args[1], own)
        elif target is operator.getitem:
            src, idx = node.args
            idx = idx if isinstance(idx, tuple) else (idx,)
            c = _channels(src)
            if len(idx) > 1 and isinstance(idx[1], slice) and all(i == slice(None) for i in idx[:1]):
                per = [0] * c
                for j, k in enumerate(range(c)[idx[1]]):
                    per[k] |= own[j]
                push(src, per)
            elif isinstance(idx[0], slice) and all(i in (slice(None), Ellipsis) for i in idx[1:]):
                push(src, own)
            else:
                mix(node, reduce(operator.or_, own, 0))
        elif target in ELEMENTWISE or target in ("cat", torch.cat) or isinstance(mod, CHANNELWISE_MODULES) \
                or target in CHANNELWISE_CALLS:
            args = _tensor_args(node) if target not in ("cat", torch.cat) else list(node.args[0])
            for a in args:
                same = _channels(a) == len(own)
                push(a, own if same else [reduce(operator.or_, own, 0)] * _channels(a))
        else:
            mix(node, reduce(operator.or_, own, 0))

    rows = []
    for name, (kind, first, per_channel) in layer_sets.items():
        distinct = list(dict.fromkeys(per_channel))  # channel groups in first-seen order
        for g, mask in enumerate(distinct):
            rows.append(dict(layer=name, group="abcdefghijklmnopqrstuvwxyz"[g] if len(distinct) > 1 else "",
                             kind=kind, order=first, channels=per_channel.count(mask), timestamps=_bits(mask)))
    if not rows:
        raise GradientPathError(f"{type(model).__name__} has no conv/linear layer that receives a gradient")
    groups = pd.DataFrame(rows).sort_values(["order", "group"]).reset_index(drop=True)
    groups["shortest"] = groups.timestamps.map(min)
    groups["longest"] = groups.timestamps.map(max)
    return PathReport(groups)


def analyse_registered(name: str, **kwargs) -> PathReport:
    """Analyse a registered model built with ``kwargs``, on ``input_shape`` if given, else its registered one."""
    from ...models import create_model, model_entry
    shape = tuple(kwargs.pop("input_shape", model_entry(name).input_shape))
    return analyse(create_model(name, input_shape=shape, **kwargs), shape)
