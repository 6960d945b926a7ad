"""The one run table every paper reads: what ``run(cfg, store)`` returns and the operations every paper needs on it.

Every paper's ``run(cfg, store, device=None)`` returns a ``Runs``: its experiments' tables by name (one DataFrame
per experiment or study, one row per run, with the ``RESULT_COLUMNS`` a run function reports), plus the config it
ran. ``verdicts(runs, profile)`` reads the same object, so every notebook's verdict cell is the same two lines:

    runs = P.run(cfg, ctx.store, device=ctx.device)
    ctx.write_claims(P.verdicts(runs, ctx.profile))
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

# Every run table's result columns (a run function may add its own); docs/adding-a-paper.md lists what each means.
RESULT_COLUMNS = ("test_acc", "test_loss", "train_acc", "train_loss", "params", "flops", "seed", "status", "seconds")
JUDGED = ("ok", "diverged")  # statuses a claim can judge (a diverged run scores chance); the rest did not finish


class Runs(dict):
    """A paper's runs: experiment name -> table (or a measured object such as a timing table), with ``cfg``.

    A dict, so ``runs["e2"]`` and ``runs.e2`` both read an experiment; ``runs.cfg`` is the config that ran them."""

    def __init__(self, cfg=None, /, **parts):
        super().__init__(parts)
        self.cfg = cfg

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"no experiment {name!r} in these runs; experiments: {list(self)}") from None

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}: {repr(v) if isinstance(v, str) else len(v) if hasattr(v, '__len__') else type(v).__name__}"
                          for k, v in self.items())
        return f"Runs({sizes})"


def why_not_judged(df: pd.DataFrame | None, name: str, what: str = "experiment") -> str | None:
    """Why the runs of one experiment cannot be judged ("not run", "every run failed: <first error>"), or None
    when at least one run finished (ok or diverged)."""
    if df is None or not len(df):
        return f"{what} {name} has no runs in this profile"
    if not df["status"].isin(JUDGED).any():
        errors = df["error"].dropna().astype(str) if "error" in df else pd.Series(dtype=str)
        return f"every run of {name} failed ({len(df)} runs): " + (errors.iloc[0][:200] if len(errors) else "no error")
    return None


def failures(frames: dict, keys: list[str], what: str = "experiment") -> pd.DataFrame:
    """Every run that did not finish ok, across ``frames`` (name -> table): ``what``, ``keys``, status and error."""
    cols = [what, *keys, "status", "error"]
    rows = [f[f["status"] != "ok"].assign(**{what: name}) for name, f in frames.items()
            if isinstance(f, pd.DataFrame) and len(f) and "status" in f]
    out = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=cols)
    return out.reindex(columns=cols)


def by_seed(df: pd.DataFrame, seeds, column: str) -> np.ndarray:
    """``column`` of ``df`` in the order of ``seeds`` (NaN for a seed without a row): the per-seed vector a paired
    comparison lines up by seed."""
    vals = dict(zip(df["seed"], df[column].astype(float))) if column in df and len(df) else {}
    return np.array([vals.get(s, np.nan) for s in seeds], dtype=float)


def last_quarter_fall(losses) -> float:
    """The convergence measure: relative fall (L[q] - L[E]) / L[q] of the epoch-mean training loss over the last
    quarter of the schedule (q the epoch at 3/4, at least one epoch before the end). A net still learning there
    would gain from more epochs, so comparing it measures training speed, not the architecture. NaN with fewer than
    2 epochs or a non-finite loss."""
    v = [float(x) for x in losses]
    if len(v) < 2 or not all(math.isfinite(x) for x in v):
        return math.nan
    q = min(len(v) - 2, (3 * len(v)) // 4 - 1)
    return (v[q] - v[-1]) / v[q] if v[q] > 0 else math.nan
