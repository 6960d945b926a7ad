"""The harness check's profiles and config: ``small_cnn`` per optimizer and seed.

Expected run time (2-core CPU for smoke/cpu, one H100 for gpu/paper):
- smoke: digits, 2 optimizers x 1 seed x 3 epochs: ~10 s
- cpu:   MNIST (17k offline copy / 60k online), 2 optimizers x 1 seed x 2 epochs: ~40 s
- gpu:   CIFAR-10, 2 optimizers x 2 seeds x 15 epochs, augmented: ~2 min (estimate, not yet measured)
- paper: as gpu with 3 seeds: ~3 min (estimate)
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ...config import ConfigError, PaperConfig, choices

PROFILES = {
    "smoke": dict(dataset="digits", width=16, epochs=3, batch_size=64, seeds=(0,), train_size=None),
    "cpu": dict(dataset="mnist", width=16, epochs=2, batch_size=256, seeds=(0,), train_size=None),
    "gpu": dict(dataset="cifar10", width=64, epochs=15, batch_size=512, seeds=(0, 1), train_size=None),
    "paper": dict(dataset="cifar10", width=64, epochs=15, batch_size=512, seeds=(0, 1, 2), train_size=None),
}
OPTIMIZERS = {  # each optimizer at its usual learning rate for this model size
    "sgd": dict(optimizer="sgd", lr=0.2, momentum=0.9, nesterov=True, weight_decay=5e-4, schedule="onecycle"),
    "adamw": dict(optimizer="adamw", lr=3e-3, weight_decay=5e-4, schedule="onecycle"),
}


@dataclass(frozen=True)
class OverviewConfig(PaperConfig):
    PROFILES = PROFILES  # the base's ClassVar: this notebook's profiles

    dataset: str = ""  # empty: the profile's dataset
    epochs: int = 0  # 0: the profile's number
    optimizers: tuple = field(default=("sgd", "adamw"), metadata=choices(*OPTIMIZERS))

    def validate(self):
        from ...data import DATASETS

        if self.dataset and self.dataset not in DATASETS:
            raise ConfigError(f"dataset {self.dataset!r} is not valid; choose one of {list(DATASETS)}")
        if self.epochs < 0:
            raise ConfigError(f"epochs = {self.epochs} must be >= 1 (or 0 for the profile's default)")
        if not self.optimizers:
            raise ConfigError(f"optimizers is empty; choose from {list(OPTIMIZERS)}")

    def plan(self) -> dict:
        """The profile's settings with this config's overrides applied."""
        p = self.settings
        p.update({k: v for k, v in (("dataset", self.dataset), ("epochs", self.epochs)) if v})
        p["seeds"] = self.resolved_seeds
        return p


Config = OverviewConfig


def make_config(**params) -> OverviewConfig:
    return OverviewConfig.from_dict(params)


def configs(cfg: OverviewConfig, device=None) -> list[dict]:
    """Every run of the harness check: ``archlab.train.run_training`` configs (``device``: the profile's when None)."""
    p, device = cfg.plan(), cfg.resolved_device(device).type
    out = []
    for opt, seed in ((o, s) for o in cfg.optimizers for s in p["seeds"]):
        train = dict(OPTIMIZERS[opt], epochs=p["epochs"], batch_size=p["batch_size"], seed=seed,
                     augment=p["dataset"].startswith("cifar"), warmup_epochs=0.0)
        out.append({"model": "small_cnn", "model_kwargs": {"width": p["width"]}, "dataset": p["dataset"],
                    "train_size": p["train_size"], "test_size": None, "data_seed": 0, "train": train,
                    "device": device, "optimizer": opt, "seed": seed})
    return out
