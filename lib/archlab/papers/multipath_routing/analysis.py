"""Paper 3's tables, drawn only from stored runs and counted budgets (never from made-up numbers): budgets and
overhead, the per-arm summary (test and training accuracy, convergence, cost), per-seed values for the verdicts,
MI by depth, the temperature ablation, ablation concentration and the E6 (two contexts) tables.

Every function accepts a frame in which some or all runs failed (no result columns at all): a failed experiment
shows as "n/a" (and in ``archlab.runs.failures``), never as an exception.

``REFERENCE`` is the reference configuration's budget table (docs/papers/multipath_routing.md, "Reference budget",
counted from the reconstruction, *not* results of the paper); the notebook prints our counts beside it.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ...models import create_model
from ...runs import by_seed
from ...stats import fmt_mean_std
from .arms import SQRT2, label, model_spec, parse
from .baselines import budget
from .contexts import DOMAINS
from .grid import MultipathConfig
from .routing import gini

_MP = "multipath_net"
REFERENCE = [  # (arm, model, kwargs at stem 32 / widths (32, 64, 128), table params, table routing params, MMACs)
    ("SP-base", "mp_plain_net", {}, 298_026, 0, 48.1),
    ("SP-base+SE", "mp_se_net", {}, 309_802, 0, 48.1),
    ("SP-wide ×1.41", "mp_plain_net", {"width_mult": SQRT2}, 595_315, 0, 95.4),
    ("Ens2", "mp_ensemble", {"members": 2}, 596_052, 0, 96.1),
    ("MP2-none", _MP, {"router": "none"}, 595_114, 0, 95.3),
    ("MP2-static (fixed uniform)", _MP, {"router": "static", "learn_static": False}, 595_114, 0, 95.3),
    ("MP2-CC", _MP, {"router": "cross_connections"}, 609_128, 14_014, 95.3),
    ("MP2-CP-gate", _MP, {"router": "cross_prediction_gate"}, 609_208, 14_094, 95.3),
    ("MP2-CP-conv", _MP, {"router": "cross_prediction_conv"}, 1_180_600, 14_094, 170.8),
    ("SP-wide ×2", "mp_plain_net", {"width_mult": 2.0}, 1_185_866, 0, 190.5),
    ("Ens4", "mp_ensemble", {"members": 4}, 1_192_104, 0, 192.3),
    ("MP4-CC", _MP, {"router": "cross_connections", "paths": 4}, 1_217_654, 28_364, 189.7),
    ("MP4-CP-conv", _MP, {"router": "cross_prediction_conv", "paths": 4}, 4_646_246, 28_604, 642.6),
    ("SP-deeper (unsearched)", "mp_plain_net", {"convs_per_stage": 4}, 685_994, 0, 104.7),
]


def reference_budget() -> pd.DataFrame:
    """Our counts of the reference arms next to the reference table's counted [D] numbers."""
    rows = []
    for arm, name, kw, p, r, mm in REFERENCE:
        b = budget(create_model(name, **kw))
        rows.append({"arm": arm, "params": b["params"], "routing params": b["routing_params"],
                     "MMACs": round(b["macs"] / 1e6, 1), "table params [D]": p, "table routing [D]": r,
                     "table MMACs [D]": mm})
    df = pd.DataFrame(rows)
    df["matches table"] = ((df["params"] == df["table params [D]"]) & (df["routing params"] == df["table routing [D]"])
                           & (df["MMACs"] == df["table MMACs [D]"]))
    return df


def overhead(cfg: MultipathConfig) -> pd.DataFrame:
    """Params and MACs of MP{m}-CP-conv vs MP{m}-CC for every m, at the trained and the reference backbone."""
    g = cfg.plan()
    rows = []
    backbones = {"trained": (g["widths"], g["stem"], g["convs_per_stage"], g["pool_input"]),
                 "reference": ((32, 64, 128), 32, 2, 1)}
    for backbone, (widths, stem, cps, pool) in backbones.items():
        for m in g["paths"]:
            b = {r: _budget(f"mp{m}_{r}", widths, stem, cps, pool) for r in ("cross_connections", "cross_prediction_conv")}
            cc, cp = b["cross_connections"], b["cross_prediction_conv"]
            rows.append({"backbone": backbone, "m": m, "CC params": cc["params"], "CP-conv params": cp["params"],
                         "CC MMACs": cc["macs"] / 1e6, "CP-conv MMACs": cp["macs"] / 1e6,
                         "param_ratio": cp["params"] / cc["params"], "mac_ratio": cp["macs"] / cc["macs"],
                         "CC routing share": cc["routing_params"] / cc["params"]})
    return pd.DataFrame(rows)


