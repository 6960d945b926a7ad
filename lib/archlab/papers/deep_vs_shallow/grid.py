"""Paper 2's profiles, the notebook config and its run configs (one per grid point, training-set size and seed).

The paper bins its runs by the determination ratio Q = K*M/P (K training samples, M = 10 outputs, P parameters;
docs/papers/deep_vs_shallow.md). A profile reaches a Q bin either by the size of the model (the ``gpu`` and
``paper`` profiles: full data, P from 15k to 1.7M) or by the number of training samples (``cpu`` and ``smoke``:
small models, K from 128 to 4,096), so every profile covers the same four bins of the paper's Table 2. What a
reduced profile never shrinks is the training the claims are about: each cpu run takes a fixed number of AdamW
steps (hundreds of epochs at the smallest K, so the low-Q runs over-fit as the paper's do), and each claim checks
the regime it needs (training converged, over-fitting present) before it is judged.

The paper's own factor levels were not available, so the ``paper`` profile is a reconstruction [R] that gives
exactly 6,912 models; any level can be replaced from the notebook's ``levels`` parameter. Training settings are
borrowed [S] from the group's KDIR 2022 paper: AdamW(lr 1e-3, weight decay 1e-4), cross-entropy; its augmentation
is not applied. Every model is trained from scratch in both layouts. Expected run times: beside each profile.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import torch

from ...config import Config, ConfigError, choices
from ...data import FILE_SETS, dataset_info
from ...profiles import CHOICES, default_device, resolve_profile
from ...sweep import auto_executor, expand_grid, parse_shard
from .models import ACTIVATIONS, HEADS, LAYOUTS, check_args

# One sample's shape per dataset, so configs are checked before any data is loaded.
SHAPES = {"digits": (1, 8, 8), "mnist": (1, 28, 28), "fashion_mnist": (1, 28, 28), "cifar10": (3, 32, 32),
          "cifar100": (3, 32, 32), "synthetic": (3, 32, 32)}
# The grid's factors; ``train_size`` is K (None: the whole training split), so pairs of layouts are matched on it.
FACTORS = ("dataset", "layout", "L", "F", "k", "activation", "pool", "batchnorm", "lr", "head", "train_size")
EVALS = 6  # evaluations of the test set per run (and always after the last epoch): the validation curve
# A step-based run on K < MIN_EPOCH samples passes over ceil(MIN_EPOCH / K) copies of its training set per epoch:
# the same sample stream as that many epochs, without paying the per-epoch overhead hundreds of times at small K.
MIN_EPOCH = 1024

# Projected, not measured end to end (the lead times the final run): one cpu run of 800 steps measured 20.5 s on
# one thread at load 1.0 (CIFAR-10 K = 48, data loading included); at 600 steps ~16 s, so 48 runs ~ 12-13
# core-minutes, over 2 cores (~1.3-1.5x from the second thread on these small convolutions) ~ 8-9.5 min, plus
# ~20 s of notebook (measured on smoke: imports, truncation check, step timings, figures).
CPU_EXPECTED = "~8-9.5 min on 2 idle CPU cores (projected from one measured run, see grid.py)"
SMOKE_EXPECTED = "28 s measured on 2 CPU cores at load 1-4 (notebook included)"
_CPU_LEVELS = dict(dataset=["mnist", "cifar10"], layout=list(LAYOUTS), L=[4], F=[4], k=[3], activation=["relu"],
                   pool=[8], batchnorm=[False], lr=[1e-3], head=["flatten"], train_size=[48, 192, 640, 1792])
PROFILES = {
    # 18 runs on scikit-learn's 8x8 digits (L = 2, 60 steps each, ~1 s per run). Plumbing only: the same code as the cpu profile
    # (K levels that put the pairs in three Q bins, 3 seeds), but digits losses are not evidence about the paper.
    "smoke": dict(levels=dict(dataset=["digits"], layout=list(LAYOUTS), L=[2], F=[8], k=[3], activation=["relu"],
                              pool=[2], batchnorm=[False], lr=[1e-3], head=["flatten"], train_size=[64, 256, 1024]),
                  steps=60, epochs=0, batch_size=32, test_size={}, seeds=(0, 1, 2),
                  expected=SMOKE_EXPECTED),
    # 48 runs: L = 4, F = 4, k = 3, pool 8 (P 1,002 on MNIST, 1,354 on CIFAR-10) at K = 48 / 192 / 640 / 1,792,
    # i.e. Q ~ 0.48 / 1.9 / 6.4 / 17.9 (MNIST) and 0.35 / 1.4 / 4.7 / 13.2 (CIFAR-10): every bin of Table 2, 3 seeds.
    # 600 AdamW steps at batch 32 each (400 passes over K = 48, 11 over K = 1,792), 2,000 test images.
    "cpu": dict(levels=_CPU_LEVELS, steps=600, epochs=0, batch_size=32, test_size={"mnist": 2000, "cifar10": 2000},
                seeds=(0, 1, 2), expected=CPU_EXPECTED),
    # 96 runs at full data: L in {2, 4} x F in {16, 32, 64, 128}, k = 3, pool 4 puts CIFAR-10 (K = 50,000) at
    # Q ~ 33 / 13 / 4.3 / 1.3 (L = 2) and 25 / 8.6 / 2.6 / 0.74 (L = 4), MNIST (17,435 in the offline copy, 60,000
    # online) in every bin too; 3 seeds, 10 epochs at batch 256 (the paper: 100 [S]), the full test sets. ~45 PFLOP
    # in all (44.7 summed over jobs("gpu"), forward x3; the F = 128 CIFAR-10 runs dominate), ~7-15 min on one H200
    # at 50-100 TFLOP/s effective
    # (bf16, seeds batched); projected, not measured.
    "gpu": dict(levels=dict(dataset=["mnist", "cifar10"], layout=list(LAYOUTS), L=[2, 4], F=[16, 32, 64, 128], k=[3],
                            activation=["relu"], pool=[4], batchnorm=[False], lr=[1e-3], head=["flatten"],
                            train_size=[None]),
                steps=0, epochs=10, batch_size=256, test_size={}, seeds=(0, 1, 2),
                expected="~7-13 min on one H200 (projected from FLOPs, not measured)"),
    # 6,912 runs = 2 datasets x 2 layouts x 1,728 configurations; the levels of L, F, k, activation, pool,
    # batchnorm and lr are a reconstruction [R]; 100 epochs is the sister paper's value [S]; one seed per model, as
    # the paper has. 47,800 PFLOP and 148 M optimizer steps (49 M when its three learning rates are batched): at least
    # 16.7 H100-hours at the bf16 matrix-product peak (bench/project.py); run it sharded (shard="i/n").
    "paper": dict(levels=dict(dataset=["mnist", "cifar10"], layout=list(LAYOUTS), L=[2, 3, 4, 6, 8, 12],
                              F=[8, 16, 32, 64], k=[3, 5, 7], activation=["relu", "tanh"], pool=[2, 4],
                              batchnorm=[False, True], lr=[1e-3, 3e-4, 1e-4], head=["flatten"], train_size=[None]),
                  steps=0, epochs=100, batch_size=256, test_size={}, seeds=(0,),
                  expected=">= 16.7 H100-hours (compute floor; not yet measured); run sharded"),
}
WEIGHT_DECAY = 1e-4  # [S] AdamW weight decay of the sister paper


@dataclass(frozen=True)
class DeepShallowConfig(Config):
    """The notebook's parameters. ``levels`` overrides factor levels of the profile's grid."""

    profile: str = field(default="auto", metadata=choices(*CHOICES))
    steps: int = 0  # AdamW steps per run (0: the profile's); a step-based run takes whole epochs, at least this many
    epochs: int = 0  # epochs per run instead of steps (0: the profile's)
    levels: dict = field(default_factory=dict)
    seeds: tuple[int, ...] = ()  # (): the profile's seeds
    executor: str = field(default="auto", metadata=choices("auto", "local", "ray"))
    gpus_per_run: float = 0.25
    shard: str = ""
    # Train the configs that differ only in seed and learning rate in one vmapped step (archlab.batched). auto: on
    # for the gpu/paper profiles (whose small models leave a GPU idle one at a time) when an architecture has more
    # than one run; off on a CPU, where it measured no faster (the notebook times both). Batched runs are stored
    # under their own run function, so switching it retrains.
    batched: str = field(default="auto", metadata=choices("auto", "on", "off"))
    benchmark: bool = True
    # Not a notebook parameter: fp64 makes batched and one-at-a-time training agree to ~1e-12 in the tests. Only a
    # value other than auto enters the run configs.
    precision: str = field(default="auto", metadata=choices("auto", "fp32", "bf16", "fp64"))

    def validate(self):
        bad = sorted(set(self.levels) - set(FACTORS))
        if bad:
            raise ConfigError(f"levels: unknown factor(s) {bad}; valid factors: {list(FACTORS)}")
        for name, values in self.levels.items():
            if not isinstance(values, (list, tuple)) or not values:
                raise ConfigError(f"levels[{name!r}] = {values!r} must be a non-empty list")
        for name in ("steps", "epochs"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} = {getattr(self, name)} must be >= 0 (0: the profile's default)")
        if self.steps and self.epochs:
            raise ConfigError(f"steps = {self.steps} and epochs = {self.epochs}: give one of them (the other 0)")
        if not all(isinstance(s, int) and not isinstance(s, bool) for s in self.seeds):
            raise ConfigError(f"seeds = {self.seeds!r} must be a list of integers (empty: the profile's)")
        if len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"seeds = {self.seeds!r} holds a seed twice")
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

    @property
    def resolved_seeds(self) -> tuple[int, ...]:
        return tuple(self.seeds) or tuple(PROFILES[self.resolved_profile]["seeds"])

    def plan(self) -> dict:
        """The profile's settings with this config's overrides applied (``levels`` merged, ``steps``/``epochs``)."""
        p = dict(PROFILES[self.resolved_profile])
        p["levels"] = {**p["levels"], **{k: list(v) for k, v in self.levels.items()}}
        if self.steps or self.epochs:
            p["steps"], p["epochs"] = self.steps, self.epochs
        p["seeds"] = self.resolved_seeds
        return p

    def grid_levels(self) -> dict:
        return self.plan()["levels"]

    def describe(self) -> str:
        """The grid in words: levels, training length, data sizes, run count and expected time."""
        grid = self.plan()
        levels = "\n".join(f"  {k}: {v}" for k, v in grid["levels"].items())
        length = f"{grid['steps']} steps" if grid["steps"] else f"{grid['epochs']} epochs"
        return (f"profile {self.resolved_profile}: {len(self.configs())} runs, {length} per run at batch "
                f"{grid['batch_size']}, seeds {list(grid['seeds'])}, test size {grid['test_size'] or 'full'}; "
                f"expected {grid['expected']}\n{levels}")

    def resolved_executor(self) -> str:
        if self.executor != "auto":
            return self.executor
        return auto_executor(self.resolved_profile)

    def resolved_batched(self) -> bool:
        """auto: batch on the gpu/paper profiles when an architecture has several runs (seeds x learning rates)."""
        if self.batched != "auto":
            return self.batched == "on"
        return self.resolved_profile in ("gpu", "paper") and len(self.resolved_seeds) * len(self.grid_levels()["lr"]) > 1

    def execution(self) -> str:
        """How runs execute, in words: the executor, and whether seeds and learning rates are batched."""
        return self.resolved_executor() + (", batched by seed and lr" if self.resolved_batched() else "")

    def configs(self, device=None) -> list[dict]:
        """One run config per grid point and seed; ``device`` is part of the key (bf16 GPU != fp32 CPU runs)."""
        grid = self.plan()
        device = str(torch.device(device or default_device(self.resolved_profile)).type)
        extra = {"precision": self.precision} if self.precision != "auto" else {}
        out = []
        for c in expand_grid({**grid["levels"], "seed": list(grid["seeds"])}):
            out.append({**c, "steps": grid["steps"], "epochs": grid["epochs"], "batch_size": grid["batch_size"],
                        "weight_decay": WEIGHT_DECAY, "test_size": grid["test_size"].get(c["dataset"]),
                        "device": device, **extra})
        return out


def check_levels(levels: dict) -> None:
    """Refuse impossible factor levels (unknown names, kernels larger than the feature map, L < 1, K < 2, ...)."""
    allowed = {"dataset": SHAPES, "layout": LAYOUTS, "activation": ACTIVATIONS, "head": HEADS,
               "batchnorm": (False, True)}
    for name, valid in allowed.items():
        for v in levels[name]:
            if v not in valid:
                raise ConfigError(f"levels[{name!r}] holds {v!r}, which is not valid; choose from {list(valid)}")
    for lr in levels["lr"]:
        if not isinstance(lr, (int, float)) or not lr > 0:
            raise ConfigError(f"levels['lr'] holds {lr!r}; learning rates must be > 0")
    for K in levels["train_size"]:
        if K is not None and (not isinstance(K, int) or isinstance(K, bool) or K < 2):
            raise ConfigError(f"levels['train_size'] holds {K!r}; use an integer >= 2 or None (the whole split)")
    for ds, L, F, k, p in itertools.product(*(levels[f] for f in ("dataset", "L", "F", "k", "pool"))):
        try:
            check_args("sequential", L, F, k, "relu", p, SHAPES[ds])
        except ValueError as e:  # name the grid's factor (L, F, k), not the model argument
            msg = str(e).replace("layers=", "L=").replace("filters=", "F=").replace("kernel=", "k=")
            raise ConfigError(f"levels for {ds} {SHAPES[ds]}: {msg}") from None


Config = DeepShallowConfig


def make_config(**params) -> DeepShallowConfig:
    """The notebook's config factory (its package is named in its metadata, so ``archlab.run`` refuses bad input
    up front)."""
    return DeepShallowConfig.from_dict(params)


def model_kwargs(c: dict, input_shape: tuple, num_classes: int) -> dict:
    """The layout's factory arguments for a grid config (the layout itself is ``c["layout"]``)."""
    return dict(layers=c["L"], filters=c["F"], kernel=c["k"], activation=c["activation"], pool=c["pool"],
                batchnorm=c["batchnorm"], head=c["head"], input_shape=input_shape, num_classes=num_classes)


