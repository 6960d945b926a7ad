"""Paper 3's figures, drawn only from stored runs and counted budgets; each returns a matplotlib figure (the
notebook saves it through its session)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from .analysis import E6_ACC, E6_ARMS, ablation_frame, analyses, e6_runs
from .grid import label


def fig_accuracy(runs: pd.DataFrame, dataset: str, epochs: int, arms: list):
    """Test accuracy per arm: one dot per seed, mean ± sd; runs that did not finish are named in the tick label."""
    df = runs[(runs["dataset"] == dataset) & (runs["epochs"] == epochs) & runs["arm"].isin(arms)].copy()
    order = [a for a in arms if a in set(df["arm"])]
    bad = df[df["status"] != "ok"].groupby("arm").size()
    names = {a: label(a) + (f"\n({bad[a]} not ok)" if a in bad else "") for a in order}
    df["arm "] = df["arm"].map(names)
    df["acc %"] = 100 * df["acc"].astype(float)
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(order)), 4))
    sns.pointplot(df, x="arm ", y="acc %", order=[names[a] for a in order], errorbar="sd", linestyle="none",
                  color="k", markers="_", ax=ax)
    sns.stripplot(df, x="arm ", y="acc %", order=[names[a] for a in order], hue="seed", ax=ax, palette="colorblind")
    ax.set(title=f"{dataset}, {epochs} epochs: test accuracy per seed (bar: mean ± sd)", xlabel="")
    plt.setp(ax.get_xticklabels(), rotation=30, ha="right")
    return fig


def fig_overhead(table: pd.DataFrame):
    """Params and MACs of CC and CP-conv against the path count m, at both backbones (log axis: CP-conv grows ~m^2)."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for ax, (what, unit) in zip(axes, (("params", "parameters"), ("MMACs", "MMACs"))):
        for backbone, g in table.groupby("backbone"):
            for r, ls in (("CC", "-"), ("CP-conv", "--")):
                ax.plot(g["m"], g[f"{r} {what}"], ls, marker="o", label=f"{r} ({backbone} widths)")
        ax.set(xlabel="paths m", ylabel=unit, yscale="log", xticks=sorted(set(table["m"])))
    axes[0].legend(fontsize="small")
    fig.suptitle("Routing overhead: cross-prediction (reading A) vs cross-connections (counted)")
    return fig


def fig_mi_depth(runs: pd.DataFrame, dataset: str, arms: list):
    """MI(class; routing) per transition for each routed arm, with the label-permutation null's 99th percentile."""
    rows = [{"arm": label(a), "transition": t["transition"], "MI (nats)": t["mi"], "null q99": t["null_q99"]}
            for a in arms for r in analyses(runs, a, dataset) for t in r["analysis"]["transitions"] if "mi" in t]
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    if rows:
        df = pd.DataFrame(rows)
        sns.lineplot(df, x="transition", y="MI (nats)", hue="arm", marker="o", errorbar="sd", ax=ax)
        null = df.groupby("transition")["null q99"].max()
        ax.plot(null.index, null.values, "k:", label="permutation null, q99 (max over arms)")
        ax.set_xticks(sorted(df["transition"].unique()))
        ax.legend(fontsize="small")
    ax.set(title=f"{dataset}: class information in routing vs depth (1→m step excluded)")
    return fig


def fig_heatmaps(result: dict, classes=None, title: str = ""):
    """Mean routing weight per class (rows) and edge i→j (columns), one panel per transition."""
    ts = [t for t in result["analysis"]["transitions"] if "heatmap" in t]
    fig, axes = plt.subplots(1, len(ts), figsize=(2.0 * len(ts) + 1, 3.8), squeeze=False)
    for ax, t in zip(axes[0], ts):
        cols = [f"{i}→{j}" for i in range(t["m_in"]) for j in range(t["n_out"])]
        df = pd.DataFrame(t["heatmap"], columns=cols, index=classes[: len(t["heatmap"])] if classes else None)
        sns.heatmap(df, ax=ax, vmin=0, vmax=1, cmap="viridis", cbar=ax is axes[0][-1], yticklabels=ax is axes[0][0])
        ax.set_title(f"t{t['transition']} (norm. over {'dest.' if t['axis'] == 2 else 'sources'})", fontsize="small")
    fig.suptitle(title or "per-class routing")
    return fig


def fig_end_to_end(result: dict, classes=None, title: str = ""):
    """How each class's input is distributed over the final paths: the product of the row-normalised routing
    matrices over all transitions, averaged per class."""
    mat = np.asarray(result["analysis"]["end_to_end"])
    df = pd.DataFrame(mat, index=classes[: len(mat)] if classes else None,
                      columns=[f"path {j}" for j in range(mat.shape[1])])
    fig, ax = plt.subplots(figsize=(1.2 * mat.shape[1] + 2.5, 3.8))
    sns.heatmap(df, annot=mat.shape[1] <= 4, fmt=".3f", cmap="viridis", ax=ax)
    ax.set_title(title or "end-to-end path distribution per class")
    return fig


