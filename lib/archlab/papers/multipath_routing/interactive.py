"""The notebook's live widget: train a small MP2-CC in a few seconds and look inside it.

The stored runs keep results, not weights, so a reader who wants to *move* something gets a small net trained on the
spot (``train_small``, cached per setting so changing only the class or the ablated path answers at once): the
router temperature and the epochs are the parameters, and the view shows one class's mean routing matrix at every
transition and the per-class accuracy with one path zeroed at one stage (``routing.path_ablation``'s operation).
It is an illustration at a tiny scale, not one of the claims' runs.
"""
from __future__ import annotations

from functools import lru_cache

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ...data import load_splits
from ...models import create_model
from ...train import TrainConfig, fit, seed_everything
from .routing import per_class_accuracy, predict

ABLATIONS = ("none", "stage 0, path 0", "stage 0, path 1", "stage 1, path 0", "stage 1, path 1", "stage 2, path 0",
             "stage 2, path 1")
SMALL = dict(widths=(8, 16, 32), stem=8, convs_per_stage=2, pool_input=2)


@lru_cache(maxsize=8)
def train_small(dataset: str, tau: float, epochs: int, n_train: int = 1000, n_test: int = 500, seed: int = 0):
    """An MP2-CC at router temperature ``tau`` trained for ``epochs`` on ``n_train`` images of ``dataset`` (the
    cpu profile's widths and schedule, one seed): (model, test set, classes). Cached: one training per setting."""
    if not (0 < tau <= 4) or epochs < 1:
        raise ValueError(f"tau = {tau} must be in (0, 4] and epochs = {epochs} >= 1")
    train, test = load_splits(dataset, n_train, n_test)
    seed_everything(seed)
    model = create_model("multipath_net", router="cross_connections", tau=float(tau), num_classes=train.num_classes,
                         input_shape=train.sample_shape, **SMALL)
    cfg = TrainConfig(epochs=epochs, batch_size=64, optimizer="sgd", lr=0.1, momentum=0.9, nesterov=True,
                      weight_decay=5e-4, schedule="cosine", warmup_epochs=min(1.0, epochs / 4), augment=True,
                      seed=seed)
    fit(model, train, None, cfg)
    return model.eval(), test, tuple(train.classes) or tuple(map(str, range(train.num_classes)))


def _ablate(choice: str):
    if choice not in ABLATIONS:
        raise ValueError(f"ablate = {choice!r}; valid: {list(ABLATIONS)}")
    if choice == "none":
        return None
    s, p = choice.replace("stage ", "").replace("path ", "").split(", ")
    return int(s), int(p)


def routing_view(dataset: str, tau: float = 1.0, epochs: int = 3, cls: str = "0", ablate: str = "stage 2, path 0"):
    """(figure, table): ``cls``'s mean routing matrix at every transition of a freshly trained MP2-CC, and the
    per-class test accuracy intact and with ``ablate``'s path zeroed."""
    model, test, classes = train_small(dataset, float(tau), int(epochs))
    k = classes.index(cls) if cls in classes else int(cls)
    base = predict(model, test)
    ts = [(t, w) for t, w in enumerate(base["routing"]) if w is not None]
    fig, axes = plt.subplots(1, len(ts), figsize=(2.1 * len(ts) + 1, 2.8), squeeze=False)
    for ax, (t, w) in zip(axes[0], ts):
        mat = w[base["labels"] == k].mean(0) if (base["labels"] == k).any() else np.full(w.shape[1:], np.nan)
        sns.heatmap(mat, annot=True, fmt=".2f", vmin=0, vmax=1, cmap="viridis", cbar=False, ax=ax)
        ax.set(title=f"t{t}", xlabel="dest.", ylabel="source" if ax is axes[0][0] else "")
    fig.suptitle(f"MP2-CC τ={tau:g}, {epochs} epochs: mean routing of class {classes[k]}", fontsize="medium")
    fig.tight_layout()
    intact = per_class_accuracy(base["labels"], base["preds"])
    table = pd.DataFrame({"class": [classes[c] for c in intact.index], "acc % intact": 100 * intact.to_numpy()})
    where = _ablate(ablate)
    if where is not None:
        out = predict(model, test, ablate=where)
        table[f"acc % with {ablate} zeroed"] = 100 * per_class_accuracy(out["labels"], out["preds"]).to_numpy()
    return fig, table.round(1)
