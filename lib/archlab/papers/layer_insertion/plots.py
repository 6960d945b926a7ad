"""Paper 4 figures, all drawn from stored runs (the run frame of ``analysis.runs_frame``).

Curves are mean ± std over seeds (seaborn's ``errorbar="sd"``); minibatch curves are EMA-smoothed first,
because per-window minibatch losses are too noisy to compare by eye. Log axes get labels at 1, 2 and 5 per decade
(``log_ticks``): the spirals losses often span less than a decade, where matplotlib's default labels none. Every
function returns None when its study has no finished run (a failed experiment draws nothing, the notebook goes on).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
import seaborn as sns

from ...plots import stripplot

from .analysis import early_table
from .analysis_cnn import cnn_evals

MAX_POINTS = 300  # per run: enough for a smooth curve, few enough that seaborn aggregates quickly
ORDER = ["small", "sensli", "min", "random", "fixed", "large", "large+1"]
CNN_NAMES = {"small": "small VGG", "sensli": "SensLI (max op22)", "min": "min op22 position", "large": "big VGG"}


def si(x: float, unit: str = "") -> str:
    """A count with an SI prefix, 3 significant digits: si(791584) -> "792k", si(2.7e12, "FLOP") -> "2.7 TFLOP"."""
    sep = " " if unit else ""
    for factor, prefix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= factor:
            return f"{x / factor:.3g}{sep}{prefix}{unit}"
    return f"{x:.3g}{sep}{unit}"


def log_ticks(ax, axis: str = "y") -> None:
    """Log scale on ``axis`` with plain-number labels at 1, 2 and 5 per decade."""
    getattr(ax, f"set_{axis}scale")("log")
    a = getattr(ax, f"{axis}axis")
    a.set_major_locator(mticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    a.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:.3g}"))
    a.set_minor_formatter(mticker.NullFormatter())


def curve_frame(df: pd.DataFrame, smooth: float = 0.0) -> pd.DataFrame:
    """Long frame: one row per (run, logged step) with label, seed, step, flops, loss."""
    parts = []
    for r in df[df["status"].isin(["ok", "diverged"])].itertuples():
        c = r.result["curve"]
        loss = pd.Series(c["loss"], dtype=float)
        if smooth:
            loss = loss.ewm(alpha=smooth).mean()
        idx = np.unique(np.linspace(0, len(loss) - 1, min(len(loss), MAX_POINTS)).astype(int))
        parts.append(pd.DataFrame(dict(label=r.label, seed=r.seed, arch=r.arch, start=r.widths_start,
                                       step=np.asarray(c["step"])[idx], flops=np.asarray(c["flops"], float)[idx],
                                       loss=loss.values[idx])))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _panels(n: int, width: float = 4.0, height: float = 3.4, cols: int = 3):
    """A figure with n panels, at most ``cols`` per row; returns (fig, flat list of the n axes)."""
    n = max(1, n)
    rows, cols = -(-n // cols), min(n, cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def _hue_order(labels) -> list:
    return [m for m in ORDER if m in set(labels)] + sorted(set(labels) - set(ORDER))


def plot_curves(df: pd.DataFrame, ax_step, ax_flops, smooth: float = 0.0, title: str = ""):
    """Training loss vs step and vs cumulative FLOPs, mean ± std over seeds, one line per method."""
    cf = curve_frame(df, smooth)
    if not len(cf):
        return
    order = _hue_order(cf["label"])
    names = _param_names(df)
    cf["arm"], order = cf["label"].map(names), [names[o] for o in order]
    # mean - std is often <= 0 for heavy-tailed spiral losses: keep the log axis on the mean curves
    bottom = 0.5 * cf.groupby(["label", "step"])["loss"].mean().min()
    for ax, x in ((ax_step, "step"), (ax_flops, "flops")):
        sns.lineplot(cf, x=x, y="loss", hue="arm", hue_order=order, errorbar="sd", ax=ax, linewidth=1)
        log_ticks(ax)
        ax.set_ylim(bottom=bottom)
        ax.set_ylabel("training loss (cross-entropy)")
        ax.set_title(f"{title} — loss vs {'iteration' if x == 'step' else 'cumulative FLOPs'}", fontsize="medium")
        ax.legend(fontsize="x-small", title=None)
    ax_step.set_xlabel("step (full-batch GD: one per epoch)" if (df["batch_size"] == 0).all() else "step")
    for t in sorted({r["step"] for res in df["result"] for r in res.get("insertions", [])}):
        ax_step.axvline(t, color="grey", ls=":", lw=1)
    ax_flops.set_xlabel("cumulative FLOPs (incl. sensitivity pass)")


def _param_names(df: pd.DataFrame) -> dict:
    """``label -> "label (27 -> 57 params)"`` from the finished runs (a legend that says what each arm costs)."""
    ok = df[df["status"] == "ok"]
    out = {}
    for label, g in ok.groupby("label"):
        p0, p1 = int(g["params_start"].min()), int(g["params"].max())
        out[label] = f"{label} ({p0:,}{f' -> {p1:,}' if p1 != p0 else ''} params)"
    return {label: out.get(label, label) for label in df["label"].unique()}


def fig_curves(df: pd.DataFrame, studies, smooth: float = 0.0):
    """One row per (study, start net): loss vs iteration and vs cumulative FLOPs."""
    d = df[df["study"].isin(studies)]
    nets = list(dict.fromkeys(zip(d["study"], d["arch"], d["widths_start"])))
    fig, axes = plt.subplots(max(1, len(nets)), 2, figsize=(12, 3.6 * max(1, len(nets))), squeeze=False)
    for row, (study, arch, widths) in zip(axes, nets):
        g = d[(d["study"] == study) & (d["arch"] == arch) & (d["widths_start"] == widths)]
        plot_curves(g, *row, smooth=smooth, title=f"{study}: {arch} {widths}")
    fig.tight_layout()
    return fig


def fig_sensitivity(df: pd.DataFrame):
    """Sensitivity per candidate position over training: small nets (whole run) and validity nets (until insertion)."""
    panels = [(s, m) for s, m in (("fnn", "small"), ("resnet", "small"), ("validity", "sensli"))
              if ((df["study"] == s) & (df["method"] == m)).any()]
    rows = []
    for study, method in panels:
        for r in df[(df["study"] == study) & (df["method"] == method) & (df["status"] == "ok")].itertuples():
            stop = r.result["insertions"][0]["step"] if r.result["insertions"] else np.inf
            rows += [dict(panel=f"{study}: {r.arch} {r.widths_start}", step=e["step"], position=str(p), s=v)
                     for e in r.result["sens"] if e["step"] < stop for p, v in enumerate(e["s"])]
    sf = pd.DataFrame(rows)
    if not len(sf):
        return None
    names = list(dict.fromkeys(sf["panel"]))
    fig, axes = _panels(len(names), 4.5)
    for ax, name in zip(axes, names):
        sns.lineplot(sf[sf["panel"] == name], x="step", y="s", hue="position", estimator="median",
                     errorbar=("pi", 50), ax=ax)
        log_ticks(ax)
        ax.set_title(name, fontsize="medium")
        ax.set_ylabel("sensitivity s (median, IQR)")
    fig.tight_layout()
    return fig


def fig_positions(df: pd.DataFrame):
    """Where insertion happened: chosen position per method and start net."""
    d = df[(df["position"] >= 0) & (df["status"] == "ok")].assign(net=lambda x: x["arch"] + " " + x["widths_start"])
    if not len(d):
        return None
    nets = list(dict.fromkeys(d["net"]))
    fig, axes = _panels(len(nets), 4.5, 3.2)
    for ax, net in zip(axes, nets):
        g = d[d["net"] == net]
        sns.countplot(g, x="position", hue="label", hue_order=_hue_order(g["label"]), ax=ax)
        ax.set_title(f"inserted after hidden layer … ({net})", fontsize="medium")
        ax.legend(fontsize="x-small")
    fig.tight_layout()
    return fig


def fig_early(df: pd.DataFrame, max_k: int = 200):
    """Validity: loss(SensLI) - loss(other rule) vs steps after insertion (median and IQR over the seeds where
    the two rules chose different positions; elsewhere the runs are identical)."""
    t = early_table(df, ks=tuple(np.unique(np.geomspace(1, max_k, 25).astype(int))))
    if not len(t):
        return None
    t = t[t["differs"] & np.isfinite(t["sensli"]) & np.isfinite(t["base"])].assign(diff=lambda x: x["sensli"] - x["base"],
                                                                    net=lambda x: x["arch"] + " " + x["widths"])
    nets = list(dict.fromkeys(t["net"]))
    fig, axes = plt.subplots(1, len(nets), figsize=(5 * len(nets), 3.4), squeeze=False)
    for ax, net in zip(axes[0], nets):
        sns.lineplot(t[t["net"] == net], x="k", y="diff", hue="other", estimator="median", errorbar=("pi", 50), ax=ax)
        ax.axhline(0, color="k", lw=0.8)
        ax.set_xscale("log")
        ax.set_yscale("symlog", linthresh=1e-4)
        ax.set_title(f"{net}: SensLI − other (< 0: SensLI better)", fontsize="medium")
        ax.set_xlabel("steps after insertion")
    fig.tight_layout()
    return fig


def fig_probe(df: pd.DataFrame):
    """First-order check: each candidate's sensitivity against the extra loss drop of one GD step after inserting it."""
    rows = []
    for r in df[(df["study"] == "validity") & (df["method"] == "sensli") & (df["status"] == "ok")].itertuples():
        ins = r.result["insertions"][0]
        rows += [dict(net=f"{r.arch} {r.widths_start}", s=s, gain=g, lr=r.probe_lr)
                 for s, g in zip(ins["sensitivities"], ins.get("first_step_decrease", []))]
    pf = pd.DataFrame(rows)
    if not len(pf):
        return None
    fig, ax = plt.subplots(figsize=(5, 4))
    pf = pf[(pf["s"] > 0) & (pf["gain"] > 0)]
    sns.scatterplot(pf, x="s", y="gain", hue="net", ax=ax, s=18)
    xs = np.geomspace(pf["s"].min(), pf["s"].max(), 10)
    ax.plot(xs, pf["lr"].iloc[0] * xs, "k--", lw=1, label="lr · s (first order)")
    log_ticks(ax, "x"), log_ticks(ax, "y")
    ax.set(xlabel="sensitivity s at insertion", ylabel="extra loss drop of one GD step")
    ax.legend(fontsize="x-small")
    return fig


