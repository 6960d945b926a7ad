"""Pack K models of one architecture into one network: K seeds train in one step, on a CPU too.

On a CPU a tiny convnet's step is per-op overhead, not arithmetic (paper 1's E2 net: ~6 GFLOP/s on one core), and
``archlab.batched``'s vmap adds overhead of its own (0.87x one at a time). Packing builds one *ordinary* module
whose every layer holds the K members side by side, member-major along the channel dimension:

- ``ConvNd(ci, co, groups=g)`` -> ``ConvNd(K*ci, K*co, groups=K*g)``: member k's groups are groups k*g..k*g+g-1, so
  its outputs see only its own inputs and weights;
- ``BatchNormNd(C)`` -> ``BatchNormNd(K*C)``: batch statistics and running statistics are per channel, so each
  member keeps its own;
- ``Linear(i, o)`` -> :class:`PackedLinear`: a batched matmul over stacked ``(K, o, i)`` weights (block diagonal);
- activations, pooling, adds, ``flatten(1)`` and ``detach`` act per channel and work unchanged;
- channel concatenation and splitting (``torch.cat`` / ``chunk`` / ``split`` / ``x[:, a:b]`` on dim 1: CSP, ELAN,
  VoVNet, PRN) would mix members, so :class:`ChannelLayout` rewrites them to act within each member's block;
- a module whose forward reshapes by its own structure (paper 3's routers: ``(B, m_in, n_out)`` weights mixing
  ``m_in`` path tensors) declares ``packed_members = 1`` and writes those reshapes with a member axis;
  :func:`pack` sets ``packed_members = K`` on it and stacks its own tensors (a routing logit table ``(m, n)`` ->
  ``(K, m, n)``; a vector stays a vector, ``(K*n,)``).

Input: K minibatches ``[B, C, H, W]`` concatenated along channels, ``[B, K*C, H, W]``; output ``[B, K*classes]``.
Every packed tensor is the K member tensors stacked and reshaped (:func:`unpack` reverses it), so a packed
parameter's ``dim() > 1`` exactly when the member's is (``make_optimizer``'s weight-decay rule holds), and an
elementwise optimizer (SGD with momentum / Nesterov / weight decay, AdamW) on the packed tensors is K separate
optimizers; a frozen member parameter stays frozen. Anything else (LayerNorm, attention, ``reshape`` by channel
count in a module that does not declare ``packed_members``) is refused by :func:`pack`, which compares the packed
forward with the K separate ones before training: packing a model either computes exactly the members' forward
or raises :class:`NotPackable` (then use ``archlab.batched`` or ``fit``).
"""
from __future__ import annotations

import copy

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
NORM = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


class NotPackable(ValueError):
    """The model cannot be packed; train it with ``archlab.batched`` or ``archlab.train.fit`` instead."""


class PackedLinear(nn.Module):
    """K ``Linear(i, o)`` as one block-diagonal layer: ``[B, K*i] -> [B, K*o]``. The bias is flat ``(K*o,)``, a
    vector like each member's, so the weight-decay rule (matrices only) is unchanged."""

    def __init__(self, K: int, i: int, o: int, bias: bool, device=None, dtype=None):
        super().__init__()
        self.K, self.i, self.o = K, i, o
        self.weight = nn.Parameter(torch.empty(K, o, i, device=device, dtype=dtype))
        self.bias = nn.Parameter(torch.empty(K * o, device=device, dtype=dtype)) if bias else None

    def forward(self, x):  # [B, K*i]
        y = torch.einsum("bki,koi->bko", x.unflatten(-1, (self.K, self.i)), self.weight).flatten(-2)  # [B, K*o]
        return y if self.bias is None else y + self.bias


def _packed_leaf(m: nn.Module, K: int) -> nn.Module:
    """An empty packed twin of one conv, batch-norm or linear layer (its tensors are filled by :func:`_load`)."""
    ref = next(iter([*m.parameters(), *m.buffers()]), None)
    kw = {} if ref is None else dict(device=ref.device, dtype=ref.dtype)
    if isinstance(m, CONV):
        new = type(m)(K * m.in_channels, K * m.out_channels, m.kernel_size, m.stride, m.padding, m.dilation,
                      K * m.groups, m.bias is not None, m.padding_mode, **kw)
    elif isinstance(m, NORM):
        new = type(m)(K * m.num_features, m.eps, m.momentum, m.affine, m.track_running_stats, **kw)
    else:
        new = PackedLinear(K, m.in_features, m.out_features, m.bias is not None, **kw)
    for name, p in m.named_parameters(recurse=False):  # a frozen layer (paper 3's frozen router) stays frozen
        getattr(new, name).requires_grad_(p.requires_grad)
    return new


