"""Paper 1 figures, all drawn from stored runs or exact graph analysis (never from made-up numbers).

Each function returns a matplotlib Figure; the notebook saves it with ``ctx.savefig``. Error bars are
the standard deviation over seeds (seaborn ``errorbar="sd"``); diverged runs sit at chance accuracy
and are drawn with an x so they stay visible.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from .analysis import layer_table
from .grid import FAMILIES


def _curves(df: pd.DataFrame) -> pd.DataFrame:
    """Long frame of per-epoch metrics of every stored run: one row per (run, epoch)."""
    rows = [{**e, "family": r.family, "seed": r.seed, "k": r.k, "matched": r.matched}
            for r in df.itertuples() if r.status in ("ok", "diverged") for e in r.result["history"]["epochs"]]
    return pd.DataFrame(rows)


def _mark_diverged(ax, df, x, y="acc"):
    bad = df[df.status == "diverged"]
    if len(bad):
        ax.scatter(bad[x], bad[y], marker="x", color="k", zorder=5, label="diverged (at chance)")


def fig7(table: pd.DataFrame):
    """The Fig. 7 timestamp sets as a dot matrix per toy net (ours; a red ring marks a spec mismatch)."""
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
        ax.set(yticks=range(len(t)), yticklabels=t.layer, xlabel="gradient timestamp", title=f"{net}: {n} combinations")
        ax.invert_yaxis()
    fig.suptitle("Fig. 7 toy nets: gradient timestamps per layer (group) from the fx graph")
    return fig


def stacking(stack: pd.DataFrame, slopes_df: pd.DataFrame):
    """Longest shortest path and longest path vs blocks per stage (macro), and Table 1 on the toy nets."""
    d = stack.assign(family=stack.model.map(FAMILIES))
    fig, axes = plt.subplots(1, 3, figsize=(15, 4), layout="constrained")
    sns.lineplot(d, x="blocks", y="longest_shortest", hue="family", marker="o", ax=axes[0])
    sns.lineplot(d, x="blocks", y="longest", hue="family", marker="o", ax=axes[1], legend=False)
    sns.lineplot(slopes_df, x="layers", y="longest_shortest", hue="net", marker="o", ax=axes[2])
    axes[0].set(title="max over layers of the shortest path", ylabel="layers")
    axes[1].set(title="overall longest gradient path", ylabel="layers")
    axes[2].set(xscale="log", yscale="log", title="Table 1 on toy nets (log-log)", xlabel="N layers")
    axes[2].set_xticks(sorted(slopes_df.layers.unique()), [str(n) for n in sorted(slopes_df.layers.unique())])
    axes[2].minorticks_off()
    return fig


def stop_gradient(e2: pd.DataFrame):
    """E2: validation accuracy per epoch, final accuracy per seed, ||dL/dW|| vs depth at initialisation and
    ||dL/dW|| / ||W|| vs depth after training."""
    fig, axes = plt.subplots(1, 4, figsize=(20, 4), layout="constrained")
    c = _curves(e2)
    if len(c):
        sns.lineplot(c, x="epoch", y="val_acc", hue="family", errorbar="sd", marker="o", ax=axes[0])
    sns.stripplot(e2, x="family", y="acc", ax=axes[1], size=7)
    sns.pointplot(e2, x="family", y="acc", errorbar="sd", ax=axes[1], color="k", markers="_", linestyle="none")
    _mark_diverged(axes[1], e2, "family")
    axes[1].set(ylabel="test accuracy", xlabel="", title="final accuracy (dots: seeds)")
    _grad_norms(e2, axes[2], "diag_init")
    axes[2].set(title="gradient norm per layer at initialisation (seed 0)")
    _grad_norms(e2, axes[3], "diag_final", "relative")
    axes[3].set(title="relative gradient norm after training (seed 0)")
    fig.suptitle(f"E2 stop-gradient ablation, ResNet with {e2.blocks.iloc[0]} BasicBlocks per stage")
    return fig


def _grad_norms(df, ax, which="diag_init", value="grad_norm"):
    rows = []
    for r in df[(df.seed == df.seed.min()) & df.status.isin(["ok", "diverged"])].itertuples():
        d = (r.result or {}).get(which)
        if d:
            rows += [{"family": r.family, "depth": k, value: v} for k, v in zip(d["grad_norms"]["depth"],
                                                                              d["grad_norms"][value])]
    if rows:
        sns.lineplot(pd.DataFrame(rows), x="depth", y=value, hue="family", ax=ax, marker=".")
        ax.set(yscale="log", xlabel="layer (forward order)",
               ylabel="||dL/dW||" if value == "grad_norm" else "||dL/dW|| / ||W||")


def stacking_runs(e3: pd.DataFrame):
    """E3: accuracy vs blocks per stage, accuracy vs the longest shortest gradient path, training loss vs k."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 4), layout="constrained")
    sns.lineplot(e3, x="k", y="acc", hue="family", errorbar="sd", marker="o", ax=axes[0])
    sns.scatterplot(e3, x="max_shortest", y="acc", hue="family", style="k", s=70, ax=axes[1])
    axes[1].legend(fontsize="x-small", ncol=2)
    sns.lineplot(e3, x="k", y="train_loss", hue="family", errorbar="sd", marker="o", ax=axes[2], legend=False)
    for ax in axes[:2]:
        _mark_diverged(ax, e3, "k" if ax is axes[0] else "max_shortest")
    axes[0].set(ylabel="test accuracy", xlabel="blocks per stage k (3k 3x3 convs per stage)")
    axes[1].set(xlabel="longest shortest gradient path (layers)", ylabel="test accuracy",
                title="accuracy vs longest shortest path")
    axes[2].set(ylabel="final training loss", xlabel="k")
    fig.suptitle("E3 stack in computational block (ResNet at ceil(3k/2) BasicBlocks)")
    return fig


