"""Paper 3's profiles, the notebook config, the arms of each experiment and every run config.

Experiments (spec section 5; the companion's schedule, not the paper's: SGD + Nesterov 0.9, wd 5e-4,
linear warm-up then cosine decay, pad-4 crop + flip, the same seeds across arms):
- E1 widening (C1, C5): SP-base, SP-wide x1.41, MP2 with each router in ``routers``;
- E2 ensembles / depth / adaptive (C2-C4): Ens2, SP-deeper and SK (both width-searched to +-5% of MP2-CC in
  params and MACs), SP-wide x1.41 + SE;
- E3 overhead and m (C6): MP2-CP-conv, SP-wide x2 and MP{m}-CC for the other m in ``paths``; the parameter and
  MAC overhead of CP-conv vs CC for every m is counted, not trained;
- E4 specialisation (C5, C7): MI with a label-permutation null, entropy, end-to-end paths, inter-path CKA and
  path ablation, computed inside every multi-path run on the test set, plus the frozen-router control;
- E5 CIFAR-100 (when its files are present, gpu/paper only): SP-wide, MP2-{none, static, CC}, Ens2;
- E6 two contexts (C8, ``contexts``): SP-wide x1.41, MP2-CC, frozen router on data + its colour inversion.

Expected run time (smoke/cpu measured on the shared 2-core CPU, busy with other jobs; gpu/paper are estimates,
no GPU was available to time them):
- smoke: synthetic 3x32x32 (512/256 images), widths (8, 16, 32), 1 epoch, 1 seed, 17 runs (E6: 3): ~25 s of runs,
         ~70 s for the whole notebook under nbval (110 s at load average ~4)
- cpu:   CIFAR-10 3,000/1,000 images, widths (8, 16, 32), 5 epochs, 3 seeds (E3 and frozen router: 2), 46 runs: E1-E5's
         38 measured 30 min at load average 6-7 (idle estimate ~18-20 min); E6's 8 took 7.1 min at load average ~4
- gpu:   full CIFAR-10 (+CIFAR-100 at 2 seeds if present), reference widths (32, 64, 128), 10 epochs, 3 seeds
         (E3: 2), batch 512; ~55 training-equivalents of ~0.5-1 min: ~23 min with Ray at 4 runs per GPU (estimate)
- paper: the spec's 30 epochs (E3: 20), 3 seeds, CIFAR-10 and CIFAR-100: ~2 GPU-hours (estimate)
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ...config import Config, ConfigError, choices
from ...data import DataNotFoundError, load_dataset
from ...models import create_model
from ...profiles import CHOICES, default_device, resolve_profile
from ...sweep import EXECUTORS, auto_executor
from . import contexts as mx
from .baselines import budget, width_search
from .models import PATHS, ROUTERS

SQRT2 = 2 ** 0.5
DATASETS = ("auto", "synthetic", "cifar10", "cifar100")

PROFILES = {
    "smoke": dict(datasets=("synthetic",), train_size=None, test_size=None, widths=(8, 16, 32), stem=8,
                  convs_per_stage=2, epochs=1, e3_epochs=1, batch_size=64, lr=0.05, warmup_epochs=0.0, seeds=1,
                  e3_seeds=1, frozen_seeds=1, e5_seeds=1),
    "cpu": dict(datasets=("cifar10",), train_size=3000, test_size=1000, widths=(8, 16, 32), stem=8,
                convs_per_stage=2, epochs=5, e3_epochs=5, batch_size=128, lr=0.1, warmup_epochs=1.0, seeds=3,
                e3_seeds=2, frozen_seeds=2, e5_seeds=2),
    "gpu": dict(datasets=("cifar10", "cifar100"), train_size=None, test_size=None, widths=(32, 64, 128), stem=32,
                convs_per_stage=2, epochs=10, e3_epochs=10, batch_size=512, lr=0.2, warmup_epochs=2.0, seeds=3,
                e3_seeds=2, frozen_seeds=2, e5_seeds=2),
}
PROFILES["paper"] = {**PROFILES["gpu"], "epochs": 30, "e3_epochs": 20}

# Arms that are not multi-path nets: (registered model, kwargs on top of the backbone's widths/stem/depth).
BASELINES = {
    "sp_base": ("mp_plain_net", {}),
    "sp_wide": ("mp_plain_net", {"width_mult": SQRT2}),
    "sp_wide2": ("mp_plain_net", {"width_mult": 2.0}),
    "sp_wide_se": ("mp_se_net", {"width_mult": SQRT2}),
    "sp_deeper": ("mp_plain_net", {}),  # twice the convs per stage, width-searched
    "sk": ("mp_sk_net", {}),  # width-searched
    "ens2": ("mp_ensemble", {"members": 2}),
}
SEARCHED = ("sp_deeper", "sk")
LABELS = {"sp_base": "SP-base", "sp_wide": "SP-wide ×1.41", "sp_wide2": "SP-wide ×2", "sp_wide_se": "SP-wide ×1.41 + SE",
          "sp_deeper": "SP-deeper", "sk": "SK", "ens2": "Ens2"}
ROUTER_LABELS = {"none": "none", "static": "static", "cross_connections": "CC", "cross_prediction_gate": "CP-gate",
                 "cross_prediction_conv": "CP-conv"}
_MP = re.compile(r"mp(\d+)_(\w+?)(_frozen)?")


def label(arm: str) -> str:
    m = _MP.fullmatch(arm)
    if m:
        return f"MP{m[1]}-{ROUTER_LABELS[m[2]]}" + (" (frozen router)" if m[3] else "")
    return LABELS[arm]


@dataclass(frozen=True)
class MultipathConfig(Config):
    """The notebook's parameters; 0 means "the profile's value"."""

    profile: str = field(default="auto", metadata=choices(*CHOICES))
    dataset: str = field(default="auto", metadata=choices(*DATASETS))
    seeds: int = 0  # seeds per E1/E2 arm
    epochs: int = 0
    routers: tuple = field(default=("none", "static", "cross_connections", "cross_prediction_gate"),
                           metadata=choices(*ROUTERS))
    paths: tuple = field(default=(2, 4), metadata=choices(*PATHS))
    permutations: int = 200
    executor: str = field(default="auto", metadata=choices("auto", *EXECUTORS))  # auto: ray on gpu/paper

    def validate(self):
        if self.seeds < 0 or self.epochs < 0:
            raise ConfigError(f"seeds = {self.seeds} and epochs = {self.epochs} must be >= 0 (0: the profile's)")
        if "cross_connections" not in self.routers:
            raise ConfigError(f"routers = {list(self.routers)} must include 'cross_connections' (every claim compares "
                              f"against MP2-CC); valid routers: {list(ROUTERS)}")
        if 2 not in self.paths:
            raise ConfigError(f"paths = {list(self.paths)} must include 2 (the matched reference); valid: {list(PATHS)}")
        if self.permutations < 100:
            raise ConfigError(f"permutations = {self.permutations}: the MI test needs >= 100 label shuffles to resolve "
                              f"p < 0.01 (the spec uses 200)")

    @property
    def resolved_profile(self) -> str:
        return resolve_profile(self.profile)

    @property
    def run_executor(self) -> str:
        """Small nets leave an H100 mostly idle, so gpu/paper run four at a time through Ray (gpus_per_run=0.25)."""
        if self.executor != "auto":
            return self.executor
        return auto_executor(self.resolved_profile)

    def plan(self) -> dict:
        """The profile's settings with this config's overrides applied (CIFAR-100 dropped when ``dataset`` is
        "auto" and its files are absent)."""
        g = dict(PROFILES[self.resolved_profile])
        if self.epochs:
            g["epochs"] = g["e3_epochs"] = self.epochs
            g["warmup_epochs"] = min(g["warmup_epochs"], self.epochs / 4)
        if self.seeds:
            g.update(seeds=self.seeds, e3_seeds=self.seeds, frozen_seeds=self.seeds, e5_seeds=self.seeds)
        if self.dataset != "auto":
            g["datasets"] = (self.dataset,)
        else:
            g["datasets"] = tuple(d for d in g["datasets"] if d == g["datasets"][0] or available(d))
        return g


