"""Train K models of one architecture at once, in one batched step.

Small models leave a GPU idle: one step of a 10k-parameter CNN is a few dozen tiny kernel launches. Stacking the
K models' parameters (``torch.func.stack_module_state``) and mapping the forward over them with ``torch.vmap``
turns K small convolutions into one grouped convolution and K optimizer updates into one, so K seeds cost
little more than one. Each model still sees exactly what :func:`archlab.train.fit` would give it: its own
initialisation, its own data order (a ``DeviceLoader`` seeded by its config's seed), the same optimizer,
schedule, precision and divergence handling. The loss is the sum of the K mean losses, so each model's gradient
is its own loss's gradient. Results equal K separate ``fit`` runs to float tolerance (tests/test_batched.py).

The models may also differ in learning rate: a grid's learning rates of one architecture are then one group too
(paper 2's full grid has one seed but three learning rates per architecture). Every optimizer and schedule here
moves a parameter by ``lr * schedule(t) * u`` where ``u`` does not depend on ``lr`` (SGD's momentum buffer,
AdamW's normalised moment plus decoupled weight decay), so the stacked optimizer steps at the group's largest
rate and each model keeps ``lr_k / lr_max`` of its step (one ``lerp`` per tensor). The largest-rate model is
then exact and the others differ from a separate run by rounding, which training amplifies as it does any change
of summation order (another thread count): up to ~1e-4 relative in the final losses of the tests' tiny runs.

``archlab.sweep.run_sweep(fn, configs, group_by="train.seed")`` is the run-store side: it trains each group with a
batched run function such as :func:`run_training_batched` and stores every member under its own key, so batched
sweeps resume and render like the others.

Limits: every model must share the architecture and all training settings but the seed and learning rate;
``callback`` and ``compile`` are not supported; dropout draws differ from separate runs (``randomness="different"``).
"""
from __future__ import annotations

import copy
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.func import functional_call, stack_module_state

from .config import ConfigError
from .data import ArrayDataset, DeviceLoader
from .train import History, TrainConfig, CHECK_EVERY, autocast_dtype, float_dtype, make_optimizer, make_scheduler, \
    resolve_device, upcast


class NotBatchable(ValueError):
    """The model cannot be trained under vmap; train it with :func:`archlab.train.fit` instead."""


BATCHABLE = ("seed", "lr")  # the TrainConfig fields the models of one batched group may differ in


def check_group(cfgs: list[TrainConfig]) -> None:
    free = dict.fromkeys(BATCHABLE)
    ref = {**cfgs[0].to_dict(), **free}
    for c in cfgs[1:]:
        diff = sorted(k for k, v in {**c.to_dict(), **free}.items() if ref[k] != v)
        if diff:
            raise ConfigError(f"batched training needs configs that differ only in {list(BATCHABLE)}; "
                              f"they differ in {diff}")
    if cfgs[0].compile != "off":
        raise ConfigError(f"batched training does not support compile={cfgs[0].compile!r}; use compile='off'")


def _stacked_optimizer(model: nn.Module, params: dict, cfg: TrainConfig) -> torch.optim.Optimizer:
    """:func:`make_optimizer`'s optimizer and parameter groups (weight decay rule included) for stacked tensors:
    built for one model, then each parameter is swapped for its stacked counterpart."""
    ref = make_optimizer(model, cfg)
    name_of = {id(p): n for n, p in model.named_parameters()}
    groups = [{**g, "params": [params[name_of[id(p)]] for p in g["params"]]} for g in ref.param_groups]
    return type(ref)(groups)


