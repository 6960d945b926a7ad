"""Paper 1's tables from the trained runs (E2-E6): the labelled run frames, per-experiment summaries, and the
paper's own numbers for display beside ours.

Every table is computed from the stored runs. A diverged run keeps its row and scores chance (accuracy 0.1,
training loss ln 10); a failed run keeps its row with its status and error and scores NaN, so it is left out of
every statistic and counted (``archlab.runs.failures`` lists it by ``FAILURE_KEYS``). The paper's numbers
(docs/papers/gradient_paths.md) are COCO detection APs, shown as the paper's and never mixed into our CIFAR-10
accuracies. E1's exact tables are in ``static``.
"""
from __future__ import annotations

import math

import pandas as pd

from ...runs import last_quarter_fall
from .grid import FAMILIES, cost_points, resnet_blocks

CHANCE = 0.1  # CIFAR-10 and synthetic both have 10 classes
CHANCE_LOSS = math.log(10)  # the cross-entropy of a net that learned nothing: a diverged run's training loss
RESULT_COLS = ["test_acc", "test_loss", "train_acc", "train_loss", "params", "flops", "max_shortest",
               "longest_path", "combinations", "sim_init", "sim_final", "sec_per_epoch"]
COLS = ["family", "blocks", "widths", "point", "rho", "seed", "status", "acc", "test_acc", "train_loss", "train_acc",
        "plateau", "params", "flops", "max_shortest", "longest_path", "combinations", "sim_init", "sim_final",
        "seconds"]  # the saved run tables' columns
FAILURE_KEYS = ["family", "blocks", "widths", "seed"]  # what names a run in the list of those that did not finish

# The paper's numbers [P], COCO val: (FLOPs G, AP^box, AP^mask) (docs/papers/gradient_paths.md, "Numbers").
PAPER_TABLES = {
    "Table 3 (stop gradient)": {"full (YOLOR-CSP)": (159.0, 51.0, 41.1), "SG on block": (159.0, 48.8, 39.5),
                                "SG on identity": (159.0, 47.7, 38.7)},
    "Table 4 (stacking)": {"deep VoVNet + ELAN": (253.4, 53.3, 42.9), "+ ELAN + CSP": (236.5, 53.4, 42.9)},
    "Table 5 (PRN)": {"ResNet (YOLOR-v3)": (194.6, 49.5, 40.9), "PRN": (194.6, 50.0, 41.0)},
    "Table 6 (CSP fusion)": {"ResNet (YOLOR-v3)": (194.6, 49.5, 40.9), "CSP fusion": (159.0, 51.0, 41.1),
                             "CSP fusion first": (158.1, 50.8, 41.0), "CSP fusion last": (155.6, 50.6, 40.9),
                             "CSP no fusion": (154.8, 50.5, 40.9)},
    "Table 8 (summary)": {"ResNet (YOLOR-v3)": (194.6, 49.5, 40.9), "PRN": (194.6, 50.0, 41.0),
                          "CSP fusion": (159.0, 51.0, 41.1), "ELAN": (143.2, 51.4, 41.5)},
}


def plateau(history: dict | None) -> float:
    """The run's convergence measure, ``archlab.runs.last_quarter_fall`` of its epoch training losses: small means
    more of the same schedule would change little. NaN for a run without two finite epochs (failed or diverged)."""
    epochs = (history or {}).get("epochs", [])
    return last_quarter_fall([math.nan if e.get("train_loss") is None else e["train_loss"] for e in epochs])


def scored_accuracy(df):
    """Test accuracy for ok runs, chance for diverged runs, NaN for failed (or out-of-memory) runs."""
    return df.test_acc.astype(float).where(df.status == "ok", CHANCE).where(df.status.isin(["ok", "diverged"]))


def scored_loss(df):
    """Final training loss for ok runs, ln 10 (nothing learned) for diverged runs, NaN for failed runs."""
    return df.train_loss.astype(float).where(df.status == "ok", CHANCE_LOSS).where(df.status.isin(["ok", "diverged"]))


def _point(model: str, widths: tuple, base: tuple, points: dict) -> str:
    for (m, name), w in points.items():
        if widths == tuple(w) and (m == model or (name == "csp point" and model.startswith("gp_csp_"))):
            return name
    return "base" if widths == tuple(base) else "other"