def pareto(e456: pd.DataFrame):
    """E4-E6: accuracy vs FLOPs and vs parameters (mean ± sd over seeds); hollow markers: FLOPs-matched."""
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5), layout="constrained")
    g = (e456.groupby(["family", "matched"]).agg(acc=("acc", "mean"), sd=("acc", "std"), flops=("flops", "first"),
                                                 params=("params", "first")).reset_index())
    for ax, x in zip(axes, ("flops", "params")):
        for i, (fam, sub) in enumerate(g.groupby("family")):
            for r in sub.itertuples():
                ax.errorbar(r._asdict()[x], r.acc, yerr=np.nan_to_num(r.sd), fmt="o", color=f"C{i}",
                            mfc="none" if r.matched else f"C{i}", ms=8, capsize=3,
                            label=fam + (" (FLOPs-matched)" if r.matched else ""))
        ax.set(xscale="log", xlabel="forward FLOPs per image" if x == "flops" else "parameters", ylabel="test accuracy")
    axes[1].legend(fontsize="small", bbox_to_anchor=(1.02, 1), loc="upper left")
    fig.suptitle(f"E4-E6 at {e456.blocks.iloc[0]} blocks per stage: cost vs accuracy")
    return fig


def similarity(df: pd.DataFrame, models=("gp_resnet", "gp_prn", "gp_csp_fusion"), which="diag_final"):
    """Block-output gradient cosine similarity heatmaps (seed 0): rows = models, columns = stages."""
    runs = [df[(df.model == m) & ~df.matched & (df.seed == df.seed.min()) & (df.status == "ok")] for m in models]
    runs = [r.iloc[0] for r in runs if len(r)]
    if not runs:
        return None
    keys = [k for k in runs[0].result[which]["similarity"] if "/" not in k]
    fig, axes = plt.subplots(len(runs), len(keys), figsize=(3.6 * len(keys), 3 * len(runs)), squeeze=False,
                             layout="constrained")
    for row, r in zip(axes, runs):
        for ax, k in zip(row, keys):
            sns.heatmap(np.array(r.result[which]["similarity"][k]), vmin=-1, vmax=1, cmap="vlag", ax=ax, annot=False)
            ax.set(title=f"{r.family} {k}", xlabel="block", ylabel="block")
    fig.suptitle(f"cosine similarity of block-output gradients ({which.split('_')[1]} of training)")
    return fig


def explore_plot(runs: pd.DataFrame, family: str, k):
    """Widget body: the model's gradient-path table (displayed) and its learning curves from stored runs."""
    from IPython.display import display

    sub = runs[(runs.family == family) & (runs.k == k) & ~runs.matched]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.5), layout="constrained")
    if not len(sub):
        axes[0].set_title(f"no stored run for {family} at k={k}")
        return fig
    r = sub.iloc[0]
    display(layer_table(r.model, **{kk: tuple(v) if isinstance(v, list) else v for kk, v in r.model_kwargs.items()}))
    c = _curves(sub)
    if len(c):
        sns.lineplot(c, x="epoch", y="train_loss", hue="seed", marker="o", ax=axes[0])
        sns.lineplot(c, x="epoch", y="val_acc", hue="seed", marker="o", ax=axes[1])
    fig.suptitle(f"{family}, {r.blocks} blocks per stage: learning curves ({', '.join(sub.status.unique())})")
    return fig


def explore_choices(runs: pd.DataFrame) -> dict:
    """The explorer's choices: every family and every k with a stored run."""
    return {"family": sorted(runs.family.unique()), "k": sorted({int(k) for k in runs.k.dropna()})}
