"""Paper 1's live view (``archlab.widgets.live``): pick a family and a number of blocks per stage, see its exact
gradient timestamps per layer and its shortest / longest path lengths, recomputed from the model's fx graph.

About a second on a CPU (the analysis is cached per model, widths and k, so views E1 already computed are
instant). Nothing is trained: this is the static side of the paper's argument, where stacking OSA modules pushes
every earlier layer's shortest path up while ResNet and ELAN keep it flat.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from .grid import FAMILIES
from .static import STACK_FAMILIES, STACK_KWARGS, frozen, macro_paths, conv3_per_stage

NAMES = {FAMILIES[m]: m for m in STACK_FAMILIES}  # label -> registry name, the dropdown's options
CONTROLS = {"family": list(NAMES), "blocks": (1, 8)}


def controls() -> dict:
    """The live widget's controls: a family dropdown and a blocks-per-stage slider (``archlab.widgets.live``)."""
    return dict(CONTROLS)


def gradient_paths_view(family: str, blocks: int, widths=(8, 16, 32)):
    """One family at ``blocks`` per stage: a timestamp diagram (layer vs the path lengths that reach it), the
    per-layer shortest and longest path, and a one-row summary table."""
    if family not in NAMES:
        raise ValueError(f"family {family!r}; valid: {list(NAMES)}")
    name, extra = NAMES[family], frozen(STACK_KWARGS.get(NAMES[family], {}))
    rep = macro_paths(name, tuple(widths), int(blocks), extra)
    layers = rep.layers
    fig, axes = plt.subplots(1, 2, figsize=(12, 4), layout="constrained")
    xs = [t for ts in layers.timestamps for t in ts]
    ys = [i for i, ts in enumerate(layers.timestamps) for _ in ts]
    axes[0].scatter(xs, ys, s=4, color="C0")
    axes[0].set(xlabel="gradient timestamp (layers between the loss and the layer)", ylabel="layer (forward order)",
                title="timestamps per layer")
    axes[0].invert_yaxis()
    axes[1].plot(layers.index, layers.shortest, label="shortest path", color="C2")
    axes[1].plot(layers.index, layers.longest, label="longest path", color="C3")
    axes[1].set(xlabel="layer (forward order)", ylabel="layers", title="path lengths per layer")
    axes[1].legend()
    fig.suptitle(f"{family}, {blocks} blocks per stage ({conv3_per_stage(name, tuple(widths), int(blocks), extra)} "
                 "3x3 convs per stage)")
    table = pd.DataFrame([dict(family=family, blocks=blocks, **rep.summary())])
    return fig, table
