"""Paper 3's figures, drawn only from stored runs and counted budgets; each returns a matplotlib figure (the
notebook saves it through its session). Every arm is listed once; every accuracy figure names each arm's counted
parameters and MACs, and shows training beside test accuracy."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import LogLocator, ScalarFormatter

from ...plots import stripplot

from .analysis import E6_ACC, E6_ARMS, ablation_frame, analyses, cost_label, e6_runs, ok_runs
from .arms import label


def _unique(arms) -> list:
    return list(dict.fromkeys(arms))


def _readable_log(ax, axis: str = "y") -> None:
    """Plain-number labels at 1-2-5 steps on a log axis, so a range within one decade still has labelled ticks."""
    a = ax.yaxis if axis == "y" else ax.xaxis
    a.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    fmt = ScalarFormatter()
    fmt.set_scientific(False)
    a.set_major_formatter(fmt)
    a.set_minor_formatter(plt.NullFormatter())


def fig_accuracy(runs: pd.DataFrame, dataset: str, arms: list, title: str = ""):
    """Test accuracy per arm (one dot per seed; bar: mean ± sd) with training accuracy (hollow diamond: mean ± sd,
    clean training set, eval mode) beside it; tick labels give each arm's parameters and MACs, and runs that did not
    finish are named there."""
    arms = _unique(arms)
    df = runs[(runs["dataset"] == dataset) & runs["arm"].isin(arms)] if len(runs) else runs
    order = [a for a in arms if len(df) and (df["arm"] == a).any()]
    fig, ax = plt.subplots(figsize=(max(6.5, 1.25 * len(order)), 4.6))
    ok = ok_runs(df)
    bad = df[df["status"] != "ok"].groupby("arm").size() if len(df) else {}
    names = [cost_label(df, a) + (f"\n({bad[a]} not ok)" if a in bad else "") for a in order]
    drawn = False
    for i, a in enumerate(order):
        g = ok[ok["arm"] == a]
        if "test_acc" not in g or g.empty:
            continue
        test, train = 100 * g["test_acc"].astype(float), 100 * g["train_acc"].astype(float)
        sd = lambda v: v.std(ddof=1) if len(v) > 1 else 0.0  # noqa: E731
        ax.scatter(np.full(len(test), i - 0.12), test, s=18, color="C0", alpha=0.7,
                   label=None if drawn else "test, per seed")
        ax.errorbar(i - 0.12, test.mean(), sd(test), fmt="_", color="k", ms=16, capsize=3,
                    label=None if drawn else "test, mean ± sd")
        ax.errorbar(i + 0.18, train.mean(), sd(train), fmt="D", mfc="none", color="C1", capsize=3,
                    label=None if drawn else "train (clean), mean ± sd")
        drawn = True
    ax.set_xticks(np.arange(len(order)), names, rotation=35, ha="right", fontsize="small")
    ax.set(ylabel="accuracy (%)", title=title or f"{dataset}: accuracy per arm")
    if drawn:
        ax.legend(fontsize="small", loc="best")
    fig.tight_layout()
    return fig


def fig_overhead(table: pd.DataFrame):
    """Params and MACs of CC and CP-conv against the path count m, at both backbones (log axis: CP-conv grows ~m^2)."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, (what, unit) in zip(axes, (("params", "parameters"), ("MMACs", "MMACs per image"))):
        for backbone, g in table.groupby("backbone"):
            for r, ls in (("CC", "-"), ("CP-conv", "--")):
                ax.plot(g["m"], g[f"{r} {what}"], ls, marker="o", label=f"{r} ({backbone} widths)")
        ax.set(xlabel="paths m", ylabel=f"{unit} (log scale)", yscale="log", xticks=sorted(set(table["m"])))
        _readable_log(ax)
    axes[0].legend(fontsize="small")
    fig.suptitle("Routing overhead: cross-prediction (reading A) vs cross-connections (counted)")
    fig.tight_layout()
    return fig


def _mi_rows(runs, dataset, arms, prefix=""):
    return [{"arm": label(a), "transition": t["transition"], "normalised MI": t[prefix + "mi_norm"],
             # the null's 99th percentile on the same scale: MI / mi_norm is H(mean routing) of that run
             "null q99": t[prefix + "null_q99"] * t[prefix + "mi_norm"] / t[prefix + "mi"] if t[prefix + "mi"] else 0.0}
            for a in _unique(arms) for r in analyses(runs, a, dataset) for t in r["analysis"]["transitions"]
            if prefix + "mi" in t]


def fig_mi_depth(runs: pd.DataFrame, dataset: str, arms: list, floor: float | None = None):
    """Normalised MI(class; routing) per transition for each routed arm (mean ± sd over seeds), the label-permutation
    null's 99th percentile on the same scale, and C7's floor."""
    rows = _mi_rows(runs, dataset, arms)
    fig, ax = plt.subplots(figsize=(7, 4))
    if rows:
        df = pd.DataFrame(rows)
        sns.lineplot(df, x="transition", y="normalised MI", hue="arm", marker="o", errorbar="sd", ax=ax)
        null = df.groupby("transition")["null q99"].max()
        ax.plot(null.index, null.values, "k:", label="permutation null, q99 (largest over arms)")
        if floor is not None:
            ax.axhline(floor, color="C3", ls="--", lw=1, label=f"C7 floor {floor:g}")
        ax.set_xticks(sorted(df["transition"].unique()))
        ax.legend(fontsize="small")
    ax.set(title=f"{dataset}: class information in routing vs depth (1→m step excluded)",
           ylabel="normalised MI (MI / H(mean routing))")
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


