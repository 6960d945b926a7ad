"""Paper 2, "Make Deep Networks Shallow Again" (Bermeitinger, Hrycej, Handschuh, KDIR 2023): grids per profile,
the run function and the claims with their criteria. Analysis of the runs: ``deep_vs_shallow_analysis``;
figures: ``deep_vs_shallow_plots``; timings and executor throughput: ``deep_vs_shallow_speed``.

The paper's own factor levels were not available (spec section 5), so the ``paper`` grid is the spec's
reconstruction [R] that gives exactly 6,912 models; every profile's levels can be replaced from the notebook's
``levels`` parameter (the spec's switch for the paper's true values). Training settings are borrowed [S] from the
group's KDIR 2022 paper: AdamW(lr 1e-3, weight decay 1e-4), batch 256, cross-entropy; its augmentation (random
translation, rotation, crop) is not applied here. Every model is trained from scratch in both layouts.
"""
from __future__ import annotations

import itertools
import statistics
from dataclasses import dataclass, field

import torch

from archlab.claims import Claim
from archlab.config import Config, ConfigError, choices
from archlab.models.parallel import ACTIVATIONS, HEADS, LAYOUTS, check_args
from archlab.profiles import CHOICES, default_device, resolve_profile
from archlab.store import versioned
from archlab.sweep import auto_executor, parse_shard

STEM = "02_deep_vs_shallow"
PAPER = "2"  # the claims table groups by paper number
# One sample's shape per dataset, so configs are checked before any data is loaded.
SHAPES = {"digits": (1, 8, 8), "mnist": (1, 28, 28), "fashion_mnist": (1, 28, 28), "cifar10": (3, 32, 32),
          "cifar100": (3, 32, 32), "synthetic": (3, 32, 32)}
FACTORS = ("dataset", "layout", "L", "F", "k", "activation", "pool", "batchnorm", "lr", "head")

# Grids. Q = K*M/P uses the training-set size K actually used: the offline MNIST copy has 17,435 training images
# (not 60,000), so the gpu grid pools by 4 rather than the spec's 2, which would leave MNIST's Q >= 10 bin empty.
GRIDS = {
    # 4 runs, ~10 s on 2 CPU cores. Plumbing only: smoke losses are not evidence for or against a claim.
    "smoke": dict(levels=dict(dataset=["digits"], layout=list(LAYOUTS), L=[2, 4], F=[8], k=[3], activation=["relu"],
                              pool=[2], batchnorm=[False], lr=[1e-3], head=["flatten"]),
                  epochs=3, batch_size=64, train_size={}, test_size={}, expected="~10 s on 2 CPU cores"),
    # 32 runs: the whole notebook took 11 min on 2 idle CPU cores (make reproduce on a fresh clone; 34 min while four
    # other jobs shared the two cores).
    # Covers Q bins [1,3), [3,10), [10,inf) on MNIST and [0,1), [1,3), [3,10) on CIFAR-10.
    "cpu": dict(levels=dict(dataset=["mnist", "cifar10"], layout=list(LAYOUTS), L=[2, 4], F=[8, 32], k=[3, 5],
                            activation=["relu"], pool=[4], batchnorm=[False], lr=[1e-3], head=["flatten"]),
                epochs=3, batch_size=256, train_size={"mnist": 8000, "cifar10": 4000},
                test_size={"mnist": 2000, "cifar10": 2000},
                expected="11 min measured on 2 idle CPU cores (notebook included)"),
    # 72 runs, estimated 4-10 min on one H100: 11.7 PFLOP (forward x3 for training, plus evaluation) at 20-50
    # TFLOP/s effective for these narrow convolutions; not yet measured on a GPU. The spec's reduced
    # grid with pool 4; every Q bin is covered on both datasets (MNIST 6/5/5/2, CIFAR-10 1/5/6/6 configurations).
    "gpu": dict(levels=dict(dataset=["mnist", "cifar10"], layout=list(LAYOUTS), L=[2, 4, 8], F=[16, 32, 64], k=[3, 5],
                            activation=["relu"], pool=[4], batchnorm=[False], lr=[1e-3], head=["flatten"]),
                epochs=5, batch_size=256, train_size={}, test_size={},
                expected="4-10 min on one H100 (estimate from 11.7 PFLOP, not yet measured)"),
    # 6,912 runs = 2 datasets x 2 layouts x 1,728 configurations; the levels of L, F, k, activation, pool,
    # batchnorm and lr are the spec's reconstruction [R]; 100 epochs is the sister paper's value [S]. 47,800 PFLOP
    # and 148 M optimizer steps (49 M when its three learning rates are batched): at least 16.7 H100-hours at the
    # bf16 matrix-product peak (bench/project.py), more with per-step overhead; run it sharded (shard="i/n").
    "paper": dict(levels=dict(dataset=["mnist", "cifar10"], layout=list(LAYOUTS), L=[2, 3, 4, 6, 8, 12],
                              F=[8, 16, 32, 64], k=[3, 5, 7], activation=["relu", "tanh"], pool=[2, 4],
                              batchnorm=[False, True], lr=[1e-3, 3e-4, 1e-4], head=["flatten"]),
                  epochs=100, batch_size=256, train_size={}, test_size={},
                  expected=">= 16.7 H100-hours (compute floor; not yet measured); run sharded"),
}
WEIGHT_DECAY = 1e-4  # [S] AdamW weight decay of the sister paper

