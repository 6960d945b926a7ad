"""Frozen configs built from plain notebook parameters.

``Config.from_dict`` refuses unknown keys and values outside declared choices, naming the bad
value and the valid ones, so bad input fails before any training starts.
"""
from __future__ import annotations

import dataclasses
import typing
from typing import Any, ClassVar, Mapping

from .profiles import CHOICES as PROFILE_CHOICES


class ConfigError(ValueError):
    """A parameter is unknown or invalid; the message names it and the valid choices."""


def choices(*values, doc: str = ""):
    """Declare a field's valid values: ``x: str = field(default="a", metadata=choices("a", "b"))``."""
    return {"choices": tuple(values), "doc": doc}


@dataclasses.dataclass(frozen=True)
class Config:
    """Base class: subclasses are frozen dataclasses; ``validate`` may add cross-field checks."""

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_dict(cls, params: Mapping[str, Any] | None = None, **overrides):
        params = {**(params or {}), **overrides}
        valid = cls.field_names()
        unknown = sorted(set(params) - set(valid))
        if unknown:
            raise ConfigError(f"{cls.__name__}: unknown parameter(s) {unknown}; valid parameters: {valid}")
        hints = typing.get_type_hints(cls)
        coerced = {}
        for f in dataclasses.fields(cls):
            if f.name not in params:
                continue
            coerced[f.name] = _coerce(cls.__name__, f.name, params[f.name], hints.get(f.name))
        cfg = cls(**coerced)
        cfg.check()
        return cfg

    def check(self) -> None:
        for f in dataclasses.fields(self):
            allowed = f.metadata.get("choices")
            value = getattr(self, f.name)
            values = value if isinstance(value, (list, tuple)) else [value]
            for v in values:
                if allowed is not None and v not in allowed:
                    raise ConfigError(
                        f"{type(self).__name__}.{f.name} = {v!r} is not valid; choose one of {list(allowed)}"
                    )
        self.validate()

    def validate(self) -> None:  # cross-field checks in subclasses
        pass

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **changes):
        return type(self).from_dict({**self.to_dict(), **changes})


@dataclasses.dataclass(frozen=True)
class PaperConfig(Config):
    """What every paper's notebook config has; a paper's config subclasses it, sets ``PROFILES`` (its profile
    settings: each a dict with ``seeds``, a count or a list) and declares only its own fields.

    ``seeds`` is one type in every notebook: a list of seeds, empty for the profile's."""

    PROFILES: ClassVar[dict] = {}
    ONE_CORE_RUNS: ClassVar[bool] = True  # cpu: one single-thread run per core (``archlab.sweep.auto_executor``)

    profile: str = dataclasses.field(default="auto", metadata=choices(*PROFILE_CHOICES))
    seeds: tuple[int, ...] = ()  # (): the profile's seeds
    executor: str = dataclasses.field(default="auto", metadata=choices("auto", "local", "ray"))

    def check(self) -> None:
        if not isinstance(self.seeds, (list, tuple)) or not all(
                isinstance(s, int) and not isinstance(s, bool) for s in self.seeds):
            raise ConfigError(f"seeds = {self.seeds!r} must be a list of integers (empty: the profile's)")
        if len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"seeds = {self.seeds!r} holds a seed twice")
        super().check()

    @property
    def resolved_profile(self) -> str:
        from .profiles import resolve_profile

        return resolve_profile(self.profile)

    @property
    def settings(self) -> dict:
        """The resolved profile's settings (a copy)."""
        return dict(self.PROFILES[self.resolved_profile])

    @property
    def resolved_seeds(self) -> tuple[int, ...]:
        if self.seeds:
            return tuple(self.seeds)
        s = self.PROFILES[self.resolved_profile]["seeds"]
        return tuple(range(s)) if isinstance(s, int) else tuple(s)

    def resolved_executor(self) -> str:
        from .profiles import auto_executor

        return self.executor if self.executor != "auto" else auto_executor(self.resolved_profile,
                                                                            one_core_runs=self.ONE_CORE_RUNS)

    def resolved_device(self, device=None):
        """``device`` if given, else the profile's default (the smoke profile always runs on the CPU)."""
        import torch

        from .profiles import default_device

        return torch.device(device) if device is not None else default_device(self.resolved_profile)


def _coerce(owner: str, name: str, value, hint):
    """Accept what a notebook parameter cell naturally holds: ints for floats, lists for tuples."""
    origin = typing.get_origin(hint)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if (hint is tuple or origin is tuple) and isinstance(value, list):
        return tuple(value)
    if hint in (int, float, str, bool) and not isinstance(value, hint):
        raise ConfigError(f"{owner}.{name} = {value!r} should be of type {hint.__name__}")
    if hint is int and isinstance(value, bool):
        raise ConfigError(f"{owner}.{name} = {value!r} should be an int, not a bool")
    return value
