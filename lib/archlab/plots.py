"""Figures: one seaborn style for every notebook, and ``savefig`` with a provenance manifest.

Every PNG written into ``results/<stem>/figures/`` gets an entry in ``figures/manifest.json`` with
the git commit, package versions, device, profile and seeds it came from, so a figure in the repo
can always be traced back to the run that drew it.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib.pyplot as plt
import matplotlib.scale as mscale
import matplotlib.ticker as mticker
import numpy as np
import seaborn as sns


def set_style() -> None:
    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": 150, "savefig.bbox": "tight"})
    mscale.register_scale(PlainLogScale)


def stripplot(data=None, **kwargs):
    """``seaborn.stripplot`` with the same jitter on every render: seaborn draws it from NumPy's global generator,
    so whatever ran before (a probe that seeds its models, another figure) would move the dots. Drawn here from a
    fixed seed, the global state restored after."""
    state = np.random.get_state()
    np.random.seed(0)
    try:
        return sns.stripplot(data, **kwargs)
    finally:
        np.random.set_state(state)


class PlainLogFormatter(mticker.LogFormatterSciNotation):
    """Matplotlib's log-axis labels, but a number between 0.001 and 10,000 is written plainly: an axis spanning less
    than a decade otherwise reads "2x10^0, 2.1x10^0". Which ticks get a label is matplotlib's choice, unchanged."""

    def __call__(self, x, pos=None):
        label = super().__call__(x, pos)
        if not label or not 1e-3 <= abs(x) < 1e4 or self._decades() >= 3:  # a wide axis keeps powers of ten
            return label
        return f"{x:.4g}"

    def _decades(self) -> float:
        lo, hi = sorted(abs(v) for v in self.axis.get_view_interval()) if self.axis is not None else (1, 1)
        return math.log10(hi / lo) if lo > 0 else math.inf


class PlainLogScale(mscale.LogScale):
    """``ax.set_yscale("log")`` with ``PlainLogFormatter`` labels (registered as "log" by ``set_style``)."""

    def __init__(self, *, base=10, subs=None, nonpositive="clip"):  # no *axis*: matplotlib 3.11's scale signature
        super().__init__(None, base=base, subs=subs, nonpositive=nonpositive)

    def set_default_locators_and_formatters(self, axis):
        super().set_default_locators_and_formatters(axis)
        axis.set_major_formatter(PlainLogFormatter(self.base))
        axis.set_minor_formatter(PlainLogFormatter(self.base, labelOnlyBase=(self.subs is not None)))


def savefig(fig, name: str, folder: Path, provenance: dict) -> Path:
    """Write ``fig`` to ``folder/<name>.png`` and record its provenance in ``folder/manifest.json``."""
    if not name or any(c in name for c in "/\\ "):
        raise ValueError(f"figure name {name!r} must be a plain file stem (no slashes or spaces)")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    fig.savefig(path)
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {"figures": {}}
    manifest["figures"][name] = {"file": path.name, **provenance}
    tmp = manifest_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str))
    tmp.replace(manifest_path)
    return path


def learning_curves(histories: dict, ax=None, metric: str = "val_loss", logy: bool = False):
    """Plot ``metric`` per epoch for a dict ``label -> History or history dict``."""
    ax = ax or plt.gca()
    for label, h in histories.items():
        epochs = h["epochs"] if isinstance(h, dict) else h.epochs
        xs = [e["epoch"] for e in epochs]
        ys = [e.get(metric, math.nan) for e in epochs]
        ax.plot(xs, ys, marker="o", ms=3, label=str(label))
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric.replace("_", " "))
    if logy:
        ax.set_yscale("log")
    ax.legend(fontsize="small")
    return ax


VERDICT_COLOURS = {"reproduced": "#009E73", "not reproduced": "#D55E00", "inconclusive": "#7F7F7F",
                   "out of regime": "#CC79A7", "not run": "#BBBBBB"}