def _budget(arm, widths, stem, cps, pool) -> dict:
    name, kw = model_spec(arm, widths, stem, cps, pool_input=pool)
    return budget(create_model(name, **kw))


def ok_runs(runs: pd.DataFrame, arm: str | None = None, dataset: str | None = None) -> pd.DataFrame:
    """Finished runs (status ok), optionally of one arm and one dataset."""
    if runs.empty or "status" not in runs:
        return runs.iloc[0:0]
    sel = runs["status"] == "ok"
    if arm is not None:
        sel &= runs["arm"] == arm
    if dataset is not None:
        sel &= runs["dataset"] == dataset
    return runs[sel]


def per_seed(runs: pd.DataFrame, arm: str, column: str, dataset: str, seeds) -> np.ndarray:
    """One value per seed in ``seeds`` from the finished runs of ``arm`` (NaN where the run failed or lacks the
    column): arms that share seeds line up, so a paired rule drops a failed seed together with its partner."""
    return by_seed(ok_runs(runs, arm, dataset), seeds, column)


def _col(g: pd.DataFrame, col: str, scale: float = 100.0, digits: int = 2) -> str:
    return fmt_mean_std(scale * g[col].astype(float), digits) if col in g and len(g) else "n/a"


def _first(g, col):
    v = g[col].dropna() if col in g else []
    return int(v.iloc[0]) if len(v) else None


def summary(runs: pd.DataFrame) -> pd.DataFrame:
    """Per dataset and arm: test and training accuracy (mean ± sd over finished seeds), the convergence check (the
    largest share of the training-loss decrease that came in the last quarter of epochs), cost, speed, and every run that was not ok."""
    rows = []
    for (ds, arm), g in (runs.groupby(["dataset", "arm"], sort=False) if len(runs) else []):
        ok = g[g["status"] == "ok"]
        macs = _first(g, "macs")
        rows.append({"dataset": ds, "arm": label(arm), "runs ok": f"{len(ok)}/{len(g)}",
                     "not ok": ", ".join(f"seed {r.seed}: {r.status}" for r in g[g["status"] != "ok"].itertuples()),
                     "test acc %": _col(ok, "test_acc"), "train acc %": _col(ok, "train_acc"),
                     "last-quarter loss share (max)": round(float(ok["loss_share_q4"].max()), 3)
                     if "loss_share_q4" in ok and len(ok) else None,
                     "params": _first(g, "params"), "routing params": _first(g, "routing_params"),
                     "MMACs": round(macs / 1e6, 2) if macs else None,
                     "s/epoch": round(float(ok["sec_per_epoch"].mean()), 2) if "sec_per_epoch" in ok and len(ok)
                     else None})
    return pd.DataFrame(rows)


def cost_label(runs: pd.DataFrame, arm: str) -> str:
    """"MP2-CC\\n39.8k params, 6.12 MMACs": an arm's label with its counted cost, for every accuracy figure."""
    g = runs[runs["arm"] == arm] if len(runs) else runs
    p, m = _first(g, "params"), _first(g, "macs")
    return label(arm) + (f"\n{p / 1e3:.1f}k params, {m / 1e6:.2f} MMACs" if p and m else "")


def mi_by_depth(runs: pd.DataFrame, prefix: str = "") -> pd.DataFrame:
    """Mean MI, normalised MI, null quantile and permutation p per transition over the given runs (the 1 -> m step
    excluded). ``prefix="domain_"``: the same for MI(domain; edges) in E6."""
    cols = ["mi", "mi_norm", "null_q99", "p_value"]
    rows = [{"seed": r["seed"], "transition": t["transition"], **{c: t[prefix + c] for c in cols}}
            for r in _results(runs) for t in r["analysis"]["transitions"] if prefix + "mi" in t]
    if not rows:
        return pd.DataFrame(columns=["transition", *cols])
    return pd.DataFrame(rows).groupby("transition", as_index=False)[cols].mean()


def _results(runs: pd.DataFrame) -> list[dict]:
    """Results with routing analyses of the finished runs in ``runs``, each with its seed."""
    ok = ok_runs(runs)
    if "result" not in ok:
        return []
    return [{**r, "seed": s} for s, r in zip(ok["seed"], ok["result"]) if isinstance(r, dict) and "analysis" in r]


