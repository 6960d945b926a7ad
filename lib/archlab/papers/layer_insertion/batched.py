"""Many seeds of one spirals net trained at once: the same schedule as ``loop.train_growing``, one batched step.

The spirals studies train nets of 27-80 parameters on 450 points, so one step is a handful of tiny matrix products
and the run time is Python and dispatch overhead, paid once per seed per step. Here the K seeds' parameters are
stacked (``torch.func.stack_module_state``) and one ``torch.vmap``-ed forward and backward serves all of them, so K
seeds cost about one. Everything else is what ``train_growing`` does for each seed on its own: its own
initialisation and data order (its own loader), plain SGD (the spirals' optimizer: no momentum, no weight decay),
the same insertion step (``insertion.insertion_step``, per seed: positions may differ), the same cadence of logged
losses, sensitivities and evaluations, and exact FLOPs (one step per architecture measured under
FlopCounterMode, as ``FlopMeter`` caches it). A seed that diverges keeps its curve up to the diverging window and is
dropped at the next phase boundary, as ``train_growing`` stops there.

Each per-seed module keeps parameters that share storage with the stacked tensors, so the per-seed work between
steps (sensitivities, evaluations, insertion) runs on ordinary modules without copies. Seeds whose nets differ in
shape after insertion (unequal hidden widths inserted at different positions) are trained in separate stacks.

The sum of the K losses has each seed's own gradient, so the arithmetic is each seed's; only the order of the
floating-point reductions differs from one-at-a-time training (tests/papers/layer_insertion compare both in
float64).
"""
from __future__ import annotations

import copy
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.func import stack_module_state
from torch.utils.flop_counter import FlopCounterMode

from .insertion import check_schedule, insertion_step
from .loop import FlopMeter, new_log
from .models import Dense, ResidualBlock
from .sensitivity import sensitivities


def _signature(model) -> tuple:
    return tuple((n, tuple(p.shape)) for n, p in model.named_parameters())


def _share(models) -> dict:
    """Stack the models' parameters into leaves (K, ...) and point each model's parameters at its slice."""
    params, _ = stack_module_state(models)
    for k, m in enumerate(models):
        for name, p in params.items():
            owner, attr = m.get_submodule(name.rpartition(".")[0]), name.rpartition(".")[2]
            setattr(owner, attr, nn.Parameter(p[k].detach()))
    return params


def stacked_logits(model, params: dict, x: torch.Tensor) -> torch.Tensor:
    """``model``'s forward for K stacked parameter sets: ``params`` name -> (K, ...), ``x`` (K, N, d) or a shared
    (N, d); returns (K, N, classes).

    Written out per layer type (``Dense``, ``ResidualBlock``, the head) rather than through ``torch.vmap``, whose
    per-operation dispatch costs more than these nets' arithmetic; tests check it against the modules' forward.
    """
    def linear(name, h):
        out = h @ params[f"{name}.weight"].mT
        bias = params.get(f"{name}.bias")
        return out if bias is None else out + bias.unsqueeze(-2)

    h = x
    for i, layer in enumerate(model.hidden):
        if isinstance(layer, Dense):
            h = layer.act(linear(f"hidden.{i}.linear", h))
        elif isinstance(layer, ResidualBlock):
            h = h + layer.h * linear(f"hidden.{i}.outer", torch.tanh(linear(f"hidden.{i}.inner", h)))
        else:
            raise TypeError(f"stacked_logits has no batched form of {type(layer).__name__}; train this net with "
                            f"loop.train_growing")
    return linear("head", h)


def _step_flops(model, x, y) -> int:
    """FLOPs of one training step (forward + backward) of one net, as ``FlopMeter`` counts it in ``train_growing``."""
    m = copy.deepcopy(model)
    with FlopCounterMode(display=False) as fc:
        F.cross_entropy(m(x), y).backward()
    return fc.get_total_flops()


def _window_means(losses: torch.Tensor, log_every: int) -> list[list[float]]:
    """Per seed, the mean loss of each full window of ``log_every`` steps (the steps' losses are (steps, K))."""
    n = losses.shape[0] // log_every * log_every
    means = losses[:n].view(-1, log_every, losses.shape[1]).sum(1) / log_every if log_every > 1 else losses[:n]
    return means.T.tolist()


class _Seeds:
    """The per-seed state of a batched run: models, loaders, generators, meters, logs, steps within a window."""

    def __init__(self, models, loaders, seeds):
        self.models, self.loaders = list(models), list(loaders)
        self.gens = [torch.Generator().manual_seed(s) for s in seeds]
        self.meters = [FlopMeter() for _ in models]
        self.logs = [new_log() for _ in models]
        self.active = list(range(len(self.models)))

    def diverged(self, k: int) -> bool:
        return self.logs[k]["status"] == "diverged"

    def batches(self, group: list[int], start: int, end: int, full: tuple | None):
        """Steps of epochs ``start..end``: ``(x, y, per_seed)``; a full batch is one shared tensor (the mean loss
        does not depend on the order of the samples), minibatches come from each seed's own loader, stacked."""
        for _ in range(start, end):
            if full is not None:
                yield full[0], full[1], False
                continue
            for batches in zip(*(self.loaders[k] for k in group)):
                yield torch.stack([b[0] for b in batches]), torch.stack([b[1] for b in batches]), True


