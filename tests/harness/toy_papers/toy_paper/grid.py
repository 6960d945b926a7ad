"""Profiles (smoke: a few seconds) and the config: only the paper's own fields (none here) beside the base's."""
from dataclasses import dataclass
from typing import ClassVar

from archlab.config import PaperConfig

PROFILES = {p: dict(hidden=h, epochs=e, seeds=s) for p, h, e, s in
            (("smoke", 32, 60, 3), ("cpu", 64, 200, 5), ("gpu", 64, 200, 10), ("paper", 128, 400, 10))}


@dataclass(frozen=True)
class ToyConfig(PaperConfig):
    PROFILES: ClassVar[dict] = PROFILES


Config = ToyConfig


def make_config(**params) -> ToyConfig:
    return ToyConfig.from_dict(params)


def configs(cfg: ToyConfig) -> list[dict]:
    hidden, epochs = cfg.settings["hidden"], cfg.settings["epochs"]
    return [{"model": "toy_mlp", "model_kwargs": {"hidden": hidden}, "dataset": "spirals", "device": "cpu",
             "seed": s, "train": {"epochs": epochs, "batch_size": 64, "lr": 1e-2, "seed": s}}
            for s in cfg.resolved_seeds]
