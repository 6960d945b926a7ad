"""Paper 2's tables: the paper's Table 2 as data, pairing of the two layouts per configuration, Table 2 of our
runs with identical Q binning, paired ratio statistics, the truncation check and the time per step per layout.

Everything is computed from the stored runs; a run that diverged or failed keeps its row (with its status), so
the tables count it rather than silently dropping it. The verdicts on these tables: ``claims``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ...stats import bootstrap_ci
from .grid import FACTORS
from .truncation import loglog_slope, truncation_curve

BIN_EDGES = [0, 1, 3, 10, np.inf]
BINS = ["[0,1)", "[1,3)", "[3,10)", "[10,inf)"]
LOW_Q = 3  # below it the models can over-fit: the bins where the paper's gap claim lives
CHANCE = float(np.log(10))  # cross-entropy of a uniform guess over 10 classes (MNIST, CIFAR-10, digits): 2.303
NAMES = {"mnist": "MNIST", "cifar10": "CIFAR10"}  # the paper's spelling, so both tables share row labels
SHORT = {"sequential": "seq", "parallel": "par"}

# [P] The paper's Table 2: mean (train, val) loss per Q bin [0,1), [1,3), [3,10), [10,inf).
PAPER_TABLE2 = {
    ("MNIST", "sequential"): [(0.00013, 0.05201), (0.01702, 0.12449), (0.03620, 0.11743), (0.11246, 0.13550)],
    ("MNIST", "parallel"): [(0.00009, 0.07551), (0.02679, 0.11468), (0.05238, 0.11467), (0.13310, 0.14900)],
    ("CIFAR10", "sequential"): [(0.25326, 2.03107), (0.72510, 1.31691), (1.07333, 1.34721), (1.58608, 1.65354)],
    ("CIFAR10", "parallel"): [(0.52658, 1.32386), (0.88701, 1.24884), (1.17085, 1.34227), (1.63449, 1.68879)],
}
METRICS = ["P", "K", "Q", "train_loss", "val_loss", "train_acc", "val_acc", "sec_per_epoch", "status"]


def q_bin(q) -> pd.Categorical:
    return pd.cut(q, BIN_EDGES, right=False, labels=BINS)


def paper_bins() -> pd.DataFrame:
    """The paper's Table 2 in the same long layout as ``bin_means``: one row per dataset x Q bin."""
    rows = []
    for ds in ("MNIST", "CIFAR10"):
        for b, (seq, par) in enumerate(zip(PAPER_TABLE2[(ds, "sequential")], PAPER_TABLE2[(ds, "parallel")])):
            rows.append({"dataset": ds, "q_bin": BINS[b], "n": np.nan, "train_seq": seq[0], "val_seq": seq[1],
                         "train_par": par[0], "val_par": par[1]})
    return _derived(pd.DataFrame(rows))