def fig_when(df: pd.DataFrame):
    """Final training loss against the insertion time, with FNN1 and FNN2 as bands (median and IQR: the
    spirals' final losses are heavy-tailed, so mean ± std would reach below zero on the log axis)."""
    d = df[(df["study"] == "when") & (df["status"] == "ok")]
    if not len(d):
        return None
    fig, ax = plt.subplots(figsize=(6, 3.6))
    li = d[d["method"] == "sensli"].assign(t=lambda x: x["insert_at"].map(lambda v: v[0]))
    sns.lineplot(li, x="t", y="train_loss", estimator="median", errorbar=("pi", 50), marker="o", ax=ax, color="C0",
                 label="SensLI (x0.8 lr at insertion)")
    for method, color in (("small", "C1"), ("large", "C2")):
        v = d[d["method"] == method]["train_loss"]
        ax.axhspan(v.quantile(0.25), v.quantile(0.75), color=color, alpha=0.15, lw=0)
        ax.axhline(v.median(), color=color, label=f"{method} (lr {d[d['method'] == method]['lr'].iloc[0]})")
    log_ticks(ax)
    ax.set(xlabel="insertion epoch (of 1850 in the paper's schedule)", ylabel="final training loss (median, IQR)")
    ax.legend(fontsize="x-small")
    return fig


