"""Paper 3's profiles, the notebook config, the arms of each experiment and every run config.

Experiments (docs/papers/multipath_routing.md; the companion's schedule, not the paper's: SGD + Nesterov 0.9, wd 5e-4,
linear warm-up then cosine decay to 0, pad-4 crop + flip, the same seeds, hence the same initial draws, across arms):
- E1 widening (C1, C5): SP-wide x1.41 and MP2 with each router in ``routers`` (SP-base, half the cost, on gpu/paper);
- E2 ensembles / depth / adaptive (C2-C4): Ens2, SP-deeper and SK (both width-searched to +-5% of MP2-CC in
  params and MACs), SP-wide x1.41 + SE;
- E3 overhead (C6, C6b): CP-conv / CC counted for every m in ``paths`` (not trained); MP2-CP-conv width-searched to
  MP2-CC's cost, trained; on gpu/paper also the larger budget: MP2-CP-conv, SP-wide x2 and MP{m}-CC, m != 2;
- E4 specialisation (C5, C7): MI against a label-permutation null, routing entropy, end-to-end paths, inter-path CKA
  and path ablation, computed inside every multi-path run on the test set; the frozen-router control; MP2-CC at
  each router temperature in ``temperatures`` (the ablation reported beside C7);
- E5 CIFAR-100 (gpu/paper, when its files are present or downloadable): SP-wide, MP2-{none, static, CC}, Ens2, reported;
- E6 two contexts (C8, ``contexts``): SP-wide x1.41 and MP2-CC (gpu/paper: + frozen router) on data + its inversion.

Profiles (what each shrinks; every one trains each arm to the end of its schedule, and every accuracy claim checks
that it converged, see ``claims``):
- smoke: embedded synthetic 3x32x32 (128/128 images) pooled to 16x16, 3 epochs, 2 seeds, 26 runs: plumbing only.
         Measured: 50 CPU-seconds for the whole notebook (kernel start included; 3:10 wall on a machine loaded
         8-11 on 2 cores), so about 45-55 s on 2 idle cores.
- cpu:   CIFAR-10, the same 500 training images for every arm, evaluated on the full 10,000-image test split (the
         routing analyses on a fixed 2,000 of them), average-pooled to 16x16 inside every arm (after the 32x32 crop
         and flip), per-path widths (8, 16, 32), 50 epochs (400 steps of 64, lr 0.05), 6 paired seeds for every arm a
         claim compares, 2 for the temperature ablation (reported, not judged): 13 arms, 74 runs. Chosen so that
         every compared arm is *trained* (issue 30): SP-deeper, the slowest to fit, reached a clean training loss of
         1.21 nats (56 % accuracy) after 40 epochs on 1,000 images, above the 1.15 level, and 1.04 (63 %) after 50
         epochs on 500 (0.95 after 60); MP2-CC 0.68 (78 %) on the two-context set. Measured CPU time of whole runs at
         this design (one thread, 10,000 test images, under a load of 8-17 on 2 cores, which inflates CPU time):
         SP-deeper 10.9 s, MP2-CC on the two-context set with its analyses 17.0 s. Whole notebook measured on 2
         idle cores (fresh store): 491 s with each arm's seeds packed where a probe measures it faster (fbda1ee;
         that run packed every arm but SK, Ens2 and MP2-none; probe ratios at K = 6: single-path arms 1.36-1.65x in
         channels_last, routed ones 1.07-1.32x; see ``run.train_arm_packed``), 561 s with ``packed = "off"``.
- gpu:   full CIFAR-10 (+ CIFAR-100), 32x32, reference widths (32, 64, 128), 15 epochs, batch 512, every arm: 4 seeds
         for the arms a claim compares, 2 for the others (reported beside, never judged), 76 runs. Projected (never
         run) 10-20 minutes on one H100/H200: 36.9 PFLOP of training and test passes (counted, 3x forward for a
         training step) at an assumed 40-60 TFLOP/s achieved bf16 rate for four concurrent small convnets, plus
         120,540 steps at ~5 ms launch overhead shared by the four; an assumption, not a measurement.
- paper: the gpu profile at 30 epochs and 5 seeds for every arm (about 5x the gpu profile's time).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import ClassVar

from ... import data
from ...config import ConfigError, PaperConfig, choices
from .arms import CC, label, parse, searched_multipliers, tau_arm
from .contexts import context_dataset
from .models import PATHS, ROUTERS

DATASETS = ("auto", "synthetic", "cifar10", "cifar100")
SCOPES = ("claims", "full")  # claims: only the arms a claim judges; full: every arm of the design
_CLAIM_ROUTERS = ("none", "static", "cross_connections")

PROFILES = {
    "smoke": dict(datasets=("synthetic",), train_size=128, test_size=128, analysis_size=None, pool_input=2,
                  widths=(8, 16, 32), stem=8, convs_per_stage=2, epochs=3, batch_size=64, lr=0.05, warmup_epochs=0.0,
                  seeds=2, extra_seeds=2, routers=_CLAIM_ROUTERS, paths=(2, 4), temperatures=(0.25,), scope="claims"),
    "cpu": dict(datasets=("cifar10",), train_size=500, test_size=None, analysis_size=2000, pool_input=2,
                widths=(8, 16, 32), stem=8, convs_per_stage=2, epochs=50, batch_size=64, lr=0.05, warmup_epochs=2.0,
                seeds=6, extra_seeds=2, routers=_CLAIM_ROUTERS, paths=(2, 4), temperatures=(0.25,), scope="claims"),
    "gpu": dict(datasets=("cifar10", "cifar100"), train_size=None, test_size=None, analysis_size=None, pool_input=1,
                widths=(32, 64, 128), stem=32, convs_per_stage=2, epochs=15, batch_size=512, lr=0.2,
                warmup_epochs=2.0, seeds=4, extra_seeds=2, routers=(*_CLAIM_ROUTERS, "cross_prediction_gate"),
                paths=(2, 4), temperatures=(0.5, 0.25), scope="full"),
}
PROFILES["paper"] = {**PROFILES["gpu"], "epochs": 30, "seeds": 5, "extra_seeds": 5}
# The arms each claim compares (first dataset; C8/C8b on the two-context set): they train ``seeds`` seeds, every other
# arm (reported beside a claim, never judged) ``extra_seeds``, except MP2-none, C1's and C5's reference.
CLAIM_ARMS = {"C1": (CC, "sp_wide"), "C2": (CC, "sp_wide_se", "sk"), "C3": (CC, "ens2"), "C4": (CC, "sp_deeper"),
              "C5": (CC, "mp2_static"), "C6b": (CC, "mp2_cross_prediction_conv_matched"), "C7": (CC, CC + "_frozen"),
              "C8": (CC,), "C8b": (CC, "sp_wide"), "C10": (CC, "mp2_static", CC + "_frozen")}
JUDGED = {a for arms_ in CLAIM_ARMS.values() for a in arms_} | {"mp2_none"}


@dataclass(frozen=True)
class MultipathConfig(PaperConfig):
    """The notebook's parameters beside the base's (profile, seeds, executor); 0 or an empty list means "the
    profile's value". Every arm shares the seeds, so comparisons are paired. Executor "auto": Ray on gpu/paper,
    four runs per GPU (small nets leave an H100 mostly idle), and on the cpu profile one single-thread run per core
    (``ONE_CORE_RUNS``: two threads give these nets about 1.4x, not 2x)."""

    PROFILES: ClassVar[dict] = PROFILES

    dataset: str = field(default="auto", metadata=choices(*DATASETS))
    epochs: int = 0
    routers: tuple = field(default=(), metadata=choices(*ROUTERS))
    paths: tuple = field(default=(), metadata=choices(*PATHS))
    temperatures: tuple = ()
    permutations: int = 200
    # Train an arm's seeds as one packed network (archlab.packed) where a probe on this machine, at one thread as a
    # cpu worker trains, measures more seeds per second that way; same run keys and results up to rounding (an
    # execution strategy, like the executor). off: every run one at a time.
    packed: str = field(default="auto", metadata=choices("auto", "off"))

    def validate(self):
        if self.epochs < 0:
            raise ConfigError(f"epochs = {self.epochs} must be >= 0 (0: the profile's)")
        if self.routers and "cross_connections" not in self.routers:
            raise ConfigError(f"routers = {list(self.routers)} must include 'cross_connections' (every claim compares "
                              f"against MP2-CC); valid routers: {list(ROUTERS)}")
        if self.paths and 2 not in self.paths:
            raise ConfigError(f"paths = {list(self.paths)} must include 2 (the matched reference); valid: {list(PATHS)}")
        bad = [t for t in self.temperatures if not (isinstance(t, (int, float)) and 0 < t and t != 1)]
        if bad:
            raise ConfigError(f"temperatures = {list(self.temperatures)}: {bad} invalid; each must be a number > 0 "
                              f"and != 1 (1 is MP2-CC itself), e.g. [0.5, 0.25]")
        if self.permutations < 100:
            raise ConfigError(f"permutations = {self.permutations}: the MI test needs >= 100 label shuffles to resolve "
                              f"p < 0.01 (200 by default)")

    def plan(self) -> dict:
        """The profile's settings with this config's overrides applied (CIFAR-100 dropped when ``dataset`` is
        "auto" and its files are absent); ``seeds`` and ``extra_seeds`` as tuples of seeds (the notebook's
        ``seeds`` replaces both)."""
        g = self.settings
        if self.epochs:
            g["epochs"] = self.epochs
            g["warmup_epochs"] = min(g["warmup_epochs"], self.epochs / 4)
        for name in ("routers", "paths", "temperatures"):
            if getattr(self, name):
                g[name] = getattr(self, name)
        g["seeds"] = self.resolved_seeds
        g["extra_seeds"] = tuple(self.seeds) or tuple(range(g["extra_seeds"]))
        if self.dataset != "auto":
            g["datasets"] = (self.dataset,)
        else:
            g["datasets"] = tuple(d for d in g["datasets"] if d == g["datasets"][0] or available(d))
        return g


Config = MultipathConfig


def make_config(**params) -> MultipathConfig:
    return MultipathConfig.from_dict(params)


@lru_cache(maxsize=None)
def available(name: str) -> bool:
    """Whether a dataset is on this machine or can be downloaded (CIFAR-100 is optional: E5 runs only then; the
    offline copies lack it). Cached: the download probe waits up to 2 s per mirror when offline."""
    return data.available(name) or data.downloadable(name)


def arms(cfg: MultipathConfig) -> dict:
    """Experiment -> arms (each listed once), from the profile's scope and the notebook's routers, path counts and
    temperatures."""
    g = cfg.plan()
    full = g["scope"] == "full"
    mp2 = [f"mp2_{r}" for r in g["routers"]]
    out = {"E1": (["sp_base"] if full else []) + ["sp_wide", *mp2],
           "E2": ["ens2", "sp_deeper", "sp_wide_se", "sk"],
           "E3": ["mp2_cross_prediction_conv_matched"] + (["mp2_cross_prediction_conv", "sp_wide2"] + [
               f"mp{m}_cross_connections" for m in g["paths"] if m != 2] if full else []),
           "E4": [CC + "_frozen", *map(tau_arm, g["temperatures"])],
           "E5": [a for a in ("sp_wide", "mp2_none", "mp2_static", CC, "ens2") if a in mp2 or not a.startswith("mp")],
           "E6": ["sp_wide", CC] + ([CC + "_frozen"] if full else [])}
    return {k: list(dict.fromkeys(v)) for k, v in out.items()}


def multipath(names) -> list:
    """The multi-path arms among ``names`` (those with paths to compare: CKA, ablation), each once."""
    return list(dict.fromkeys(a for a in names if parse(a) is not None))


def routed(names) -> list:
    """The multi-path arms among ``names`` that route between paths (every router but ``none``), each once."""
    return [a for a in multipath(names) if parse(a)["router"] != "none"]


# E6 draws its analysed test images with a seed of its own: the contexts' seed (0) chose the inverted half of every
# class along the same permutation, so a seed-0 draw holds inverted images only (no per-domain analysis possible).
E6_ANALYSIS_SEED = 1


def run_configs(cfg: MultipathConfig, datasets: tuple | None = None, matched: bool = True, device=None) -> list[dict]:
    """Every run config of the notebook (deduplicated: MP2-CC serves E1-E4 with the same seeds).

    ``datasets`` replaces the plan's (which drops CIFAR-100 when its files are absent), e.g. to count a profile's
    runs on a machine without the data. ``matched=False`` skips the width search (~60 MAC counts, seconds on a
    CPU), leaving the searched arms' ``width_mult`` None: the runs and their data, not configs to train. ``device``:
    where they train (part of each run's config; None: the profile's)."""
    g, a = cfg.plan(), arms(cfg)
    if datasets is not None:
        g["datasets"] = tuple(datasets)
    everything = [x for v in a.values() for x in v]
    mult = searched_multipliers(everything, g["widths"], g["stem"], g["convs_per_stage"],
                                g["pool_input"]) if matched else {}
    keys = ("train_size", "test_size", "analysis_size", "stem", "convs_per_stage", "batch_size", "lr", "warmup_epochs",
            "pool_input")
    base = {k: g[k] for k in keys}
    base.update(widths=list(g["widths"]), permutations=cfg.permutations, epochs=g["epochs"],
                device=str(cfg.resolved_device(device)))
    runs = []

    def add(arm, dataset, judged=True, extra=None):
        for seed in g["seeds"] if judged and arm in JUDGED else g["extra_seeds"]:
            c = {**base, "arm": arm, "dataset": dataset, "seed": seed, "width_mult": mult.get(arm), **(extra or {})}
            if c not in runs:
                runs.append(c)

    first, *others = g["datasets"]
    for arm in a["E1"] + a["E2"] + a["E3"] + a["E4"]:
        add(arm, first)
    for arm in a["E6"]:  # a dataset name of its own keeps these runs out of every E1-E5 table and verdict
        add(arm, context_dataset(first), extra={"analysis_seed": E6_ANALYSIS_SEED})
    for dataset in others:
        for arm in a["E5"]:
            add(arm, dataset, judged=False)  # E5 is reported, not judged (C9 needs a large-scale run)
    return runs


__all__ = ["PROFILES", "SCOPES", "Config", "MultipathConfig", "make_config", "arms", "multipath", "routed",
           "run_configs", "label", "available"]