def forest_plot(claims_df, width: float = 8.0):
    """Every non-exact claim's effect and interval against its threshold or margin, coloured by verdict.

    Units differ between claims (pp, nats, log-ratio), so rows are grouped into one panel per unit, each with its
    own x-axis labelled with the unit: rows on one axis are directly comparable, and no claim's numbers are
    rescaled by a choice the reader cannot see. A directional threshold is drawn as a black tick at ``min_effect``,
    an equivalence margin as a shaded band; the dashed line is zero (all in the figure's legend; ``FOREST_CAPTION`` says
    it in words for a caption). Claims without an effect (not run, too few
    seeds) are listed with their verdict and no interval. Exact checks are left out (they have no interval).
    Returns the matplotlib figure.
    """
    import numpy as np
    import pandas as pd

    df = claims_df[claims_df["kind"].astype(str) != "exact"].copy() if "kind" in claims_df else claims_df.copy()
    df["unit"] = df["unit"].fillna("").astype(str) if "unit" in df else ""
    if df.empty:
        fig, ax = plt.subplots(figsize=(width, 1.5))
        ax.text(0.5, 0.5, "no statistical claims", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    for col in ("effect", "ci_low", "ci_high", "threshold_low", "threshold_high"):
        df[col] = pd.to_numeric(df[col], errors="coerce") if col in df else np.nan
    units = list(dict.fromkeys(df["unit"]))
    sizes = [int((df["unit"] == u).sum()) for u in units]
    fig, axes = plt.subplots(len(units), 1, figsize=(width, 0.32 * sum(sizes) + 0.9 * len(units)), squeeze=False,
                             gridspec_kw={"height_ratios": sizes})
    for ax, unit in zip(axes[:, 0], units):
        rows = df[df["unit"] == unit].reset_index(drop=True)
        for y, r in rows.iterrows():
            colour = VERDICT_COLOURS.get(str(r.get("verdict")), "#000000")
            if np.isfinite(r.threshold_low) and np.isfinite(r.threshold_high):
                ax.fill_betweenx([y - 0.35, y + 0.35], r.threshold_low, r.threshold_high, color="#56B4E9",
                                 alpha=0.25, lw=0)
            elif np.isfinite(r.threshold_low):
                ax.plot([r.threshold_low] * 2, [y - 0.35, y + 0.35], color="black", lw=1.5)
            if np.isfinite(r.effect):
                if np.isfinite(r.ci_low) and np.isfinite(r.ci_high):
                    ax.plot([r.ci_low, r.ci_high], [y, y], color=colour, lw=2.5, solid_capstyle="butt")
                ax.plot(r.effect, y, "o", color=colour, ms=6)
            else:
                ax.text(0.01, y, f"no effect measured ({r.get('verdict', '')})", color=colour, va="center",
                        fontsize="small", transform=ax.get_yaxis_transform())
        ax.axvline(0, color="grey", ls="--", lw=0.8)
        ax.set_yticks(range(len(rows)), [f"P{r.paper} {r.id}" for r in rows.itertuples()], fontsize="small")
        ax.set_ylim(len(rows) - 0.5, -0.5)
        ax.set_xlabel(unit or "(no unit)")
    fig.legend(handles=forest_legend(), loc="upper center", ncol=4, fontsize="small", frameon=False,
               bbox_to_anchor=(0.5, 1.0))
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.6 / fig.get_figheight()))
    return fig


def forest_legend() -> list:
    """The forest plot's key: dot and bar coloured by verdict (effect and its interval), the black tick (a directional
    claim's smallest effect that matters: reproduced when the interval lies above it), the shaded band (an
    equivalence claim's margin: reproduced when the interval lies inside it) and the dashed line (zero)."""
    from matplotlib.patches import Patch

    handles = [plt.Line2D([], [], color=c, marker="o", lw=2.5, label=v) for v, c in VERDICT_COLOURS.items()]
    handles += [plt.Line2D([], [], color="black", marker="|", ms=12, mew=1.5, lw=0,
                           label="smallest effect that matters"),
                Patch(color="#56B4E9", alpha=0.25, lw=0, label="equivalence margin"),
                plt.Line2D([], [], color="grey", ls="--", lw=0.8, label="zero")]
    return handles


FOREST_CAPTION = ("Each statistical claim's measured effect (dot) and its interval (bar: 95% for a directional claim, "
                  "90% for an equivalence claim), coloured by verdict, one panel per unit. A black tick marks a "
                  "directional claim's smallest effect that matters: reproduced when the whole interval lies above "
                  "it, not reproduced when it lies below. A shaded band is an equivalence claim's margin: reproduced "
                  "when the interval lies inside it, not reproduced when wholly outside. The dashed line is zero. "
                  "Exact checks have no interval and are not drawn.")
