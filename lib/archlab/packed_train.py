"""Train K models of one architecture as one packed network (``archlab.packed``), and measure whether it pays.

:func:`fit_packed` is :func:`archlab.train.fit` for K members at once: each keeps its own initialisation, its own
data order (a ``DeviceLoader`` seeded by its config's seed), BatchNorm statistics, optimizer state, schedule and
divergence handling. The loss is the sum of the K members' mean losses, so member k's gradient is its own loss's
gradient, and the optimizers here are elementwise, so one optimizer over the packed tensors is K separate ones.
Results equal K separate ``fit`` runs up to summation order (a grouped convolution sums in another order than K
small ones): tests/harness/test_packed.py checks this in float64 per family.

Members may differ in ``seed`` and ``lr`` (the lr rule of ``archlab.batched``: step at the largest rate, keep
``lr_k / lr_max`` of the step per member). Not supported: ``compile``, and dropout draws equal to separate runs.
The packed net trains in either memory format (``FORMATS``): channels_last lets the CPU's oneDNN take its fast
grouped-convolution path (paper 3's plain arm, K = 8: 1.73x one at a time against 1.34x contiguous), but not
every net gains (paper 1's PRN: 1.26x against 1.46x), so the probe measures both.

:func:`packing_speedup` measures the seeds per second of packed (in each memory format) against one-at-a-time
training side by side (same threads, batch size and step), which :func:`packing_choice` turns into the choice a
run function makes: the faster format, or None (one at a time).
:func:`train_group` is that choice and the packed training of one group, with each member's result split back
out (the papers' packed run paths supply only their model, recipe and result); :func:`split_by_packing` sorts a
sweep's configs into the architectures that train packed and the rest.
"""
from __future__ import annotations

import contextlib
import copy
import functools
import math
import time

import torch
import torch.nn.functional as F

from .batched import check_group, step_scaled
from .data import ArrayDataset, DeviceLoader
from .packed import NotPackable, Packed, member_outputs, pack, pack_inputs, unpack
from .train import CHECK_EVERY, History, TrainConfig, autocast_dtype, float_dtype, make_optimizer, make_scheduler, \
    resolve_device, upcast

__all__ = ["fit_packed", "packing_speedup", "seeded_factory", "packing_choice", "packing_pays", "speedup_pays",
           "train_group", "split_by_packing", "share_seconds", "NotPackable", "FORMATS"]

FORMATS = ("contiguous", "channels_last")  # the packed net's memory format (channels_last: 4-D inputs only)


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
    net = _in_format(pack(models, check_input=probe), memory_format)  # refuses (NotPackable) what it cannot pack
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
            x = _in_format(pack_inputs([b[0] for b in batches]), memory_format)  # [B, K*C, H, W]
            y = torch.stack([b[1] for b in batches])  # [K, B]
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                logits = member_outputs(net(x), K)  # [K, B, classes]
            loss = _member_losses(upcast(logits), y, cfg.label_smoothing)  # [K]
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


def _in_format(t, memory_format: str):
    """A module or a batch in ``memory_format`` (channels_last applies to 4-D tensors only; others are unchanged)."""
    if memory_format != "channels_last":
        return t
    if isinstance(t, torch.Tensor):
        return t.contiguous(memory_format=torch.channels_last) if t.dim() == 4 else t
    return t.to(memory_format=torch.channels_last)


def _member_losses(logits: torch.Tensor, y: torch.Tensor, smoothing: float) -> torch.Tensor:
    """``[K, B, n]`` logits, ``[K, B]`` targets -> ``[K]``: each member's mean cross-entropy, as ``fit`` takes it."""
    K, B = y.shape
    per = F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="none", label_smoothing=smoothing)
    return per.view(K, B).mean(1)


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
            out = upcast(member_outputs(net(_in_format(pack_inputs([x] * K), memory_format)), K))  # [K, B, classes]
        loss_sum += F.cross_entropy(out.flatten(0, 1), y.repeat(K), reduction="none").view(K, -1).sum(1)
        correct += (out.argmax(-1) == y).sum(1)
    net.train()
    n = len(loader.y)
    return (loss_sum / n).tolist(), (correct.double() / n).tolist()


