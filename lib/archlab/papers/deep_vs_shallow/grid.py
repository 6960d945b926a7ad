"""Paper 2's profiles, the notebook config and its run configs (one per grid point, training-set size and seed).

The paper bins its runs by the determination ratio Q = K*M/P (K training samples, M = 10 outputs, P parameters;
docs/papers/deep_vs_shallow.md). The ``gpu``, ``paper`` and ``cpu`` profiles reach the Q bins as the paper does, by
the size of the model (``cpu``: K = 1,536 samples, P from 1,002 to 19,978; ``gpu``/``paper``: full data); ``smoke``
moves K on 8x8 digits (plumbing only). A profile's grid is the union of its ``blocks`` (each merged onto its base
``levels``, with its own seeds where it names them), so a depth experiment at one parameter budget can sit beside
the Table 2 architectures. What a reduced profile never shrinks is the training the claims are about: each claim
checks the regime it needs (pairs complete, the Q < 1 runs trained, every judged run better than chance).

The paper's own factor levels were not available, so the ``paper`` profile is a reconstruction [R] that gives
exactly 6,912 models; any level can be replaced from the notebook's ``levels`` parameter. Training settings are
borrowed [S] from the group's KDIR 2022 paper: AdamW(lr 1e-3, weight decay 1e-4), cross-entropy; its augmentation
is not applied. Every model is trained from scratch in both layouts. Expected run times: beside each profile.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import ClassVar

from ...config import ConfigError, PaperConfig, choices
from ...data import FILE_SETS, dataset_info
from ...sweep import expand_grid, parse_shard
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

# cpu, projected (not timed end to end): per-step times of every architecture measured interleaved in one process
# against the old cpu architecture (L = 4, F = 4, pool 8, whose 48 runs of 600 steps took ~340 s of the notebook's
# 381 s on 2 cores): the grid costs 41.6 "old architecture x seed" units per step (Table 2 blocks 6.2 x 5 seeds,
# depth blocks 3.5 x 3), so 384 steps at ~0.040 s per unit-step on 2 cores (2 evaluations instead of ~11) ~ 640 s,
# plus ~70 s of notebook (step timings, figures).
CPU_EXPECTED = "~12 min on 2 idle CPU cores (projected from per-step timings against the old grid, see grid.py)"
SMOKE_EXPECTED = "28 s measured on 2 CPU cores at load 1-4 (notebook included)"
# cpu: one training-set size (K = 1,536, enough to generalise) and Q moved by the model, as in the paper. Blocks are
# merged onto the base levels, each expanded on its own (the grid is their union, not a product):
# - Table 2: L = 4 at F = 4 / 8 / 16 (pool 4) and F = 4 at pool 8: Q ~ 5.9 / 2.4 / 0.89 / 15.3 on MNIST and
#   4.7 / 1.95 / 0.77 / 11.3 on CIFAR-10, one architecture per Table 2 bin on each dataset;
# - depth at a fixed budget (pool 4): L = 2, F = 10 / L = 4, F = 8 / L = 8, F = 6, P within 13% of each other
#   (MNIST 6,830 / 6,346 / 5,650; CIFAR-10 8,510 / 7,690 / 6,658), all in the Q bin [1, 3).
_CPU_BASE = dict(dataset=["mnist", "cifar10"], layout=list(LAYOUTS), L=[4], F=[8], k=[3], activation=["relu"],
                 pool=[4], batchnorm=[False], lr=[1e-3], head=["flatten"], train_size=[1536])
# The Table 2 blocks take 5 seeds (C3's equivalence is decided by seeds), the depth block 3.
_CPU_BLOCKS = [dict(F=[4, 8, 16]), dict(F=[4], pool=[8]), dict(L=[2], F=[10], seeds=[0, 1, 2]),
               dict(L=[8], F=[6], seeds=[0, 1, 2])]
_CPU_DEPTH = ((2, 10), (4, 8), (8, 6))  # (L, F) of the depth experiment, at the base pool (claims C10)
PROFILES = {
    # 18 runs on scikit-learn's 8x8 digits (L = 2, 60 steps each, ~1 s per run). Plumbing only: the same code as the cpu profile
    # (K levels that put the pairs in three Q bins, 3 seeds), but digits losses are not evidence about the paper.
    "smoke": dict(levels=dict(dataset=["digits"], layout=list(LAYOUTS), L=[2], F=[8], k=[3], activation=["relu"],
                              pool=[2], batchnorm=[False], lr=[1e-3], head=["flatten"], train_size=[64, 256, 1024]),
                  blocks=[{}, dict(L=[4], F=[6], train_size=[256]), dict(L=[8], F=[4], train_size=[256])],
                  depth=((2, 8), (4, 6), (8, 4)), steps=60, epochs=0, batch_size=32, test_size={}, seeds=(0, 1, 2),
                  expected=SMOKE_EXPECTED),
    # 104 runs: 6 architectures x 2 datasets x 2 layouts, 5 seeds (3 for the depth block); 384 AdamW steps at batch
    # 32 (8 passes over K = 1,536), 2,000 test images evaluated twice. Probe (400 steps, seed 0): L = 4, F = 16
    # (Q < 1) trains to 0.96 / 0.89 nats (seq / par) on CIFAR-10 with validation 1.82 / 1.77 (a 0.9-nat gap), and
    # to 0.019 / 0.017 on MNIST with validation 0.19 / 0.16 (96% accuracy).
    "cpu": dict(levels=_CPU_BASE, blocks=_CPU_BLOCKS, depth=_CPU_DEPTH, steps=384, epochs=0, batch_size=32, evals=2,
                test_size={"mnist": 2000, "cifar10": 2000}, seeds=(0, 1, 2, 3, 4), expected=CPU_EXPECTED),
    # 96 + 24 runs at full data: L in {2, 4} x F in {16, 32, 64, 128}, k = 3, pool 4 puts CIFAR-10 (K = 50,000) at
    # Q ~ 33 / 13 / 4.3 / 1.3 (L = 2) and 25 / 8.6 / 2.6 / 0.74 (L = 4), MNIST (17,435 in the offline copy, 60,000
    # online) in every bin too; 3 seeds, 10 epochs at batch 256 (the paper: 100 [S]), the full test sets. ~45 PFLOP
    # in all (44.7 summed over jobs("gpu"), forward x3; the F = 128 CIFAR-10 runs dominate), ~7-15 min on one H200
    # at 50-100 TFLOP/s effective
    # (bf16, seeds batched); projected, not measured.
    "gpu": dict(levels=dict(dataset=["mnist", "cifar10"], layout=list(LAYOUTS), L=[2, 4], F=[16, 32, 64, 128], k=[3],
                            activation=["relu"], pool=[4], batchnorm=[False], lr=[1e-3], head=["flatten"],
                            train_size=[None]),
                # depth at the budget of L = 4, F = 32 (P 53,002 MNIST, 58,378 CIFAR-10): L = 2, F = 42 and L = 8,
                # F = 24 (P within 3% of it)
                blocks=[{}, dict(L=[2], F=[42]), dict(L=[8], F=[24])], depth=((2, 42), (4, 32), (8, 24)),
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
class DeepShallowConfig(PaperConfig):
    """The notebook's parameters beside ``PaperConfig``'s (profile, seeds, executor). ``levels`` overrides factor levels
    of the profile's grid; the notebook's ``seeds`` replace every block's own."""

    PROFILES: ClassVar[dict] = PROFILES
    steps: int = 0  # AdamW steps per run (0: the profile's); a step-based run takes whole epochs, at least this many
    epochs: int = 0  # epochs per run instead of steps (0: the profile's)
    levels: dict = field(default_factory=dict)
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
        if not 0 < self.gpus_per_run <= 1:
            raise ConfigError(f"gpus_per_run = {self.gpus_per_run} must be in (0, 1]")
        try:
            parse_shard(self.shard or None)
        except ValueError as e:
            raise ConfigError(f"shard = {self.shard!r} is not valid: use 'i/n' with 0 <= i < n ({e})") from None
        for block in self.plan()["blocks"]:
            check_levels({k: v for k, v in block.items() if k != "seeds"})

    def plan(self) -> dict:
        """The profile's settings with this config's overrides applied (``steps``/``epochs``; ``levels`` merged onto
        the base levels and onto every block). ``blocks`` is the list of level dicts the grid is the union of."""
        p = self.settings
        mine = {k: list(v) for k, v in self.levels.items()}
        # a block's own seeds give way to the notebook's ``seeds`` parameter
        seeds = {"seeds": list(self.seeds)} if self.seeds else {}
        p["blocks"] = [{**p["levels"], **b, **mine, **seeds} for b in p.get("blocks") or [{}]]
        p["levels"] = union_levels([{k: v for k, v in b.items() if k != "seeds"} for b in p["blocks"]])
        if self.steps or self.epochs:
            p["steps"], p["epochs"] = self.steps, self.epochs
        p["seeds"] = self.resolved_seeds
        return p

    def grid_levels(self) -> dict:
        """Every level each factor takes somewhere in the grid (the union over blocks)."""
        return self.plan()["levels"]

    def describe(self) -> str:
        """The grid in words: levels, training length, data sizes, run count and expected time."""
        grid = self.plan()
        levels = "\n".join(f"  {k}: {v}" for k, v in grid["levels"].items())
        if len(grid["blocks"]) > 1:  # the grid is a union: name each block's (L, F, pool)
            archs = "; ".join(f"L {b['L']} x F {b['F']} x pool {b['pool']}" for b in grid["blocks"])
            levels += f"\n  blocks (their union): {archs}"
        length = f"{grid['steps']} steps" if grid["steps"] else f"{grid['epochs']} epochs"
        return (f"profile {self.resolved_profile}: {len(self.configs())} runs, {length} per run at batch "
                f"{grid['batch_size']}, seeds {list(grid['seeds'])}, test size {grid['test_size'] or 'full'}; "
                f"expected {grid['expected']}\n{levels}")

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
        device = self.resolved_device(device).type
        extra = {"precision": self.precision} if self.precision != "auto" else {}
        if grid.get("evals"):  # only where a profile sets it, so the other profiles' run keys stay as they were
            extra["evals"] = grid["evals"]
        out, seen = [], set()
        blocks = [{**{k: v for k, v in b.items() if k != "seeds"}, "seed": list(b.get("seeds", grid["seeds"]))}
                  for b in grid["blocks"]]
        for c in (c for b in blocks for c in expand_grid(b)):
            key = tuple(c.items())  # blocks may share a grid point (the depth and Q blocks share L = 4, F = 8)
            if key in seen:
                continue
            seen.add(key)
            out.append({**c, "steps": grid["steps"], "epochs": grid["epochs"], "batch_size": grid["batch_size"],
                        "weight_decay": WEIGHT_DECAY, "test_size": grid["test_size"].get(c["dataset"]),
                        "device": device, **extra})
        return out