def fit_batched(models: list[nn.Module], train: ArrayDataset, val: ArrayDataset | None, cfgs, *,
                device=None) -> list[History]:
    """Train ``models`` (one architecture, K instances) together; ``cfgs`` is one TrainConfig per model (or one
    for all) differing only in ``seed`` and ``lr``. Returns one :class:`History` per model and leaves the trained
    weights in ``models``. Epoch ``seconds`` and ``wall_time`` are the group's shared time."""
    cfgs = list(cfgs) if isinstance(cfgs, (list, tuple)) else [cfgs] * len(models)
    if len(cfgs) != len(models) or not models:
        raise ValueError(f"need one config per model, got {len(cfgs)} configs for {len(models)} models")
    check_group(cfgs)
    cfg, K = cfgs[0], len(models)
    device = resolve_device(device)
    dtype = autocast_dtype(cfg, device)
    fdt = float_dtype(cfg)
    for m in models:
        m.to(device)
        if fdt == torch.float64:
            m.double()
    params, buffers = stack_module_state(models)  # new leaf tensors (K, ...) that the optimizer owns
    base = copy.deepcopy(models[0]).to("meta")  # structure only; weights come from the stacked tensors
    # No channels_last (unlike fit): vmap folds the K models into the channel dimension, one grouped convolution,
    # and reshapes the input for it anyway.
    loaders = [DeviceLoader(train, cfg.batch_size, train=True, device=device, augment=cfg.augment, seed=c.seed,
                            dtype=fdt) for c in cfgs]
    val_loader = (DeviceLoader(val, max(cfg.batch_size, 1024), train=False, device=device, dtype=fdt)
                  if val is not None else None)
    if buffers:
        _check_buffer_updates(models[0], base, next(iter(DeviceLoader(train, 8, train=False, device=device,
                                                                      dtype=fdt)))[0])
    steps = len(loaders[0])
    per_model_lr = len({c.lr for c in cfgs}) > 1
    if per_model_lr:  # step at the largest rate (the schedule still applies), then scale each model's step
        cfg = cfg.replace(lr=max(c.lr for c in cfgs))
    opt = _stacked_optimizer(models[0], params, cfg)
    sched = make_scheduler(opt, cfg, steps)
    if per_model_lr:
        stacked = [p for g in opt.param_groups for p in g["params"]]
        before = [torch.empty_like(p) for p in stacked]
        lr_k = torch.tensor([c.lr / cfg.lr for c in cfgs], device=device, dtype=torch.float64)  # cast per tensor
        weights = [lr_k.view(-1, *[1] * (p.dim() - 1)).to(p.dtype) for p in stacked]

    def loss_fn(p, b, x, y):
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            out = functional_call(base, (p, b), (x,))
        return F.cross_entropy(upcast(out), y, label_smoothing=cfg.label_smoothing), out

    train_step = torch.vmap(loss_fn, randomness="different")
    hists = [History() for _ in range(K)]
    alive = [True] * K  # models that have not diverged
    t_start, step = time.perf_counter(), 0
    for epoch in range(1, cfg.epochs + 1):
        t0 = time.perf_counter()
        base.train()
        losses = torch.empty(steps, K, device=device, dtype=fdt)
        correct = torch.zeros(K, device=device, dtype=torch.long)
        for i, batches in enumerate(zip(*loaders)):
            x = torch.stack([b[0] for b in batches])
            y = torch.stack([b[1] for b in batches])
            loss, out = train_step(params, buffers, x, y)
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()  # d(sum)/d(loss_k) = 1: each model gets its own gradient, NaNs stay in their model
            if per_model_lr:
                step_scaled(opt, stacked, before, weights)
            else:
                opt.step()
            sched.step()
            losses[i] = loss.detach()
            correct += (out.detach().argmax(-1) == y).sum(1)
            step += 1
            if (i + 1) % CHECK_EVERY == 0 and not torch.isfinite(losses[i]).any():
                break  # every model diverged (one sync per CHECK_EVERY steps, as in fit)
        done = losses[: i + 1]
        val_loss = val_acc = None
        if val_loader is not None and (epoch % cfg.eval_every == 0 or epoch == cfg.epochs):
            val_loss, val_acc = _evaluate(base, params, buffers, val_loader, dtype)
        # One transfer each for the epoch's losses, means, accuracies and finiteness, not one per model.
        host, means, hits = done.T.tolist(), done.mean(0).tolist(), correct.tolist()
        bad = (~torch.isfinite(done)).T.tolist()
        seconds = time.perf_counter() - t0
        for k in range(K):
            if not alive[k]:
                continue
            h = hists[k]
            if any(bad[k]):
                h.status, h.diverged_step = "diverged", step - (i + 1) + bad[k].index(True) + 1
                h.epochs.append({"epoch": epoch, "train_loss": math.nan, "train_acc": math.nan, "val_loss": math.nan,
                                 "val_acc": math.nan, "seconds": seconds})
                alive[k] = False
                continue
            if cfg.log_every:
                first = step - len(host[k])
                h.step_loss += [[first + j + 1, v] for j, v in enumerate(host[k]) if (first + j + 1) % cfg.log_every == 0]
            h.epochs.append({"epoch": epoch, "train_loss": means[k], "train_acc": hits[k] / ((i + 1) * loaders[k].batch_size),
                             "val_loss": math.nan if val_loss is None else val_loss[k],
                             "val_acc": math.nan if val_acc is None else val_acc[k], "seconds": seconds})
        if not any(alive):
            break
    wall = time.perf_counter() - t_start
    for h in hists:
        h.wall_time = wall
    _unstack(models, params, buffers)
    return hists


@torch.no_grad()
def step_scaled(opt, params: list, before: list, weights: list) -> None:
    """``opt.step()`` at the largest rate, then model k keeps ``before + w_k * (after - before)`` with
    ``w_k = lr_k / lr_max``: its step at ``lr_k``, since every update here is linear in the rate (module
    docstring). ``lerp`` returns ``after`` itself for ``w_k = 1``."""
    torch._foreach_copy_(before, params)
    opt.step()
    torch._foreach_lerp_(before, params, weights)
    torch._foreach_copy_(params, before)


