"""What the notebook's two widgets draw: ``compare`` (stored runs: pick budgets and papers, see the leaderboard
and its Pareto fronts) and ``design_at`` (live: pick any budget and a paper, and every entry is matched to it on
the spot, counted on the meta device: its widths, parameters and FLOPs, nothing trained)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .budgets import match
from .models import ENTRIES, PAPER_NAMES
from .analysis import COST_AXES
from .plots import PAPER_COLOURS, accuracy_vs

ALL = "all"
PAPER_CHOICES = [ALL, *PAPER_NAMES]


def _pick(values, choice):
    return list(values) if choice == ALL else [choice]


def compare(lb: pd.DataFrame, budget, paper: str, cost: str, device: str = ""):
    """The leaderboard restricted to one budget (or all) and one paper's entries (or all, ResNet always kept as
    the reference): accuracy against ``cost`` with the Pareto fronts, and the rows drawn."""
    keep = lb[lb.budget.isin(_pick(lb.budget.unique(), budget)) &
              (lb.paper.isin(_pick(PAPER_NAMES, paper)) | (lb.entry == "resnet"))]
    where = "every budget" if budget == ALL else f"budget {budget:,}"
    who = "every paper" if paper == ALL else f"paper {paper} ({PAPER_NAMES[paper]}) and ResNet"
    fig = accuracy_vs(keep, cost, device, title=f"{who}, {where}")
    cols = ["budget", "label", "params", "flops", "sec_per_epoch", "test_acc", "ci_low", "ci_high", "seeds", "rank"]
    return fig, keep[cols].reset_index(drop=True)


def design_at(budget: int, paper: str = ALL, resolution: int = 32):
    """Every entry of ``paper`` (or all) matched to ``budget`` parameters on ``resolution`` x ``resolution``
    inputs, live: widths or filters, parameters, forward MFLOPs and FLOPs per parameter, with a bar chart."""
    shape = (3, resolution, resolution)
    rows = []
    for name, e in ENTRIES.items():
        if paper != ALL and e.paper != paper:
            continue
        m = match(name, int(budget), shape)
        rows.append(dict(entry=e.label, paper=e.paper, model=e.model,
                         width=None if m is None else m.kwargs.get("widths", m.kwargs.get("filters")),
                         params=None if m is None else m.params, MFLOPs=np.nan if m is None else m.flops / 1e6,
                         flops_per_param=np.nan if m is None else m.flops / m.params,
                         note="" if m is not None else "cannot be matched within 5%"))
    table = pd.DataFrame(rows)
    fig, ax = plt.subplots(figsize=(8, 0.35 * max(len(table), 3) + 1.2))
    ok = table.dropna(subset=["MFLOPs"])
    ax.barh(ok.entry, ok.MFLOPs, color=[PAPER_COLOURS[p] for p in ok.paper])
    ax.set_xscale("log")
    ax.set(xlabel=f"forward MFLOPs per {resolution}x{resolution} image (log)",
           title=f"Every entry matched to {int(budget):,} parameters")
    fig.tight_layout()
    return fig, table


def compare_controls(lb: pd.DataFrame) -> dict:
    """The stored-run explorer's dropdowns: budget (or all), paper (or all), cost axis."""
    return {"budget": [ALL, *sorted(int(b) for b in lb.budget.unique())], "paper": PAPER_CHOICES,
            "cost": list(COST_AXES)}


COMPARE_DEFAULT = {"budget": ALL, "paper": ALL, "cost": "params"}  # a view with data whenever anything finished


def comparer(lb: pd.DataFrame, device: str = ""):
    """``plot(budget, paper, cost)`` for the explorer, over this leaderboard."""
    return lambda budget, paper, cost: compare(lb, budget, paper, cost, device)


def design_controls() -> dict:
    """The live widget's controls: a budget slider on a log scale (10k to ~3M) and a paper."""
    import ipywidgets as w

    slider = w.FloatLogSlider(value=200_000, base=10, min=4, max=6.5, step=0.05, description="budget",
                              readout_format=",.0f")
    return {"budget": slider, "paper": PAPER_CHOICES}


def designer(resolution: int = 32):
    """``compute(budget, paper)`` for the live widget: every entry of the paper matched to the budget."""
    return lambda budget, paper: design_at(int(round(budget)), paper, resolution)
