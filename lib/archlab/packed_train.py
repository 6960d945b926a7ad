"""Train K models of one architecture as one packed network (``archlab.packed``), where that pays.

:func:`fit_packed` is :func:`archlab.train.fit` for K members at once: each keeps its own initialisation, its own
data order (a ``DeviceLoader`` seeded by its config's seed), BatchNorm statistics, optimizer state, schedule and
divergence handling. The loss is the sum of the K members' mean losses, so member k's gradient is its own loss's
gradient, and the optimizers here are elementwise, so one optimizer over the packed tensors is K separate ones.
Results equal K separate ``fit`` runs up to summation order (a grouped convolution sums in another order than K
small ones): tests/harness/test_packed.py checks this in float64 per family, in both memory formats.

Members may differ in ``seed`` and ``lr`` (the lr rule of ``archlab.batched``: step at the largest rate, keep
``lr_k / lr_max`` of the step per member). Not supported: ``compile``, and dropout draws equal to separate runs.

:func:`train_group` is the choice (``archlab.packed_probe.packing_choice``: whether packing pays on this device,
and in which memory format) and the packed training of one group, with each member's result split back out (the
papers' packed run paths supply only their model, recipe and result); :func:`split_by_packing` sorts a sweep's
configs into the architectures that train packed and the rest.
"""
from __future__ import annotations

import math
import time

import torch
import torch.nn.functional as F

from .batched import check_group, step_scaled
from .data import ArrayDataset, DeviceLoader
from .packed import FORMATS, NotPackable, Packed, in_format, member_losses, member_outputs, pack, pack_inputs, \
    unpack
from .packed_probe import packing_choice
from .train import CHECK_EVERY, History, TrainConfig, autocast_dtype, float_dtype, make_optimizer, make_scheduler, \
    resolve_device, upcast

__all__ = ["fit_packed", "train_group", "split_by_packing", "share_seconds", "run_training_packed", "NotPackable"]


def fit_packed(models: list, train: ArrayDataset, val: ArrayDataset | None, cfgs, *, device=None,
               memory_format: str = "contiguous") -> list[History]:
    """Train ``models`` (K instances of one architecture) together; ``cfgs`` is one TrainConfig per model (or one
    for all) differing only in ``seed`` and ``lr``. Returns one History per model and leaves each member's trained
    weights and BatchNorm statistics in ``models``. Raises :class:`NotPackable` before training if the model cannot
    be packed. Epoch ``seconds`` and ``wall_time`` are the group's shared time. ``memory_format``: one of
    ``FORMATS``, the packed net's layout while it trains (the members come back contiguous)."""
    if memory_format not in FORMATS:
        raise ValueError(f"memory_format = {memory_format!r}; valid: {', '.join(FORMATS)}")
    cfgs = list(cfgs) if isinstance(cfgs, (list, tuple)) else [cfgs] * len(models)
    if len(cfgs) != len(models) or not models:
        raise ValueError(f"need one config per model, got {len(cfgs)} configs for {len(models)} models")
    check_group(cfgs)
    cfg, K, device = cfgs[0], len(models), resolve_device(device)
    dtype, fdt = autocast_dtype(cfg, device), float_dtype(cfg)
    for m in models:
        m.to(device)
        if fdt == torch.float64:
            m.double()
    loaders = [DeviceLoader(train, cfg.batch_size, train=True, device=device, augment=cfg.augment, seed=c.seed,
                            dtype=fdt) for c in cfgs]
    val_loader = (DeviceLoader(val, max(cfg.batch_size, 1024), train=False, device=device, dtype=fdt)
                  if val is not None else None)
    probe = next(iter(DeviceLoader(train, 8, train=False, device=device, dtype=fdt)))[0]
    net = in_format(pack(models, check_input=probe), memory_format)  # refuses (NotPackable) what it cannot pack
    steps = len(loaders[0])
    lrs = [c.lr for c in cfgs]
    cfg = cfg.replace(lr=max(lrs))
    opt = make_optimizer(net, cfg)
    sched = make_scheduler(opt, cfg, steps)
    scaled = _lr_weights(opt, lrs, K) if len(set(lrs)) > 1 else None
    hists, alive = [History() for _ in range(K)], [True] * K
    t_start, step = time.perf_counter(), 0
    for epoch in range(1, cfg.epochs + 1):
        t0 = time.perf_counter()
        net.train()
        losses = torch.empty(steps, K, device=device, dtype=fdt)
        correct = torch.zeros(K, device=device, dtype=torch.long)
        for i, batches in enumerate(zip(*loaders)):
            x = in_format(pack_inputs([b[0] for b in batches]), memory_format)  # [B, K*C, H, W]
            y = torch.stack([b[1] for b in batches])  # [K, B]
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                logits = member_outputs(net(x), K)  # [K, B, classes]
            loss = member_losses(upcast(logits), y, cfg.label_smoothing)  # [K]
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()  # d(sum)/d(loss_k) = 1: each member gets its own gradient
            if scaled is None:
                opt.step()
            else:
                step_scaled(opt, *scaled)
            sched.step()
            losses[i] = loss.detach()
            correct += (logits.detach().argmax(-1) == y).sum(1)
            step += 1
            if (i + 1) % CHECK_EVERY == 0 and not torch.isfinite(losses[i]).any():
                break  # every member diverged
        val_res = None
        if val_loader is not None and (epoch % cfg.eval_every == 0 or epoch == cfg.epochs):
            val_res = _evaluate(net, val_loader, dtype, memory_format)
        _record(hists, alive, losses[: i + 1], correct, val_res, epoch, step, cfg, loaders[0].batch_size,
                time.perf_counter() - t0)
        if not any(alive):
            break
    for h in hists:
        h.wall_time = time.perf_counter() - t_start
    unpack(net, models)
    return hists