def depth_set(profile: str) -> tuple:
    """The depth experiment of ``profile``: its (L, F) architectures and the pooling they share (none: ((), None))."""
    p = PROFILES.get(profile, {})
    return tuple(p.get("depth") or ()), (p["levels"]["pool"][0] if p else None)


def union_levels(blocks: list[dict]) -> dict:
    """Each factor's levels over all ``blocks``, in first-seen order."""
    return {f: list(dict.fromkeys(v for b in blocks for v in b[f])) for f in blocks[0]}


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
    gets the same optimisation budget; an epoch-based one its ``epochs``. A config's ``evals`` (where its profile
    sets one) replaces ``EVALS``: the cpu profile evaluates twice, since each evaluation of 2,000 test images costs
    about a twentieth of its training."""
    per_epoch = max(1, n_train // min(c["batch_size"], n_train))
    epochs = math.ceil(c["steps"] / per_epoch) if c["steps"] else c["epochs"]
    return dict(epochs=epochs, steps_per_epoch=per_epoch, steps=epochs * per_epoch,
                eval_every=max(1, epochs // c.get("evals", EVALS)))


def repeats(c: dict, n_train: int) -> int:
    """Copies of the training set per epoch: ceil(MIN_EPOCH / K) for a step-based run, else 1."""
    return max(1, math.ceil(MIN_EPOCH / n_train)) if c["steps"] else 1


def nominal_train_size(c: dict) -> int:
    """K as the grid intends it, known without loading data: ``train_size`` capped at the split's standard size
    (the offline MNIST copy is smaller than 60,000; the runs themselves use the size actually loaded)."""
    info = FILE_SETS.get(c["dataset"]) or dataset_info(c["dataset"])
    n = info["n_train"]
    return n if c["train_size"] is None else min(c["train_size"], n)
