"""The reproduction report in the overview notebook: how this results folder's verdicts and effects compare with the
reference runs' of the same profile (``archlab.report.reproduction``), as a table and one figure."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ...report import flagged, reproduction, stored_reproduction, write_reproduction
from ...store import training_disabled

SHOWN = ["notebook", "id", "kind", "verdict_ref", "verdict_new", "effect_ref", "ci_low_ref", "ci_high_ref", "effect_new",
         "agreement"]


def report(profile: str) -> dict:
    """The report of the results folder against ``profile``'s reference, saved as ``00_overview/reproduction.csv``;
    rendered from the reference runs (``make figures``: nothing may train), the stored report of the reproduction
    that made them instead, since results rendered from the reference equal it by construction."""
    stored = stored_reproduction(profile) if training_disabled() else None
    rep = stored or reproduction(profile)
    write_reproduction(rep)
    return rep


def table(rep: dict):
    """The claims to look at (every one whose verdict or effect differs), or every claim when none does."""
    bad = flagged(rep)
    return (bad if len(bad) else rep["claims"])[SHOWN] if len(rep["claims"]) else rep["claims"]


def figure(rep: dict):
    """Each claim with an interval: where the new effect lies in the reference's interval, rescaled so the interval
    spans 0 to 1 (the shaded band); a black tick marks the reference effect. Claims differ in unit, and this scale
    reads the same for all. Red: the verdict changed; orange: same verdict, effect outside the interval. Points beyond
    the axis are drawn at its edge as triangles."""
    t = rep["claims"]
    t = t[np.isfinite(t.ci_low_ref.astype(float)) & np.isfinite(t.effect_new.astype(float))] if len(t) else t
    fig, ax = plt.subplots(figsize=(7, 0.6 + 0.22 * max(len(t), 1)))
    if not len(t):
        ax.text(0.5, 0.5, rep["note"], ha="center", va="center", wrap=True, fontsize=9)
        ax.set_axis_off()
        return fig
    width = (t.ci_high_ref - t.ci_low_ref).where(lambda w: w > 0, 1.0)
    new, old = (t.effect_new - t.ci_low_ref) / width, (t.effect_ref - t.ci_low_ref) / width
    y = np.arange(len(t))[::-1]
    ax.axvspan(0, 1, color="0.9", label="reference interval")
    ax.scatter(old.clip(-1, 2), y, marker="|", color="black", s=80, label="reference effect")
    outside = (new < 0) | (new > 1)
    colours = np.select([~t.same_verdict, outside], ["tab:red", "tab:orange"], "tab:blue")
    for mask, marker in (((new >= -1) & (new <= 2), "o"), (new < -1, "<"), (new > 2, ">")):
        m = mask.to_numpy()
        ax.scatter(new.clip(-1, 2)[m], y[m], color=colours[m], marker=marker, s=18, zorder=3)
    for colour, text in (("tab:blue", "new effect, same verdict"), ("tab:orange", "same verdict, effect outside"),
                         ("tab:red", "verdict changed")):
        ax.plot([], [], "o", color=colour, ms=4, label=text)
    ax.set_yticks(y, [f"{n[:2]} {i}" for n, i in zip(t.notebook, t.id)], fontsize=7)
    ax.set_xlim(-1.1, 2.1)
    ax.set_xlabel("position in the reference interval (0 = its low end, 1 = its high end)")
    ax.set_title(f"New effects against the {rep['profile']} reference", fontsize=10)
    ax.legend(loc="best", fontsize=7)
    fig.tight_layout()
    return fig
