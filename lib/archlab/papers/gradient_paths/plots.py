"""Paper 1 figures, all drawn from stored runs or exact graph analysis (never from made-up numbers).

Each function returns a matplotlib Figure (or None when there is nothing to draw); the notebook saves it with
``ctx.savefig``. Error bars are the standard deviation over seeds; diverged runs sit at chance (accuracy 0.1,
training loss ln 10) and are drawn with an x so they stay visible. Accuracy figures name each arm's parameters and
FLOPs, because the families are compared at stated costs.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import FuncFormatter

from ...plots import stripplot

from .grid import FAMILIES
from .static import layer_table

OK = ("ok", "diverged")


def _k(v: float) -> str:
    return f"{v / 1e6:.2f}M" if v >= 1e6 else f"{v / 1e3:.0f}k"


def _cost(r) -> str:
    return f"{_k(r.params)} params, {_k(r.flops)} FLOPs"


def _curves(df: pd.DataFrame) -> pd.DataFrame:
    """Long frame of per-epoch metrics of every stored run: one row per (run, epoch)."""
    rows = [{**e, "family": r.family, "seed": r.seed, "k": r.k, "point": r.point}
            for r in df.itertuples() if r.status in OK for e in r.result["history"]["epochs"]]
    return pd.DataFrame(rows)


def _mark_diverged(ax, df, x, y="acc"):
    bad = df[df.status == "diverged"]
    if len(bad):
        ax.scatter(bad[x], bad[y], marker="x", color="k", zorder=5, label="diverged (at chance)")


def _dedupe_legend(ax, **kw):
    handles, labels = ax.get_legend_handles_labels()
    keep = dict(zip(labels, handles))
    if keep:
        ax.legend(keep.values(), keep.keys(), **kw)


def fig7(table: pd.DataFrame):
    """The Fig. 7 timestamp sets as a dot matrix per toy net (ours; a red ring marks a mismatch with the paper)."""
    nets = list(dict.fromkeys(table.net))
    fig, axes = plt.subplots(1, len(nets), figsize=(4 * len(nets), 3.2), sharex=True, layout="constrained")
    for ax, net in zip(axes, nets):
        t = table[(table.net == net) & (table.layer != "combinations")].reset_index(drop=True)
        for i, r in t.iterrows():
            ts = [int(g[1:]) for g in r.ours.split("+")] if r.ours != "-" else []
            ax.scatter(ts, [i] * len(ts), s=60, color="C0")
            if not r.match:
                ax.scatter(ts, [i] * len(ts), s=160, facecolors="none", edgecolors="r")
        n = table[(table.net == net) & (table.layer == "combinations")].ours.iloc[0]
        ax.set(yticks=range(len(t)), yticklabels=t.layer, xlabel="gradient timestamp (layers to the loss)",
               title=f"{net}: {n} combinations")
        ax.invert_yaxis()
    fig.suptitle("Fig. 7 toy nets: gradient timestamps per layer (group) from the fx graph")
    return fig


def stacking(stack: pd.DataFrame, toy: pd.DataFrame):
    """Longest shortest path and longest path vs 3x3 convs per stage (one unit for every family), and Table 1."""
    d = stack.assign(family=stack.model.map(FAMILIES))
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.2), layout="constrained")
    sns.lineplot(d, x="conv3", y="longest_shortest", hue="family", marker="o", ax=axes[0])
    sns.lineplot(d, x="conv3", y="longest", hue="family", marker="o", ax=axes[1], legend=False)
    sns.lineplot(toy, x="layers", y="longest_shortest", hue="net", marker="o", ax=axes[2])
    xlabel = "3x3 convs per stage (OSA module 3, BasicBlock 2, ELAN block 3)"
    axes[0].set(title="max over layers of the shortest path", ylabel="layers", xlabel=xlabel)
    axes[1].set(title="overall longest gradient path", ylabel="layers", xlabel=xlabel)
    axes[2].set(xscale="log", yscale="log", title="Table 1 on toy nets (log-log)", xlabel="N layers",
                ylabel="longest shortest path (layers)")
    ns = sorted(toy.layers.unique())
    axes[2].set_xticks(ns, [str(n) for n in ns])
    ys = sorted(toy.longest_shortest.unique())
    axes[2].set_yticks(ys, [str(int(y)) for y in ys])
    axes[2].minorticks_off()
    fig.suptitle("E1: gradient-path lengths of the CIFAR macro as blocks are stacked (exact, from the fx graph)")
    return fig


def _loss_curves(df, ax, hue="family", title=""):
    c = _curves(df)
    if len(c):
        sns.lineplot(c, x="epoch", y="train_loss", hue=hue, errorbar="sd", ax=ax)
    ax.set(title=title, ylabel="training loss (nats)", xlabel="epoch")


def stop_gradient(e2: pd.DataFrame):
    """E2: training loss per epoch, final accuracy per seed, ||dL/dW|| vs depth at initialisation and after."""
    ok = e2[e2.status.isin(OK)]
    if not len(ok):
        return None
    fig, axes = plt.subplots(1, 4, figsize=(21, 4.2), layout="constrained")
    _loss_curves(ok, axes[0], title="training loss (mean ± sd over seeds)")
    stripplot(ok, x="family", y="acc", ax=axes[1], size=7)
    _mark_diverged(axes[1], ok, "family")
    r = ok.iloc[0]
    axes[1].set(ylabel="test accuracy", xlabel="", title=f"final accuracy (dots: seeds; each {_cost(r)})")
    _grad_norms(ok, axes[2], "diag_init")
    axes[2].set(title="gradient norm per layer at initialisation (seed 0)")
    _grad_norms(ok, axes[3], "diag_final", "relative")
    axes[3].set(title="relative gradient norm after training (seed 0)")
    fig.suptitle(f"E2 stop-gradient ablation, ResNet with {r.blocks} BasicBlocks per stage "
                 f"({6 * r.blocks + 2} layers)")
    return fig


def _grad_norms(df, ax, which="diag_init", value="grad_norm"):
    rows = []
    for r in df[(df.seed == df.seed.min()) & df.status.isin(OK)].itertuples():
        d = (r.result or {}).get(which)
        if d:
            rows += [{"family": r.family, "depth": k, value: v} for k, v in zip(d["grad_norms"]["depth"],
                                                                              d["grad_norms"][value])]
    if rows:
        sns.lineplot(pd.DataFrame(rows), x="depth", y=value, hue="family", ax=ax, marker=".")
        ax.set(yscale="log", xlabel="layer (forward order)",
               ylabel="||dL/dW||" if value == "grad_norm" else "||dL/dW|| / ||W||")


def stacking_runs(e3: pd.DataFrame):
    """E3: final training loss vs k (the claims' measure), test accuracy vs k, accuracy vs longest shortest path."""
    ok = e3[e3.status.isin(OK)]
    if not len(ok):
        return None
    fig, axes = plt.subplots(1, 3, figsize=(17, 4.4), layout="constrained")
    sns.lineplot(ok, x="k", y="loss", hue="family", errorbar="sd", marker="o", ax=axes[0])
    sns.lineplot(ok, x="k", y="acc", hue="family", errorbar="sd", marker="o", ax=axes[1], legend=False)
    sns.scatterplot(ok, x="max_shortest", y="acc", hue="family", style="k", s=70, ax=axes[2])
    _mark_diverged(axes[1], ok, "k")
    ks = sorted(ok.k.dropna().unique())
    xlabel = "blocks per stage k (3k 3x3 convs; ResNet ceil(3k/2) BasicBlocks)"
    for ax in axes[:2]:
        ax.set_xticks(ks, [f"{k:g}" for k in ks])
    axes[0].set(ylabel="final training loss (nats)", xlabel=xlabel, title="does the stack still train?")
    axes[1].set(ylabel="test accuracy", xlabel=xlabel, title="test accuracy")
    axes[2].set(xlabel="longest shortest gradient path (layers)", ylabel="test accuracy",
                title="accuracy vs longest shortest path")
    _dedupe_legend(axes[2], fontsize="x-small", ncol=2)
    big = ok[ok.k == ks[-1]].groupby("family").first()
    fig.suptitle(f"E3 stack in computational block; at k={ks[-1]:g}: " +
                 "; ".join(f"{f} {_cost(r)}" for f, r in big.iterrows()), fontsize="small")
    return fig


def _arm_label(r) -> str:
    extra = f" rho={r.rho:g}" if np.isfinite(r.rho) else "" if r.point == "base" else f" ({r.point})"
    return f"{r.family}{extra}"


def pareto(e456: pd.DataFrame):
    """E4-E6: accuracy vs FLOPs and vs parameters (mean ± sd over seeds), one labelled marker per arm."""
    ok = e456[e456.status.isin(OK)]
    if not len(ok):
        return None
    g = ok.assign(arm=[_arm_label(r) for r in ok.itertuples()]).groupby("arm").agg(
        acc=("acc", "mean"), sd=("acc", "std"), flops=("flops", "first"), params=("params", "first"),
        point=("point", "first")).reset_index()
    fig, axes = plt.subplots(1, 2, figsize=(14, 5), layout="constrained")
    for ax, x in zip(axes, ("flops", "params")):
        for i, r in enumerate(g.itertuples()):
            ax.errorbar(getattr(r, x), r.acc, yerr=np.nan_to_num(r.sd), fmt="o", color=f"C{i % 10}", ms=7, capsize=3,
                        mfc="none" if r.point == "equal FLOPs" else f"C{i % 10}", label=r.arm)
        ax.set(xscale="log", ylabel="test accuracy",
               xlabel="forward FLOPs per image" if x == "flops" else "parameters")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _k(v)))
        ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: _k(v)))
    _dedupe_legend(axes[1], fontsize="small", bbox_to_anchor=(1.02, 1), loc="upper left")
    fig.suptitle(f"E4-E6 at {ok.blocks.iloc[0]} blocks per stage: accuracy vs cost (hollow: widened to ResNet's "
                 "FLOPs; CSP point: about -20% FLOPs; ELAN point: -26%)")
    return fig