def fig_test(df: pd.DataFrame):
    """Test error at the end of training, per study and method (points = seeds, bar = mean ± std)."""
    d = df[df["status"] == "ok"]
    if not len(d):
        return None
    studies = list(dict.fromkeys(d["study"]))
    fig, axes = _panels(len(studies), 3.4, 3.4, cols=4)
    for ax, study in zip(axes, studies):
        g = d[d["study"] == study]
        order = _hue_order(g["label"])
        stripplot(g, x="label", y="test_err", order=order, ax=ax, size=3, alpha=0.5)
        sns.pointplot(g, x="label", y="test_err", order=order, errorbar="sd", ax=ax, color="k", linestyle="none")
        ax.set_title(study, fontsize="medium")
        ax.set(xlabel="", ylabel="test error")
        ax.tick_params(axis="x", rotation=60, labelsize="x-small")
    fig.tight_layout()
    return fig


def plot_when_curves(df: pd.DataFrame, insert_at: int, method: str, axis: str):
    """The widget's view: the when-to-insert study at one insertion time, from stored runs."""
    d = df[df["study"] == "when"]
    keep = (d["method"] != "sensli") | (d["insert_at"].map(lambda v: v[0]) == insert_at)
    d = d[keep & ((d["method"] == method) | (method == "all"))]
    fig, ax = plt.subplots(figsize=(7, 3.8))
    cf = curve_frame(d)
    if len(cf):
        sns.lineplot(cf, x=axis, y="loss", hue="label", errorbar="sd", ax=ax, linewidth=1)
        log_ticks(ax)
        ax.set(ylabel="training loss", xlabel="step" if axis == "step" else "cumulative FLOPs")
        if axis == "step":
            ax.axvline(insert_at, color="grey", ls=":")
    ax.set_title(f"when to insert: t = {insert_at}, method = {method}", fontsize="medium")
    return fig


