"""The CNN study's tables (E5b, the v2 growing VGG): per-epoch accuracy, the cost to the big VGG's level, convergence.

Per-epoch test accuracies are measured on a test subset (2,000 images in the cpu profile: one evaluation's sampling
error is about 1 pp), so every rule here reads them smoothed: the mean of the last ``SMOOTH`` evaluations up to
that epoch (trailing, so "reached by this many FLOPs" stays causal).

The cost rule (``BIG_LEVEL``, the one ``cnn_cost_table`` and the claim share): the big VGG's level is its smoothed
accuracy at the end; the big VGG's FLOPs to its level are those of its first evaluation whose smoothed accuracy
reaches it; SensLI beats it when its smoothed accuracy reaches the level within those FLOPs. The per-seed effect
is SensLI's best smoothed accuracy within the big VGG's FLOPs-to-level minus the level (pp): positive exactly when
SensLI needs fewer FLOPs, and finite when SensLI never gets there (then ``flops_sensli`` is inf).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

SMOOTH = 3  # evaluations averaged (trailing) before any threshold or gain is read off an accuracy curve
BIG_LEVEL = ("big VGG's level: its final test accuracy (mean of its last 3 epoch evaluations); FLOPs until each "
             "run's 3-evaluation mean first reaches it")


def smoothed(evals: list[dict]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(epochs, cumulative FLOPs, trailing mean of the last ``SMOOTH`` test accuracies) of one run's evaluations."""
    acc = pd.Series([e["test_acc"] for e in evals], dtype=float).rolling(SMOOTH, min_periods=1).mean().to_numpy()
    return (np.array([e.get("epoch", math.nan) for e in evals], float), np.array([e["flops"] for e in evals], float),
            acc)


def cnn_evals(df: pd.DataFrame) -> pd.DataFrame:
    """The cnn study's per-epoch test evaluations, long: label, seed, epoch, flops, test_acc."""
    rows = [dict(label=r.label, seed=r.seed, epoch=e["epoch"], flops=e["flops"], test_acc=e["test_acc"])
            for r in df[(df["study"] == "cnn") & (df["status"] == "ok")].itertuples() for e in r.result["evals"]]
    return pd.DataFrame(rows, columns=["label", "seed", "epoch", "flops", "test_acc"])


def last_quarter_gain(evals: list[dict]) -> float:
    """Smoothed test accuracy at the end minus at 3/4 of the epochs, in pp: small when the run has converged.

    Not ``archlab.runs.last_quarter_fall`` (the fall of the training loss): the CNN claims are about test accuracy,
    so their convergence precondition reads the test-accuracy curve, in the claims' unit (pp)."""
    if len(evals) < 2 * SMOOTH:
        return math.nan
    epochs, _, acc = smoothed(evals)
    i = int(np.argmin(np.abs(epochs - 0.75 * epochs[-1])))
    return float(100 * (acc[-1] - acc[i]))


def cnn_gains(df: pd.DataFrame) -> pd.DataFrame:
    """Per arm: the mean over seeds of ``last_quarter_gain`` (the CNN claims' convergence precondition) and seeds."""
    d = df[(df["study"] == "cnn") & (df["status"] == "ok")]
    g = d.assign(gain=[last_quarter_gain(r["evals"]) for r in d["result"]]).groupby("method")["gain"]
    return pd.DataFrame({"gain_pp": g.mean(), "seeds": g.count()}).reset_index()


