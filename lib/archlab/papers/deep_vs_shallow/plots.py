"""Paper 2's figures, drawn only from stored runs (``pair_runs`` output) and from the paper's Table 2 numbers, which
are always labelled as the paper's. Pairs where a layout diverged or failed are counted in every panel title
instead of disappearing."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import FuncFormatter, LogLocator

from ...plots import learning_curves
from .analysis import BIN_EDGES, BINS, bin_means, dataset_order, paper_bins, step_ratios
from .grid import FACTORS

LAYOUT_COLORS = {"sequential": "C0", "parallel": "C1"}
PLAIN = FuncFormatter(lambda v, _: f"{v:g}")  # ratios near 1 read better as 0.9, 1.1 than as 9x10^-1
# minor ticks labelled only at 2x and 5x a power of ten, so axes spanning decades stay readable
SPARSE = FuncFormatter(lambda v, _: f"{v:g}" if v > 0 and round(v / 10 ** np.floor(np.log10(v)), 6) in (2, 5) else "")


def _plain(*axes, minor=PLAIN):
    """Plain numbers on log axes (``minor=SPARSE`` for axes that may span decades)."""
    for axis in axes:
        axis.set_major_formatter(PLAIN)
        axis.set_minor_formatter(minor)


def _readable_log(axis, lo: float, hi: float):
    """Ticks and plain labels at 1, 2, 3, 5 x each power of ten on a log axis spanning ``lo``..``hi``, so a value
    such as the paper's 0.65 or 2.08 can be read off a panel spanning less than a decade; wider spans keep 1, 2, 5."""
    subs = (1.0, 2.0, 3.0, 5.0) if hi / max(lo, 1e-12) < 30 else (1.0, 2.0, 5.0)
    axis.set_major_locator(LogLocator(base=10, subs=subs, numticks=30))
    axis.set_major_formatter(PLAIN)
    axis.set_minor_locator(LogLocator(base=10, subs=np.arange(1, 10), numticks=30))
    axis.set_minor_formatter(FuncFormatter(lambda v, _: ""))


PAPER_NOTE = "paper values: full data, 100 epochs [S]; ours: this profile"


def _log_labels(ax, lo: float, hi: float):
    """Plain labels on both log axes of a square panel: every minor tick within a factor of 4, sparse beyond."""
    _plain(ax.xaxis, ax.yaxis, minor=PLAIN if hi / lo < 4 else SPARSE)


def _datasets(pairs):
    return sorted(dict.fromkeys(pairs.dataset), key=dataset_order)


def _unfinished(g) -> str:
    n = int((~g.ok).sum())
    return f" ({n} unfinished pair{'s' * (n != 1)}: see table)" if n else ""


def _bin_spans(q_max: float):
    """(lo, hi, label) of each Q bin, the open last bin capped for drawing."""
    edges = list(BIN_EDGES[:-1]) + [max(100.0, 2 * q_max)]
    return [(max(lo, 0.05), hi, b) for lo, hi, b in zip(edges[:-1], edges[1:], BINS)]


def loss_scatter(pairs: pd.DataFrame):
    """Parallel against sequential loss per configuration (log-log), y = x and a +-10% band, coloured by log10 Q;
    rows train/val, one column per dataset."""
    ds = _datasets(pairs)
    fig, axes = plt.subplots(2, len(ds), figsize=(4.6 * len(ds), 8.4), squeeze=False, layout="constrained")
    ok = pairs[pairs.ok]
    norm = plt.Normalize(np.log10(ok.Q).min() if len(ok) else 0, np.log10(ok.Q).max() if len(ok) else 1)
    for j, d in enumerate(ds):
        g = pairs[pairs.dataset == d]
        gok = g[g.ok]
        for i, split in enumerate(("train", "val")):
            ax = axes[i, j]
            x, y = gok[f"{split}_loss_seq"], gok[f"{split}_loss_par"]
            sc = ax.scatter(x, y, c=np.log10(gok.Q), cmap="viridis", norm=norm, s=28, edgecolor="k", lw=0.3)
            if len(gok):
                lo, hi = min(x.min(), y.min()) / 1.3, max(x.max(), y.max()) * 1.3
                line = np.geomspace(lo, hi, 50)
                ax.plot(line, line, "k-", lw=1, label="y = x")
                ax.fill_between(line, line / 1.1, line * 1.1, color="grey", alpha=0.2, label="±10%")
                ax.set(xlim=(lo, hi), ylim=(lo, hi))
            ax.set(xscale="log", yscale="log", xlabel=f"sequential {split} loss", ylabel=f"parallel {split} loss",
                   title=f"{d}, {split}")
            if len(gok):
                _log_labels(ax, lo, hi)
            ax.legend(loc="upper left", fontsize="small")
    fig.colorbar(sc, ax=axes, label="log10 Q", shrink=0.6)
    fig.suptitle(f"Parallel vs sequential loss per configuration{_unfinished(pairs)}", fontsize="medium")
    return fig