def fig_cnn(df: pd.DataFrame):
    """E5b: test accuracy vs epoch and vs cumulative FLOPs (sensitivity pass included), mean ± std over seeds.

    Drawn by hand rather than with seaborn: the FLOP axis must average x over seeds too (SensLI's FLOPs depend on
    the chosen position), so each arm's curve is the per-evaluation mean of both coordinates.
    """
    ev = cnn_evals(df)
    if not len(ev):
        return None
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
    stats = ev.groupby(["label", "epoch"]).agg(flops=("flops", "mean"), mean=("test_acc", "mean"),
                                                sd=("test_acc", "std"), n=("seed", "nunique")).reset_index()
    ok = df[(df["study"] == "cnn") & (df["status"] == "ok")]
    size = ok.groupby("label").agg(p0=("params_start", "min"), p1=("params", "max"), f=("flops", "mean"))
    for i, label in enumerate(_hue_order(stats["label"])):
        g = stats[stats["label"] == label]
        sd = g["sd"].fillna(0)
        p = size.loc[label]
        params = si(p.p0) + (f" -> {si(p.p1)}" if p.p1 != p.p0 else "")
        name = f"{CNN_NAMES.get(label, label)}: {params} params, {si(p.f, 'FLOP')} (n = {g['n'].max()})"
        for ax, x in zip(axes, (g["epoch"], g["flops"])):
            ax.plot(x, g["mean"], marker="o", ms=3, lw=1.2, color=f"C{i}", label=name)
            ax.fill_between(x, g["mean"] - sd, g["mean"] + sd, color=f"C{i}", alpha=0.15, lw=0)
    for t in sorted({t for times in df.loc[df["study"] == "cnn", "insert_at"] for t in times}):
        axes[0].axvline(t, color="grey", ls=":", lw=1)
    axes[0].set(xlabel="epoch", ylabel="test accuracy (mean ± std over seeds)", title="CNN (E5b): accuracy vs epoch")
    axes[1].set(xlabel="cumulative training FLOPs (incl. sensitivity pass)", ylabel="test accuracy",
                title="accuracy vs computation")
    axes[0].legend(fontsize="x-small")  # one legend: both panels draw the same arms
    fig.tight_layout()
    return fig