CLAIMS = [
    Claim("parity", PAPER, "[P] The broad parallel layer has exactly the parameters of the deep stack it truncates.",
          "P(sequential) == P(parallel) for every configuration run."),
    Claim("truncation", PAPER, "[P/D] A residual stack expands like a Taylor series; dropping the terms of order >= 2 "
          "leaves all layers in parallel on one input.",
          "Relative deviation ||seq - par|| / ||seq - h0|| of one body shrinks linearly with the branch weight scale: "
          "log-log slope over scales 1e-3..1e-1 in [0.9, 1.1] for both tanh and relu."),
    Claim("val-close", PAPER, "[P] With the same parameters, the validation losses of the two layouts are close.",
          "Per dataset (MNIST and CIFAR-10 both run), the median validation ratio L_par/L_seq lies in [0.8, 1.25]. "
          "Inconclusive with < 6 pairs per dataset or on the smoke profile."),
    Claim("val-close-high-q", PAPER, "[P, Table 2] For Q >= 3 the validation ratio par/seq lies between 0.98 and 1.10.",
          "Every dataset x Q-bin cell with Q >= 3 and >= 2 pairs has a ratio of bin-mean validation losses in "
          "[0.85, 1.15]. Inconclusive without such cells or on the smoke profile."),
    Claim("shallow-val", PAPER, "[P] Slight advance of the shallow (parallel) layout in validation loss.",
          "Pooled over datasets: geometric-mean validation ratio < 1 and Wilcoxon signed-rank p < 0.05 on log ratio "
          "-> reproduced; > 1 with p < 0.05 -> not reproduced; otherwise (or on smoke) inconclusive."),
    Claim("deep-train", PAPER, "[P] The deep (sequential) layout performs marginally better on the training set.",
          "Ratio of bin-mean training losses par/seq > 1 in more than half of the dataset x Q-bin cells with >= 2 "
          "pairs (paper: 7 of 8). Inconclusive without cells or on smoke."),
    Claim("shallow-gap", PAPER, "[P hypothesis, Table 2] The shallow layout tolerates noise better: a smaller "
          "validation-training gap.",
          "Bin-mean (val - train) gap smaller for parallel in more than half of the dataset x Q-bin cells with >= 2 "
          "pairs (paper: 7 of 8). Inconclusive without cells or on smoke."),
    Claim("cifar-low-q", PAPER, "[P, Table 2] The largest difference is on CIFAR-10 at Q < 1, in favour of parallel on "
          "validation (paper: val ratio 0.65).",
          "The CIFAR-10 Q < 1 cell (>= 2 pairs) has a bin-mean val ratio < 1 and the largest |log val ratio| of all "
          "cells. Inconclusive when that cell is empty or on smoke."),
    Claim("speed", PAPER, "[P, abstract] Replacing the deep stack by the shallow layer could speed up training.",
          "Median over configurations of the time per training step par/seq (each model timed alone with "
          "torch.utils.benchmark, batch 256) < 0.9 -> reproduced, > 1.1 -> not reproduced, else inconclusive. Only "
          "GPU timings count: on the shared CPU machine the verdict is inconclusive."),
]