def schedule(c: dict, n_train: int) -> dict:
    """How long a run trains on ``n_train`` samples: ``epochs``, ``steps_per_epoch`` (the last ragged batch is
    dropped), total ``steps`` and ``eval_every`` (epochs between test-set evaluations, ``EVALS`` in all).

    A step-based config (``steps`` > 0) takes the fewest whole epochs with at least ``steps`` steps, so every K
    gets the same optimisation budget; an epoch-based one its ``epochs``."""
    per_epoch = max(1, n_train // min(c["batch_size"], n_train))
    epochs = math.ceil(c["steps"] / per_epoch) if c["steps"] else c["epochs"]
    return dict(epochs=epochs, steps_per_epoch=per_epoch, steps=epochs * per_epoch,
                eval_every=max(1, epochs // EVALS))


def repeats(c: dict, n_train: int) -> int:
    """Copies of the training set per epoch: ceil(MIN_EPOCH / K) for a step-based run, else 1."""
    return max(1, math.ceil(MIN_EPOCH / n_train)) if c["steps"] else 1


def nominal_train_size(c: dict) -> int:
    """K as the grid intends it, known without loading data: ``train_size`` capped at the split's standard size
    (the offline MNIST copy is smaller than 60,000; the runs themselves use the size actually loaded)."""
    info = FILE_SETS.get(c["dataset"]) or dataset_info(c["dataset"])
    n = info["n_train"]
    return n if c["train_size"] is None else min(c["train_size"], n)