def arm_mi_by_depth(runs: pd.DataFrame, arm: str, dataset: str) -> pd.DataFrame:
    """:func:`mi_by_depth` over the runs of one arm on one dataset."""
    return mi_by_depth(ok_runs(runs, arm, dataset))


def analyses(runs: pd.DataFrame, arm: str, dataset: str) -> list[dict]:
    """The stored results (with their routing analyses) of one arm's finished runs on one dataset, by seed."""
    return sorted(_results(ok_runs(runs, arm, dataset)), key=lambda r: r["seed"])


def temperature_table(runs: pd.DataFrame, dataset: str, arms) -> pd.DataFrame:
    """The router-temperature ablation beside C7: per routed arm, its temperature, test accuracy, last-transition
    normalised MI and mean normalised routing entropy (1 = uniform), mean ± sd over seeds."""
    rows = []
    for arm in arms:
        p, g = parse(arm), ok_runs(runs, arm, dataset)
        rows.append({"arm": label(arm), "tau": p["tau"], "frozen": p["frozen"], "runs ok": len(g),
                     "test acc %": _col(g, "test_acc"), "normalised MI, last": _col(g, "mi_norm_last", 1, 4),
                     "routing entropy, last (1 = uniform)": _col(g, "entropy_last", 1, 3)})
    return pd.DataFrame(rows)


def ablation_frame(runs: pd.DataFrame, dataset: str, arms: list, key: str = "ablation") -> pd.DataFrame:
    """Stored ablation drops of the given arms; ``key="domain_ablation"``: per domain instead of per class (E6)."""
    rows = [{**row, "arm": label(a), "seed": r["seed"]} for a in arms for r in analyses(runs, a, dataset)
            for row in r["analysis"].get(key, [])]
    return pd.DataFrame(rows)


def ablation_gini(runs: pd.DataFrame, dataset: str, arms: list) -> pd.DataFrame:
    """Mean Gini (over seeds, stages and paths) of the per-class ablation drops: higher = more class-specific paths."""
    df = ablation_frame(runs, dataset, arms)
    if df.empty:
        return pd.DataFrame(columns=["arm", "mean Gini of ablation drops"])
    g = df.groupby(["arm", "seed", "stage", "path"])["drop"].apply(gini).groupby("arm").mean()
    return g.rename("mean Gini of ablation drops").reset_index()


# ----------------------------------------------------------------------------- E6: two contexts (C8)

E6_ARMS = ("sp_wide", "mp2_cross_connections", "mp2_cross_connections_frozen")
E6_ACC = (("both", "test_acc"), *((d, f"acc_{d}") for d in DOMAINS))  # (shown as, run column)


def e6_runs(runs: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """The E6 arms' runs on the two-context set ``dataset``."""
    return runs[(runs["dataset"] == dataset) & runs["arm"].isin(E6_ARMS)] if len(runs) else runs


def context_tables(runs: pd.DataFrame, dataset: str) -> dict:
    """E6 tables: accuracy per arm on the mixture and per domain; MI(domain; edges) per transition with its null
    (MP2-CC and, where trained, the frozen router); per-domain accuracy drop (pp) when one MP2-CC path is zeroed."""
    df = e6_runs(runs, dataset)
    present = [a for a in E6_ARMS if len(df) and (df["arm"] == a).any()]
    ok = ok_runs(df)
    acc = pd.DataFrame([{"arm": label(a), "runs ok": f"{(ok['arm'] == a).sum()}/{(df['arm'] == a).sum()}",
                         **{f"{d} acc %": _col(ok[ok["arm"] == a], c) for d, c in E6_ACC}} for a in present])
    mi = [mi_by_depth(ok[ok["arm"] == a], prefix="domain_").assign(arm=label(a)) for a in present if parse(a)]
    mi = pd.concat(mi) if mi else pd.DataFrame(columns=["transition", "mi", "mi_norm", "null_q99", "p_value", "arm"])
    abl = ablation_frame(ok, dataset, ["mp2_cross_connections"], key="domain_ablation")
    if not abl.empty:
        abl = abl.pivot_table(index=["stage", "path"], columns="domain", values="drop", aggfunc="mean")
        abl = (100 * abl).rename(columns=dict(enumerate(DOMAINS))).add_prefix("acc. drop pp, ").reset_index()
    return {"accuracy": acc, "mi": mi, "ablation": abl}
