"""Paper 1's tables: E1's exact gradient-path accounting (Fig. 7, Table 1 and the stacking argument), the labelled
run frames of E2-E6 and their summaries, and the paper's own numbers for display beside ours.

E1 is computed from traced graphs by ``paths``; nothing is trained, so its tables are recomputed on every notebook
run instead of going through the run store. The paper's numbers (spec section 6) are COCO detection APs, so they
are shown as the paper's, never mixed into our CIFAR-10 accuracies.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy import stats

from .grid import FAMILIES
from .models import fig7_net
from .paths import analyse, analyse_registered, fmt_set

# The spec's Fig. 7 reference values (section 5) [P; set notation D]. Layer 5 is next to the loss.
FIG7_SPEC = {
    "resnet": {"L1": (1, 3, 5), "L2": (2, 4), "L3": (1, 3), "L4": (2,), "L5": (1,)},
    "prn": {"L1a": (1, 3, 5), "L1b": (3, 5), "L2": (2, 4), "L3a": (1, 3), "L3b": (3,), "L4": (2,), "L5": (1,)},
    "densenet": {f"L{k}": tuple(range(1, 7 - k)) for k in range(1, 6)},
}
FIG7_COUNTS = {"resnet": 5, "prn": 7, "densenet": 5}
TABLE1_SLOPES = {"plain": 1.0, "resnet": 0.0, "densenet": 0.0}  # O(N), O(1), O(1) shortest gradient path
SHIFT_MODELS = ("gp_vovnet", "gp_resnet", "gp_elan", "gp_vovnet_elan")  # the stacking argument's families
CHANCE = 0.1  # CIFAR-10 and synthetic both have 10 classes
COLS = ["family", "blocks", "widths", "seed", "status", "acc", "train_loss", "params", "flops", "max_shortest",
        "longest_path", "combinations", "sim_init", "sim_final", "seconds"]  # the saved run tables' columns

# Spec section 6 [P], COCO val: (FLOPs G, AP^box, AP^mask).
PAPER_TABLES = {
    "Table 3 (stop gradient)": {"full (YOLOR-CSP)": (159.0, 51.0, 41.1), "SG on block": (159.0, 48.8, 39.5),
                                "SG on identity": (159.0, 47.7, 38.7)},
    "Table 5 (PRN)": {"ResNet (YOLOR-v3)": (194.6, 49.5, 40.9), "PRN": (194.6, 50.0, 41.0)},
    "Table 6 (CSP fusion)": {"ResNet (YOLOR-v3)": (194.6, 49.5, 40.9), "CSP fusion": (159.0, 51.0, 41.1),
                             "CSP fusion first": (158.1, 50.8, 41.0), "CSP fusion last": (155.6, 50.6, 40.9),
                             "CSP no fusion": (154.8, 50.5, 40.9)},
    "Table 8 (summary)": {"ResNet (YOLOR-v3)": (194.6, 49.5, 40.9), "PRN": (194.6, 50.0, 41.0),
                          "CSP fusion": (159.0, 51.0, 41.1), "ELAN": (143.2, 51.4, 41.5)},
}


# ----------------------------------------------------------------------------- E1, exact (static)

def fig7_table() -> pd.DataFrame:
    """Per (layer, channel group) timestamp sets of the Fig. 7 toy nets, ours beside the spec's."""
    rows = []
    for kind, spec in FIG7_SPEC.items():
        rep = analyse(fig7_net(kind), (4,))
        ours = {f"L{int(r.layer.rsplit('.', 1)[1]) + 1}{r.group}": r.timestamps for r in rep.groups.itertuples()}
        for layer in dict.fromkeys([*spec, *ours]):
            o, s = ours.get(layer), spec.get(layer)
            rows.append(dict(net=kind, layer=layer, ours=fmt_set(o) if o else "-", spec=fmt_set(s) if s else "-",
                             match=o == s))
        rows.append(dict(net=kind, layer="combinations", ours=str(rep.combinations), spec=str(FIG7_COUNTS[kind]),
                         match=rep.combinations == FIG7_COUNTS[kind]))
    return pd.DataFrame(rows)