@dataclass(frozen=True)
class DeepShallowConfig(Config):
    """The notebook's parameters. ``levels`` overrides factor levels of the profile's grid."""

    profile: str = field(default="auto", metadata=choices(*CHOICES))
    epochs: int = 0  # 0: the profile's number
    levels: dict = field(default_factory=dict)
    seeds: tuple[int, ...] = (0,)
    executor: str = field(default="auto", metadata=choices("auto", "local", "ray"))
    gpus_per_run: float = 0.25
    shard: str = ""
    # Train the configs that differ only in seed and learning rate in one vmapped step (archlab.batched): the
    # paper grid has three learning rates per architecture. auto: on for the gpu/paper profiles (whose small models
    # leave a GPU idle one at a time) when there is more than one per architecture. Batched runs are stored under
    # their own run function, so switching it retrains.
    batched: str = field(default="auto", metadata=choices("auto", "on", "off"))
    benchmark: bool = True

    def validate(self):
        bad = sorted(set(self.levels) - set(FACTORS))
        if bad:
            raise ConfigError(f"levels: unknown factor(s) {bad}; valid factors: {list(FACTORS)}")
        for name, values in self.levels.items():
            if not isinstance(values, (list, tuple)) or not values:
                raise ConfigError(f"levels[{name!r}] = {values!r} must be a non-empty list")
        if self.epochs < 0:
            raise ConfigError(f"epochs = {self.epochs} must be >= 0 (0: the profile's default)")
        if not self.seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in self.seeds):
            raise ConfigError(f"seeds = {self.seeds!r} must be a non-empty list of integers")
        if not 0 < self.gpus_per_run <= 1:
            raise ConfigError(f"gpus_per_run = {self.gpus_per_run} must be in (0, 1]")
        try:
            parse_shard(self.shard or None)
        except ValueError as e:
            raise ConfigError(f"shard = {self.shard!r} is not valid: use 'i/n' with 0 <= i < n ({e})") from None
        check_levels(self.grid_levels())

    @property
    def resolved_profile(self) -> str:
        return resolve_profile(self.profile)

    def grid_levels(self) -> dict:
        return {**GRIDS[self.resolved_profile]["levels"], **{k: list(v) for k, v in self.levels.items()}}

    def describe(self) -> str:
        """The grid in words: levels, epochs, data sizes, run count and expected time (printed by the notebook)."""
        grid = GRIDS[self.resolved_profile]
        levels = "\n".join(f"  {k}: {v}" for k, v in self.grid_levels().items())
        return (f"profile {self.resolved_profile}: {len(self.configs())} runs, {self.epochs or grid['epochs']} epochs, "
                f"batch {grid['batch_size']}, train size {grid['train_size'] or 'full'}, test size "
                f"{grid['test_size'] or 'full'}; expected {grid['expected']}\n{levels}")

    def resolved_executor(self) -> str:
        if self.executor != "auto":
            return self.executor
        return auto_executor(self.resolved_profile)

    def resolved_batched(self) -> bool:
        """auto: batch on the gpu/paper profiles when an architecture has several runs (seeds x learning rates)."""
        if self.batched != "auto":
            return self.batched == "on"
        return self.resolved_profile in ("gpu", "paper") and len(self.seeds) * len(self.grid_levels()["lr"]) > 1

    def execution(self) -> str:
        """How runs execute, in words: the executor, and whether seeds and learning rates are batched."""
        return self.resolved_executor() + (", batched by seed and lr" if self.resolved_batched() else "")

    def configs(self, device=None) -> list[dict]:
        """One run config per grid point and seed; ``device`` is part of the key (bf16 GPU != fp32 CPU runs)."""
        from archlab.sweep import expand_grid

        grid = GRIDS[self.resolved_profile]
        device = str(torch.device(device or default_device(self.resolved_profile)).type)
        out = []
        for c in expand_grid({**self.grid_levels(), "seed": list(self.seeds)}):
            out.append({**c, "epochs": self.epochs or grid["epochs"], "batch_size": grid["batch_size"],
                        "weight_decay": WEIGHT_DECAY, "train_size": grid["train_size"].get(c["dataset"]),
                        "test_size": grid["test_size"].get(c["dataset"]), "device": device})
        return out