# ----------------------------------------------------------------------------- measuring whether packing pays

def _sgd_steps(net, xs: list, ys: list, K: int, steps: int) -> None:
    """``steps`` plain training steps (forward, mean cross-entropy, backward, SGD with momentum) of ``net``: the
    same work per step on both sides of the comparison."""
    opt = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9, weight_decay=5e-4)
    for i in range(steps):
        x, y = xs[i % len(xs)], ys[i % len(ys)]
        out = net(x)
        loss = _member_losses(member_outputs(out, K), y, 0.0).sum() if K > 1 else F.cross_entropy(out, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


def packing_speedup(make_model, input_shape: tuple, batch_size: int, K: int = 8, steps: int = 20, repeats: int = 3,
                    threads: int | None = 1, num_classes: int = 10, device="cpu") -> dict:
    """Seeds per second of K members packed against one model at a time, measured side by side in this process
    on random data (``make_model(seed) -> nn.Module``) on ``device``; packed in each memory format of ``FORMATS``
    that fits the input (channels_last for images). Every side is timed ``repeats`` times, the sides taking turns,
    fastest kept (slower repeats measure other processes' load). ``threads``: torch threads for all sides
    (restored after). Returns ``{"single_s", "packed_s"}`` (seconds per step; packed in its faster format),
    ``"memory_format"`` (that format), ``"packed_s_by_format"`` and ``"speedup"`` (packed seeds/s over one at a
    time); ``speedup`` is None (and ``"error"`` says why) when the model cannot be packed. The global random
    states (Python, NumPy, torch) are as they were after it, whatever ``make_model`` seeds."""
    old = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        with _random_states_kept(device):
            return _packing_speedup(make_model, input_shape, batch_size, K, steps, repeats, threads, num_classes,
                                    device)
    finally:
        torch.set_num_threads(old)


@contextlib.contextmanager
def _random_states_kept(device):
    """Restore Python's, NumPy's and torch's (CPU, and ``device`` if a GPU) random states on exit."""
    import random

    import numpy as np

    py, npy = random.getstate(), np.random.get_state()
    dev = torch.device(device)
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else [], device_type=dev.type):
        yield
    random.setstate(py)
    np.random.set_state(npy)


def _packing_speedup(make_model, input_shape, batch_size, K, steps, repeats, threads, num_classes, device) -> dict:
    g = torch.Generator().manual_seed(0)
    xs = [torch.randn(batch_size, *input_shape, generator=g) for _ in range(2)]
    ys = [torch.randint(0, num_classes, (batch_size,), generator=g) for _ in range(2)]
    models = [make_model(s) for s in range(K)]
    try:
        net = pack(models, check_input=xs[0][:4])  # checked on the CPU, then moved
    except NotPackable as e:
        return {"K": K, "speedup": None, "error": str(e)}
    dev = torch.device(device)
    single_net, net = models[0].to(dev), net.to(dev)
    xs, ys = [x.to(dev) for x in xs], [y.to(dev) for y in ys]
    packed_y = [torch.stack([y] * K) for y in ys]
    fmts = FORMATS[: 2 if len(input_shape) == 3 else 1]  # channels_last: images only
    nets = {fmt: _in_format(copy.deepcopy(net), fmt) for fmt in fmts}
    packed_x = {fmt: [_in_format(pack_inputs([x] * K), fmt) for x in xs] for fmt in fmts}
    sides = {"single": lambda n: _sgd_steps(single_net, xs, ys, 1, n)}  # n training steps of one side
    for fmt in fmts:
        sides[fmt] = lambda n, fmt=fmt: _sgd_steps(nets[fmt], packed_x[fmt], packed_y, K, n)
    for fn in sides.values():  # warm-up: allocator, kernel selection
        fn(1)
    # taking turns, so that a change of load or clock during the probe slows every side alike
    times = {name: [] for name in sides}
    for _ in range(repeats):
        for name, fn in sides.items():
            times[name].append(_seconds(lambda: fn(steps), dev))
    per_step = {name: min(t) / steps for name, t in times.items()}
    single = per_step.pop("single")
    fmt = min(per_step, key=per_step.get)
    return {"K": K, "threads": threads, "batch_size": batch_size, "single_s": single, "packed_s": per_step[fmt],
            "memory_format": fmt, "packed_s_by_format": per_step, "speedup": K * single / per_step[fmt],
            "layout": net.layout}


