"""Frozen configs from notebook parameters: unknown keys, types, choices and coercion."""
from dataclasses import FrozenInstanceError, dataclass, field

import pytest

from archlab.config import Config, ConfigError, choices
from archlab.profiles import resolve_profile


@dataclass(frozen=True)
class Toy(Config):
    name: str = field(default="a", metadata=choices("a", "b"))
    lr: float = 0.1
    seeds: tuple = (0,)
    sizes: tuple[int, ...] = (1, 2)
    tags: tuple = field(default=(), metadata=choices("x", "y"))

    def validate(self):
        if self.lr <= 0:
            raise ConfigError(f"lr = {self.lr} must be > 0")


def test_coerces_notebook_values():
    cfg = Toy.from_dict({"lr": 1, "seeds": [1, 2], "sizes": [3]})
    assert cfg.lr == 1.0 and isinstance(cfg.lr, float) and cfg.seeds == (1, 2) and cfg.sizes == (3,)
    with pytest.raises(FrozenInstanceError):
        cfg.lr = 2.0


@pytest.mark.parametrize("params,match", [({"nme": "a"}, r"unknown parameter\(s\) \['nme'\].*'name'"),
                                          ({"name": "c"}, r"'c' is not valid; choose one of \['a', 'b'\]"),
                                          ({"tags": ["x", "z"]}, "'z' is not valid"),
                                          ({"lr": "fast"}, "type float"), ({"lr": -1}, "must be > 0")])
def test_bad_values_name_the_value_and_the_choices(params, match):
    with pytest.raises(ConfigError, match=match):
        Toy.from_dict(params)


def test_replace_revalidates():
    with pytest.raises(ConfigError):
        Toy().replace(name="zz")


def test_profiles(monkeypatch):
    monkeypatch.setenv("ARCHLAB_PROFILE", "cpu")
    assert resolve_profile("auto") == "cpu" and resolve_profile("gpu") == "gpu"
    monkeypatch.delenv("ARCHLAB_PROFILE")
    assert resolve_profile("auto") in ("cpu", "gpu")
    with pytest.raises(ValueError, match="smoke"):
        resolve_profile("fast")
