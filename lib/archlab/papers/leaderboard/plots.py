"""The leaderboard's figures, drawn only from stored runs (``analysis`` tables); each returns a matplotlib figure.

Colour is the paper, marker the budget; every point is an entry's mean test accuracy over seeds with its 95%
interval, and each budget's Pareto front (no cheaper entry of that budget is more accurate) is a dashed step line.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import LogLocator, ScalarFormatter

from .analysis import COST_AXES, fronts
from .models import BASELINE, ENTRIES, PAPER_NAMES

PAPER_COLOURS = {"1": "C0", "2": "C1", "3": "C2", "4": "C3"}
BUDGET_MARKERS = ["o", "s", "^", "D", "v"]


def _log_axis(ax, axis: str = "x") -> None:
    """Labelled ticks at 1-2-5 steps on a log axis (a range within one decade still gets numbers)."""
    a = ax.xaxis if axis == "x" else ax.yaxis
    a.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    fmt = ScalarFormatter()
    fmt.set_scientific(False)
    a.set_major_formatter(plt.FuncFormatter(lambda v, _: _si(v)))
    a.set_minor_formatter(plt.NullFormatter())


def _si(v: float) -> str:
    for div, suffix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return f"{v / div:g}{suffix}"
    return f"{v:g}"


def _markers(budgets) -> dict:
    return {b: BUDGET_MARKERS[i % len(BUDGET_MARKERS)] for i, b in enumerate(sorted(budgets))}


def accuracy_vs(lb: pd.DataFrame, cost: str, device: str = "", title: str = ""):
    """Test accuracy (mean, 95% interval) of every entry against ``cost`` (a key of ``analysis.COST_AXES``), one
    Pareto front per budget; each point is labelled with its entry."""
    fig, ax = plt.subplots(figsize=(9, 5.5))
    if lb.empty:
        ax.text(0.5, 0.5, "no finished runs", ha="center", va="center", transform=ax.transAxes)
        return fig
    marks = _markers(lb.budget.unique())
    for r in lb.itertuples():
        x = getattr(r, cost)
        ax.errorbar(x, r.test_acc, yerr=[[r.test_acc - r.ci_low], [r.ci_high - r.test_acc]], fmt=marks[r.budget],
                    color=PAPER_COLOURS[r.paper], ms=7, capsize=2, mec="k" if r.entry == BASELINE else "none")
        ax.annotate(r.label, (x, r.test_acc), textcoords="offset points", xytext=(5, 3), fontsize=7)
    for b, front in fronts(lb, cost).items():
        ax.step(front[cost], front.test_acc, where="post", ls="--", lw=1, color="0.4")
    ax.set_xscale("log")
    _log_axis(ax)
    unit = f" on {device}" if cost == "sec_per_epoch" and device else ""
    ax.set(xlabel=COST_AXES[cost] + unit, ylabel="test accuracy (%), mean and 95% interval over seeds",
           title=title or f"Accuracy against {COST_AXES[cost]}")
    papers = [Line2D([], [], color=PAPER_COLOURS[p], marker="o", ls="", label=f"paper {p}: {PAPER_NAMES[p]}")
              for p in sorted(lb.paper.unique())]
    sizes = [Line2D([], [], color="0.3", marker=m, ls="", label=f"budget {b:,} params") for b, m in marks.items()]
    front = [Line2D([], [], color="0.4", ls="--", label="Pareto front of a budget")]
    ax.legend(handles=papers + sizes + front, fontsize="small", loc="best")
    fig.tight_layout()
    return fig


def ranked(lb: pd.DataFrame, budget: int):
    """One budget's entries ranked by test accuracy (95% interval), each named with its parameters and FLOPs; the
    dotted line is ResNet's mean."""
    g = lb[lb.budget == budget].sort_values("test_acc")
    fig, ax = plt.subplots(figsize=(8.5, 0.42 * max(len(g), 3) + 1.2))
    y = np.arange(len(g))
    ax.errorbar(g.test_acc, y, xerr=[g.test_acc - g.ci_low, g.ci_high - g.test_acc], fmt="none", ecolor="0.5",
                capsize=3)
    ax.scatter(g.test_acc, y, c=[PAPER_COLOURS[p] for p in g.paper], zorder=3)
    names = [f"{r.label}  ({r.params / 1e3:.0f}k params, {r.flops / 1e6:.1f} MFLOPs)" for r in g.itertuples()]
    ax.set_yticks(y, names, fontsize="small")
    base = g[g.entry == BASELINE]
    if len(base):
        ax.axvline(float(base.test_acc.iloc[0]), ls=":", color="k", lw=1)
    ax.set(xlabel="test accuracy (%), mean and 95% interval over seeds", title=f"Budget {budget:,} parameters")
    handles = [Line2D([], [], color=PAPER_COLOURS[p], marker="o", ls="", label=f"paper {p}")
               for p in sorted(g.paper.unique())]
    if len(base):
        handles.append(Line2D([], [], color="k", ls=":", label="ResNet (mean)"))
    ax.legend(handles=handles, fontsize="small", loc="lower right")
    fig.tight_layout()
    return fig


def loss_curves(runs: pd.DataFrame, budget: int, entries=None):
    """Training accuracy per epoch of every run at ``budget`` (one line per seed; the longer probe dashed): how far
    each run got, against what the same recipe reaches with more epochs (the ``fitted`` precondition)."""
    df = runs[(runs.budget == budget) & (runs.status == "ok")]
    if entries:
        df = df[df.entry.isin(entries)]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    seen = set()
    for r in df.itertuples():
        curve = pd.DataFrame(r.result["history"]["epochs"])
        colour = f"C{list(ENTRIES).index(r.entry) % 10}"
        probe = getattr(r, "role", "seed") == "probe"
        ax.plot(curve.epoch, 100 * curve.train_acc, color=colour, lw=1.6 if probe else 0.8, alpha=0.9,
                ls="--" if probe else "-", label=None if r.entry in seen else ENTRIES[r.entry].label)
        seen.add(r.entry)
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.set(xlabel="epoch", ylabel="training accuracy (%, epoch mean)",
           title=f"Training accuracy, budget {budget:,} (dashed: each entry's longer probe)")
    if seen:
        ax.legend(fontsize="small", ncol=2)
    fig.tight_layout()
    return fig
