"""E1, paper 1's exact gradient-path accounting from traced graphs: the Fig. 7 toy nets, Table 1's path-length
scaling and the stacking argument on the CIFAR macro. Nothing is trained, so these tables are recomputed on every
notebook run (seconds) instead of going through the run store.

The reference values are the paper's Fig. 7 timestamp sets (as docs/papers/gradient_paths.md lists them) and
Table 1's orders of growth. The stacking tables put every family on one x axis, 3x3 convolutions per stage,
because a "block" is a different unit in each family (an OSA module has three 3x3 convs, a BasicBlock two, an
ELAN computational block ``convs``).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
from scipy import stats

from .models import fig7_net
from .paths import analyse, analyse_registered, fmt_set

# Fig. 7 reference values [P; set notation: docs/papers/gradient_paths.md]. Layer 5 is next to the loss.
FIG7_PAPER = {
    "resnet": {"L1": (1, 3, 5), "L2": (2, 4), "L3": (1, 3), "L4": (2,), "L5": (1,)},
    "prn": {"L1a": (1, 3, 5), "L1b": (3, 5), "L2": (2, 4), "L3a": (1, 3), "L3b": (3,), "L4": (2,), "L5": (1,)},
    "densenet": {f"L{k}": tuple(range(1, 7 - k)) for k in range(1, 6)},
}
FIG7_COUNTS = {"resnet": 5, "prn": 7, "densenet": 5}
TABLE1_SLOPES = {"plain": 1.0, "resnet": 0.0, "densenet": 0.0}  # O(N), O(1), O(1) shortest gradient path
SHIFT_MODELS = ("gp_vovnet", "gp_resnet", "gp_elan", "gp_vovnet_elan")  # the stacking argument's families
STACK_FAMILIES = ("gp_plain", "gp_resnet", "gp_vovnet", "gp_vovnet_elan", "gp_elan", "gp_csp_elan")
STACK_KWARGS = {"gp_elan": {"convs": 3}}  # E3's ELAN: three-conv computational blocks, one OSA module's 3x3 count


def fig7_table() -> pd.DataFrame:
    """Per (layer, channel group) timestamp sets of the Fig. 7 toy nets, ours beside the paper's."""
    rows = []
    for kind, ref in FIG7_PAPER.items():
        rep = analyse(fig7_net(kind), (4,))
        ours = {f"L{int(r.layer.rsplit('.', 1)[1]) + 1}{r.group}": r.timestamps for r in rep.groups.itertuples()}
        for layer in dict.fromkeys([*ref, *ours]):
            o, s = ours.get(layer), ref.get(layer)
            rows.append(dict(net=kind, layer=layer, ours=fmt_set(o) if o else "-", paper=fmt_set(s) if s else "-",
                             match=o == s))
        rows.append(dict(net=kind, layer="combinations", ours=str(rep.combinations), paper=str(FIG7_COUNTS[kind]),
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


def frozen(kwargs: dict) -> tuple:
    """Keyword arguments as a hashable, order-free tuple (the cache key of ``macro_paths``)."""
    return tuple(sorted(kwargs.items()))


@lru_cache(maxsize=256)
def macro_paths(name: str, widths: tuple, k: int, extra: tuple = ()):
    """One analysis per (model, widths, k): the stacking table and the shift check share them."""
    return analyse_registered(name, widths=widths, blocks=k, **dict(extra))


@lru_cache(maxsize=256)
def conv3_per_stage(name: str, widths: tuple, k: int, extra: tuple = ()) -> int:
    """3x3 convolutions in one stage body (the stage-entry conv left out): the common x axis of the stacking
    figures. Counted on a meta-device model of stage 1, so it is the construction's own count."""
    from ...models import create_model

    with torch.device("meta"):
        m = create_model(name, widths=widths, blocks=k, **dict(extra))
    body = m.stages[0][1]
    return sum(1 for mod in body.modules() if isinstance(mod, nn.Conv2d) and mod.kernel_size == (3, 3))


def stacking_table(widths, ks=range(1, 9), families=STACK_FAMILIES) -> pd.DataFrame:
    """Network path metrics of the CIFAR macro vs blocks per stage, with the 3x3 convs per stage they stand for."""
    rows = []
    for name in families:
        extra = frozen(STACK_KWARGS.get(name, {}))
        for k in ks:
            rep = macro_paths(name, tuple(widths), k, extra)
            rows.append(dict(model=name, blocks=k, conv3=conv3_per_stage(name, tuple(widths), k, extra),
                             **rep.summary()))
    return pd.DataFrame(rows)


def stacking_pivot(stack: pd.DataFrame, value: str = "longest_shortest") -> pd.DataFrame:
    """One path metric of ``stacking_table`` as blocks x model."""
    return stack.pivot(index="blocks", columns="model", values=value)


def shortest_shift(name: str, widths, ks=range(1, 8)) -> pd.DataFrame:
    """How the shortest path of every layer of the k-block net changes when one block per stage is added.

    The stacking argument: +1 per stacked OSA module for every earlier layer of its stage (so up to +3 for the
    first stage's layers, one module being added in each of the three stages), 0 for residual or ELAN blocks. The
    head (after every stage) is left out, since nothing is stacked after it.
    """
    rows = []
    extra = frozen(STACK_KWARGS.get(name, {}))
    for k in ks:
        a = macro_paths(name, tuple(widths), k, extra).layers.set_index("layer").shortest
        b = macro_paths(name, tuple(widths), k + 1, extra).layers.set_index("layer").shortest
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
    """One registered model's per-layer timestamp table (the widgets show it)."""
    rep = analyse_registered(name, **kwargs)
    df = rep.layers.copy()
    df["timestamps"] = df.timestamps.map(lambda t: fmt_set(t) if len(t) <= 6 else f"{len(t)} timestamps "
                                         f"(G{t[0]} .. G{t[-1]})")
    return df[["order", "layer", "kind", "channels", "shortest", "longest", "timestamps"]]