def fig_entropy(runs: pd.DataFrame, dataset: str, arms: list, threshold: float | None = None):
    """Histogram of per-sample routing entropy (0 = collapsed, 1 = uniform) at the last transition, seeds summed,
    one line per arm, with the "routing non-uniform" threshold on the seeds' mean."""
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    drawn = False
    for a in _unique(arms):
        hs = [np.asarray(r["analysis"]["transitions"][-1].get("entropy_hist", []), float)
              for r in analyses(runs, a, dataset)]
        hs = [h for h in hs if h.size]
        if hs:
            h = np.sum(hs, 0)
            ax.stairs(h / h.sum(), np.linspace(0, 1, len(h) + 1), label=label(a))
            drawn = True
    if threshold is not None:
        ax.axvline(threshold, color="k", ls=":", lw=1, label=f"reference: {threshold:g} (a 68/32 mix)")
    ax.set(xlabel="normalised routing entropy, last transition (1 = uniform)", ylabel="fraction of test samples",
           title=f"{dataset}: how sharply the routers choose")
    if drawn:
        ax.legend(fontsize="small")
    return fig


def fig_cka(runs: pd.DataFrame, dataset: str, arms: list):
    """Mean inter-path linear CKA per stage and arm: how similar the paths' features are (C5)."""
    rows = [{"arm": label(a), "stage": s, "inter-path CKA": v}
            for a in _unique(arms) for r in analyses(runs, a, dataset) for s, v in enumerate(r["analysis"]["cka"])]
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    if rows:
        sns.pointplot(pd.DataFrame(rows), x="stage", y="inter-path CKA", hue="arm", errorbar="sd", dodge=0.3, ax=ax)
        ax.legend(loc="lower right", fontsize="small")
    ax.set(title=f"{dataset}: similarity between paths (linear CKA of GAP features)", ylim=(0, 1.05))
    return fig


def fig_ablation(runs: pd.DataFrame, dataset: str, arms: list, classes=None):
    """Per-class accuracy drop (pp, mean over seeds) when one path is removed at one stage, per arm."""
    arms = _unique(arms)
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


def has_routing(runs: pd.DataFrame, dataset: str, arm: str, transition: int) -> bool:
    """Whether ``routing_matrix`` has something to draw (the explorer's cheap data check)."""
    res = analyses(runs, arm, dataset)
    ts = res[0]["analysis"]["transitions"] if res else []
    return transition < len(ts) and "heatmap" in ts[transition]


def routing_matrix(runs: pd.DataFrame, dataset: str, arm: str, cls: int, transition: int, classes=None):
    """The explorer's plot: the mean m_in x n_out routing matrix of one class at one transition (first seed)."""
    res = analyses(runs, arm, dataset)
    fig, ax = plt.subplots(figsize=(3.8, 3.2))
    if not has_routing(runs, dataset, arm, transition):
        ax.set_title(f"no stored routing for {label(arm)} at t{transition}")
        return fig
    t = res[0]["analysis"]["transitions"][transition]
    mat = np.asarray(t["heatmap"])[cls].reshape(t["m_in"], t["n_out"])
    sns.heatmap(mat, annot=True, fmt=".2f", vmin=0, vmax=1, cmap="viridis", ax=ax)
    name = classes[cls] if classes else cls
    ax.set(xlabel="destination path", ylabel="source path", title=f"{label(arm)}, class {name}, t{transition}")
    return fig


# ----------------------------------------------------------------------------- E6: two contexts (C8)

def fig_contexts(runs: pd.DataFrame, dataset: str):
    """Left: normalised MI(domain; routing edges) per transition (mean; bars: min-max over seeds) against the
    domain-label permutation null's 99th percentile on the same scale. Right: test accuracy per domain and arm
    (mean ± sd, one dot per seed)."""
    df = ok_runs(e6_runs(runs, dataset))
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 4.2))
    colours = dict(zip(map(label, E6_ARMS), sns.color_palette("colorblind")))  # one colour per arm in both panels
    rows = _mi_rows(df, dataset, E6_ARMS[1:], prefix="domain_")
    if rows:
        mi = pd.DataFrame(rows)
        sns.lineplot(mi, x="transition", y="normalised MI", hue="arm", style="arm", marker="o", palette=colours,
                     errorbar=("pi", 100), err_style="bars", ax=ax)
        null = mi.groupby("transition")["null q99"].max()
        ax.plot(null.index, null.values, "k:", label="permutation null, q99 (widest seed)")
        ax.set_xticks(sorted(mi["transition"].unique()))
        ax.legend(fontsize="small")
    ax.set(title=f"{dataset}: domain information in routing", ylabel="normalised MI(domain; routing)")
    acc = pd.DataFrame([{"arm": label(a), "domain": d, "acc %": 100 * float(getattr(r, c))}
                        for a in E6_ARMS[:2] for r in df[df["arm"] == a].itertuples() for d, c in E6_ACC])
    if len(acc):
        kw = dict(x="domain", y="acc %", hue="arm", palette=colours, ax=bx)
        sns.pointplot(acc, errorbar="sd", dodge=0.4, linestyle="none", markers="_", **kw)
        stripplot(acc, dodge=True, alpha=0.6, legend=False, **kw)
        bx.set_xlabel(" · ".join(cost_label(df, a).replace("\n", ": ") for a in E6_ARMS[:2]), fontsize="small")
    bx.set(title="test accuracy per domain (mean ± sd)", ylabel="accuracy (%)")
    fig.tight_layout()
    return fig
