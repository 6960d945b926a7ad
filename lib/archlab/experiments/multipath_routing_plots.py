"""Paper 3 tables and figures, drawn only from stored runs and counted budgets (never from made-up numbers).

``REFERENCE`` is the spec's reference-configuration table (section 3, marked [D]: counted from the proposed
configuration, *not* results of the paper, which the spec does not quote); the notebook prints our counts beside it.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ..analysis.routing import gini
from ..analysis.stats import fmt_mean_std
from ..models import create_model
from ..models.multipath_baselines import budget
from .multipath_contexts import DOMAINS
from .multipath_routing import SQRT2, MultipathConfig, label, model_spec
from .multipath_routing_claims import mi_by_depth

_MP = "multipath_net"
REFERENCE = [  # (arm, model, kwargs at stem 32 / widths (32, 64, 128), spec params, spec routing params, spec MMACs)
    ("SP-base", "mp_plain_net", {}, 298_026, 0, 48.1),
    ("SP-base+SE", "mp_se_net", {}, 309_802, 0, 48.1),
    ("SP-wide ×1.41", "mp_plain_net", {"width_mult": SQRT2}, 595_315, 0, 95.4),
    ("Ens2", "mp_ensemble", {"members": 2}, 596_052, 0, 96.1),
    ("MP2-none", _MP, {"router": "none"}, 595_114, 0, 95.3),
    ("MP2-static (fixed uniform)", _MP, {"router": "static", "learn_static": False}, 595_114, 0, 95.3),
    ("MP2-CC", _MP, {"router": "cross_connections"}, 609_128, 14_014, 95.3),
    ("MP2-CP-gate", _MP, {"router": "cross_prediction_gate"}, 609_208, 14_094, 95.3),
    ("MP2-CP-conv", _MP, {"router": "cross_prediction_conv"}, 1_180_600, 14_094, 170.8),
    ("SP-wide ×2", "mp_plain_net", {"width_mult": 2.0}, 1_185_866, 0, 190.5),
    ("Ens4", "mp_ensemble", {"members": 4}, 1_192_104, 0, 192.3),
    ("MP4-CC", _MP, {"router": "cross_connections", "paths": 4}, 1_217_654, 28_364, 189.7),
    ("MP4-CP-conv", _MP, {"router": "cross_prediction_conv", "paths": 4}, 4_646_246, 28_604, 642.6),
    ("SP-deeper (unsearched)", "mp_plain_net", {"convs_per_stage": 4}, 685_994, 0, 104.7),
]


def reference_budget() -> pd.DataFrame:
    """Our counts of the spec's reference arms next to the spec's counted [D] numbers."""
    rows = []
    for arm, name, kw, p, r, mm in REFERENCE:
        b = budget(create_model(name, **kw))
        rows.append({"arm": arm, "params": b["params"], "routing params": b["routing_params"],
                     "MMACs": round(b["macs"] / 1e6, 1), "spec params [D]": p, "spec routing [D]": r,
                     "spec MMACs [D]": mm})
    df = pd.DataFrame(rows)
    df["matches spec"] = ((df["params"] == df["spec params [D]"]) & (df["routing params"] == df["spec routing [D]"])
                          & (df["MMACs"] == df["spec MMACs [D]"]))
    return df


def overhead(cfg: MultipathConfig) -> pd.DataFrame:
    """Params and MACs of MP{m}-CP-conv vs MP{m}-CC for every m, at the trained and the reference backbone."""
    g = cfg.grid()
    rows = []
    for backbone, (widths, stem, cps) in {"trained": (g["widths"], g["stem"], g["convs_per_stage"]),
                                          "reference": ((32, 64, 128), 32, 2)}.items():
        for m in cfg.paths:
            b = {}
            for r in ("cross_connections", "cross_prediction_conv"):
                name, kw = model_spec(f"mp{m}_{r}", widths, stem, cps)
                b[r] = budget(create_model(name, **kw))
            cc, cp = b["cross_connections"], b["cross_prediction_conv"]
            rows.append({"backbone": backbone, "m": m, "CC params": cc["params"], "CP-conv params": cp["params"],
                         "CC MMACs": cc["macs"] / 1e6, "CP-conv MMACs": cp["macs"] / 1e6,
                         "param_ratio": cp["params"] / cc["params"], "mac_ratio": cp["macs"] / cc["macs"],
                         "CC routing share": cc["routing_params"] / cc["params"]})
    return pd.DataFrame(rows)


def summary(runs: pd.DataFrame) -> pd.DataFrame:
    """Per dataset/epochs/arm: accuracy mean ± std over finished seeds, cost, speed, and every run that was not ok."""
    rows = []
    for (ds, ep, arm), g in runs.groupby(["dataset", "epochs", "arm"], sort=False):
        ok = g[g["status"] == "ok"]
        rows.append({"dataset": ds, "epochs": ep, "arm": label(arm), "runs ok": f"{len(ok)}/{len(g)}",
                     "not ok": ", ".join(f"seed {r.seed}: {r.status}" for r in g[g["status"] != "ok"].itertuples()),
                     "acc %": fmt_mean_std(100 * ok["acc"].astype(float), 2) if len(ok) else "n/a",
                     "params": _first(g, "params"), "routing params": _first(g, "routing_params"),
                     "MMACs": round(_first(g, "macs") / 1e6, 2) if _first(g, "macs") else None,
                     "s/epoch": round(float(ok["sec_per_epoch"].mean()), 2) if len(ok) else None})
    return pd.DataFrame(rows)


def _first(g, col):
    v = g[col].dropna() if col in g else []
    return int(v.iloc[0]) if len(v) else None


# ----------------------------------------------------------------------------- figures


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
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for ax, (what, unit) in zip(axes, (("params", "parameters"), ("MMACs", "MMACs"))):
        for backbone, g in table.groupby("backbone"):
            for r, ls in (("CC", "-"), ("CP-conv", "--")):
                ax.plot(g["m"], g[f"{r} {what}"], ls, marker="o", label=f"{r} ({backbone} widths)")
        ax.set(xlabel="paths m", ylabel=unit, yscale="log", xticks=sorted(set(table["m"])))
    axes[0].legend(fontsize="small")
    fig.suptitle("Routing overhead: cross-prediction (reading A) vs cross-connections (counted)")
    return fig


def analyses(runs: pd.DataFrame, arm: str, dataset: str) -> list[dict]:
    sel = runs[(runs["arm"] == arm) & (runs["dataset"] == dataset) & (runs["status"] == "ok")]
    return [r for r in sel["result"] if isinstance(r, dict) and "analysis" in r]


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
    rows = [{"arm": label(a), "stage": s, "inter-path CKA": v}
            for a in arms for r in analyses(runs, a, dataset) for s, v in enumerate(r["analysis"]["cka"])]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    if rows:
        sns.pointplot(pd.DataFrame(rows), x="stage", y="inter-path CKA", hue="arm", errorbar="sd", dodge=0.3, ax=ax)
        ax.legend(loc="lower right", fontsize="small")
    ax.set(title=f"{dataset}: similarity between paths (linear CKA of GAP features)", ylim=(0, 1.05))
    return fig


def ablation_frame(runs: pd.DataFrame, dataset: str, arms: list, key: str = "ablation") -> pd.DataFrame:
    """Stored ablation drops of the given arms; ``key="domain_ablation"``: per domain instead of per class (E6)."""
    rows = [{**row, "arm": label(a), "seed": i} for a in arms for i, r in enumerate(analyses(runs, a, dataset))
            for row in r["analysis"].get(key, [])]
    return pd.DataFrame(rows)


def ablation_gini(runs: pd.DataFrame, dataset: str, arms: list) -> pd.DataFrame:
    """Mean Gini (over seeds, stages and paths) of the per-class ablation drops: higher = more class-specific paths."""
    df = ablation_frame(runs, dataset, arms)
    if df.empty:
        return pd.DataFrame(columns=["arm", "mean Gini of ablation drops"])
    g = df.groupby(["arm", "seed", "stage", "path"])["drop"].apply(gini).groupby("arm").mean()
    return g.rename("mean Gini of ablation drops").reset_index()


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

E6_ARMS = ("sp_wide", "mp2_cross_connections", "mp2_cross_connections_frozen")
E6_ACC = (("both", "acc"), *((d, f"acc_{d}") for d in DOMAINS))  # (shown as, run column)


def _e6(runs: pd.DataFrame, dataset: str, epochs: int) -> pd.DataFrame:
    return runs[(runs["dataset"] == dataset) & (runs["epochs"] == epochs) & runs["arm"].isin(E6_ARMS)]


def context_tables(runs: pd.DataFrame, dataset: str, epochs: int) -> dict:
    """E6 tables: accuracy per arm on the mixture and per domain; MI(domain; edges) per transition with its null
    (MP2-CC and the frozen router); per-domain accuracy drop (pp) when one MP2-CC path is zeroed at one stage."""
    df = _e6(runs, dataset, epochs)
    ok = df[df["status"] == "ok"]
    acc = pd.DataFrame([{"arm": label(a), "runs ok": f"{len(g)}/{(df['arm'] == a).sum()}",
                         **{f"{d} acc %": fmt_mean_std(100 * g[c].astype(float), 2) if len(g) else "n/a"
                            for d, c in E6_ACC}} for a in E6_ARMS for g in [ok[ok["arm"] == a]]])
    mi = pd.concat([mi_by_depth(ok[ok["arm"] == a], prefix="domain_").assign(arm=label(a)) for a in E6_ARMS[1:]])
    abl = ablation_frame(ok, dataset, ["mp2_cross_connections"], key="domain_ablation")
    if not abl.empty:
        abl = abl.pivot_table(index=["stage", "path"], columns="domain", values="drop", aggfunc="mean")
        abl = (100 * abl).rename(columns=dict(enumerate(DOMAINS))).add_prefix("acc. drop pp, ").reset_index()
    return {"accuracy": acc, "mi": mi, "ablation": abl}


def fig_contexts(runs: pd.DataFrame, dataset: str, epochs: int):
    """Left: MI(domain; routing edges) per transition (mean; bars: min-max over seeds, positive on a log axis)
    against the domain-label permutation null (band: null mean to its 99th percentile, widest over seeds).
    Right: test accuracy per domain and arm (mean ± sd, one dot per seed)."""
    df = _e6(runs, dataset, epochs)
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