def fig_entropy(runs: pd.DataFrame, dataset: str, arms: list):
    """Histogram of per-sample routing entropy (0 = collapsed, 1 = uniform) at the last transition, seeds summed."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    edges = None
    for a in arms:
        hs = [np.asarray(r["analysis"]["transitions"][-1].get("entropy_hist", []), float)
              for r in analyses(runs, a, dataset)]
        hs = [h for h in hs if h.size]
        if hs:
            h = np.sum(hs, 0)
            edges = np.linspace(0, 1, len(h) + 1)
            ax.stairs(h / h.sum(), edges, label=label(a))
    ax.set(xlabel="normalised routing entropy (last transition)", ylabel="fraction of test samples")
    if edges is not None:
        ax.legend(fontsize="small")
    return fig


def fig_cka(runs: pd.DataFrame, dataset: str, arms: list):
    """Mean inter-path linear CKA per stage and arm: how similar the paths' features are (C5)."""
    rows = [{"arm": label(a), "stage": s, "inter-path CKA": v}
            for a in arms for r in analyses(runs, a, dataset) for s, v in enumerate(r["analysis"]["cka"])]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    if rows:
        sns.pointplot(pd.DataFrame(rows), x="stage", y="inter-path CKA", hue="arm", errorbar="sd", dodge=0.3, ax=ax)
        ax.legend(loc="lower right", fontsize="small")
    ax.set(title=f"{dataset}: similarity between paths (linear CKA of GAP features)", ylim=(0, 1.05))
    return fig


def fig_ablation(runs: pd.DataFrame, dataset: str, arms: list, classes=None):
    """Per-class accuracy drop (pp, mean over seeds) when one path is removed at one stage, per arm."""
    df = ablation_frame(runs, dataset, arms)
    present = [label(a) for a in arms if not df.empty and label(a) in set(df["arm"])]
    fig, axes = plt.subplots(1, max(1, len(present)), figsize=(6.5 * max(1, len(present)), 3.8), squeeze=False)
    lim = 100 * df["drop"].abs().max() if not df.empty else 1.0
    for ax, name in zip(axes[0], present):
        d = df[df["arm"] == name].assign(drop=lambda x: 100 * x["drop"])
        mat = d.pivot_table(index=["stage", "path"], columns="class", values="drop", aggfunc="mean")
        if classes:
            mat.columns = [classes[c] for c in mat.columns]
        # Diverging and centred: removing a path can also *raise* a class's accuracy (negative drop).
        sns.heatmap(mat, ax=ax, cmap="vlag", center=0, vmin=-lim, vmax=lim, cbar_kws={"label": "acc. drop (pp)"})
        ax.set_title(f"{name}: per-class accuracy drop when a path is zeroed")
    fig.tight_layout()
    return fig


def routing_matrix(runs: pd.DataFrame, dataset: str, arm: str, cls: int, transition: int):
    """The widget's plot: the mean m_in x n_out routing matrix of one class at one transition (first seed)."""
    res = analyses(runs, arm, dataset)
    fig, ax = plt.subplots(figsize=(3.6, 3))
    if not res:
        ax.set_title(f"no stored analysis for {label(arm)}")
        return fig
    t = res[0]["analysis"]["transitions"][transition]
    if "heatmap" not in t:
        ax.set_title(f"{label(arm)} has no routing at t{transition}")
        return fig
    mat = np.asarray(t["heatmap"])[cls].reshape(t["m_in"], t["n_out"])
    sns.heatmap(mat, annot=True, fmt=".2f", vmin=0, vmax=1, cmap="viridis", ax=ax)
    ax.set(xlabel="destination path", ylabel="source path", title=f"{label(arm)}, class {cls}, t{transition}")
    return fig


# ----------------------------------------------------------------------------- E6: two contexts (C8)

def fig_contexts(runs: pd.DataFrame, dataset: str, epochs: int):
    """Left: MI(domain; routing edges) per transition (mean; bars: min-max over seeds, positive on a log axis)
    against the domain-label permutation null (band: null mean to its 99th percentile, widest over seeds).
    Right: test accuracy per domain and arm (mean ± sd, one dot per seed)."""
    df = e6_runs(runs, dataset, epochs)
    df = df[df["status"] == "ok"]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 4))
    colours = dict(zip(map(label, E6_ARMS), sns.color_palette("colorblind")))  # one colour per arm in both panels
    rows = [{"arm": label(a), "transition": t["transition"], "MI (nats)": t["domain_mi"],
             "null mean": t["domain_null_mean"], "null q99": t["domain_null_q99"]}
            for a in E6_ARMS[1:] for r in analyses(df, a, dataset) for t in r["analysis"]["transitions"]
            if "domain_mi" in t]
    if rows:
        mi = pd.DataFrame(rows)
        sns.lineplot(mi, x="transition", y="MI (nats)", hue="arm", style="arm", marker="o", palette=colours,
                     errorbar=("pi", 100), err_style="bars", ax=ax)
        band = mi.groupby("transition").agg(lo=("null mean", "min"), hi=("null q99", "max"))
        ax.fill_between(band.index, band["lo"], band["hi"], color="0.6", alpha=0.4,
                        label="permutation null, mean–q99 (widest seed)")
        if (mi[["MI (nats)", "null mean"]] > 0).all().all():
            ax.set_yscale("log")
        ax.set_xticks(sorted(mi["transition"].unique()))
        ax.legend(fontsize="small")
    ax.set_title(f"{dataset}: MI(domain; routing) per transition", fontsize="medium")
    acc = pd.DataFrame([{"arm": label(a), "domain": d, "acc %": 100 * float(getattr(r, c))}
                        for a in E6_ARMS[:2] for r in df[df["arm"] == a].itertuples() for d, c in E6_ACC])
    if len(acc):
        kw = dict(x="domain", y="acc %", hue="arm", palette=colours, ax=bx)
        sns.pointplot(acc, errorbar="sd", dodge=0.4, linestyle="none", markers="_", **kw)
        sns.stripplot(acc, dodge=True, alpha=0.6, legend=False, **kw)
    bx.set_title(f"{epochs} epochs: test accuracy per domain (mean ± sd)", fontsize="medium")
    fig.tight_layout()
    return fig