def check_levels(levels: dict) -> None:
    """Refuse impossible factor levels (unknown names, kernels larger than the feature map, L < 1, ...)."""
    allowed = {"dataset": SHAPES, "layout": LAYOUTS, "activation": ACTIVATIONS, "head": HEADS,
               "batchnorm": (False, True)}
    for name, valid in allowed.items():
        for v in levels[name]:
            if v not in valid:
                raise ConfigError(f"levels[{name!r}] holds {v!r}, which is not valid; choose from {list(valid)}")
    for lr in levels["lr"]:
        if not isinstance(lr, (int, float)) or not lr > 0:
            raise ConfigError(f"levels['lr'] holds {lr!r}; learning rates must be > 0")
    for ds, L, F, k, p in itertools.product(*(levels[f] for f in ("dataset", "L", "F", "k", "pool"))):
        try:
            check_args("sequential", L, F, k, "relu", p, SHAPES[ds])
        except ValueError as e:  # name the grid's factor (L, F, k), not the model argument
            msg = str(e).replace("layers=", "L=").replace("filters=", "F=").replace("kernel=", "k=")
            raise ConfigError(f"levels for {ds} {SHAPES[ds]}: {msg}") from None


def make_config(**params) -> DeepShallowConfig:
    """The notebook's config factory (named in its metadata, so ``archlab.run`` refuses bad input up front)."""
    return DeepShallowConfig.from_dict(params)


def model_kwargs(c: dict, input_shape: tuple, num_classes: int) -> dict:
    """The layout's factory arguments for a grid config (the layout itself is ``c["layout"]``)."""
    return dict(layers=c["L"], filters=c["F"], kernel=c["k"], activation=c["activation"], pool=c["pool"],
                batchnorm=c["batchnorm"], head=c["head"], input_shape=input_shape, num_classes=num_classes)


def build_model(c: dict, train):
    """The run's layout, built for the data's shape and classes."""
    from archlab import create_model

    return create_model(c["layout"], **model_kwargs(c, train.sample_shape, train.num_classes))


def run_device(c: dict) -> torch.device:
    """The config's device, falling back to the CPU when a cuda config is loaded without a GPU."""
    return torch.device(c["device"] if c["device"] != "cuda" or torch.cuda.is_available() else "cpu")


def train_config(c: dict, seed: int | None = None):
    from archlab.train import TrainConfig

    return TrainConfig(epochs=c["epochs"], batch_size=c["batch_size"], lr=c["lr"], weight_decay=c["weight_decay"],
                       seed=c["seed"] if seed is None else seed)


