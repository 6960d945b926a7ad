"""E1, exact gradient-path accounting (CPU, seconds): Fig. 7, Table 1 and the stacking argument.

Everything here is computed from traced graphs by ``archlab.analysis.gradient_paths``; nothing is
trained, so these tables are recomputed on every notebook run instead of going through the run store.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
from scipy import stats

from ..analysis.gradient_paths import analyse, analyse_registered, fmt_set
from ..models.gradpath import fig7_net

# The spec's Fig. 7 reference values (section 5) [P; set notation D]. Layer 5 is next to the loss.
FIG7_SPEC = {
    "resnet": {"L1": (1, 3, 5), "L2": (2, 4), "L3": (1, 3), "L4": (2,), "L5": (1,)},
    "prn": {"L1a": (1, 3, 5), "L1b": (3, 5), "L2": (2, 4), "L3a": (1, 3), "L3b": (3,), "L4": (2,), "L5": (1,)},
    "densenet": {f"L{k}": tuple(range(1, 7 - k)) for k in range(1, 6)},
}
FIG7_COUNTS = {"resnet": 5, "prn": 7, "densenet": 5}
TABLE1_SLOPES = {"plain": 1.0, "resnet": 0.0, "densenet": 0.0}  # O(N), O(1), O(1) shortest gradient path


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


def layer_table(name: str, **kwargs) -> pd.DataFrame:
    """One registered model's per-layer timestamp table (the widget shows it)."""
    rep = analyse_registered(name, **kwargs)
    df = rep.layers.copy()
    df["timestamps"] = df.timestamps.map(lambda t: fmt_set(t) if len(t) <= 6 else f"{len(t)} timestamps "
                                         f"(G{t[0]} .. G{t[-1]})")
    return df[["order", "layer", "kind", "channels", "shortest", "longest", "timestamps"]]