def _own_tensors(m: nn.Module) -> list:
    return [*m.named_parameters(recurse=False), *m.named_buffers(recurse=False)]


@torch.no_grad()
def _load(dst: nn.Module, members: list[nn.Module]) -> None:
    """Each packed tensor = the K member tensors stacked and reshaped; shared counters (BatchNorm's
    ``num_batches_tracked``, equal in every member) are copied."""
    for name, t in _own_tensors(dst):
        src = [dict(_own_tensors(m))[name] for m in members]
        t.copy_(src[0] if t.dim() == 0 else torch.stack(src).reshape(t.shape))


def pack(models: list[nn.Module], check_input: torch.Tensor | None = None) -> "Packed":
    """One :class:`Packed` module holding ``models`` (K copies of one architecture, each with its own weights).

    ``check_input`` (one sample batch ``[B, C, ...]`` of the members' input) runs the forward check: the packed
    output on K copies of it must equal the K members' outputs (float64 copies, training mode), and decides whether
    the channel-layout rewrite is needed. Without it the rewrite is always on (slower, not less exact)."""
    K = len(models)
    if K < 1 or len({type(m) for m in models}) != 1:
        raise NotPackable("need K >= 1 models of one architecture")
    net = copy.deepcopy(models[0])
    for name, m in list(net.named_modules()):
        if isinstance(m, (*CONV, *NORM, nn.Linear)):
            new = _packed_leaf(m, K)
            _load(new, [mm.get_submodule(name) for mm in models])
            _set(net, name, new.train(m.training))
        elif hasattr(m, "packed_members"):  # keeps each member's block itself: told K, its own tensors stacked
            _stack_own(m, [mm.get_submodule(name) for mm in models])
            m.packed_members = K
        elif _own_tensors(m):  # LayerNorm, a bare nn.Parameter, ...: no rule says how to stack them
            raise NotPackable(f"{name or 'the model'} ({type(m).__name__}) has no packed form")
    packed = Packed(net, K, layout=True)
    if check_input is not None:
        packed.layout = _uses_channel_ops(models[0], check_input)
        _check_forward(models, packed, check_input)
    return packed


@torch.no_grad()
def _stack_own(dst: nn.Module, members: list[nn.Module]) -> None:
    """A member-aware module's own parameters and buffers become the K members' stacked: ``(K, *shape)`` for a
    matrix or more, flat ``(K*n,)`` for a vector or scalar (so the weight-decay rule, by ``dim()``, is unchanged)."""
    def stacked(name):
        t = torch.stack([getattr(m, name) for m in members])
        return t if t.dim() > 2 else t.flatten()

    for name, p in list(dst.named_parameters(recurse=False)):
        dst._parameters[name] = nn.Parameter(stacked(name), requires_grad=p.requires_grad)
    for name in [n for n, _ in dst.named_buffers(recurse=False)]:
        dst._buffers[name] = stacked(name)


def _set(root: nn.Module, name: str, new: nn.Module) -> None:
    parent, _, leaf = name.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, leaf, new)


class Packed(nn.Module):
    """K members as one network. ``forward(x)``: ``x`` is ``[B, K*C, ...]`` (member k's input in channels
    k*C..k*C+C-1, see :func:`pack_inputs`), the output ``[B, K*classes]``."""

    def __init__(self, net: nn.Module, K: int, layout: bool):
        super().__init__()
        self.net, self.K, self.layout = net, K, layout

    def forward(self, x):
        if not self.layout:
            return self.net(x)
        with ChannelLayout(self.K):
            return self.net(x)


FORMATS = ("contiguous", "channels_last")  # a packed net's memory format (channels_last: 4-D inputs only)


def in_format(t, memory_format: str):
    """A module or a batch in ``memory_format`` (channels_last applies to 4-D tensors only; others are unchanged)."""
    if memory_format != "channels_last":
        return t
    if isinstance(t, torch.Tensor):
        return t.contiguous(memory_format=torch.channels_last) if t.dim() == 4 else t
    return t.to(memory_format=torch.channels_last)


def pack_inputs(xs) -> torch.Tensor:
    """K minibatches ``[B, C, ...]`` (a list or a ``[K, B, C, ...]`` tensor) -> ``[B, K*C, ...]``."""
    return torch.cat(list(xs), 1)


