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
import seaborn as sns


def set_style() -> None:
    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": 150, "savefig.bbox": "tight"})


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