def ratio_vs_q(pairs: pd.DataFrame):
    """r = L_par/L_seq against Q (log-log) per dataset: one point per configuration, our per-bin median with its
    IQR, and the paper's ratio of bin means (Table 2) as a dashed segment across each bin."""
    ds = _datasets(pairs)
    fig, axes = plt.subplots(1, len(ds), figsize=(5.2 * len(ds), 4), squeeze=False, sharey=True, layout="constrained")
    paper = paper_bins().set_index(["dataset", "q_bin"])
    for ax, d in zip(axes[0], ds):
        g = pairs[(pairs.dataset == d) & pairs.ok]
        spans = _bin_spans(g.Q.max() if len(g) else 10)
        for split, marker in (("train", "s"), ("val", "o")):
            color = "C2" if split == "train" else "C3"
            ax.scatter(g.Q, g[f"r_{split}"], marker=marker, color=color, alpha=0.45, s=22, label=f"ours, {split}")
            for lo, hi, b in spans:
                r = g.loc[g.q_bin == b, f"r_{split}"]
                if len(r):
                    q25, q50, q75 = r.quantile([0.25, 0.5, 0.75])
                    xm = np.sqrt(lo * hi) * (0.9 if split == "train" else 1.1)
                    ax.errorbar(xm, q50, yerr=[[q50 - q25], [q75 - q50]], fmt=marker, color=color, mec="k",
                                ms=8, capsize=3)
                if (d, b) in paper.index:
                    pv = paper.loc[(d, b), f"r_{split}"]
                    ax.plot([lo, hi], [pv] * 2, "--", color=color, lw=1.5)
                    ax.plot(np.sqrt(lo * hi), pv, "*", color=color, mec="k", ms=13,
                            label=f"paper Table 2, {split}" if b == BINS[0] else None)
        for edge in BIN_EDGES[1:-1]:
            ax.axvline(edge, color="grey", lw=0.6, ls=":")
        ax.axhline(1, color="k", lw=1)
        ax.set(xscale="log", yscale="log", xlabel="Q = K·M / P", ylabel="L_par / L_seq",
               title=f"{d} (big markers: bin median, IQR)")
        mine = paper.loc[d] if d in paper.index.get_level_values(0) else paper.iloc[:0]
        ys = pd.concat([g.r_train, g.r_val, mine.r_train, mine.r_val]).dropna()
        ys = ys[ys > 0] if len(ys[ys > 0]) else pd.Series([0.5, 2.0])
        _readable_log(ax.yaxis, ys.min() / 1.1, ys.max() * 1.1)
        _plain(ax.xaxis, minor=SPARSE)
        ax.legend(fontsize="x-small")
    fig.suptitle(PAPER_NOTE, fontsize="small")
    return fig


def gap_by_layout(pairs: pd.DataFrame):
    """Validation minus training loss per layout and Q bin (bars: our mean with 95% CI; diamonds: the paper's)."""
    ds = _datasets(pairs)
    fig, axes = plt.subplots(1, len(ds), figsize=(5 * len(ds), 3.8), squeeze=False, layout="constrained")
    ok = pairs[pairs.ok]
    long = pd.concat([ok.assign(layout=lay, gap=ok[f"gap_{s}"]) for s, lay in (("seq", "sequential"),
                                                                                ("par", "parallel"))])
    long["q_bin"] = pd.Categorical(long.q_bin.astype(str), BINS, ordered=True)
    paper = paper_bins().set_index(["dataset", "q_bin"])
    for ax, d in zip(axes[0], ds):
        g = long[long.dataset == d]
        sns.barplot(g, x="q_bin", y="gap", hue="layout", palette=LAYOUT_COLORS, ax=ax, errorbar=("ci", 95),
                    hue_order=list(LAYOUT_COLORS), order=BINS, seed=0)  # the same bootstrap every render
        for i, b in enumerate(BINS):
            for off, s in ((-0.2, "seq"), (0.2, "par")):
                if (d, b) in paper.index:
                    ax.plot(i + off, paper.loc[(d, b), f"gap_{s}"], "kD", ms=5,
                            label="paper Table 2" if (i, s) == (0, "seq") else None)
        ax.set(xlabel="Q bin", ylabel="val − train loss", title=f"{d}{_unfinished(pairs[pairs.dataset == d])}")
        ax.legend(fontsize="small")
    return fig