def label_runs(df: pd.DataFrame, p: dict) -> pd.DataFrame:
    """The sweep frame with the columns every table, figure and verdict reads (``COLS``): family, blocks, widths,
    point (E4-E6's cost point, ``grid.POINTS``), rho (PRN), seed, acc (``scored_accuracy``), loss
    (``scored_loss``), plateau, and E3's x axis k (ResNet at ceil(3k/2) BasicBlocks stands at k). Failed runs
    have no results: their result columns are NaN, so a frame of failures still has every column."""
    df = df.copy()
    for c in RESULT_COLS + ["seconds"]:
        if c not in df:
            df[c] = math.nan
    for c in ("status", "error", "result", "key", "model", "model_kwargs", "train"):
        if c not in df:
            df[c] = pd.Series(dtype=object)
    pts = cost_points(p) if len(df) and "depth" in p else {}
    df["family"] = df.model.map(FAMILIES)
    df["blocks"] = df.model_kwargs.map(lambda k: k["blocks"])
    df["widths"] = df.model_kwargs.map(lambda k: tuple(k["widths"]))
    df["point"] = [_point(m, w, p["widths"], pts) for m, w in zip(df.model, df.widths)]
    df["rho"] = [k.get("rho", 0.5) if m == "gp_prn" else math.nan for m, k in zip(df.model, df.model_kwargs)]
    df["seed"] = df.train.map(lambda t: t["seed"])
    df["acc"] = scored_accuracy(df)
    df["loss"] = scored_loss(df)
    df["plateau"] = [plateau((r or {}).get("history")) if isinstance(r, dict) else math.nan for r in df.result]
    back = {resnet_blocks(k): k for k in p["stacking"]}
    df["k"] = [back.get(b) if m == "gp_resnet" else b for m, b in zip(df.model, df.blocks)]
    return df


def select(df: pd.DataFrame, model: str, **eq) -> pd.DataFrame:
    """The runs of ``model`` whose columns equal ``eq`` (e.g. ``k=6``, ``point="equal FLOPs"``, ``rho=0.5``)."""
    sel = df.model == model
    for k, v in eq.items():
        sel &= df[k] == v
    return df[sel]


def _summary(df: pd.DataFrame, keys: list) -> pd.DataFrame:
    ok = df[df.status.isin(["ok", "diverged"])]
    return ok.groupby(keys, dropna=False).agg(
        acc=("acc", "mean"), acc_sd=("acc", "std"), train_loss=("loss", "mean"), plateau=("plateau", "mean"),
        params=("params", "first"), flops=("flops", "first"), max_shortest=("max_shortest", "first"),
        sim_init=("sim_init", "mean"), sim_final=("sim_final", "mean"), runs=("acc", "size"))


def e2_summary(e2: pd.DataFrame) -> pd.DataFrame:
    """E2 per family: accuracy and training loss over seeds, plateau, cost, runs."""
    return _summary(e2, ["family"]).drop(columns=["sim_init", "sim_final"])


def e3_summary(e3: pd.DataFrame) -> pd.DataFrame:
    """E3 per (family, k): accuracy and training loss over seeds, plateau, path length, cost and runs."""
    return _summary(e3, ["family", "k"]).drop(columns=["sim_init", "sim_final"])


def e456_summary(e456: pd.DataFrame) -> pd.DataFrame:
    """E4-E6 per (family, cost point, rho): accuracy, training loss, cost, gradient similarity, runs."""
    return _summary(e456, ["family", "point", "rho"])


def all_runs(*frames: pd.DataFrame) -> pd.DataFrame:
    """The experiments' frames as one, a run two experiments share kept once."""
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True).drop_duplicates("key") if frames else pd.DataFrame(columns=COLS)


def paper_table(name: str) -> pd.DataFrame:
    """One of the paper's tables (``PAPER_TABLES``), labelled as the paper's."""
    rows = [dict(model=k, FLOPs_G=v[0], AP_box=v[1], AP_mask=v[2]) for k, v in PAPER_TABLES[name].items()]
    return pd.DataFrame(rows).assign(source=f"paper, {name}, COCO val")


def paper_tables(*names: str) -> pd.DataFrame:
    return pd.concat([paper_table(t) for t in names])