def pair_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per configuration with both layouts side by side (``*_seq``, ``*_par``), Q, its bin, and the ratios
    par/seq. ``ok`` is True when both layouts finished; ``pair_status`` says what happened otherwise."""
    keys = [f for f in FACTORS if f != "layout"] + ["seed"]
    runs = runs.reindex(columns=keys + ["layout"] + METRICS)  # failed runs carry no metrics
    wide = runs.set_index(keys + ["layout"])[METRICS].unstack("layout")
    wide.columns = [f"{m}_{SHORT[lay]}" for m, lay in wide.columns]
    wide = wide.reindex(columns=[f"{m}_{s}" for m in METRICS for s in ("seq", "par")]).reset_index()
    wide["dataset"] = wide.dataset.map(lambda d: NAMES.get(d, d))
    status = wide[["status_seq", "status_par"]].astype(object).fillna("missing").astype(str)
    wide["ok"] = (status.status_seq == "ok") & (status.status_par == "ok")
    wide["pair_status"] = np.where(wide.ok, "ok", "seq " + status.status_seq + ", par " + status.status_par)
    wide["Q"] = pd.to_numeric(wide.Q_seq.fillna(wide.Q_par), errors="coerce")
    wide["q_bin"] = q_bin(wide.Q)
    num = wide[[c for c in wide if c.endswith(("_seq", "_par")) and not c.startswith("status")]]
    wide[num.columns] = num.apply(pd.to_numeric, errors="coerce")
    for split in ("train", "val"):
        wide[f"r_{split}"] = (wide[f"{split}_loss_par"] / wide[f"{split}_loss_seq"]).where(wide.ok)
    wide["r_time"] = (wide.sec_per_epoch_par / wide.sec_per_epoch_seq).where(wide.ok)
    for s in ("seq", "par"):
        wide[f"gap_{s}"] = (wide[f"val_loss_{s}"] - wide[f"train_loss_{s}"]).where(wide.ok)
    return wide


def bin_means(pairs: pd.DataFrame) -> pd.DataFrame:
    """Our Table 2 in long form: mean losses per dataset x Q bin over finished pairs, with the derived ratios."""
    ok = pairs[pairs.ok]
    t = ok.groupby(["dataset", "q_bin"], observed=True).agg(
        n=("Q", "size"), train_seq=("train_loss_seq", "mean"), val_seq=("val_loss_seq", "mean"),
        train_par=("train_loss_par", "mean"), val_par=("val_loss_par", "mean")).reset_index()
    t["q_bin"] = t.q_bin.astype(str)
    return _derived(t)


def _derived(t: pd.DataFrame) -> pd.DataFrame:
    """The derived ratios (docs/papers/deep_vs_shallow.md): ratio of bin means par/seq and the val - train gap per layout."""
    t = t.copy()
    t["r_train"], t["r_val"] = t.train_par / t.train_seq, t.val_par / t.val_seq
    t["gap_seq"], t["gap_par"] = t.val_seq - t.train_seq, t.val_par - t.train_par
    return t


def table2(pairs: pd.DataFrame) -> pd.DataFrame:
    """Table 2 as printed in the paper (rows dataset x layout, columns Q bin x train/val), paper beside ours."""
    parts = []
    for source, t in (("paper", paper_bins()), ("ours", bin_means(pairs))):
        for s, layout in (("seq", "sequential"), ("par", "parallel")):
            long = t.melt(id_vars=["dataset", "q_bin"], value_vars=[f"train_{s}", f"val_{s}"], var_name="split")
            long["split"] = long.split.str.replace(f"_{s}", "")
            parts.append(long.assign(layout=layout, source=source))
    wide = pd.concat(parts).pivot_table(index=["dataset", "layout", "source"], columns=["q_bin", "split"],
                                        values="value", observed=False)
    cols = [(b, s) for b in BINS for s in ("train", "val") if (b, s) in wide.columns]
    rows = sorted(wide.index, key=lambda r: (dataset_order(r[0]), r[1] == "parallel", r[2] == "ours"))
    return wide.reindex(index=pd.MultiIndex.from_tuples(rows, names=wide.index.names),
                        columns=pd.MultiIndex.from_tuples(cols, names=["Q bin", "split"]))


def dataset_order(name: str) -> int:
    return list(NAMES.values()).index(name) if name in NAMES.values() else len(NAMES)


def ratio_table(pairs: pd.DataFrame) -> pd.DataFrame:
    """The derived-ratio table (par/seq of bin means, gaps) for the paper and for our runs."""
    cols = ["dataset", "q_bin", "n", "r_train", "r_val", "gap_seq", "gap_par"]
    both = pd.concat([paper_bins()[cols].assign(source="paper"), bin_means(pairs)[cols].assign(source="ours")])
    both = both.assign(order=both.dataset.map(dataset_order), q_bin=pd.Categorical(both.q_bin, BINS, ordered=True))
    return both.sort_values(["order", "q_bin", "source"], ascending=[True, True, False]).drop(columns="order") \
        .set_index(["dataset", "q_bin", "source"])


def ratio_stats(pairs: pd.DataFrame, by_bin: bool = False) -> pd.DataFrame:
    """Per dataset (and pooled, 'all') and split: median and geometric mean of r = L_par/L_seq with bootstrap 95%
    intervals, share of configurations where parallel wins (r < 1), Wilcoxon signed-rank p on log r, mean |log r|."""
    ok = pairs[pairs.ok]
    groups = [("all", ok)] + [(ds, g) for ds, g in ok.groupby("dataset")]
    rows = []
    for ds, g in groups:
        sub = [(b, gb) for b, gb in g.groupby("q_bin", observed=True)] if by_bin else [("all", g)]
        for b, gb in sub:
            for split in ("train", "val"):
                rows.append({"dataset": ds, "q_bin": str(b), "split": split,
                             **ratio_summary(gb[f"r_{split}"].to_numpy(float))})
    return pd.DataFrame(rows)


def ratio_summary(r: np.ndarray) -> dict:
    """n, median and geometric mean of the ratios ``r`` with bootstrap 95% intervals, the share below 1, the
    Wilcoxon signed-rank p on log r and mean |log r| (NaN where too few finite positive ratios)."""
    r = r[np.isfinite(r) & (r > 0)]
    log_r = np.log(r)
    enough = len(r) >= 2 and np.ptp(log_r) > 0  # scipy's bootstrap and Wilcoxon need two distinct values
    med_ci = bootstrap_ci(r, np.median) if enough else (np.nan, np.nan)
    geo_ci = tuple(np.exp(bootstrap_ci(log_r, np.mean))) if enough else (np.nan, np.nan)
    p = float(stats.wilcoxon(log_r).pvalue) if enough else np.nan
    return {"n": len(r), "median": np.median(r) if len(r) else np.nan, "median_lo": med_ci[0],
            "median_hi": med_ci[1], "geomean": np.exp(log_r.mean()) if len(r) else np.nan, "geomean_lo": geo_ci[0],
            "geomean_hi": geo_ci[1], "share_par_wins": (r < 1).mean() if len(r) else np.nan, "wilcoxon_p": p,
            "mean_abs_log": np.abs(log_r).mean() if len(r) else np.nan}


def per_seed(pairs: pd.DataFrame, values: pd.Series) -> pd.Series:
    """The mean of ``values`` (one per pair) within each seed: the replicates the outcome rules take, since the
    configurations of one seed share nothing but their initialisation seed (NaN and inf dropped first).

    Every replicate must average the same configurations, so only those run under the most seeds count (the cpu
    profile runs its depth experiment's extra architectures under fewer seeds; ``depth_effect`` judges them)."""
    v = pd.to_numeric(values, errors="coerce").replace([np.inf, -np.inf], np.nan)
    arch = [f for f in FACTORS if f != "layout" and f in pairs]
    n = pairs.groupby(arch, dropna=False).seed.transform("nunique") if arch and len(pairs) else pairs.seed
    keep = (n == n.max()) if len(pairs) else n.astype(bool)
    return v[keep].groupby(pairs.seed[keep]).mean().dropna()


def regime_values(pairs: pd.DataFrame, judged: pd.DataFrame | None = None) -> dict:
    """What each claim's regime precondition reads, by regime name (``claims``); None where it cannot be measured.

    ``pairs complete``: the share of configurations with both layouts finished; ``trained``: the final training
    loss of every finished Q < 1 run, both layouts (the runs that can fit their training set); ``better than
    chance``: the validation loss of every run the claim judges (``judged``, default all finished pairs), both
    layouts. Each is compared with an absolute level (chance, ``CHANCE``), never with the schedule."""
    if pairs.empty or "ok" not in pairs:
        return {"pairs complete": None, "trained": None, "better than chance": None}
    ok = pairs[pairs.ok]
    judged = ok if judged is None else judged
    low = ok[ok.Q < 1]
    return {"pairs complete": float(pairs.ok.mean()),
            "trained": _both(low, "train_loss"), "better than chance": _both(judged, "val_loss")}


def _both(rows: pd.DataFrame, metric: str) -> list | None:
    """One value per run: ``metric`` of both layouts of ``rows`` (None when there is none)."""
    v = pd.concat([rows[f"{metric}_seq"], rows[f"{metric}_par"]]).astype(float).tolist()
    return v or None


def depth_pairs(pairs: pd.DataFrame, depth, pool) -> pd.DataFrame:
    """The finished pairs of the depth experiment: the (L, F) architectures of ``depth`` (one parameter budget) at
    pooling ``pool``, with lr_val = log(val par / val seq) (negative: parallel lower) and its absolute value."""
    if pairs.empty or "ok" not in pairs or not depth:
        return pairs.iloc[:0].assign(lr_val=[], abs_lr_val=[])
    keep = np.zeros(len(pairs), bool)
    for L, F in depth:
        keep |= ((pairs.L == L) & (pairs.F == F)).to_numpy()
    d = pairs[keep & (pairs.pool == pool).to_numpy() & pairs.ok.to_numpy()]
    # only the training-set sizes every depth ran (the smoke grid also runs L = 2 at other K)
    k = d.train_size.astype(str)
    common = set.intersection(*(set(g) for _, g in k.groupby(d.L))) if len(d) else set()
    d = d[k.isin(common)]
    lr_val = np.log(d.val_loss_par / d.val_loss_seq)
    return d.assign(lr_val=lr_val, abs_lr_val=np.abs(lr_val))


def depth_effect(d: pd.DataFrame) -> pd.Series:
    """Per seed: the mean over datasets of |log(val par / val seq)| at the deepest L minus at the shallowest L of
    ``depth_pairs`` (positive: the layouts differ more in the deeper stack, as the truncation argument predicts)."""
    if d.empty or d.L.nunique() < 2:
        return pd.Series(dtype=float)
    w = d.pivot_table(index=["seed", "dataset"], columns="L", values="abs_lr_val")
    return (w[d.L.max()] - w[d.L.min()]).groupby(level="seed").mean().dropna()


def depth_table(d: pd.DataFrame) -> pd.DataFrame:
    """Per dataset and depth of ``depth_pairs``: F, P, Q, pairs, and the mean (sd over seeds) of log(val par/seq)
    and of its absolute value, with the mean validation losses of both layouts."""
    if d.empty:
        return pd.DataFrame(columns=["dataset", "L", "F", "P", "Q", "pairs", "val_seq", "val_par", "lr_val",
                                     "lr_val_sd", "abs_lr_val"])
    return d.groupby(["dataset", "L"]).agg(
        F=("F", "first"), P=("P_seq", "first"), Q=("Q", "first"), pairs=("seed", "size"),
        val_seq=("val_loss_seq", "mean"), val_par=("val_loss_par", "mean"), lr_val=("lr_val", "mean"),
        lr_val_sd=("lr_val", "std"), abs_lr_val=("abs_lr_val", "mean")).reset_index()


def worst_val(pairs: pd.DataFrame) -> pd.DataFrame:
    """Per dataset, Q bin and architecture: the complete pairs and the worst (highest) validation loss of either
    layout, against chance (ln 10): the "better than chance" precondition, cell by cell."""
    ok = pairs[pairs.ok] if len(pairs) and "ok" in pairs else pairs.iloc[:0]
    if ok.empty:
        return pd.DataFrame(columns=["dataset", "q_bin", "L", "F", "pool", "Q", "pairs", "worst_val", "below_chance"])
    t = ok.assign(worst=ok[["val_loss_seq", "val_loss_par"]].max(axis=1)).groupby(
        ["dataset", "q_bin", "L", "F", "pool"], observed=True).agg(
        Q=("Q", "first"), pairs=("seed", "size"), worst_val=("worst", "max")).reset_index()
    t["below_chance"] = t.worst_val < CHANCE
    return t.assign(order=t.dataset.map(dataset_order)).sort_values(["order", "Q"]).drop(columns="order")


def truncation_check(scales=np.logspace(-3, 0, 13), fit_below: float = 0.1) -> tuple[pd.DataFrame, dict]:
    """Seq/par relative deviation against branch scale for tanh and relu bodies, and the fitted log-log slopes
    over the small-scale end (``scale <= fit_below``), where the first-order expansion should hold."""
    curves = pd.concat([truncation_curve(scales, activation=a) for a in ("tanh", "relu")], ignore_index=True)
    small = curves[curves.scale <= fit_below * (1 + 1e-9)]
    slopes = {a: loglog_slope(g.scale, g.rel_deviation) for a, g in small.groupby("activation")}
    return curves, slopes


def step_ratios(steps: pd.DataFrame) -> pd.DataFrame:
    """``step_times`` output with both layouts side by side per architecture: each layout's median ms over the
    interleaved blocks, r_step = par/seq of those, and the lowest and highest per-block ratio (r_lo, r_hi)."""
    keys = [c for c in steps if c not in ("layout", "ms_per_step", "block")]
    steps = steps if "block" in steps else steps.assign(block=0)
    per_block = steps.pivot_table(index=keys + ["block"], columns="layout", values="ms_per_step").reset_index()
    per_block["r"] = per_block.parallel / per_block.sequential
    spread = per_block.groupby(keys).r.agg(r_lo="min", r_hi="max", blocks="size").reset_index()
    wide = steps.pivot_table(index=keys, columns="layout", values="ms_per_step", aggfunc="median").reset_index()
    wide = wide.rename(columns={"sequential": "ms_seq", "parallel": "ms_par"}).merge(spread, on=keys)
    wide["r_step"] = wide.ms_par / wide.ms_seq
    wide["dataset"] = wide.dataset.map(lambda d: NAMES.get(d, d))
    return wide


def pairs_table(pairs: pd.DataFrame) -> pd.DataFrame:
    """``pair_runs`` output as saved to pairs.csv: the Q bin as text in the last column."""
    return pairs.drop(columns=["q_bin"]).assign(q_bin=pairs.q_bin.astype(str))


def default_init_deviation(curves: pd.DataFrame) -> dict:
    """``truncation_check``'s relative deviation at scale 1 (PyTorch's default initialisation), per activation."""
    return curves[curves.scale == 1.0].set_index("activation").rel_deviation.round(3).to_dict()
