"""Interactive pieces of the notebook: one SensLI run on the two spirals against the small net, and the speed-up of
training seeds in one batched step.

``spirals_run`` is the live widget's computation (``archlab.widgets.live`` with a Run button): FNN [5], full-batch
GD, one seed, the insertion epoch and learning rate as controls. It trains both arms with the same code the stored
runs use (``run.mlp_setup``, ``batched.train_seeds``) and draws their loss curves and both decision boundaries.

``speed_check`` times the same seeds trained one at a time (``run.run_growth``) and in one batched step
(``run.run_growth_seeds``) and reports how far their final losses differ: a stored run (``time_batched``), so a
notebook rendered from stored runs shows the timing of the machine that made the store, which the table names.
"""
from __future__ import annotations

import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from ...provenance import device_name
from ...store import measured, versioned
from .batched import train_seeds
from .grid import InsertionConfig, spiral_config, spiral_configs
from .plots import log_ticks
from .run import mlp_schedule, mlp_setup, run_growth, run_growth_seeds, tiny_threads

LIVE_LRS = [0.05, 0.1, 0.2, 0.4]  # the authors' FNN lr is 0.2
SPEED_SEEDS = 10  # seeds speed_check trains both ways


def _train(c: dict):
    train, _, _, model, loader, test_metrics = mlp_setup(c)
    (model, log), = train_seeds([model], [loader], [c["seed"]], **{**mlp_schedule(c, len(loader)), "eval_every": 0})
    return model, log, train, test_metrics(model)


def _boundary(ax, model, train, title: str) -> None:
    """Predicted probability of the outer spiral on a grid, with the training points."""
    lim = 1.1 * float(train.x.abs().max())
    g = torch.linspace(-lim, lim, 150)
    xx, yy = torch.meshgrid(g, g, indexing="xy")
    with torch.no_grad():
        p = torch.softmax(model(torch.stack([xx.flatten(), yy.flatten()], 1)), 1)[:, 1].view(xx.shape)
    ax.contourf(xx, yy, p, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.6)
    ax.scatter(*train.x.T, c=train.y, cmap="RdBu_r", s=4, edgecolors="k", linewidths=0.2)
    ax.set(title=title, xticks=[], yticks=[], aspect="equal")


def spirals_run(insert_at: int = 450, lr: float = 0.2, seed: int = 0, epochs: int = 1850):
    """Train the small FNN [5] and SensLI (insertion after ``insert_at`` epochs) from the same init; returns the
    figure (loss curves, both decision boundaries) and a one-row table per arm."""
    if not 0 < insert_at < epochs:
        raise ValueError(f"insert_at={insert_at} must lie in 1..{epochs - 1} (epochs={epochs})")
    common = dict(study="live", arch="fnn", widths=(5,), lr=float(lr), factor=1.0, insert_at=(int(insert_at),),
                  epochs=int(epochs), sens_every=0, eval_every=0)
    with tiny_threads({"dataset": "spirals"}):
        runs = {m: _train(spiral_config(int(seed), method=m, **common)) for m in ("small", "sensli")}
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), gridspec_kw=dict(width_ratios=[1.6, 1, 1]))
    rows = []
    for (method, (model, log, train, test)), color in zip(runs.items(), ("C1", "C0")):
        name = "small FNN [5]" if method == "small" else "SensLI [5] -> [5, 5]"
        axes[0].plot(log["step"], log["loss"], color=color, lw=1, label=name)
        rows.append(dict(method=name, train_loss=log["loss"][-1], test_acc=1 - test["test_err"],
                         params=sum(p.numel() for p in model.parameters()), flops=log["flops"][-1]))
    axes[0].axvline(insert_at, color="grey", ls=":", lw=1, label=f"insertion at {insert_at}")
    log_ticks(axes[0])
    axes[0].set(xlabel="step (full-batch GD)", ylabel="training loss", title=f"lr {lr}, seed {seed}")
    axes[0].legend(fontsize="x-small")
    for ax, (method, (model, _, train, test)) in zip(axes[1:], runs.items()):
        _boundary(ax, model, train, f"{method}: test accuracy {1 - test['test_err']:.2f}")
    fig.tight_layout()
    return fig, pd.DataFrame(rows)


def widget_controls(plan: dict) -> tuple[dict, dict]:
    """The live widget's controls for a profile's plan (insertion epoch slider over its epochs, learning rate,
    seed) and its default view (the profile's insertion time, the authors' lr)."""
    epochs = plan["epochs"]
    step = max(1, epochs // 37)
    default = min(max(step, plan["insert_at"][0] // step * step), epochs - step)
    return ({"insert_at": (step, epochs - step, step), "lr": LIVE_LRS, "seed": sorted({0, 1, *plan["seeds"]})},
            {"insert_at": default, "lr": 0.2})


def speed_check(cfg: InsertionConfig, store=None) -> pd.DataFrame:
    """Seconds to train the fnn study's first ``SPEED_SEEDS`` SensLI seeds (``cfg``'s profile) one at a time and
    batched, the speed-up, and the largest and median difference of their final training losses (rounding only:
    the batched step sums in another order, and GD at lr 0.2 on the spirals amplifies rounding in a few seeds),
    with the ``hardware`` that timed them; timed once per run store (``time_batched``)."""
    # at most SPEED_SEEDS: one-at-a-time training of the cpu profile's 100 seeds would take minutes to show a ratio
    configs = [c for c in spiral_configs("fnn", cfg.plan()) if c["method"] == "sensli"][:SPEED_SEEDS]
    return pd.DataFrame([measured(time_batched, {"configs": configs}, store=store)["row"]])


@versioned(1, name="layer_insertion.speed_check")
def time_batched(job: dict) -> dict:
    """Train ``job["configs"]`` (seeds of one spirals arm) batched, then one at a time: ``row``, the speed check."""
    configs = job["configs"]
    t0 = time.perf_counter()
    batched = run_growth_seeds(configs)
    t_batched = time.perf_counter() - t0
    t0 = time.perf_counter()
    single = [run_growth(c) for c in configs]
    t_single = time.perf_counter() - t0
    diff = np.abs([a["train_loss"] - b["train_loss"] for a, b in zip(single, batched)])
    c = configs[0]
    return {"row": dict(study=c["study"], method=c["method"], seeds=len(configs), epochs=c["epochs"],
                        one_at_a_time_s=round(t_single, 2), batched_s=round(t_batched, 2),
                        speedup=round(t_single / t_batched, 1), max_final_loss_diff=float(diff.max()),
                        median_final_loss_diff=float(np.median(diff)), hardware=device_name(c["device"]))}