Config = MultipathConfig


def make_config(**params) -> MultipathConfig:
    return MultipathConfig.from_dict(params)


def available(name: str) -> bool:
    """Whether a dataset can be loaded without a download (CIFAR-100 is optional: E5 runs only when present)."""
    try:
        load_dataset(name, "test", download=False)
        return True
    except DataNotFoundError:
        return False


def model_spec(arm: str, widths, stem: int, convs_per_stage: int, width_mult: float | None = None):
    """(registered model name, kwargs) of an arm at the given backbone size."""
    common = {"widths": tuple(widths), "stem": stem, "convs_per_stage": convs_per_stage}
    m = _MP.fullmatch(arm)
    if m:
        return "multipath_net", {**common, "paths": int(m[1]), "router": m[2], "freeze_router": bool(m[3])}
    if arm not in BASELINES:
        raise ValueError(f"unknown arm {arm!r}; valid: mp<m>_<router>[_frozen] or one of {sorted(BASELINES)}")
    name, kw = BASELINES[arm]
    kw = {**common, **kw}
    if arm == "sp_deeper":
        kw["convs_per_stage"] = 2 * convs_per_stage
    if arm == "sk":
        kw["sk_min_hidden"] = max(4, 32 * widths[-1] // 128)  # SK's L=32 at the reference widths, scaled with them
    if arm in SEARCHED:
        kw["width_mult"] = width_mult
    return name, kw


def searched_multipliers(widths, stem: int, convs_per_stage: int) -> dict:
    """Width multipliers that bring SP-deeper and SK within +-5% of MP2-CC in params and MACs (raises if none)."""
    name, kw = model_spec("mp2_cross_connections", widths, stem, convs_per_stage)
    target = budget(create_model(name, **kw))
    out = {}
    for arm in SEARCHED:
        name, kw = model_spec(arm, widths, stem, convs_per_stage, 1.0)
        out[arm], _ = width_search(lambda s: create_model(name, **{**kw, "width_mult": s}), target["params"],
                                   target["macs"])
    return out


def arms(cfg: MultipathConfig) -> dict:
    """Experiment -> arms, from the notebook's routers and path counts."""
    mp2 = [f"mp2_{r}" for r in cfg.routers]
    return {"E1": ["sp_base", "sp_wide", *mp2], "E2": ["ens2", "sp_deeper", "sp_wide_se", "sk"],
            "E3": ["mp2_cross_connections", "mp2_cross_prediction_conv", "sp_wide2"]
            + [f"mp{m}_cross_connections" for m in cfg.paths if m != 2],
            "E4": ["mp2_cross_connections_frozen"],
            "E5": [a for a in ("sp_wide", "mp2_none", "mp2_static", "mp2_cross_connections", "ens2")
                   if a in mp2 or not a.startswith("mp")],
            "E6": ["sp_wide", "mp2_cross_connections", "mp2_cross_connections_frozen"]}


def multipath(names: list) -> list:
    """The multi-path arms among ``names`` (those with paths to compare: CKA, ablation)."""
    return [a for a in names if a.startswith("mp")]


def routed(names: list) -> list:
    """The multi-path arms among ``names`` that route between paths (every router but ``none``)."""
    return [a for a in multipath(names) if "none" not in a]


def run_configs(cfg: MultipathConfig, datasets: tuple | None = None) -> list[dict]:
    """Every run config of the notebook (deduplicated: MP2-CC serves E1-E4 with the same seeds).

    ``datasets`` replaces the plan's (which drops CIFAR-100 when its files are absent), e.g. to count a profile's
    runs on a machine without the data."""
    g, a = cfg.plan(), arms(cfg)
    if datasets is not None:
        g["datasets"] = tuple(datasets)
    mult = searched_multipliers(g["widths"], g["stem"], g["convs_per_stage"])
    base = {k: g[k] for k in ("train_size", "test_size", "stem", "convs_per_stage", "batch_size", "lr", "warmup_epochs")}
    base.update(widths=list(g["widths"]), permutations=cfg.permutations,
                device=str(default_device(cfg.resolved_profile)))
    runs = []

    def add(arm, dataset, seeds, epochs):
        for seed in range(seeds):
            c = {**base, "arm": arm, "dataset": dataset, "seed": seed, "epochs": epochs, "width_mult": mult.get(arm)}
            if c not in runs:
                runs.append(c)

    first, *others = g["datasets"]
    for arm in a["E1"] + a["E2"]:
        add(arm, first, g["seeds"], g["epochs"])
    for arm in a["E3"]:
        add(arm, first, g["e3_seeds"], g["e3_epochs"])
    for arm in a["E4"]:
        add(arm, first, g["frozen_seeds"], g["epochs"])
    for arm in a["E6"]:  # a dataset name of its own keeps these runs out of every E1-E5 table and verdict
        add(arm, mx.context_dataset(first), g["frozen_seeds" if arm in a["E4"] else "seeds"], g["epochs"])
    for dataset in others:
        for arm in a["E5"]:
            add(arm, dataset, g["e5_seeds"], g["epochs"])
    return runs
