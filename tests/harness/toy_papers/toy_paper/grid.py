"""Profiles (smoke: a few seconds) and the config."""
from dataclasses import dataclass, field

from archlab.config import Config, ConfigError, choices
from archlab.profiles import CHOICES, resolve_profile

PROFILES = {p: dict(hidden=h, epochs=e, seeds=s) for p, h, e, s in
            (("smoke", 32, 60, 3), ("cpu", 64, 200, 5), ("gpu", 64, 200, 10), ("paper", 128, 400, 10))}


@dataclass(frozen=True)
class ToyConfig(Config):
    profile: str = field(default="auto", metadata=choices(*CHOICES))
    seeds: int = 0  # 0: the profile's

    def validate(self):
        if self.seeds < 0:
            raise ConfigError(f"seeds = {self.seeds} must be >= 1 (or 0 for the profile's default)")

    def plan(self) -> dict:
        p = dict(PROFILES[resolve_profile(self.profile)])
        return {**p, "seeds": self.seeds or p["seeds"]}


Config = ToyConfig


def make_config(**params) -> ToyConfig:
    return ToyConfig.from_dict(params)


def configs(cfg: ToyConfig) -> list[dict]:
    p = cfg.plan()
    return [{"model": "toy_mlp", "model_kwargs": {"hidden": p["hidden"]}, "dataset": "spirals", "device": "cpu",
             "seed": s, "train": {"epochs": p["epochs"], "batch_size": 64, "lr": 1e-2, "seed": s}}
            for s in range(p["seeds"])]