def _seconds(fn, device=None) -> float:
    """Wall seconds of ``fn()``, waiting for a GPU's queued work at both ends."""
    sync = torch.cuda.synchronize if device is not None and device.type == "cuda" else (lambda: None)
    sync()
    t0 = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - t0


def seeded_factory(model: str, **kwargs):
    """``make(seed) -> nn.Module``: registered ``model`` built with ``kwargs`` after seeding with ``seed``, the
    members :func:`packing_speedup` times."""
    from .models import create_model
    from .train import seed_everything

    def make(seed):
        seed_everything(seed)
        return create_model(model, **kwargs)

    return make


@functools.lru_cache(maxsize=None)
def _cached_speedup(model: str, kwargs: str, input_shape: tuple, batch_size: int, K: int, threads: int,
                    device: str) -> dict:
    import json

    # 2 x 2 steps per side after one to warm up: under 2 s for each of paper 3's arms (0.13 s a packed step), paid
    # before any run trains; a ratio near 1 may come out either way, and then either choice costs little
    return packing_speedup(seeded_factory(model, **json.loads(kwargs)), input_shape, batch_size, K=K, steps=2,
                           repeats=2, threads=threads, device=device)


def packing_choice(model: str, kwargs: dict, input_shape: tuple, batch_size: int, K: int,
                   device="cpu") -> str | None:
    """The memory format (of ``FORMATS``) in which K members of registered ``model`` train fastest packed, where
    that gives more seeds per second than one at a time on ``device``; None where it does not. Measured there once
    per (architecture, batch size, K, threads, device) in this process (a few seconds for paper 1's and paper 3's
    cpu nets) at the current thread count, not guessed."""
    import json

    if K < 2:
        return None
    dev = torch.device(device)
    threads = torch.get_num_threads() if dev.type == "cpu" else None
    probe = _cached_speedup(model, json.dumps(kwargs, sort_keys=True), tuple(input_shape), batch_size, K, threads,
                            str(dev))
    return probe["memory_format"] if speedup_pays(probe) else None


def packing_pays(model: str, kwargs: dict, input_shape: tuple, batch_size: int, K: int, device="cpu") -> bool:
    """Whether K members of registered ``model`` train faster packed than one at a time (:func:`packing_choice`)."""
    return packing_choice(model, kwargs, input_shape, batch_size, K, device) is not None


def speedup_pays(probe: dict) -> bool:
    """Whether a :func:`packing_speedup` measurement says packing pays: packable and more seeds per second."""
    return probe["speedup"] is not None and probe["speedup"] > 1.0


def share_seconds(hist: History, K: int) -> float:
    """A member's share of its group's training seconds per epoch: the group's ``wall_time`` per epoch over ``K``."""
    return hist.wall_time / max(1, len(hist.epochs)) / K


def split_by_packing(configs: list[dict], by, pays) -> tuple[list[dict], list[dict]]:
    """``(grouped, alone)``: the configs whose value of ``by`` (a key, or a tuple of keys: what one group of seeds
    shares) packing pays for, and the rest, each in the given order. ``pays(first config with that value, how many
    configs have it) -> bool`` is asked once per value, in order of first appearance (a probe per architecture and
    group size, as :func:`packing_pays` caches it). Decided here once, the groups are not probed again."""
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
    :func:`packing_choice` measures the group slower packed on this device, or when ``fit_group`` raises
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
    :func:`packing_pays` measures it faster here, else (or if the model cannot be packed) one run at a time."""
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
