"""What decides whether the leaderboard's comparisons can speak and where their spread comes from: each entry's fit
against its longer probe (the ``fitted`` precondition of the claims) and the split of each claim's paired
test-accuracy spread into test-set and seed parts (``archlab.testnoise``: more test images help only where the
test part is large; otherwise only seeds do).

The longer probe is seed 0 of the entry trained once more with ``grid.PROBE_FACTOR`` times the epochs under the
same recipe. A compared run that classifies at least ``FIT_RATIO`` of the training images the probe does (last-epoch
training accuracy) has been trained about as far as the recipe takes that net, so a gap between two such nets is
not a difference in how fast they fit.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ... import testnoise
from .analysis import PROBE, seeds
from .models import BASELINE, ENTRIES

FIT_RATIO = 0.95  # a compared run's training accuracy over its entry's longer probe's, at least


def fit_table(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (budget, entry): the worst and mean last-epoch training accuracy of its compared runs, its longer
    probe's, the stated level (``FIT_RATIO`` x the probe's) and whether every compared run meets it."""
    rows = []
    done = table[table.status == "ok"]
    for (budget, name), g in done.groupby(["budget", "entry"], sort=True):
        runs, probe = seeds(g), g[g.role == PROBE]
        p = float(probe.train_acc.iloc[0]) if len(probe) else math.nan
        worst = float(runs.train_acc.min()) if len(runs) else math.nan
        rows.append(dict(budget=int(budget), entry=name, label=ENTRIES[name].label, runs=len(runs),
                         epochs=runs.epochs.max(), train_acc_mean=float(runs.train_acc.mean()), train_acc_worst=worst,
                         probe_epochs=probe.epochs.max() if len(probe) else math.nan, probe_train_acc=p,
                         level=FIT_RATIO * p, ratio=worst / p if p > 0 else math.nan,
                         fitted=bool(worst >= FIT_RATIO * p) if p > 0 else None))
    return pd.DataFrame(rows, columns=["budget", "entry", "label", "runs", "epochs", "train_acc_mean",
                                       "train_acc_worst", "probe_epochs", "probe_train_acc", "level", "ratio",
                                       "fitted"])


def fitted_value(table: pd.DataFrame, names, budget: int) -> float | None:
    """The lowest ratio (worst compared run's training accuracy / its longer probe's) over ``names`` at ``budget``;
    None when one of them has no finished probe or no finished run (unmeasured)."""
    fits = fit_table(table[table.budget == budget]).set_index("entry")
    ratios = [fits.ratio.get(n, math.nan) for n in names]
    return float(min(ratios)) if all(np.isfinite(r) for r in ratios) else None


def bits_by_seed(table: pd.DataFrame, name: str, budget: int) -> dict:
    """``seed -> (test bits, n_test)`` of the finished compared runs of ``name`` at ``budget``
    (``archlab.testnoise.bits_by_seed`` reads them from each run's result)."""
    df = seeds(table)
    df = df[(df.entry == name) & (df.budget == budget) & (df.status == "ok") & df.test_bits.notna()]
    return testnoise.bits_by_seed(df.assign(result=[dict(test_bits=b, n_test=n) for b, n in zip(df.test_bits,
                                                                                                 df.n_test)]))


def noise_table(table: pd.DataFrame, designs: dict, *, full_test: int = 10_000) -> pd.DataFrame:
    """Per claim id and budget (``designs``: claim id -> entry): the paired spread of design - ResNet split into test
    and seed parts (pp), and the spread projected to ``full_test`` test images."""
    splits = {}
    for cid, name in designs.items():
        for budget in sorted(int(b) for b in table.budget.dropna().unique()):
            split = testnoise.paired_split(bits_by_seed(table, name, budget), bits_by_seed(table, BASELINE, budget))
            if split is not None:
                splits[f"{cid} ({budget // 1000}k)"] = split
    return testnoise.table(splits, full_test=full_test) if splits else pd.DataFrame()
