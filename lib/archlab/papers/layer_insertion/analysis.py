"""Paper 4's tables: per-seed comparisons, FLOPs to a stated target, regime measurements, summaries.

Comparisons are paired by seed because SensLI and the small net share their initialisation (and the growing
variants share the whole trajectory up to insertion): per-seed differences are far less noisy than differences of
means. What a run that did not finish scores is decided here, once (``scores``): a diverged run scores what a net
at chance scores (it is a loss for its method, not a missing value); a run that failed for another reason is NaN
and the outcome rules drop and count it. The verdicts built on these tables are in ``claims``; the CNN study's
tables are in ``analysis_cnn``.
"""
from __future__ import annotations

import json
import math
from functools import lru_cache

import numpy as np
import pandas as pd

from ...data import dataset_info
from ...stats import fmt_mean_std
from ...testnoise import bits_by_seed, paired_split, table

SPEC_PARAMS = {  # docs/papers/layer_insertion.md, from the authors' code: start / after LI / big net as coded
    "fnn": dict(small=27, grown=57, large=57), "resnet": dict(small=38, grown=59, large=80)}
SPEC_WORK_RATIO = {"fnn": 0.872, "resnet": 0.674}  # params x iterations, LI / big net (same note)
RESULT_COLUMNS = ("train_loss", "train_acc", "test_loss", "test_acc", "test_err", "params_start", "params",
                  "flops", "position", "diverged_step")
COMMON_LOSS = "common loss: the higher of the two runs' lowest logged training loss (both reach it)"


@lru_cache(maxsize=None)
def _classes(dataset: str, data_kw: str) -> int:
    kw = {k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(data_kw).items()}  # JSON made them lists
    return int(dataset_info(dataset, **kw)["classes"])


def runs_frame(runs: dict) -> pd.DataFrame:
    """All studies of ``runs`` (``run``'s study -> frame) in one frame with the standard columns (``train_loss``,
    ``params``, ``flops``), a ``label`` per curve family (``sensli@t`` in the when study) and the start widths as
    text; runs that failed have NaN results."""
    parts = [f for f in runs.values() if len(f)]
    if not parts:
        return pd.DataFrame(columns=["study", "method", "label", "seed", "status", *RESULT_COLUMNS])
    df = pd.concat(parts, ignore_index=True)
    for c in RESULT_COLUMNS:
        if c not in df:
            df[c] = np.nan
    df["result"] = df["result"].map(lambda r: r if isinstance(r, dict) else {})
    df["position"] = df["position"].fillna(-1).astype(int)
    df["label"] = df["method"]
    when = (df["study"] == "when") & (df["method"] == "sensli")
    df.loc[when, "label"] = "sensli@" + df.loc[when, "insert_at"].map(lambda t: str(t[0]))
    df["widths_start"] = df["widths"].map(lambda w: str(list(w)))
    df["classes"] = [_classes(d, json.dumps(kw, sort_keys=True)) for d, kw in zip(df["dataset"], df["data_kw"])]
    return df


def scores(d: pd.DataFrame, metric: str) -> pd.Series:
    """``metric`` per run; a diverged run scores chance (loss ln C, error 1 - 1/C, accuracy 1/C), a failed one NaN."""
    chance = {"train_loss": np.log(d["classes"].astype(float)), "test_err": 1 - 1 / d["classes"],
              "test_acc": 1 / d["classes"]}[metric]
    v = d[metric].astype(float).where(d["status"] == "ok", np.nan)
    return v.where(d["status"] != "diverged", chance)


def paired(df: pd.DataFrame, study: str, base: str, metric: str) -> pd.DataFrame:
    """One row per (start net, seed[, insertion time]) with columns ``sensli`` and ``base`` (``scores``)."""
    d = df[df["study"] == study].assign(value=lambda x: scores(x, metric))
    li = d[d["method"] == "sensli"][["arch", "widths_start", "seed", "label", "value"]]
    ref = d[d["method"] == base][["arch", "widths_start", "seed", "value"]]
    return li.merge(ref, on=["arch", "widths_start", "seed"], suffixes=("", "_base")).rename(
        columns={"value": "sensli", "value_base": "base"})


