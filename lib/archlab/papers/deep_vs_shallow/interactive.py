"""Paper 2's live view (``archlab.widgets.live``): pick a body's depth L, width F, kernel k and pooling, and see what
the paper's binning makes of it (both layouts' parameter count and Q on each dataset, at full data and at the
training-set sizes of the running profile) and how far its first-order truncation is from the deep stack.

Nothing here trains: a parameter count is closed-form and the truncation curve is one random body evaluated at a
handful of branch scales, so each redraw takes well under a second on a CPU.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ...data import FILE_SETS
from .analysis import q_bin
from .models import parameter_count
from .grid import SHAPES
from .truncation import loglog_slope, truncation_curve

CONTROLS = {"L": (1, 12), "F": [4, 8, 16, 32, 64], "k": [3, 5, 7], "pool": [2, 4, 8]}
DEFAULT = {"L": 4, "F": 4, "k": 3, "pool": 8}
SCALES = np.logspace(-3, 0, 7)


def shape_table(L: int, F: int, k: int, pool: int, train_sizes=()) -> pd.DataFrame:
    """P (equal in both layouts) and Q = K*M/P with its Table 2 bin, per dataset and training-set size K (the
    split's full size, then each of ``train_sizes``)."""
    rows = []
    for ds in ("mnist", "cifar10"):
        P = parameter_count(L, F, k, pool, SHAPES[ds])
        for K in (FILE_SETS[ds]["n_train"], *train_sizes):
            rows.append({"dataset": ds, "params": P, "K": K, "Q": K * 10 / P})
    t = pd.DataFrame(rows)
    t["Q bin"] = q_bin(t.Q).astype(str)
    return t.round({"Q": 2})


def truncation_panel(L: int, F: int, k: int):
    """Relative seq/par deviation of one random body of this shape against its branch scale (tanh and relu)."""
    fig, ax = plt.subplots(figsize=(5, 3.4), layout="constrained")
    for act in ("tanh", "relu"):
        g = truncation_curve(SCALES, layers=L, filters=F, kernel=k, activation=act, batch=4)
        small = g[g.scale <= 0.1 * (1 + 1e-9)]
        ax.plot(g.scale, g.rel_deviation, "o-",
                label=f"{act} (slope {loglog_slope(small.scale, small.rel_deviation):.2f} for scale <= 0.1)")
    ax.set(xscale="log", yscale="log", xlabel="branch weight scale (1 = PyTorch default init)",
           ylabel="||seq - par|| / ||seq - h0||", title=f"truncation error, L={L}, F={F}, k={k}")
    ax.legend(fontsize="small")
    return fig


def shape_view(train_sizes=()):
    """The ``compute`` of the live widget: ``(L, F, k, pool) -> (table, figure)``."""
    def compute(L, F, k, pool):
        return shape_table(L, F, k, pool, train_sizes), truncation_panel(L, F, k)
    return compute
