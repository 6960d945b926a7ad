"""Paper 3 (Tissera et al., "End-to-end data-dependent routing in multi-path neural networks", NCA 2023):
a VGG-like backbone with m parallel paths per layer and one switchable router between successive layers.

Only the abstracts were available, so the routers are a reconstruction [R] (docs/papers/multipath_routing.md); the
switches below reproduce every parameter count of the methods note's reference table exactly
(tests/papers/multipath_routing/test_multipath_routing_models.py):

- ``none``: independent paths (path j reads path j; the stem is copied into every path);
- ``static``: input-independent mixing, softmax(logits) over sources with logits starting at zero (uniform
  1/m). The trained arm *learns* its logits (m*n extra parameters per transition); ``learn_static=False``
  freezes them at uniform, the reference table's "MP2-static" (0 routing parameters);
- ``cross_connections`` (ICPR 2020): g = concat_i GAP(X_i); S = W2 ReLU(W1 g) (hidden max(8, C/4)); alpha =
  softmax over *sources*; Z_j = sum_i alpha_ij X_i, then one conv per path;
- ``cross_prediction_gate`` (NCA reading B): every source has its own GAP->FC->ReLU->FC predictor giving a
  softmax over *destinations*; mix before one conv per path, like cross-connections;
- ``cross_prediction_conv`` (NCA reading A, capsule-like): the same predictors, but every source also predicts
  every destination with its own conv, Y_j = sum_i c_ij conv_ij(X_i): m*n convs, the quadratic overhead the NCA
  abstract says cross-connections remove.

All m paths of a layer are one grouped convolution (paths stacked on the channel axis) and one BatchNorm,
never a Python loop over paths. The 1 -> m stem transition has a single source, so its weights are a softmax
over destinations (a softmax over one source would be constant 1); there mixing commutes with the conv, so it is
computed as one ungrouped conv to m*C channels followed by a per-path scale.

Routing weights (batch, m_in, n_out) of every transition are kept, detached, in ``model.routing`` after each
forward, and per-path GAP features of every stage in ``model.path_features``, so analyses need no second pass.

Every reshape by path count carries a member axis (``packed_members``, 1 here): ``archlab.packed`` sets it to K
when it packs K seeds of one arm into one network, and each member's paths then mix only with its own (its
routing and features gain that axis, (batch, K, ...)).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...models import register_model

ROUTERS = ("none", "static", "cross_connections", "cross_prediction_gate", "cross_prediction_conv")
PATHS = tuple(range(1, 9))  # any m in 1..8; the experiments use 2 and 4, m=1 is the single-path sanity case
GATE_INITS = ("default", "zero")  # zero: last gate layer zeroed, so routing starts uniform (a switch of the reconstruction)


def check_router(router: str, paths: int, tau: float = 1.0, pool_input: int = 1) -> None:
    """Refuse an unsupported router, path count, temperature or input pooling, naming the valid ones (before any
    module is built)."""
    if router not in ROUTERS:
        raise ValueError(f"unknown router {router!r}; valid routers: {', '.join(ROUTERS)}")
    if paths not in PATHS:
        raise ValueError(f"unsupported path count {paths!r}; valid path counts: {list(PATHS)}")
    if not tau > 0:
        raise ValueError(f"router temperature tau = {tau!r} must be > 0 (1: the plain softmax; < 1: sharper)")
    check_pool(pool_input)


def check_pool(pool_input: int) -> None:
    if not (isinstance(pool_input, int) and pool_input >= 1):
        raise ValueError(f"pool_input = {pool_input!r} must be an integer >= 1 (1: full resolution, 2: half)")


class RoutedConv(nn.Module):
    """One routing transition (m_in path tensors of C_in channels -> n_out of C_out) plus conv-BN-ReLU per path.

    ``weights_axis`` is the axis of the (batch, m_in, n_out) routing tensor that sums to one: 1 (sources) for
    cross-connections and static mixing, 2 (destinations) for cross-prediction and for the 1 -> m step.
    """

    def __init__(self, router: str, m_in: int, n_out: int, c_in: int, c_out: int, *, tau: float = 1.0,
                 reduction: int = 4, gate_init: str = "default", learn_static: bool = True):
        super().__init__()
        if router == "none" and m_in not in (1, n_out):
            raise ValueError(f"router 'none' needs m_in == n_out or m_in == 1, got {m_in} -> {n_out}")
        if gate_init not in GATE_INITS:
            raise ValueError(f"unknown gate_init {gate_init!r}; valid: {', '.join(GATE_INITS)}")
        self.router, self.m_in, self.n_out, self.tau = router, m_in, n_out, tau
        predicts = router.startswith("cross_prediction")
        self.weights_axis = 2 if (predicts or m_in == 1) else 1
        # Predict-then-weight for reading A; at m_in == 1 mixing commutes with the conv, so it is the cheap way.
        self.predict_first = router == "cross_prediction_conv" or m_in == 1
        hidden = max(8, c_in // reduction)
        self.gate = None
        if router == "static":
            logits = torch.zeros(m_in, n_out)
            if learn_static:
                self.logits = nn.Parameter(logits)
            else:
                self.register_buffer("logits", logits)
        elif router == "cross_connections":
            self.gate = nn.Sequential(nn.Linear(m_in * c_in, hidden), nn.ReLU(), nn.Linear(hidden, m_in * n_out))
        elif predicts:
            # m_in independent predictors evaluated at once as grouped 1x1 convs (one group per source).
            self.gate = nn.Sequential(nn.Conv1d(m_in * c_in, m_in * hidden, 1, groups=m_in), nn.ReLU(),
                                      nn.Conv1d(m_in * hidden, m_in * n_out, 1, groups=m_in))
        if self.gate is not None and gate_init == "zero":
            nn.init.zeros_(self.gate[-1].weight)
            nn.init.zeros_(self.gate[-1].bias)
        if self.predict_first:  # source i -> all n_out destinations: groups = m_in, n_out*C_out outputs each
            self.conv = nn.Conv2d(m_in * c_in, m_in * n_out * c_out, 3, padding=1, groups=m_in, bias=False)
        else:  # mix first, then one conv per destination path
            self.conv = nn.Conv2d(n_out * c_in, n_out * c_out, 3, padding=1, groups=n_out, bias=False)
        # BN after the sum over sources: one set of statistics per destination path (as the reference table's counts imply).
        self.bn = nn.BatchNorm2d(n_out * c_out)
        self.last_weights = None
        self.packed_members = 1  # K when archlab.packed holds K seeds side by side (the member axis below)

    def routing_weights(self, x: torch.Tensor) -> torch.Tensor | None:
        """(B, K, m_in, n_out) routing weights of the K packed members (K = 1 unpacked), normalised over
        ``weights_axis``; None for independent paths."""
        b, k = x.shape[0], self.packed_members
        if self.router == "none":
            return None
        if self.router == "static":
            scores = self.logits.reshape(k, self.m_in, self.n_out).expand(b, -1, -1, -1)
        else:
            g = F.adaptive_avg_pool2d(x, 1).flatten(1)  # concat of the m_in per-path GAP vectors
            scores = self.gate(g if self.router == "cross_connections" else g.unsqueeze(-1))
            scores = scores.reshape(b, k, self.m_in, self.n_out)
        return torch.softmax(scores.float() / self.tau, dim=self.weights_axis + 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        k = self.packed_members
        a = self.routing_weights(x)  # (B, K, m_in, n_out)
        self.last_weights = None if a is None else a.detach().squeeze(1)  # (B, m_in, n_out) unpacked
        if self.predict_first:
            y = self.conv(x).reshape(b, k, self.m_in, self.n_out, -1)  # prediction of destination j from source i
            y = y.sum(2) if a is None else (a.to(y.dtype).unsqueeze(-1) * y).sum(2)
            y = y.reshape(b, -1, h, w)
        else:
            if a is not None:  # Z_j = sum_i a_ij X_i as one batched matmul over flattened path tensors
                x = (a.to(x.dtype).transpose(-1, -2) @ x.reshape(b, k, self.m_in, -1)).reshape(b, -1, h, w)
            y = self.conv(x)
        return F.relu(self.bn(y))


class MultiPathNet(nn.Module):
    """Stem conv, then stages of routed grouped convs (max-pool between stages), then concat-GAP -> linear.

    The reference configuration (docs/papers/multipath_routing.md) is the default: stem 32, widths (32, 64, 128)
    per path, 2 convs per stage, routing at every conv transition. ``pool_input=2`` average-pools the (augmented,
    normalised) input to half resolution first: the cpu profile's 16x16 images, at a quarter of the MACs.
    """

    def __init__(self, router: str = "cross_connections", paths: int = 2, widths=(32, 64, 128), stem: int = 32,
                 convs_per_stage: int = 2, num_classes: int = 10, in_chans: int = 3, tau: float = 1.0,
                 reduction: int = 4, gate_init: str = "default", learn_static: bool = True,
                 freeze_router: bool = False, pool_input: int = 1):
        super().__init__()
        check_router(router, paths, tau, pool_input)
        self.router, self.paths, self.widths, self.pool_input = router, paths, tuple(widths), pool_input
        self.stem = nn.Sequential(nn.Conv2d(in_chans, stem, 3, padding=1, bias=False), nn.BatchNorm2d(stem),
                                  nn.ReLU(inplace=True))
        stages, c, m = [], stem, 1
        for w in widths:
            layers = []
            for _ in range(convs_per_stage):
                layers.append(RoutedConv(router, m, paths, c, w, tau=tau, reduction=reduction, gate_init=gate_init,
                                         learn_static=learn_static))
                c, m = w, paths
            stages.append(nn.ModuleList(layers))
        self.stages = nn.ModuleList(stages)
        self.head = nn.Linear(paths * c, num_classes)
        if freeze_router:  # the frozen-router control: random routers fixed at initialisation
            for p in self.router_parameters():
                p.requires_grad_(False)
        self.routing: list = []
        self.path_features: list = []
        self.packed_members = 1  # K when archlab.packed holds K seeds side by side

    def router_parameters(self):
        for layer in self.transitions():
            if layer.gate is not None:
                yield from layer.gate.parameters()
            if isinstance(getattr(layer, "logits", None), nn.Parameter):
                yield layer.logits

    def transitions(self) -> list[RoutedConv]:
        return [layer for stage in self.stages for layer in stage]

    def forward(self, x: torch.Tensor, ablate: tuple[int, int] | None = None) -> torch.Tensor:
        """Logits. ``ablate=(stage, path)`` zeroes that path's output at the end of that stage (path ablation)."""
        x = self.stem(F.avg_pool2d(x, self.pool_input) if self.pool_input > 1 else x)
        routing, feats = [], []
        for s, stage in enumerate(self.stages):
            if s:
                x = F.max_pool2d(x, 2)
            for layer in stage:
                x = layer(x)
                routing.append(layer.last_weights)
            if ablate is not None and ablate[0] == s:
                keep = torch.ones(self.paths, device=x.device, dtype=x.dtype)
                keep[ablate[1]] = 0
                x = (x.unflatten(1, (self.packed_members, self.paths, -1)) * keep.view(1, 1, -1, 1, 1, 1)).flatten(1, 3)
            feats.append(x.detach())
        self.routing = routing
        # Per-path GAP features per stage, (B, m, C) ((B, K, m, C) packed): pooled lazily here, cheap next to the convs.
        self.path_features = [F.adaptive_avg_pool2d(f, 1).flatten(1).unflatten(1, (self.packed_members, self.paths, -1))
                              .squeeze(1) for f in feats]
        return self.head(F.adaptive_avg_pool2d(x, 1).flatten(1))


@register_model(test_kwargs={"widths": (8, 16, 32), "stem": 8, "convs_per_stage": 1})
def multipath_net(router: str = "cross_connections", paths: int = 2, widths=(32, 64, 128), stem: int = 32,
                  convs_per_stage: int = 2, num_classes: int = 10, input_shape: tuple = (3, 32, 32),
                  tau: float = 1.0, reduction: int = 4, gate_init: str = "default", learn_static: bool = True,
                  freeze_router: bool = False, pool_input: int = 1) -> MultiPathNet:
    """Multi-path VGG-like net; ``router`` picks the mixing between successive layers (see module docstring)."""
    return MultiPathNet(router, paths, widths, stem, convs_per_stage, num_classes, input_shape[0], tau, reduction,
                        gate_init, learn_static, freeze_router, pool_input)