def time_per_epoch(pairs: pd.DataFrame, steps: pd.DataFrame, device: str, executor: str):
    """Parallel against sequential time per configuration (log-log, y = x): top, seconds per epoch of the sweep's
    runs; bottom, milliseconds per training step with each model timed alone (the basis of the speed verdict)."""
    ds = _datasets(pairs)
    ratios = step_ratios(steps) if len(steps) else pd.DataFrame(columns=["dataset", "ms_seq", "ms_par", "r_step"])
    fig, axes = plt.subplots(2, len(ds), figsize=(5 * len(ds), 9), squeeze=False, layout="constrained")
    shared = "; runs shared the device" if "ray" in executor or "batched" in executor else ""
    for j, d in enumerate(ds):
        g = pairs[(pairs.dataset == d) & pairs.ok]
        g = g.rename(columns={"sec_per_epoch_seq": "seq", "sec_per_epoch_par": "par"})
        r = ratios[ratios.dataset == d].rename(columns={"ms_seq": "seq", "ms_par": "par"})
        # the axis labels stay short (the qualifier goes in the title), so two columns never overlap
        for i, (ax, t, col, unit, how) in enumerate(((axes[0, j], g, "r_time", "s/epoch", f"the sweep's runs{shared}"),
                                                     (axes[1, j], r, "r_step", "ms/step", "each model timed alone"))):
            if len(t):
                sns.scatterplot(t, x="seq", y="par", hue="F", size="L", palette="crest", ax=ax, legend=i == j == 0)
                lo, hi = min(t.seq.min(), t.par.min()) / 1.3, max(t.seq.max(), t.par.max()) * 1.3
                ax.plot([lo, hi], [lo, hi], "k-", lw=1)
                ax.set(xscale="log", yscale="log", xlim=(lo, hi), ylim=(lo, hi))  # before the labels: set_scale resets them
                if i == j == 0:  # one legend: F (colour) and L (size) mean the same in every panel
                    ax.legend(fontsize="x-small", title="F, L", title_fontsize="x-small")
                _log_labels(ax, lo, hi)
            else:
                ax.set(xscale="log", yscale="log")
            ax.set(xlabel=f"sequential ({unit})", ylabel=f"parallel ({unit})")
            ax.set_title(f"{d}, {how}\nmedian par/seq {t[col].median():.2f}", fontsize="small")
    fig.suptitle(f"Training time per layout on {device}", fontsize="medium")
    return fig


def table2_figure(pairs: pd.DataFrame):
    """Mean validation and training loss per Q bin and layout: ours (solid) beside the paper's Table 2 (dashed)."""
    ours, paper = bin_means(pairs), paper_bins()
    ds = _datasets(pairs)
    fig, axes = plt.subplots(2, len(ds), figsize=(4.6 * len(ds), 6.5), squeeze=False, layout="constrained")
    for j, d in enumerate(ds):
        for i, split in enumerate(("val", "train")):
            ax = axes[i, j]
            shown = []
            for src, t, ls, mk in (("ours", ours, "-", "o"), ("paper", paper, "--", "*")):
                t = t[t.dataset == d].set_index("q_bin").reindex(BINS)
                for s, lay in (("seq", "sequential"), ("par", "parallel")):
                    if t[f"{split}_{s}"].notna().any():
                        ax.plot(BINS, t[f"{split}_{s}"], ls, marker=mk, ms=7 if mk == "o" else 11,
                                color=LAYOUT_COLORS[lay], mec="k", label=f"{src}, {lay}")
                        shown.append(t[f"{split}_{s}"])
            ax.set(yscale="log", xlabel="Q bin", ylabel=f"mean {split} loss (nats)", title=f"{d}, {split}")
            vals = pd.concat(shown).dropna() if shown else pd.Series([0.1, 1.0])
            vals = vals[vals > 0]
            _readable_log(ax.yaxis, vals.min(), vals.max())
            ax.legend(fontsize="x-small")
    fig.suptitle(PAPER_NOTE, fontsize="small")
    return fig


