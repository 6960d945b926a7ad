"""Model registry: every architecture is built through ``create_model(name, **kwargs)``.

Modeled on timm's registry. The harness's own models live in this package (``basic``); each paper's
models live in its package (``archlab.papers.<paper>.models``) and decorate their factories with
``@register_model``, so a model's ``family`` is the paper it belongs to. The harness never imports a paper:
a paper's models register when its package is imported, and ``import archlab.papers`` imports every paper,
so ``list_models()`` then sees all of them. The registry also records the input shape a factory expects, so
one generic test (tests/harness/test_models.py) runs forward/backward on every registered model without
per-model code.

Every factory takes ``input_shape`` (one sample's shape: (C, H, W) for images, ``(2,)`` for spirals) and
``num_classes``, the one pair of names for what the data decides (docs/harness-api.md); it derives what it needs
(channels ``input_shape[0]``, features ``math.prod(input_shape)``, side ``input_shape[-1]``).
"""
from __future__ import annotations

import fnmatch
import importlib
import inspect
import pkgutil
from dataclasses import dataclass, field
from typing import Callable

import torch.nn as nn


@dataclass(frozen=True)
class ModelEntry:
    name: str
    fn: Callable[..., nn.Module]
    family: str
    input_shape: tuple  # one sample, e.g. (3, 32, 32) or (2,) for spirals
    test_kwargs: dict = field(default_factory=dict)  # small sizes for the generic model test


_REGISTRY: dict[str, ModelEntry] = {}


def register_model(fn=None, *, name=None, input_shape=(3, 32, 32), test_kwargs=None):
    """Decorator registering a factory ``fn(**kwargs) -> nn.Module`` under ``name`` (default: fn name).
    ``input_shape`` is the sample shape the generic model test builds (``fn(input_shape=...)``) and feeds it at."""

    def wrap(f):
        key = name or f.__name__
        if key in _REGISTRY and _REGISTRY[key].fn is not f:
            raise ValueError(f"model {key!r} is registered twice ({_REGISTRY[key].fn.__module__} and {f.__module__})")
        family = _family(f.__module__)
        _REGISTRY[key] = ModelEntry(key, f, family, tuple(input_shape), dict(test_kwargs or {}))
        return f

    return wrap(fn) if fn is not None else wrap


def _family(module: str) -> str:
    """``archlab.papers.<paper>.…`` -> ``<paper>``; any other module -> its last component (``basic``)."""
    parts = module.split(".")
    return parts[2] if parts[:2] == ["archlab", "papers"] and len(parts) > 2 else parts[-1]


def list_models(pattern: str = "*", family: str | None = None) -> list[str]:
    """Sorted names of registered models matching a glob ``pattern`` (and ``family`` module name)."""
    return sorted(k for k, e in _REGISTRY.items() if fnmatch.fnmatch(k, pattern) and (family is None or e.family == family))


def model_entry(name: str) -> ModelEntry:
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; registered models: {', '.join(list_models())} (a paper's models "
                         f"register when its package is imported: `import archlab.papers` imports them all)")
    return _REGISTRY[name]


def create_model(name: str, **kwargs) -> nn.Module:
    """Build a registered model. Unknown names and unknown keyword arguments are refused with the valid choices."""
    entry = model_entry(name)
    sig = inspect.signature(entry.fn)
    takes_any = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
    unknown = sorted(set(kwargs) - set(sig.parameters))
    if unknown and not takes_any:
        raise TypeError(f"model {name!r} got unknown argument(s) {unknown}; valid arguments: {sorted(sig.parameters)}")
    return entry.fn(**kwargs)


# Import the harness's own model modules so their @register_model decorators run (papers register their own).
for _m in pkgutil.iter_modules(__path__):
    if not _m.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_m.name}")

__all__ = ["register_model", "create_model", "list_models", "model_entry", "ModelEntry"]