def _lr_weights(opt, lrs: list, K: int) -> tuple:
    """``step_scaled``'s arguments for the packed layout: member k's share of every tensor keeps ``lr_k / lr_max``
    of the step (a packed tensor is the K member tensors stacked, so the weight repeats per member block)."""
    params = [p for g in opt.param_groups for p in g["params"]]
    w = torch.tensor([lr / max(lrs) for lr in lrs], dtype=torch.float64)
    weights = [w.to(p.device).repeat_interleave(p.numel() // K).view(p.shape).to(p.dtype) for p in params]
    return params, [torch.empty_like(p) for p in params], weights


def _record(hists, alive, done, correct, val_res, epoch, step, cfg, batch, seconds) -> None:
    """One epoch's rows, as ``fit`` writes them, with one host transfer for all members."""
    host, means, hits = done.T.tolist(), done.mean(0).tolist(), correct.tolist()
    bad, n = (~torch.isfinite(done)).T.tolist(), len(done)
    for k, h in enumerate(hists):
        if not alive[k]:
            continue
        if any(bad[k]):
            h.status, h.diverged_step = "diverged", step - n + bad[k].index(True) + 1
            h.epochs.append({"epoch": epoch, "train_loss": math.nan, "train_acc": math.nan, "val_loss": math.nan,
                             "val_acc": math.nan, "seconds": seconds})
            alive[k] = False
            continue
        if cfg.log_every:
            first = step - n
            h.step_loss += [[first + j + 1, v] for j, v in enumerate(host[k]) if (first + j + 1) % cfg.log_every == 0]
        h.epochs.append({"epoch": epoch, "train_loss": means[k], "train_acc": hits[k] / (n * batch),
                         "val_loss": math.nan if val_res is None else val_res[0][k],
                         "val_acc": math.nan if val_res is None else val_res[1][k], "seconds": seconds})


@torch.no_grad()
def _evaluate(net: Packed, loader: DeviceLoader, dtype, memory_format: str = "contiguous") -> tuple[list, list]:
    """Per-member mean cross-entropy and accuracy; every member sees the same (unshuffled) batches."""
    net.eval()
    K = net.K
    loss_sum = torch.zeros(K, device=loader.device, dtype=loader.dtype)
    correct = torch.zeros(K, device=loader.device, dtype=torch.long)
    for x, y in loader:
        with torch.autocast(loader.device.type, dtype=dtype, enabled=dtype is not None):
            out = upcast(member_outputs(net(in_format(pack_inputs([x] * K), memory_format)), K))  # [K, B, classes]
        loss_sum += F.cross_entropy(out.flatten(0, 1), y.repeat(K), reduction="none").view(K, -1).sum(1)
        correct += (out.argmax(-1) == y).sum(1)
    net.train()
    n = len(loader.y)
    return (loss_sum / n).tolist(), (correct.double() / n).tolist()


def share_seconds(hist: History, K: int) -> float:
    """A member's share of its group's training seconds per epoch: the group's ``wall_time`` per epoch over ``K``."""
    return hist.wall_time / max(1, len(hist.epochs)) / K


def split_by_packing(configs: list[dict], by, pays) -> tuple[list[dict], list[dict]]:
    """``(grouped, alone)``: the configs whose value of ``by`` (a key, or a tuple of keys: what one group of seeds
    shares) packing pays for, and the rest, each in the given order. ``pays(first config with that value, how many
    configs have it) -> bool`` is asked once per value, in order of first appearance (a probe per architecture and
    group size, as ``packed_probe.packing_choice`` caches it). Decided here once, the groups are not probed again."""
    keys = (by,) if isinstance(by, str) else tuple(by)
    value = [tuple(c[k] for k in keys) for c in configs]
    groups = {}
    for v, c in zip(value, configs):
        groups.setdefault(v, []).append(c)
    ok = {v: pays(cs[0], len(cs)) for v, cs in groups.items()}
    return [c for v, c in zip(value, configs) if ok[v]], [c for v, c in zip(value, configs) if not ok[v]]


def train_group(configs: list[dict], single, train: ArrayDataset, val: ArrayDataset | None, *, train_config, build,
                result, spec=None, fit_group=fit_packed, refused: type = NotPackable,
                memory_format: str | None = None) -> list[dict]:
    """The results of ``configs`` (one architecture, differing only in seed and lr), trained together on the data
    they share by ``fit_group`` (:func:`fit_packed`; ``archlab.batched.fit_batched`` fits too), one result
    per config in order; one at a time through ``single(config) -> dict`` instead for a group of one, when
    ``packing_choice`` measures the group slower packed on this device, or when ``fit_group`` raises
    ``refused``. The paper supplies its own parts:

    - ``train_config(config) -> TrainConfig``: each member's recipe (the group's batch size is the first's);
    - ``spec(config) -> (registered model name, kwargs)``: the architecture the probe times, which also picks the
      packed net's memory format; None: no probe, the group always trains together (vmap batching, or packed as
      decided beforehand, in ``memory_format``: passed to ``fit_group`` unless None);
    - ``build(config, tcfg) -> (model, state)``: a member's seeded model (built in config order, after the probe)
      and whatever ``result`` needs of it;
    - ``result(config, state, hist, K) -> dict``: a member's stored result from its ``History``, whose times are the
      group's: ``K`` members share them (:func:`share_seconds`).

    ``val`` is evaluated while training (None: not); the device is the first config's ``"device"`` (default cpu)."""
    if len(configs) < 2:
        return [single(c) for c in configs]
    device = configs[0].get("device", "cpu")
    cfgs = [train_config(c) for c in configs]
    if spec is not None:
        name, kwargs = spec(configs[0])
        memory_format = packing_choice(name, kwargs, train.sample_shape, min(cfgs[0].batch_size, len(train)),
                                       len(configs), device)
        if memory_format is None:
            return [single(c) for c in configs]
    fmt = {} if memory_format is None else {"memory_format": memory_format}
    built = [build(c, t) for c, t in zip(configs, cfgs)]
    try:
        hists = fit_group([m for m, _ in built], train, val, cfgs, device=device, **fmt)
    except refused:
        return [single(c) for c in configs]
    return [result(c, state, h, len(configs)) for c, (_, state), h in zip(configs, built, hists)]


def run_training_packed(configs: list[dict]) -> list[dict]:
    """:func:`archlab.train.run_training` for configs that differ only in ``train.seed`` (and ``train.lr``), as an
    execution strategy: ``run_sweep(run_training, configs, group_by="train.seed", group_fn=run_training_packed)``
    stores each run under ``run_training``'s key with ``run_training``'s result keys. The group trains packed when
    ``packed_probe.packing_choice`` measures it faster here, else (or if the model cannot be packed) one run at a time."""
    from .data import load_splits
    from .models import create_model
    from .train import count_flops, count_params, model_kwargs, run_training, seed_everything, training_result

    c0 = configs[0]
    train, test = load_splits(c0["dataset"], c0.get("train_size"), c0.get("test_size"), c0.get("data_seed", 0))
    kwargs, cost = model_kwargs(c0, train), []

    def build(c, tcfg):
        seed_everything(tcfg.seed)
        model = create_model(c0["model"], **kwargs)
        if not cost:  # the first member's, as every member's
            cost.extend((count_params(model), count_flops(model, train.sample_shape)))
        return model, None

    return train_group(configs, run_training, train, test, spec=lambda c: (c["model"], kwargs), build=build,
                       train_config=lambda c: TrainConfig.from_dict(c.get("train", {})),
                       result=lambda c, _, h, K: training_result(h, *cost, share_seconds(h, K)))