def cnn_cost_table(df: pd.DataFrame, base: str = "large") -> pd.DataFrame:
    """Per seed where SensLI and the big VGG finished: the big VGG's level, both runs' FLOPs to it (``BIG_LEVEL``),
    their ratio and the whole runs' ratio, and ``effect_pp``: SensLI's best smoothed accuracy within the big VGG's
    FLOPs-to-level minus the level."""
    d = df[(df["study"] == "cnn") & df["method"].isin(["sensli", base]) & (df["status"] == "ok")]
    rows = []
    for seed, g in d.groupby("seed"):
        runs = {r.method: r.result for r in g.itertuples()}
        if len(runs) < 2 or not runs[base]["evals"] or not runs["sensli"]["evals"]:
            continue
        _, f_big, a_big = smoothed(runs[base]["evals"])
        _, f_li, a_li = smoothed(runs["sensli"]["evals"])
        level = a_big[-1]
        flops_big = float(f_big[np.argmax(a_big >= level)])
        hit = np.flatnonzero(a_li >= level)
        flops_li = float(f_li[hit[0]]) if len(hit) else math.inf
        within = a_li[f_li <= flops_big]
        rows.append(dict(seed=seed, target_rule=BIG_LEVEL, target=level, flops_sensli=flops_li, flops_base=flops_big,
                         ratio=flops_li / flops_big if flops_big > 0 else math.nan,
                         total_ratio=runs["sensli"]["flops"] / runs[base]["flops"],
                         effect_pp=100 * (float(within.max()) - level) if len(within) else math.nan))
    return pd.DataFrame(rows, columns=["seed", "target_rule", "target", "flops_sensli", "flops_base", "ratio",
                                       "total_ratio", "effect_pp"])


def cnn_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per seed: SensLI's op22 and Frobenius sensitivities at insertion and each norm's choice, then every arm's
    final test accuracy and total GFLOPs (both norms are logged, as in the authors' v2 code)."""
    rows = []
    for seed, g in df[df["study"] == "cnn"].groupby("seed"):
        row = dict(seed=seed)
        for r in g.itertuples():
            ins = r.result.get("insertions") or []
            if r.method == "sensli" and ins:
                op22, fro = ins[0]["sensitivities"], ins[0]["sensitivities_fro"]
                row.update(position=ins[0]["position"], fro_position=int(np.argmax(fro)),
                           op22=[float(f"{v:.3g}") for v in op22], fro=[float(f"{v:.3g}") for v in fro])
        for r in g.itertuples():
            row[f"acc_{r.label}"] = round(float(r.test_acc), 4) if r.status == "ok" else math.nan
        for r in g.itertuples():
            row[f"gflops_{r.label}"] = round(float(r.flops) / 1e9, 1) if r.status == "ok" else math.nan
        rows.append(row)
    return pd.DataFrame(rows)


def conv_shares(m: dict) -> dict:
    """Whether inserting a conv can matter in the cnn profile ``m``: the small VGG's parameters, the share its convs
    hold, and what the largest and smallest candidate conv add (parameters and forward FLOPs, % of the small
    VGG's). At the cpu widths 4/8/16 the dense head holds nearly everything, so the study checks plumbing only."""
    import torch.nn as nn

    from ...data import dataset_info
    from ...models import create_model
    from ...train import count_flops

    shape = dataset_info(m["dataset"], **m["data_kw"])["shape"]
    net = create_model("growing_vgg", input_shape=tuple(shape), widths=tuple(m["widths"]))
    params = sum(p.numel() for p in net.parameters())
    conv = sum(p.numel() for mod in net.modules() if isinstance(mod, nn.Conv2d) for p in mod.parameters())
    flops = count_flops(net, shape)
    added, added_flops = [], []
    for pos in range(len(m["widths"])):
        cand = net.candidate(pos)
        added.append(sum(p.numel() for p in cand.parameters()))
        side = shape[-1] // 2 ** pos
        added_flops.append(2 * cand.conv.weight.numel() * side * side)  # multiply-adds x 2, as count_flops
    return dict(widths=tuple(m["widths"]), params=params, conv_share_pct=100 * conv / params,
                inserted_params_pct=(100 * min(added) / params, 100 * max(added) / params),
                inserted_flops_pct=(100 * min(added_flops) / flops, 100 * max(added_flops) / flops))
