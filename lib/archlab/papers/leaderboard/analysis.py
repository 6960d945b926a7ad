"""Tables from the stored runs (no plotting, no verdicts): one row per run, the leaderboard (one row per entry and
budget), the ranked table of each budget with intervals and each budget's Pareto fronts.

A diverged run scores chance accuracy in the comparisons (the shared recipe failed that net, which counts against
it); a run that failed or never ran is left out (the notebook lists it: ``archlab.runs.failures`` by ``KEYS``).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ... import stats
from .models import BASELINE, ENTRIES, PAPER_NAMES

COLUMNS = ["entry", "label", "paper", "budget", "role", "seed", "epochs", "status", "params", "flops", "train_flops",
           "sec_per_epoch", "test_acc", "test_loss", "train_acc", "train_loss", "loss_fall_q4", "seconds", "error",
           "params_start", "position", "n_test", "test_bits"]
KEYS = ["entry", "budget", "role", "seed"]  # what names one run of the table
TEXT = ("entry", "label", "paper", "role", "status", "error", "test_bits")
SEED, PROBE = "seed", "probe"  # a run's role: a compared seed, or the longer probe of ``claims.FITTED``
CHANCE = 0.1  # CIFAR-10 (and the synthetic set): ten classes
COST_AXES = {"params": "parameters", "flops": "forward FLOPs per image", "train_flops": "training FLOPs (whole run)",
             "sec_per_epoch": "seconds per training epoch"}


def run_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per stored run with the standard columns (an empty frame of those columns when nothing ran)."""
    if runs is None or len(runs) == 0:
        return pd.DataFrame(columns=COLUMNS)
    df = runs.copy()
    df["seed"] = [t.get("seed") for t in df["train"]]
    df["label"] = df["entry"].map(lambda e: ENTRIES[e].label)
    df["paper"] = df["entry"].map(lambda e: ENTRIES[e].paper)
    for c in COLUMNS:
        if c not in df:
            df[c] = np.nan
    df["role"] = df["role"].fillna(SEED)
    df = df[COLUMNS].copy()
    num = [c for c in COLUMNS if c not in TEXT]
    df[num] = df[num].apply(pd.to_numeric, errors="coerce")
    order = dict(by=["budget", "entry", "role", "seed"], ascending=[True, True, False, True])  # seeds, then the probe
    return df.sort_values(**order).reset_index(drop=True)


def seeds(table: pd.DataFrame) -> pd.DataFrame:
    """The compared runs (the probes only say how far training got)."""
    return table[table.role == SEED]


def scored(table: pd.DataFrame) -> pd.DataFrame:
    """Compared runs that count: finished ones, and diverged ones at chance accuracy."""
    table = seeds(table)
    df = table[table.status.isin(["ok", "diverged"])].copy()
    df.loc[df.status == "diverged", "test_acc"] = CHANCE
    return df


def interval(values) -> tuple[float, float, float]:
    """Mean and 95% interval (t and seeded bootstrap, the wider: ``archlab.stats``) of per-seed values."""
    v = stats.finite(values)
    if len(v) == 0:
        return (math.nan,) * 3
    iv = stats.mean_difference(v)
    return iv.estimate, iv.low, iv.high