def prn_sweep(e456: pd.DataFrame):
    """E5: accuracy and the change of block-gradient similarity during training vs PRN's rho (ResNet at rho = 1)."""
    d = e456[e456.model.isin(["gp_prn", "gp_resnet"]) & e456.point.isin(["base"]) & e456.status.isin(OK)]
    if not len(d):
        return None
    d = d.assign(rho=d.rho.fillna(1.0), dsim=d.sim_final - d.sim_init)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    sns.pointplot(d, x="rho", y="acc", errorbar="sd", ax=axes[0], native_scale=True)
    sns.pointplot(d, x="rho", y="dsim", errorbar="sd", ax=axes[1], native_scale=True, color="C1")
    axes[0].set(xlabel="rho (share of channels the shortcut carries; 1 = ResNet)", ylabel="test accuracy",
                title=f"PRN at ResNet's cost ({_cost(d.iloc[0])})")
    axes[1].set(xlabel="rho (1 = ResNet)", ylabel="similarity at end - at init",
                title="change of block-gradient cosine similarity in training")
    axes[1].axhline(0, color="0.5", lw=0.8)
    fig.suptitle("E5 PRN residual ratio sweep (mean ± sd over seeds)")
    return fig


def similarity(df: pd.DataFrame, models=("gp_resnet", "gp_prn")):
    """Block-output gradient cosine similarity heatmaps (seed 0, rho = 0.5), at initialisation and after training."""
    runs = [df[(df.model == m) & (df.point == "base") & (df.seed == df.seed.min()) & (df.status == "ok") &
               ((df.rho == 0.5) | df.rho.isna())] for m in models]
    runs = [r.iloc[0] for r in runs if len(r)]
    if not runs:
        return None
    keys = [k for k in runs[0].result["diag_init"]["similarity"] if "/" not in k]
    cols = [(w, k) for w in ("diag_init", "diag_final") for k in keys]
    fig, axes = plt.subplots(len(runs), len(cols), figsize=(2.8 * len(cols), 2.6 * len(runs)), squeeze=False,
                             layout="constrained")
    for row, r in zip(axes, runs):
        for ax, (w, k) in zip(row, cols):
            sns.heatmap(np.array(r.result[w]["similarity"][k]), vmin=-1, vmax=1, cmap="vlag", ax=ax, cbar=False)
            ax.set(title=f"{r.family} {k}, {w.split('_')[1]}", xlabel="block", ylabel="block")
    fig.suptitle("cosine similarity of block-output gradients (red: duplicated gradient; init vs end of training)")
    return fig


