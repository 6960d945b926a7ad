"""The per-notebook session: resolved profile, device, results folder, run store and provenance.

A notebook starts with ``cfg = P.make_config(**parameters(globals(), P.Config))`` (its parameters cell's values,
named once) and ``ctx = session(P.STEM, profile=cfg.profile, seeds=...)``, and then writes everything through
``ctx``: figures (with manifest), tables and the claims verdict table.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from . import claims as _claims
from . import plots
from .paths import results_dir
from .profiles import default_device, resolve_profile
from .provenance import provenance
from .store import RunStore


@dataclass
class Session:
    stem: str
    profile: str
    seeds: tuple
    device: object
    dir: Path
    store: RunStore
    started: float = field(default_factory=time.perf_counter)

    def provenance(self, **extra) -> dict:
        return provenance(self.profile, self.seeds, self.device,
                          run_time_s=round(time.perf_counter() - self.started, 1), **extra)

    def savefig(self, fig, name: str, close: bool = False) -> Path:
        path = plots.savefig(fig, name, self.dir / "figures", self.provenance())
        if close:
            import matplotlib.pyplot as plt

            plt.close(fig)
        return path

    def save_table(self, df: pd.DataFrame, name: str, index: bool = False) -> Path:
        path = self.dir / f"{name}.csv"
        df.to_csv(path, index=index)
        return path

    def write_claims(self, rows: list[dict]) -> pd.DataFrame:
        rows = [{**r, "profile": r.get("profile") or self.profile} for r in rows]
        return _claims.write_claims(rows, self.dir / "claims.csv")


def session(stem: str, profile: str = "auto", seeds=(0,), store: RunStore | None = None) -> Session:
    prof = resolve_profile(profile)
    plots.set_style()
    return Session(stem, prof, tuple(seeds), default_device(prof), results_dir(stem), store if store is not None else RunStore())


def parameters(namespace: dict, config_cls) -> dict:
    """The notebook's parameters as one dict for ``make_config``: every name of ``namespace`` (the notebook's
    ``globals()``) that is a field of ``config_cls``. Parameters are so named once, in the parameters cell."""
    return {name: namespace[name] for name in config_cls.field_names() if name in namespace}