def run_result(hist, P: int, train, train_metrics: tuple, sec_per_epoch: float, wall_time: float) -> dict:
    """One run's stored result: P, Q = K*M/P, final losses and accuracies (NaN unless it finished) and timing."""
    ok = hist.status == "ok"
    nan = float("nan")
    return {"status": hist.status, "P": P, "K": len(train), "Q": len(train) * train.num_classes / P,
            "sec_per_epoch": sec_per_epoch, "wall_time": wall_time, "diverged_step": hist.diverged_step,
            "history": hist.to_dict(), "train_loss": train_metrics[0] if ok else nan,
            "train_acc": train_metrics[1] if ok else nan, "val_loss": hist.final["val_loss"] if ok else nan,
            "val_acc": hist.final["val_acc"] if ok else nan}


@versioned(1)
def train_run(config: dict) -> dict:
    """Train one layout from scratch and report P, Q, final train/val loss and accuracy and seconds per epoch.

    The final training loss is re-evaluated on the whole training set with the final weights (not the running
    mean over the last epoch), so train and val losses describe the same model.
    """
    from archlab.data import load_splits
    from archlab.train import count_params, evaluate, fit, seed_everything

    c = config
    train, test = load_splits(c["dataset"], c["train_size"], c["test_size"])
    seed_everything(c["seed"])
    model = build_model(c, train)
    device = run_device(c)
    hist = fit(model, train, test, train_config(c), device=device)
    train_metrics = (float("nan"), float("nan"))
    if hist.status == "ok":
        dtype = torch.bfloat16 if device.type == "cuda" else None  # the precision fit trained and validated in
        train_metrics = evaluate(model, train, device=device, dtype=dtype)
    return run_result(hist, count_params(model), train, train_metrics,
                      statistics.median(e["seconds"] for e in hist.epochs), hist.wall_time)


@versioned(1)
def train_run_batched(configs: list[dict]) -> list[dict]:
    """``train_run`` for configs that differ only in ``seed`` and ``lr``, trained in one vmapped step; same result
    keys, and ``sec_per_epoch`` / ``wall_time`` are each run's share of the group's time. A group of one, or a
    model vmap cannot train (the sequential layout with batch norm updates slices of shared running statistics,
    refused before any step), runs through ``train_run`` one config at a time."""
    from archlab.batched import NotBatchable, evaluate_batched, fit_batched
    from archlab.data import load_splits
    from archlab.train import count_params, seed_everything

    c = configs[0]
    if len(configs) == 1:
        return [train_run(c)]
    train, test = load_splits(c["dataset"], c["train_size"], c["test_size"])
    models = []
    for cc in configs:
        seed_everything(cc["seed"])
        models.append(build_model(c, train))
    device = run_device(c)
    try:
        hists = fit_batched(models, train, test, [train_config(cc) for cc in configs], device=device)
    except NotBatchable:
        return [train_run(cc) for cc in configs]
    dtype = torch.bfloat16 if device.type == "cuda" else None
    train_loss, train_acc = evaluate_batched(models, train, device=device, dtype=dtype)
    P, K = count_params(models[0]), len(configs)
    return [run_result(h, P, train, (train_loss[k], train_acc[k]),
                       statistics.median(e["seconds"] for e in h.epochs) / K, h.wall_time / K)
            for k, h in enumerate(hists)]


def run_function(cfg: DeepShallowConfig):
    """The run function whose stored runs this config's notebook reads: batched or one at a time."""
    return train_run_batched if cfg.resolved_batched() else train_run


def run_grid(cfg: DeepShallowConfig, store=None, device=None):
    """Every run of the profile's grid through the run store (finished runs load, failures are recorded)."""
    from archlab.sweep import run_sweep

    fn = run_function(cfg)
    return run_sweep(fn, cfg.configs(device), store=store, executor=cfg.resolved_executor(),
                     gpus_per_run=cfg.gpus_per_run, shard=cfg.shard or None, desc=STEM,
                     group_by=("seed", "lr") if fn is train_run_batched else None)