def arm_label(r) -> str:
    """The explorer's option for one run group: family, blocks and cost point."""
    return f"{_arm_label(r)}, {r.blocks} blocks/stage, widths {tuple(r.widths)}"


def explore_choices(runs: pd.DataFrame) -> dict:
    """The explorer's one control: every stored arm (so every option has data)."""
    ok = runs[runs.status.isin(OK)]
    return {"arm": sorted({arm_label(r) for r in ok.itertuples()})}


def explore_plot(runs: pd.DataFrame, arm: str):
    """Explorer body: one arm's gradient-path table (from its fx graph) and its stored learning curves."""
    ok = runs[runs.status.isin(OK)]
    sub = ok[[arm_label(r) == arm for r in ok.itertuples()]]
    r = sub.iloc[0]
    table = layer_table(r.model, **{k: tuple(v) if isinstance(v, list) else v for k, v in r.model_kwargs.items()})
    c = _curves(sub)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.5), layout="constrained")
    sns.lineplot(c, x="epoch", y="train_loss", hue="seed", marker="o", ax=axes[0], palette="tab10")
    axes[0].set(ylabel="training loss (nats)")
    axes[1].bar([str(s) for s in sub.seed], sub.acc)
    axes[1].set(xlabel="seed", ylabel="test accuracy", title=_cost(r))
    fig.suptitle(f"{arm}: {len(sub)} stored runs")
    return fig, table
