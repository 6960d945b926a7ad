"""One training loop for every supervised experiment in the companion.

Design choices, all for thousands of small runs:
- data stays on the device (:class:`archlab.data.DeviceLoader`), so a step never waits on the host;
- no host-device sync inside an epoch: losses and accuracies accumulate as device tensors and are
  read once per epoch (a NaN check every ``CHECK_EVERY`` steps is the only other sync);
- on CUDA: bf16 autocast, channels_last for conv nets, fused optimizers; on CPU: float32, same code;
- a NaN/inf loss stops the run and marks it ``diverged`` at the exact step instead of raising, so a
  sweep records it and goes on.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import os
import random
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import Config, ConfigError, choices
from .cudapaths import uses_cuda_paths
from .data import ArrayDataset, DeviceLoader

CHECK_EVERY = 64  # steps between divergence checks (each check is one host-device sync)


@dataclass(frozen=True)
class TrainConfig(Config):
    epochs: int = 5
    batch_size: int = 256
    optimizer: str = field(default="adamw", metadata=choices("adamw", "sgd"))
    lr: float = 1e-3
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 0.0
    schedule: str = field(default="constant", metadata=choices("constant", "cosine", "onecycle"))
    warmup_epochs: float = 0.0
    label_smoothing: float = 0.0
    augment: bool = False
    seed: int = 0
    log_every: int = 0  # record the training loss every n steps (0: per epoch only)
    # fp64: for tests that compare two computations equal in exact arithmetic (batched vs separate runs), where
    # float32 rounding amplified by training would make any tolerance machine-dependent.
    precision: str = field(default="auto", metadata=choices("auto", "fp32", "bf16", "fp64"))
    eval_every: int = 1  # evaluate on the validation set every n epochs (and always after the last)
    # torch.compile the model for training: "reduce-overhead" adds CUDA graphs, the lever for small launch-bound
    # models at small batches. Off by default: compiling costs seconds to minutes and pays off only over many
    # epochs or many runs of one architecture (benchmarked in bench/).
    compile: str = field(default="off", metadata=choices("off", "default", "reduce-overhead", "max-autotune"))

    def validate(self):
        for name in ("epochs", "batch_size", "eval_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"TrainConfig.{name} = {getattr(self, name)} must be >= 1")
        if not self.lr > 0:
            raise ConfigError(f"TrainConfig.lr = {self.lr} must be > 0")
        if not 0 <= self.warmup_epochs < self.epochs:
            raise ConfigError(f"TrainConfig.warmup_epochs = {self.warmup_epochs} must be in [0, epochs={self.epochs})")
        if not 0 <= self.label_smoothing < 1:
            raise ConfigError(f"TrainConfig.label_smoothing = {self.label_smoothing} must be in [0, 1)")


@dataclass
class History:
    """What one training run produced; plain data so it round-trips through JSON in the run store."""

    epochs: list = field(default_factory=list)  # dicts: epoch, train_loss, train_acc, val_loss, val_acc, seconds
    status: str = "ok"  # ok | diverged
    diverged_step: int | None = None
    step_loss: list = field(default_factory=list)  # [step, loss] pairs when log_every > 0
    wall_time: float = 0.0

    @property
    def final(self) -> dict:
        return self.epochs[-1] if self.epochs else {}

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "History":
        return cls(**{f.name: d[f.name] for f in dataclasses.fields(cls) if f.name in d})

    def frame(self):
        import pandas as pd

        return pd.DataFrame(self.epochs)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def count_params(model: nn.Module, trainable_only: bool = True) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def count_flops(model: nn.Module, input_shape: tuple, device=None, ops: set | None = None) -> int:
    """Forward FLOPs for one sample (2 per multiply-add), counted by ``torch.utils.flop_counter``.

    Runs a batch of two in eval mode (batch norm needs no batch statistics there) and halves the count.
    ``ops`` restricts the count to those aten ops (e.g. ``{"convolution", "addmm", "mm"}`` for the
    conv/linear MACs papers usually quote); default: every op the counter knows.
    """
    from torch.utils.flop_counter import FlopCounterMode

    if device is None:
        device = next(iter(model.parameters()), torch.empty(0)).device
    was_training = model.training
    model.eval()
    x = torch.zeros((2, *input_shape), device=device)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    model.train(was_training)
    if ops is None:
        return counter.get_total_flops() // 2
    per_op = counter.get_flop_counts().get("Global", {})
    return sum(v for op, v in per_op.items() if str(op).split(".")[1] in ops) // 2


def model_cost(name: str, input_shape: tuple = (3, 32, 32), /, **kwargs) -> dict:
    """``{"params", "flops"}`` of a registered model built on the meta device (no memory, no init) and counted on
    inputs of ``input_shape``: for matching widths to a budget and projecting grids, where thousands of models are
    only counted. The factory gets ``input_shape`` too unless ``kwargs`` give its own (a benchmark job's ``kwargs``
    are the factory's arguments; a flattening MLP is built for (1, 28, 28) and fed (784,)): ``name`` and
    ``input_shape`` are positional-only for that."""
    kwargs = {"input_shape": tuple(input_shape), **kwargs}
    frozen = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in kwargs.items()))  # hashable
    return dict(_meta_cost(name, tuple(input_shape), frozen))


@functools.lru_cache(maxsize=None)
def _meta_cost(name: str, input_shape: tuple, kwargs: tuple) -> tuple:
    from .models import create_model

    with torch.device("meta"):
        m = create_model(name, **dict(kwargs))
    return (("params", count_params(m)), ("flops", count_flops(m, input_shape, device="meta")))


class DeviceUnavailable(OSError):
    """A run asks for a device this machine lacks. An OSError, so the store records it as the machine's failure
    (retried on a machine that has the device), never as the run's result."""


def resolve_device(device=None) -> torch.device:
    """``device`` as a torch device (None: CUDA where there is one, else the CPU); a CUDA device on a machine
    without CUDA is refused rather than silently trained on the CPU under a CUDA run's key."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    out = torch.device(device)
    if out.type == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailable(f"device {str(device)!r} asked for, but this machine has no CUDA GPU (valid here: 'cpu')")
    return out


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """SGD or AdamW; weight decay only on matrices and kernels (not biases or norm scales), the usual rule."""
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() > 1]
    rest = [p for p in model.parameters() if p.requires_grad and p.dim() <= 1]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": rest, "weight_decay": 0.0}]
    groups = [g for g in groups if g["params"]]
    # Fused kernels: one launch per step instead of one per tensor, which matters for small models.
    fused = {"fused": True} if all(uses_cuda_paths(p.device) for g in groups for p in g["params"]) else {}
    if cfg.optimizer == "sgd":
        opt = torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov and cfg.momentum > 0, **fused)
        if fused and cfg.momentum > 0:
            opt.register_step_pre_hook(_momentum_buffers)
        return opt
    return torch.optim.AdamW(groups, lr=cfg.lr, **fused)


def _momentum_buffers(opt: torch.optim.SGD, args, kwargs) -> None:
    """Give every parameter with a gradient but no momentum buffer a zero one before a fused SGD step.

    torch's fused SGD creates the buffers only when *no* parameter has one yet; a parameter whose first gradient
    arrives mid-run (SensLI's spare layers, switched on at insertion) then meets a None buffer and the step raises
    ``TypeError: expected Tensor as element ... but got NoneType``. A zero buffer gives the same update as a new
    one (momentum * 0 + grad = grad, the first-step rule, SGD's dampening being 0 here)."""
    for group in opt.param_groups:
        for p in group["params"]:
            if p.grad is not None and opt.state[p].get("momentum_buffer") is None:
                opt.state[p]["momentum_buffer"] = torch.zeros_like(p, memory_format=torch.preserve_format)


def make_scheduler(opt: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int):
    """A per-step LR schedule from torch's schedulers: constant/cosine with linear warm-up, or one-cycle."""
    S = torch.optim.lr_scheduler
    total = max(1, cfg.epochs * steps_per_epoch)
    if cfg.schedule == "onecycle" and total >= 3:
        pct = cfg.warmup_epochs / cfg.epochs if cfg.warmup_epochs else 0.25
        # Each phase needs >= 1 step or OneCycleLR divides by zero (tiny smoke runs): clip the warm-up share.
        pct = min(max(pct, 2 / total), (total - 1) / total)
        return S.OneCycleLR(opt, max_lr=cfg.lr, total_steps=total, pct_start=pct)
    if cfg.schedule == "onecycle":  # fewer than 3 steps: nothing to anneal
        return S.ConstantLR(opt, 1.0, 0)
    warm = int(round(cfg.warmup_epochs * steps_per_epoch))
    main = S.CosineAnnealingLR(opt, T_max=max(1, total - warm)) if cfg.schedule == "cosine" else S.ConstantLR(opt, 1.0, 0)
    if warm == 0:
        return main
    return S.SequentialLR(opt, [S.LinearLR(opt, start_factor=1e-3, total_iters=warm), main], milestones=[warm])


def autocast_dtype(cfg: TrainConfig, device: torch.device) -> torch.dtype | None:
    if cfg.precision == "bf16" or (cfg.precision == "auto" and uses_cuda_paths(device)):
        return torch.bfloat16
    return None


def float_dtype(cfg: TrainConfig) -> torch.dtype:
    """The dtype of parameters, inputs and accumulated losses: float64 for ``precision="fp64"``, else float32
    (bf16 is autocast on top of float32 weights)."""
    return torch.float64 if cfg.precision == "fp64" else torch.float32


def upcast(out: torch.Tensor) -> torch.Tensor:
    """Logits for the loss: float32 at least (bf16 autocast outputs), float64 kept."""
    return out if out.dtype == torch.float64 else out.float()


def is_conv_net(model: nn.Module) -> bool:
    return any(isinstance(m, nn.Conv2d) for m in model.modules())


@torch.no_grad()
def evaluate(model: nn.Module, data, *, device=None, batch_size: int = 1024, dtype=None) -> tuple[float, float]:
    """Mean cross-entropy and accuracy over a whole :class:`ArrayDataset` (or a DeviceLoader).

    ``dtype``: the autocast dtype, None (the default) for none. To compare with what :func:`fit` validated, pass
    the training precision, ``autocast_dtype(cfg, device)`` (bf16 on CUDA by default)."""
    device = resolve_device(device)
    first = next(iter(model.parameters()), None)
    fdt = torch.float64 if first is not None and first.dtype == torch.float64 else torch.float32  # fp64 models
    loader = data if isinstance(data, DeviceLoader) else DeviceLoader(data, batch_size, train=False, device=device,
                                                                      channels_last=uses_cuda_paths(device) and is_conv_net(model),
                                                                      dtype=fdt)
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), device=device, dtype=fdt)
    correct = torch.zeros((), device=device, dtype=torch.long)
    n = 0
    for x, y in loader:
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            out = model(x)
        loss_sum += F.cross_entropy(upcast(out), y, reduction="sum")
        correct += (out.argmax(1) == y).sum()
        n += len(y)
    model.train(was_training)
    return float(loss_sum) / n, float(correct) / n


def interactive() -> bool:
    if os.environ.get("ARCHLAB_HEADLESS"):
        return False
    return "ipykernel" in sys.modules or sys.stderr.isatty()


def fit(model: nn.Module, train: ArrayDataset, val: ArrayDataset | None, cfg: TrainConfig, *, device=None,
        verbose: bool | None = None, callback=None) -> History:
    """Train ``model`` on ``train`` for ``cfg.epochs`` and return its :class:`History`.

    ``verbose=True``: a progress bar when interactive, one log line per epoch when headless; the
    default is quiet, since sweeps report once per run instead. ``callback(epoch, history, model)``
    runs after each epoch; returning True stops training early.
    """
    device = resolve_device(device)
    dtype = autocast_dtype(cfg, device)
    conv = is_conv_net(model)
    channels_last = uses_cuda_paths(device) and conv
    fdt = float_dtype(cfg)
    model.to(device)
    if fdt == torch.float64:
        model.double()
    if channels_last:
        model.to(memory_format=torch.channels_last)
    loader = DeviceLoader(train, cfg.batch_size, train=True, device=device, augment=cfg.augment, seed=cfg.seed,
                          channels_last=channels_last, dtype=fdt)
    val_loader = (DeviceLoader(val, max(cfg.batch_size, 1024), train=False, device=device, channels_last=channels_last,
                               dtype=fdt) if val is not None else None)
    opt = make_optimizer(model, cfg)
    sched = make_scheduler(opt, cfg, len(loader))
    # The compiled module shares the model's parameters; evaluation keeps using the plain model (eval mode would
    # otherwise trigger a second compilation).
    step_model = model if cfg.compile == "off" else torch.compile(model, mode=None if cfg.compile == "default" else cfg.compile)
    graphs = cfg.compile == "reduce-overhead" and device.type == "cuda"
    hist = History()
    bar = _progress(cfg.epochs * len(loader), verbose)
    t_start = time.perf_counter()
    step = 0
    for epoch in range(1, cfg.epochs + 1):
        t0 = time.perf_counter()
        model.train()
        losses = torch.empty(len(loader), device=device, dtype=fdt)
        correct = torch.zeros((), device=device, dtype=torch.long)
        seen = 0
        for i, (x, y) in enumerate(loader):
            if graphs:  # a new iteration: CUDA-graph outputs of the last one may be overwritten from here on
                torch.compiler.cudagraph_mark_step_begin()
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                out = step_model(x)
            loss = F.cross_entropy(upcast(out), y, label_smoothing=cfg.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            losses[i] = loss.detach()
            correct += (out.detach().argmax(1) == y).sum()
            seen += len(y)
            step += 1
            if bar is not None:
                bar.update(1)
            if (i + 1) % CHECK_EVERY == 0 and not torch.isfinite(losses[i]):
                break
        done = losses[: i + 1]
        bad = (~torch.isfinite(done)).nonzero()
        if len(bad):
            hist.status, hist.diverged_step = "diverged", step - (i + 1) + int(bad[0]) + 1
            hist.epochs.append({"epoch": epoch, "train_loss": math.nan, "train_acc": math.nan, "val_loss": math.nan,
                                "val_acc": math.nan, "seconds": time.perf_counter() - t0})
            break
        if cfg.log_every:
            host = done.tolist()
            base = step - len(host)
            hist.step_loss += [[base + j + 1, v] for j, v in enumerate(host) if (base + j + 1) % cfg.log_every == 0]
        row = {"epoch": epoch, "train_loss": float(done.mean()), "train_acc": float(correct) / max(seen, 1)}
        if val_loader is not None and (epoch % cfg.eval_every == 0 or epoch == cfg.epochs):
            row["val_loss"], row["val_acc"] = evaluate(model, val_loader, device=device, dtype=dtype)
        else:
            row["val_loss"] = row["val_acc"] = math.nan
        row["seconds"] = time.perf_counter() - t0
        hist.epochs.append(row)
        if bar is None and verbose:
            print(f"epoch {epoch}/{cfg.epochs} train_loss {row['train_loss']:.4f} val_loss {row['val_loss']:.4f} "
                  f"val_acc {row['val_acc']:.4f} ({row['seconds']:.1f}s)", flush=True)
        elif bar is not None:
            bar.set_postfix(loss=f"{row['train_loss']:.3f}", val_acc=f"{row['val_acc']:.3f}")
        if callback is not None and callback(epoch, hist, model):
            break
    if bar is not None:
        bar.close()
    hist.wall_time = time.perf_counter() - t_start
    return hist


def _progress(total: int, verbose: bool | None):
    if not verbose or not interactive():
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, leave=False, desc="train")


def model_kwargs(config: dict, train: ArrayDataset) -> dict:
    """``config["model_kwargs"]`` plus what the data decides: ``num_classes`` and ``input_shape`` (one sample's
    shape), which every registered factory takes (docs/harness-api.md)."""
    return {"num_classes": train.num_classes, "input_shape": tuple(train.sample_shape),
            **config.get("model_kwargs", {})}


def training_result(hist: History, params: int, flops: int, sec_per_epoch: float, **extra) -> dict:
    """The plain-data result of one run of :func:`run_training` (and its batched twin)."""
    last = hist.final
    return {"status": hist.status, "params": params, "flops": flops, "train_loss": last.get("train_loss"),
            "train_acc": last.get("train_acc"), "val_loss": last.get("val_loss"), "val_acc": last.get("val_acc"),
            "sec_per_epoch": sec_per_epoch, "diverged_step": hist.diverged_step, **extra, "history": hist.to_dict()}


def run_training(config: dict) -> dict:
    """The generic run function for sweeps: train a registered model on a dataset and return plain data.

    ``config`` keys: ``model`` (registry name), ``model_kwargs`` (dict), ``dataset``, ``train_size``,
    ``test_size`` (None = whole split), ``data_seed``, ``train`` (a TrainConfig dict) and ``device``
    ("cpu"/"cuda"; part of the key because bf16 on a GPU and float32 on a CPU give different numbers).
    ``num_classes`` and ``input_shape`` are filled in from the data.
    """
    from .data import load_splits
    from .models import create_model

    cfg = TrainConfig.from_dict(config.get("train", {}))
    train, test = load_splits(config["dataset"], config.get("train_size"), config.get("test_size"),
                              config.get("data_seed", 0))
    seed_everything(cfg.seed)
    model = create_model(config["model"], **model_kwargs(config, train))
    params, flops = count_params(model), count_flops(model, train.sample_shape)
    hist = fit(model, train, test, cfg, device=config.get("device", "cpu"))
    return training_result(hist, params, flops, hist.wall_time / max(1, len(hist.epochs)))