def log_ratio(num, den) -> np.ndarray:
    """Per pair log(num / den): positive when ``den`` (SensLI's loss) is the smaller; NaN where either is not > 0."""
    num, den = np.asarray(num, float), np.asarray(den, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log(num / den)
    return np.where((num > 0) & (den > 0), out, np.nan)


def when_table(df: pd.DataFrame) -> pd.DataFrame:
    """When-to-insert: per (seed, insertion time) SensLI's and FNN1's final training loss and log(FNN1 / SensLI)."""
    t = paired(df, "when", "small", "train_loss")
    if not len(t):
        return t.assign(t=[], log_ratio=[])
    return t.assign(t=t["label"].str.split("@").str[1].astype(int), log_ratio=log_ratio(t["base"], t["sensli"]))


def flops_to_reach(curve: dict, target: float) -> float:
    """Cumulative FLOPs at the first logged step whose loss is <= target (inf if never)."""
    best = np.minimum.accumulate(np.nan_to_num(np.asarray(curve["loss"], float), nan=np.inf))
    hit = np.flatnonzero(best <= target)
    return float(curve["flops"][hit[0]]) if len(hit) else float("inf")


def cost_table(df: pd.DataFrame, study: str, base: str = "large") -> pd.DataFrame:
    """Per seed, the FLOPs SensLI and ``base`` need to reach the target named in column ``target_rule``
    (``COMMON_LOSS``), their ratio and the whole runs' ratio. Only seeds where both runs finished."""
    d = df[(df["study"] == study) & df["method"].isin(["sensli", base]) & (df["status"] == "ok")]
    rows = []
    for seed, g in d.groupby("seed"):
        runs = {r.method: r.result for r in g.itertuples()}
        if len(runs) < 2:
            continue
        target = max(np.nanmin(r["curve"]["loss"]) for r in runs.values())
        li, lg = flops_to_reach(runs["sensli"]["curve"], target), flops_to_reach(runs[base]["curve"], target)
        rows.append({"seed": seed, "target_rule": COMMON_LOSS, "target": target, "flops_sensli": li,
                     "flops_base": lg, "ratio": li / lg if lg > 0 else math.nan,
                     "total_ratio": runs["sensli"]["flops"] / runs[base]["flops"]})
    return pd.DataFrame(rows, columns=["seed", "target_rule", "target", "flops_sensli", "flops_base", "ratio",
                                       "total_ratio"])


def plateau_drop(result: dict, frac: float = 0.25, window: float = 0.05) -> float:
    """Relative fall of the logged training loss over the last ``frac`` of training: 1 - L(end) / L(1 - frac),
    each L the mean over ``window`` of the run's logged steps (GD losses spike; a window smooths them). NaN when the
    run has no curve. Small means the net has stopped learning: the plateau a comparison at the end needs.

    Not ``archlab.runs.last_quarter_fall``: that reads one loss per epoch, while a spirals GD run logs one loss per
    step (1850 of them, spiking), so this reads windowed means of the step curve; the claims' thresholds were set
    on it."""
    loss = np.asarray(result.get("curve", {}).get("loss", []), float)
    if len(loss) < 8 or not np.isfinite(loss).all():
        return math.nan
    w = max(1, int(round(window * len(loss))))
    i = int(round((1 - frac) * len(loss)))
    before, end = loss[max(0, i - w):i].mean(), loss[-w:].mean()
    return float(1 - end / before) if before > 0 else math.nan


def plateau_drops(df: pd.DataFrame, study: str, method: str) -> np.ndarray:
    """``plateau_drop`` of every finished run of one arm (NaN for runs without a finite curve)."""
    d = df[(df["study"] == study) & (df["method"] == method) & (df["status"] == "ok")]
    return np.array([plateau_drop(r) for r in d["result"]], float)


def cost_summary(df: pd.DataFrame, cnn_table=None) -> pd.DataFrame:
    """FLOPs to a stated target, SensLI vs every large baseline present; ``target_rule`` names the target, the same
    one the verdicts use (``cost_table`` for the MLP studies, ``cnn_table`` (``analysis_cnn.cnn_cost_table``) for
    the CNN study). The verdicts compare against ``large`` only; ``large+1`` is shown beside it."""
    rows = []
    for (study, base), _ in df[df["method"].str.startswith("large")].groupby(["study", "method"], sort=False):
        ct = cnn_table(df) if study == "cnn" and cnn_table is not None else cost_table(df, study, base)
        if not len(ct) or (study == "cnn" and cnn_table is None):
            continue
        finite = ct["ratio"][np.isfinite(ct["ratio"])]
        rows.append(dict(study=study, large=base, target_rule=ct["target_rule"].iloc[0], seeds=len(ct),
                         sensli_cheaper=int((ct["ratio"] < 1).sum()),
                         median_flop_ratio_to_target=round(float(finite.median()), 3) if len(finite) else math.nan,
                         median_whole_run_flop_ratio=round(float(ct["total_ratio"].median()), 3)))
    return pd.DataFrame(rows)


def loss_after_insertion(result: dict, k: int) -> float:
    """Training loss logged k steps after the (first) insertion; needs ``log_every == 1`` (full-batch GD)."""
    if result.get("status") != "ok" or not result.get("insertions"):
        return math.nan
    i = result["insertions"][0]["step"] + k
    loss = result["curve"]["loss"]
    return float(loss[i]) if i < len(loss) else math.nan


def early_table(df: pd.DataFrame, ks=(1, 10, 25, 100)) -> pd.DataFrame:
    """Validity study: per (start net, seed, other method, k) the loss of SensLI and of the other rule."""
    d = df[df["study"] == "validity"]
    rows = []
    for (arch, widths, seed), g in d.groupby(["arch", "widths_start", "seed"]):
        runs = {r.method: r.result for r in g.itertuples()}
        if "sensli" not in runs:
            continue
        for other in [m for m in runs if m != "sensli"]:
            for k in ks:
                rows.append(dict(arch=arch, widths=widths, seed=seed, other=other, k=k,
                                 position_sensli=runs["sensli"].get("position"), position_other=runs[other].get("position"),
                                 sensli=loss_after_insertion(runs["sensli"], k), base=loss_after_insertion(runs[other], k)))
    t = pd.DataFrame(rows, columns=["arch", "widths", "seed", "other", "k", "position_sensli", "position_other",
                                    "sensli", "base"])
    return t.assign(differs=t["position_sensli"] != t["position_other"])


def early_summary(df: pd.DataFrame, ks=(1, 10, 25, 100)) -> pd.DataFrame:
    """Validity study: per (start net, other rule, k), over the seeds where the two rules chose different positions,
    how many there are, in how many SensLI's loss is lower, and the median log(loss other / loss SensLI)."""
    t = early_table(df, ks)
    t = t[t["differs"]].assign(sensli_lower=lambda x: x["sensli"] < x["base"],
                               log_ratio=lambda x: log_ratio(x["base"], x["sensli"]))
    return (t.groupby(["arch", "widths", "other", "k"])
            .agg(seeds=("seed", "count"), sensli_lower=("sensli_lower", "sum"), median_log_ratio=("log_ratio", "median"))
            .round(4).reset_index())


def summary_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per study and method: runs, finished, final training loss and test accuracy (mean ± std), size and work."""
    rows = []
    for (study, widths, label), g in df.groupby(["study", "widths_start", "label"], sort=False):
        ok = g[g["status"] == "ok"]
        rows.append(dict(study=study, start=widths, method=label, runs=len(g), ok=len(ok),
                         train_loss=fmt_mean_std(ok["train_loss"], 4), test_acc=fmt_mean_std(ok["test_acc"], 3),
                         params=f"{int(g['params_start'].min())} -> {int(g['params'].max())}" if len(ok) else "",
                         flops=float(ok["flops"].mean()) if len(ok) else math.nan,
                         positions=str(sorted(ok["position"].value_counts().to_dict().items()))
                         if (ok["position"] >= 0).any() else ""))
    return pd.DataFrame(rows)


def spec_comparison(df: pd.DataFrame) -> pd.DataFrame:
    """Our parameter counts and work ratios beside the numbers the methods note derives from the authors' configs."""
    rows = []
    for study in ("fnn", "resnet"):
        d = df[(df["study"] == study) & (df["status"] == "ok")]
        if not len(d):
            continue
        ours = {m: int(d[d["method"] == m]["params"].iloc[0]) for m in ("small", "sensli", "large", "large+1")
                if (d["method"] == m).any()}
        ct = cost_table(df, study, "large+1" if study == "resnet" else "large")
        rows.append(dict(study=study, spec_params_small=SPEC_PARAMS[study]["small"], ours_small=ours.get("small"),
                         spec_params_after_LI=SPEC_PARAMS[study]["grown"], ours_after_LI=ours.get("sensli"),
                         spec_params_big_as_coded=SPEC_PARAMS[study]["large"],
                         ours_big_as_coded=ours.get("large+1", ours.get("large")),
                         spec_work_ratio_params_x_iters=SPEC_WORK_RATIO[study],
                         ours_total_flop_ratio=round(float(ct["total_ratio"].median()), 3) if len(ct) else math.nan))
    return pd.DataFrame(rows)


def accuracy_table(df: pd.DataFrame) -> pd.DataFrame:
    """Final test accuracy per study, start net and method: mean, std and count over the runs that finished."""
    return (df[df["status"] == "ok"].groupby(["study", "widths_start", "label"], sort=False)["test_acc"]
            .agg(["mean", "std", "count"]).round(4).reset_index())


TEST_CLAIMS = {"C3": ("fnn", "small"), "C14": ("cnn", "small")}  # claims judged on test accuracy: study, base arm


def _n_test(row) -> int:
    kw = {k: tuple(v) if isinstance(v, list) else v for k, v in row["data_kw"].items()}
    n = int(dataset_info(row["dataset"], **kw)["n_test"])
    size = row.get("test_size")
    return min(n, int(size)) if isinstance(size, (int, float)) and size == size and size else n


def test_noise(df: pd.DataFrame) -> pd.DataFrame:
    """``archlab.testnoise.table`` of the test-accuracy claims (C3, C14): the spread of their paired per-seed
    differences (SensLI - base) split into the test-set and the seed part, from each run's stored ``test_correct``.
    A claim whose study has fewer than 2 finished pairs with stored bits is left out."""
    splits = {}
    for cid, (study, base) in TEST_CLAIMS.items():
        d = df[(df["study"] == study) & (df["status"] == "ok")]
        n = _n_test(d.iloc[0]) if len(d) else 0
        arms = (bits_by_seed(d[d["method"] == m], bits="test_correct", n_test=n) for m in ("sensli", base))
        pair = paired_split(*arms) if n else None
        if pair is not None:
            splits[cid] = pair
    return table(splits)