def leaderboard(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (budget, entry): costs, test accuracy mean [95% interval] over seeds (pp), seeds that counted,
    the last-quarter loss fall (shown, no longer a precondition), and the rank within its budget."""
    df = scored(table)
    rows = []
    for (budget, name), g in df.groupby(["budget", "entry"], sort=True):
        acc, lo, hi = interval(100 * g.test_acc)
        ok = g[g.status == "ok"]
        rows.append(dict(budget=int(budget), entry=name, label=ENTRIES[name].label, paper=ENTRIES[name].paper,
                         params=int(g.params.max()), flops=float(g.flops.median()),
                         train_flops=float(g.train_flops.median()), sec_per_epoch=float(g.sec_per_epoch.median()),
                         test_acc=acc, ci_low=lo, ci_high=hi, seeds=len(g), diverged=int((g.status != "ok").sum()),
                         train_loss=float(ok.train_loss.mean()), loss_fall_q4=float(ok.loss_fall_q4.mean())))
    cols = ["budget", "entry", "label", "paper", "params", "flops", "train_flops", "sec_per_epoch", "test_acc",
            "ci_low", "ci_high", "seeds", "diverged", "train_loss", "loss_fall_q4"]
    out = pd.DataFrame(rows, columns=cols)
    out["rank"] = out.groupby("budget").test_acc.rank(ascending=False, method="min").astype("Int64")
    return out.sort_values(["budget", "rank", "entry"]).reset_index(drop=True)


def paired_gap(table: pd.DataFrame, name: str, budget: int, baseline: str = BASELINE) -> tuple[np.ndarray, np.ndarray]:
    """Per seed test accuracy (pp) of ``name`` and of ``baseline`` at ``budget``, aligned on the seeds both have."""
    df = scored(table)
    df = df[df.budget == budget]
    a = df[df.entry == name].set_index("seed").test_acc
    b = df[df.entry == baseline].set_index("seed").test_acc
    seeds = sorted(set(a.index) & set(b.index))
    return 100 * a.loc[seeds].to_numpy(float), 100 * b.loc[seeds].to_numpy(float)


def ranked(table: pd.DataFrame, budget: int) -> pd.DataFrame:
    """The ranked table of one budget, for reading: accuracy with its interval and the paired gap to ResNet."""
    lb = leaderboard(table)
    lb = lb[lb.budget == budget]
    rows = []
    for r in lb.itertuples():
        a, b = paired_gap(table, r.entry, budget)
        gap = stats.mean_difference(a, b, paired=True) if r.entry != BASELINE and len(a) else None
        rows.append({"rank": r.rank, "entry": r.label, "paper": f"{r.paper} ({PAPER_NAMES[r.paper]})",
                     "params": r.params, "MFLOPs": r.flops / 1e6, "train PFLOPs": r.train_flops / 1e15,
                     "s/epoch": r.sec_per_epoch,
                     "test acc % [95% CI]": f"{r.test_acc:.2f} [{r.ci_low:.2f}, {r.ci_high:.2f}]",
                     "vs ResNet, pp [95% CI]": "baseline" if r.entry == BASELINE else
                     "no shared seeds" if gap is None else f"{gap.estimate:+.2f} [{gap.low:+.2f}, {gap.high:+.2f}]",
                     "seeds": r.seeds})
    return pd.DataFrame(rows)


def pareto(points: pd.DataFrame, cost: str) -> pd.DataFrame:
    """The rows of ``points`` (columns ``cost`` and ``test_acc``) that no other row beats on both: no cheaper or
    equal-cost row is more accurate. Sorted by cost."""
    p = points.dropna(subset=[cost, "test_acc"]).sort_values([cost, "test_acc"], ascending=[True, False])
    best, keep = -math.inf, []
    for i, r in p.iterrows():
        if r.test_acc > best:
            keep.append(i)
            best = r.test_acc
    return p.loc[keep]


def fronts(lb: pd.DataFrame, cost: str) -> dict[int, pd.DataFrame]:
    """Each budget's Pareto front in (``cost``, accuracy)."""
    if cost not in COST_AXES:
        raise ValueError(f"unknown cost {cost!r}; valid: {list(COST_AXES)}")
    return {int(b): pareto(g, cost) for b, g in lb.groupby("budget")}


def headline(lb: pd.DataFrame) -> pd.DataFrame:
    """The README's table: per budget, each entry's test accuracy mean [95% CI] (columns: budgets)."""
    if lb.empty:
        return pd.DataFrame()
    cell = lb.assign(cell=[f"{a:.1f} [{lo:.1f}, {hi:.1f}]" for a, lo, hi in zip(lb.test_acc, lb.ci_low, lb.ci_high)])
    out = cell.pivot_table(index=["paper", "label"], columns="budget", values="cell", aggfunc="first")
    out.columns = [f"{b // 1000}k params" for b in out.columns]
    return out.reset_index().sort_values(["paper", "label"]).fillna("")


def design_table(cfg) -> pd.DataFrame:
    """Every (entry, budget) of the profile as matched before training: the registered model, its width (stage
    widths or paper 2's F), parameters (SensLI: before / after its largest possible insertion), the distance from
    the budget and forward MFLOPs per image; entries a budget cannot hold are listed with the reason."""
    from .budgets import match, smallest

    p = cfg.plan()
    rows = []
    for b, names in p["budgets"].items():
        for name in names:
            e, m = ENTRIES[name], match(name, b, p["shape"])
            base = dict(budget=b, entry=e.label, paper=e.paper, model=e.model)
            if m is None:
                rows.append({**base, "note": f"not matched: its smallest net has {smallest(name, p['shape']):,} "
                                             f"parameters (or the step between widths exceeds 5%)"})
                continue
            rows.append({**base, "width": m.kwargs.get("widths", m.kwargs.get("filters")), "params": m.params,
                         "params_after_growth": m.params_max if e.method == "sensli" else None,
                         "off_budget_%": 100 * m.error, "MFLOPs": m.flops / 1e6, "note": e.note})
    return pd.DataFrame(rows)


def device_label(device) -> str:
    """The device runs were timed on, for axis labels: "cuda" or "cpu (2 threads)"."""
    import torch

    kind = getattr(device, "type", str(device))
    return f"{kind} ({torch.get_num_threads()} threads)" if kind == "cpu" else kind