def table1_slopes(layers=(5, 9, 17, 33, 65)) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Longest shortest path vs N on the toy nets and its log-log slope (scipy linregress) per net."""
    rows = [dict(net=k, layers=n, longest_shortest=analyse(fig7_net(k, n), (4,)).longest_shortest)
            for k in TABLE1_SLOPES for n in layers]
    df = pd.DataFrame(rows)
    slopes = [dict(net=k, slope=stats.linregress(np.log(g.layers), np.log(g.longest_shortest)).slope,
                   expected=TABLE1_SLOPES[k]) for k, g in df.groupby("net", sort=False)]
    return df, pd.DataFrame(slopes)


@lru_cache(maxsize=256)
def _macro(name: str, widths: tuple, k: int):
    """One analysis per (model, widths, k): the stacking table and the shift check share them."""
    return analyse_registered(name, widths=widths, blocks=k)


def stacking_table(widths, ks=range(1, 9), families=("gp_plain", "gp_resnet", "gp_vovnet", "gp_vovnet_elan",
                                                          "gp_elan", "gp_csp_elan")) -> pd.DataFrame:
    """Network path metrics of the CIFAR macro vs blocks per stage."""
    rows = []
    for name in families:
        for k in ks:
            rep = _macro(name, tuple(widths), k)
            rows.append(dict(model=name, blocks=k, **rep.summary()))
    return pd.DataFrame(rows)


def stacking_pivot(stack: pd.DataFrame, value: str = "longest_shortest") -> pd.DataFrame:
    """One path metric of ``stacking_table`` as blocks x model."""
    return stack.pivot(index="blocks", columns="model", values=value)


def shortest_shift(name: str, widths, ks=range(1, 8)) -> pd.DataFrame:
    """How the shortest path of every layer of the k-block net changes when one block per stage is added.

    The spec's stacking argument: +1 per stacked OSA module for every earlier layer, 0 for residual or
    ELAN blocks. The head (after every stage) is left out, since nothing is stacked after it.
    """
    rows = []
    for k in ks:
        a = _macro(name, tuple(widths), k).layers.set_index("layer").shortest
        b = _macro(name, tuple(widths), k + 1).layers.set_index("layer").shortest
        d = (b.reindex(a.index) - a).drop(index="head")
        rows.append(dict(model=name, blocks=k, min_shift=int(d.min()), max_shift=int(d.max())))
    return pd.DataFrame(rows)


def shift_table(widths, ks, models=SHIFT_MODELS) -> pd.DataFrame:
    """``shortest_shift`` of every family of the stacking argument, one frame."""
    return pd.concat([shortest_shift(m, widths, ks) for m in models])


def shift_summary(shifts: pd.DataFrame) -> pd.DataFrame:
    """Per model: the range of the shortest-path shift over all k."""
    return shifts.groupby("model")[["min_shift", "max_shift"]].agg(["min", "max"])


def layer_table(name: str, **kwargs) -> pd.DataFrame:
    """One registered model's per-layer timestamp table (the widget shows it)."""
    rep = analyse_registered(name, **kwargs)
    df = rep.layers.copy()
    df["timestamps"] = df.timestamps.map(lambda t: fmt_set(t) if len(t) <= 6 else f"{len(t)} timestamps "
                                         f"(G{t[0]} .. G{t[-1]})")
    return df[["order", "layer", "kind", "channels", "shortest", "longest", "timestamps"]]


# ----------------------------------------------------------------------------- E2-E6, trained

def scored_accuracy(df):
    """Test accuracy for ok runs, chance for diverged runs, NaN for failed (or out-of-memory) runs."""
    return df.test_acc.astype(float).where(df.status == "ok", CHANCE).where(df.status.isin(["ok", "diverged"]))


def label_runs(df: pd.DataFrame, p: dict) -> pd.DataFrame:
    """The sweep frame with the columns every table and figure reads: family, blocks, widths, matched (widened to
    ResNet's FLOPs), seed, acc (``scored_accuracy``) and E3's x-axis k (ResNet at ceil(3k/2) BasicBlocks stands
    at k)."""
    if "test_acc" not in df:
        df["test_acc"] = math.nan
    df["family"] = df.model.map(FAMILIES)
    df["blocks"] = df.model_kwargs.map(lambda k: k["blocks"])
    df["widths"] = df.model_kwargs.map(lambda k: tuple(k["widths"]))
    df["matched"] = df.widths != tuple(p["widths"])
    df["seed"] = df.train.map(lambda t: t["seed"])
    df["acc"] = scored_accuracy(df)
    back = {math.ceil(3 * k / 2): k for k in p["stacking"]}
    df["k"] = [back.get(b) if m == "gp_resnet" else b for m, b in zip(df.model, df.blocks)]
    return df


def e3_summary(e3: pd.DataFrame) -> pd.DataFrame:
    """E3 per (family, k): mean and sd of accuracy over seeds, path length, cost and number of runs."""
    return e3.groupby(["family", "k"]).agg(acc=("acc", "mean"), acc_sd=("acc", "std"),
                                           max_shortest=("max_shortest", "first"), params=("params", "first"),
                                           flops=("flops", "first"), runs=("acc", "size"))


def e456_summary(e456: pd.DataFrame) -> pd.DataFrame:
    """E4-E6 per (family, matched): accuracy over seeds, cost, end-of-training gradient similarity, runs."""
    return e456.groupby(["family", "matched"]).agg(acc=("acc", "mean"), acc_sd=("acc", "std"),
                                                   params=("params", "first"), flops=("flops", "first"),
                                                   sim_final=("sim_final", "mean"), runs=("acc", "size"))


def all_runs(*frames: pd.DataFrame) -> pd.DataFrame:
    """The experiments' frames as one, a run two experiments share kept once."""
    return pd.concat(frames, ignore_index=True).drop_duplicates("key")


def paper_table(name: str) -> pd.DataFrame:
    """One of the paper's tables (``PAPER_TABLES``), labelled as the paper's."""
    rows = [dict(model=k, FLOPs_G=v[0], AP_box=v[1], AP_mask=v[2]) for k, v in PAPER_TABLES[name].items()]
    return pd.DataFrame(rows).assign(source=f"paper, {name}, COCO val")


def paper_tables(*names: str) -> pd.DataFrame:
    return pd.concat([paper_table(t) for t in names])