def _train_phase(st: _Seeds, group: list[int], start: int, end: int, step0: int, lr: float, *, log_every: int,
                 sens_every: int, evaluate, eval_every: int, full: tuple | None) -> None:
    """Train the seeds ``group`` (one architecture) for epochs ``start..end`` in one stack, filling their logs."""
    models = [st.models[k] for k in group]
    params = _share(models)
    leaves = list(params.values())
    steps = (end - start) * len(st.loaders[group[0]])
    losses = torch.empty(steps, len(group), dtype=leaves[0].dtype)
    flops = torch.zeros(steps, dtype=torch.float64)
    per_step, step = {}, step0
    for i, (x, y, per_seed) in enumerate(st.batches(group, start, end, full)):
        seed_batch = (lambda j: (x[j], y[j])) if per_seed else (lambda j: (x, y))  # noqa: E731
        # per-seed diagnostics on the modules, which share the stacked weights: not counted, no update
        if sens_every and step % sens_every == 0:
            for j, k in enumerate(group):
                st.logs[k]["sens"].append({"step": step, "s": sensitivities(st.models[k], seed_batch(j)).tolist()})
        if evaluate is not None and eval_every and step % eval_every == 0:
            done = int(flops[:i].sum())
            for k in group:
                st.logs[k]["evals"].append({"step": step, "flops": st.meters[k].total + done, **evaluate(st.models[k])})
        n = y.shape[-1]
        if n not in per_step:
            per_step[n] = _step_flops(models[0], *seed_batch(0))
        flops[i] = per_step[n]
        logits = stacked_logits(models[0], params, x)
        target = y if per_seed else y.expand(len(group), n)
        loss = F.cross_entropy(logits.flatten(0, 1), target.flatten(), reduction="none").view(len(group), n).mean(1)
        grads = torch.autograd.grad(loss.sum(), leaves)
        with torch.no_grad():
            for p, g in zip(leaves, grads):
                p.add_(g, alpha=-lr)
        losses[i] = loss.detach()
        step += 1
    _log_phase(st, group, losses, flops, step0, log_every)


def _log_phase(st: _Seeds, group: list[int], losses, flops, step0: int, log_every: int) -> None:
    """Append the phase's windowed losses and cumulative FLOPs to each seed's log; mark and cut divergence."""
    cum = torch.cumsum(flops, 0)
    ends = list(range(log_every - 1, losses.shape[0] - losses.shape[0] % log_every, log_every))
    for j, k in enumerate(group):
        log, meter = st.logs[k], st.meters[k]
        for t, mean in zip(ends, _window_means(losses, log_every)[j]):
            log["step"].append(step0 + t), log["loss"].append(mean), log["flops"].append(meter.total + int(cum[t]))
            if not math.isfinite(mean):
                log["status"], log["diverged_step"] = "diverged", step0 + t
                cut = step0 + t
                log["evals"] = [e for e in log["evals"] if e["step"] <= cut]
                log["sens"] = [e for e in log["sens"] if e["step"] <= cut]
                break
        meter.total += int(cum[-1]) if len(cum) else 0


def _full_batch(loaders) -> tuple | None:
    """The whole training set as one unshuffled batch when every loader yields it in one step (full-batch GD)."""
    if any(len(ld) != 1 or ld.batch_size != len(ld.y) for ld in loaders):
        return None
    ld = loaders[0]
    return ld.transform(ld.x), ld.y


def train_seeds(models, loaders, seeds, *, epochs: int, lr: float, insert_at=(), select="max", factor: float = 1.0,
                log_every: int = 1, sens_every: int = 0, evaluate=None, eval_every: int = 0, probe_lr: float = 0.0):
    """``train_growing`` for K seeds at once (plain SGD, the ``fro`` sensitivity); returns ``[(model, log)]``.

    ``models`` share one architecture; ``loaders[k]`` is seed k's loader and ``seeds[k]`` its seed (the generator
    of a ``random`` position). Every other argument means what it means in ``train_growing``.
    """
    if not (len(models) == len(loaders) == len(seeds)) or not models:
        raise ValueError(f"need one loader and seed per model: {len(models)} models, {len(loaders)} loaders, "
                         f"{len(seeds)} seeds")
    if len({_signature(m) for m in models}) != 1:
        raise ValueError("train_seeds needs models of one architecture; train others with loop.train_growing")
    check_schedule(insert_at, epochs, select, models[0].num_positions)
    bounds = [0, *insert_at, epochs]
    ragged = [b - a for a, b in zip(bounds[:-1], bounds[1:]) if (b - a) * len(loaders[0]) % log_every]
    if ragged:
        raise ValueError(f"log_every={log_every} must divide the steps of every phase (phases of {ragged} epochs x "
                         f"{len(loaders[0])} steps do not): a window across an insertion would mix two nets")
    st = _Seeds(models, loaders, seeds)
    full = _full_batch(loaders)
    for phase, (start, end) in enumerate(zip(bounds[:-1], bounds[1:])):
        st.active = [k for k in st.active if not st.diverged(k)]
        step = start * len(loaders[0])
        if phase > 0:
            for k in st.active:
                st.models[k] = insertion_step(st.models[k], st.loaders[k], select, st.gens[k], st.meters[k],
                                              st.logs[k], step, probe_lr)
            lr = lr * factor
        shapes = {}
        for k in st.active:
            shapes.setdefault(_signature(st.models[k]), []).append(k)
        for group in shapes.values():
            _train_phase(st, group, start, end, step, lr, log_every=log_every, sens_every=sens_every,
                         evaluate=evaluate, eval_every=eval_every, full=full)
    for k in st.active:
        if not st.diverged(k):
            if evaluate is not None:
                st.logs[k]["evals"].append({"step": epochs * len(loaders[k]), "flops": st.meters[k].total,
                                            **evaluate(st.models[k])})
            st.logs[k]["lr_final"] = lr
    return list(zip(st.models, st.logs))