def member_outputs(out: torch.Tensor, K: int) -> torch.Tensor:
    """``[B, K*n]`` -> ``[K, B, n]``: each member's logits."""
    return out.unflatten(1, (K, -1)).transpose(0, 1)


def member_losses(logits: torch.Tensor, y: torch.Tensor, smoothing: float = 0.0) -> torch.Tensor:
    """``[K, B, n]`` logits, ``[K, B]`` targets -> ``[K]``: each member's mean cross-entropy, as ``fit`` takes it."""
    K, B = y.shape
    per = F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="none", label_smoothing=smoothing)
    return per.view(K, B).mean(1)


@torch.no_grad()
def unpack(packed: Packed, models: list[nn.Module]) -> None:
    """Write member k's share of every packed tensor back into ``models[k]`` (weights and BatchNorm statistics)."""
    mods = dict(packed.net.named_modules())
    for k, m in enumerate(models):
        for name, sub in m.named_modules():
            for tname, t in _own_tensors(sub):
                p = dict(_own_tensors(mods[name]))[tname]
                t.copy_(p if p.dim() == 0 else p.reshape(packed.K, *t.shape)[k])


class ChannelLayout(TorchFunctionMode):
    """Channel concatenation and splitting within each member: under it, ``torch.cat``, ``chunk``, ``split`` and
    indexing along dim 1 of a ``[B, K*C, ...]`` tensor act on the ``[B, K, C, ...]`` view's dim 2, so member k's
    channels stay in block k. Everything else passes through. ``used`` records whether any op needed it."""

    def __init__(self, K: int):
        super().__init__()
        self.K, self.used = K, False

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        if name in ("cat", "concat", "concatenate"):
            ts, dim = args[0], kwargs.get("dim", args[1] if len(args) > 1 else 0)
            if ts and dim % ts[0].dim() == 1:
                self.used = True
                return torch.cat([t.unflatten(1, (self.K, -1)) for t in ts], 2).flatten(1, 2)
        elif name in ("chunk", "split", "tensor_split"):
            dim = kwargs.get("dim", args[2] if len(args) > 2 else 0)
            if dim % args[0].dim() == 1:
                self.used = True
                parts = func(args[0].unflatten(1, (self.K, -1)), args[1], 2)
                return tuple(p.flatten(1, 2) for p in parts)
        elif name == "__getitem__" and isinstance(args[1], tuple) and len(args[1]) > 1:
            idx = args[1]
            if not all(isinstance(i, slice) for i in idx[:2]) or idx[0] != slice(None):
                raise NotPackable(f"indexing {idx!r} in a packed model (channel slices only)")
            if idx[1] != slice(None):
                self.used = True
                return args[0].unflatten(1, (self.K, -1))[(slice(None), slice(None), *idx[1:])].flatten(1, 2)
        return func(*args, **kwargs)


def _uses_channel_ops(model: nn.Module, x: torch.Tensor) -> bool:
    """Whether the forward concatenates, splits or indexes channels (then the packed forward needs
    :class:`ChannelLayout`; plain nets run without its per-op Python cost)."""
    m = copy.deepcopy(model).eval()
    with torch.no_grad(), ChannelLayout(1) as mode:
        try:
            m(x.to(next(m.parameters()).dtype))
        except RuntimeError as e:
            raise NotPackable(f"{type(model).__name__}: its forward fails on the check input ({e})") from e
    return mode.used


@torch.no_grad()
def _check_forward(models: list[nn.Module], packed: Packed, x: torch.Tensor) -> None:
    """The packed forward must reproduce every member's forward (training mode, batch statistics, float64 copies, so
    only a layout error, never rounding, can fail it): this is what vouches for ops no rule above covers."""
    x = x.double()
    ref = torch.stack([copy.deepcopy(m).double().train()(x) for m in models])  # [K, B, n]
    try:
        got = member_outputs(copy.deepcopy(packed).double().train()(pack_inputs([x] * packed.K)), packed.K)
    except RuntimeError as e:  # a shape that assumed C channels where there are K*C
        raise NotPackable(f"{type(models[0]).__name__}: the packed forward fails ({str(e).splitlines()[0]})") from e
    if got.shape != ref.shape or not torch.allclose(got, ref, rtol=1e-8, atol=1e-10):
        raise NotPackable(f"{type(models[0]).__name__}: the packed forward differs from the members' "
                          f"(an op that mixes channels across members)")