def truncation_figure(curves: pd.DataFrame, slopes: dict):
    """Relative seq/par deviation of one body against the scale of its branch weights, with a slope-1 guide."""
    fig, ax = plt.subplots(figsize=(5.2, 4), layout="constrained")
    for act, g in curves.groupby("activation"):
        ax.plot(g.scale, g.rel_deviation, "o-", label=f"{act} (slope {slopes[act]:.2f} for scale ≤ 0.1)")
    s = curves.scale.to_numpy()
    ax.plot(s, 0.3 * curves.rel_deviation.min() * s / s.min(), "k:", label="slope 1 (guide)")
    ax.axvline(1.0, color="grey", lw=0.6, ls="--")
    ax.set(xscale="log", yscale="log", xlabel="branch weight scale (1 = PyTorch default init)",
           ylabel="||seq − par|| / ||seq − h0||", title="First-order truncation error")
    ax.legend(fontsize="small")
    return fig


def _curve_label(r) -> str:
    res = r.result
    return f"{r.layout}, P={res.get('P', float('nan')):,}, Q={res.get('Q', float('nan')):.2g} ({r.status})"


def _with(history: dict, metric: str) -> dict:
    """``history`` keeping only the epochs that recorded ``metric``."""
    keep = [e for e in history["epochs"] if np.isfinite(e.get(metric, np.nan) if e.get(metric) is not None else np.nan)]
    return {**history, "epochs": keep}


def learning_curve_pair(runs: pd.DataFrame, **selection):
    """Train and validation loss per epoch of both layouts for one configuration picked by ``selection``, each
    curve labelled with its layout, P and Q; epochs without a test-set evaluation are left out of the val panel
    (a run evaluates ``grid.EVALS`` times), so its points join into a line."""
    sel = runs
    for k, v in selection.items():
        sel = sel[sel[k] == v]
    for k in [f for f in (*FACTORS, "seed") if f not in selection and f != "layout" and f in sel]:
        sel = sel[sel[k] == sel[k].iloc[0]] if len(sel) else sel
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
    for ax, metric in zip(axes, ("train_loss", "val_loss")):
        hist = {_curve_label(r): _with(r.result["history"], metric) for r in sel.itertuples()
                if isinstance(r.result, dict) and "history" in r.result}
        if hist:
            learning_curves(hist, ax, metric, logy=True)
        else:
            ax.text(0.5, 0.5, "no stored run for this selection", ha="center", transform=ax.transAxes)
    fig.suptitle(", ".join(f"{k}={v}" for k, v in selection.items()) + " (first level of other factors)",
                 fontsize="medium")
    return fig


def depth_figure(d: pd.DataFrame):
    """The depth experiment (``analysis.depth_pairs``): log(val par / val seq) against L at one parameter budget,
    one point per seed, the mean joined, per dataset (below 0: parallel lower); the truncation argument predicts
    the distance from 0 grows with L."""
    ds = _datasets(d) if len(d) else []
    fig, axes = plt.subplots(1, max(1, len(ds)), figsize=(4.4 * max(1, len(ds)), 3.6), squeeze=False,
                             layout="constrained")
    for ax, name in zip(axes[0], ds):
        g = d[d.dataset == name]
        ax.axhline(0, color="k", lw=1)
        ax.scatter(g.L, g.lr_val, color="C1", alpha=0.6, label="one seed")
        m = g.groupby("L").agg(lr=("lr_val", "mean"), P=("P_seq", "first"), F=("F", "first")).reset_index()
        ax.plot(m.L, m.lr, "k-o", label="mean over seeds")
        for r in m.itertuples():
            ax.annotate(f"F={r.F}, P={r.P:,.0f}", (r.L, r.lr), fontsize="x-small", xytext=(4, 6),
                        textcoords="offset points")
        ax.set(xscale="log", xticks=sorted(m.L), xlabel="depth L (one parameter budget)",
               ylabel="log(val par / val seq)", title=f"{name}: {len(g)} pairs")
        ax.xaxis.set_major_formatter(PLAIN)
        ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
        ax.legend(fontsize="x-small")
    if not ds:
        axes[0, 0].text(0.5, 0.5, "no depth experiment in this profile", ha="center", transform=axes[0, 0].transAxes)
    fig.suptitle("Layout difference against depth at a fixed parameter budget", fontsize="medium")
    return fig