@torch.no_grad()
def _check_buffer_updates(model: nn.Module, base: nn.Module, x: torch.Tensor) -> None:
    """Refuse models whose buffers vmap would silently leave stale: an in-place update through a *slice* of a
    buffer (e.g. batch norm on a channel slice of shared running stats) is lost on a batched tensor. One training
    forward of a copy, plain and under vmap (two stacked copies: vmap over a single model takes a path that does
    propagate such updates), must update the buffers alike. In float32 with a loose tolerance: this checks that
    updates arrive, not rounding (TF32 convolutions on a GPU differ in the third digit)."""
    plain = copy.deepcopy(model).train()
    params, buffers = stack_module_state([copy.deepcopy(model), copy.deepcopy(model)])
    plain(x)
    torch.vmap(lambda p, b, x: functional_call(base, (p, b), (x,)), in_dims=(0, 0, None))(params, buffers, x)
    for name, t in plain.named_buffers():
        if not torch.allclose(t.float().expand_as(buffers[name]), buffers[name].float(), rtol=1e-2, atol=1e-4):
            raise NotBatchable(f"{type(model).__name__}: buffer {name!r} is updated in a way torch.vmap does not "
                             f"propagate (an in-place update through a view); train this model with archlab.train.fit")


@torch.no_grad()
def _evaluate(base: nn.Module, params: dict, buffers: dict, loader: DeviceLoader, dtype) -> tuple[list, list]:
    """Per-model mean cross-entropy and accuracy; every model sees the same (unshuffled) batches."""
    def fwd(p, b, x):
        with torch.autocast(loader.device.type, dtype=dtype, enabled=dtype is not None):
            return functional_call(base, (p, b), (x,))

    batched = torch.vmap(fwd, in_dims=(0, 0, None))
    base.eval()
    K = next(iter(params.values())).shape[0]
    loss_sum = torch.zeros(K, device=loader.device, dtype=loader.dtype)
    correct = torch.zeros(K, device=loader.device, dtype=torch.long)
    for x, y in loader:
        out = upcast(batched(params, buffers, x))  # (K, B, classes)
        loss_sum += F.cross_entropy(out.flatten(0, 1), y.repeat(K), reduction="none").view(K, -1).sum(1)
        correct += (out.argmax(-1) == y).sum(1)
    base.train()
    n = len(loader.y)
    return (loss_sum / n).tolist(), (correct.double() / n).tolist()


def evaluate_batched(models: list[nn.Module], ds: ArrayDataset, *, device=None, batch_size: int = 1024,
                     dtype=None) -> tuple[list, list]:
    """:func:`archlab.train.evaluate` for K models of one architecture in one vmapped pass over ``ds``."""
    device = resolve_device(device)
    params, buffers = stack_module_state([m.to(device) for m in models])
    base = copy.deepcopy(models[0]).to("meta")
    fdt = next(iter(params.values())).dtype if next(iter(params.values())).dtype == torch.float64 else torch.float32
    return _evaluate(base, params, buffers, DeviceLoader(ds, batch_size, train=False, device=device, dtype=fdt), dtype)


@torch.no_grad()
def _unstack(models: list[nn.Module], params: dict, buffers: dict) -> None:
    for k, m in enumerate(models):
        for name, t in [*m.named_parameters(), *m.named_buffers()]:
            t.copy_((params if name in params else buffers)[name][k])


def run_training_batched(configs: list[dict]) -> list[dict]:
    """:func:`archlab.train.run_training` for configs that differ only in ``train.seed`` and ``train.lr`` (use it
    with ``run_sweep(..., group_by=("train.seed", "train.lr"))``): same config format and result keys, the whole
    group in one batched step.
    ``sec_per_epoch`` is each run's share of the group's time; ``group_size`` says how many shared it."""
    from .data import load_splits
    from .models import create_model
    from .train import count_flops, count_params, model_kwargs, seed_everything, training_result

    c0 = configs[0]
    cfgs = [TrainConfig.from_dict(c.get("train", {})) for c in configs]
    train, test = load_splits(c0["dataset"], c0.get("train_size"), c0.get("test_size"), c0.get("data_seed", 0))
    kwargs = model_kwargs(c0, train)
    models = []
    for cfg in cfgs:
        seed_everything(cfg.seed)
        models.append(create_model(c0["model"], **kwargs))
    params, flops = count_params(models[0]), count_flops(models[0], train.sample_shape)
    hists = fit_batched(models, train, test, cfgs, device=c0.get("device", "cpu"))
    return [training_result(h, params, flops, h.wall_time / max(1, len(h.epochs)) / len(hists), group_size=len(hists))
            for h in hists]
