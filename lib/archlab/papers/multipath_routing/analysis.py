"""Paper 3's tables, drawn only from stored runs and counted budgets (never from made-up numbers): budgets and
overhead, the per-arm summary, MI by depth, ablation concentration and the E6 (two contexts) tables.

``REFERENCE`` is the spec's reference-configuration table (section 3, marked [D]: counted from the proposed
configuration, *not* results of the paper, which the spec does not quote); the notebook prints our counts beside it.
"""
from __future__ import annotations

import pandas as pd

from ...models import create_model
from ...stats import fmt_mean_std
from .baselines import budget
from .contexts import DOMAINS
from .grid import SQRT2, MultipathConfig, label, model_spec
from .routing import gini

_MP = "multipath_net"
REFERENCE = [  # (arm, model, kwargs at stem 32 / widths (32, 64, 128), spec params, spec routing params, spec MMACs)
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
    """Our counts of the spec's reference arms next to the spec's counted [D] numbers."""
    rows = []
    for arm, name, kw, p, r, mm in REFERENCE:
        b = budget(create_model(name, **kw))
        rows.append({"arm": arm, "params": b["params"], "routing params": b["routing_params"],
                     "MMACs": round(b["macs"] / 1e6, 1), "spec params [D]": p, "spec routing [D]": r,
                     "spec MMACs [D]": mm})
    df = pd.DataFrame(rows)
    df["matches spec"] = ((df["params"] == df["spec params [D]"]) & (df["routing params"] == df["spec routing [D]"])
                          & (df["MMACs"] == df["spec MMACs [D]"]))
    return df


def overhead(cfg: MultipathConfig) -> pd.DataFrame:
    """Params and MACs of MP{m}-CP-conv vs MP{m}-CC for every m, at the trained and the reference backbone."""
    g = cfg.plan()
    rows = []
    for backbone, (widths, stem, cps) in {"trained": (g["widths"], g["stem"], g["convs_per_stage"]),
                                          "reference": ((32, 64, 128), 32, 2)}.items():
        for m in cfg.paths:
            b = {}
            for r in ("cross_connections", "cross_prediction_conv"):
                name, kw = model_spec(f"mp{m}_{r}", widths, stem, cps)
                b[r] = budget(create_model(name, **kw))
            cc, cp = b["cross_connections"], b["cross_prediction_conv"]
            rows.append({"backbone": backbone, "m": m, "CC params": cc["params"], "CP-conv params": cp["params"],
                         "CC MMACs": cc["macs"] / 1e6, "CP-conv MMACs": cp["macs"] / 1e6,
                         "param_ratio": cp["params"] / cc["params"], "mac_ratio": cp["macs"] / cc["macs"],
                         "CC routing share": cc["routing_params"] / cc["params"]})
    return pd.DataFrame(rows)


def summary(runs: pd.DataFrame) -> pd.DataFrame:
    """Per dataset/epochs/arm: accuracy mean ± std over finished seeds, cost, speed, and every run that was not ok."""
    rows = []
    for (ds, ep, arm), g in runs.groupby(["dataset", "epochs", "arm"], sort=False):
        ok = g[g["status"] == "ok"]
        rows.append({"dataset": ds, "epochs": ep, "arm": label(arm), "runs ok": f"{len(ok)}/{len(g)}",
                     "not ok": ", ".join(f"seed {r.seed}: {r.status}" for r in g[g["status"] != "ok"].itertuples()),
                     "acc %": fmt_mean_std(100 * ok["acc"].astype(float), 2) if len(ok) else "n/a",
                     "params": _first(g, "params"), "routing params": _first(g, "routing_params"),
                     "MMACs": round(_first(g, "macs") / 1e6, 2) if _first(g, "macs") else None,
                     "s/epoch": round(float(ok["sec_per_epoch"].mean()), 2) if len(ok) else None})
    return pd.DataFrame(rows)


def _first(g, col):
    v = g[col].dropna() if col in g else []
    return int(v.iloc[0]) if len(v) else None


def mi_by_depth(runs: pd.DataFrame, prefix: str = "") -> pd.DataFrame:
    """Mean MI, normalised MI, null quantile and permutation p per transition over the given runs (the 1 -> m step
    excluded). ``prefix="domain_"``: the same for MI(domain; edges) in E6."""
    cols = ["mi", "mi_norm", "null_q99", "p_value"]
    rows = [{"seed": r.seed, "arm": r.arm, "transition": t["transition"], **{c: t[prefix + c] for c in cols}}
            for r in runs.itertuples() if isinstance(r.result, dict) and "analysis" in r.result
            for t in r.result["analysis"]["transitions"] if prefix + "mi" in t]
    if not rows:
        return pd.DataFrame(columns=["transition", *cols])
    return pd.DataFrame(rows).groupby("transition", as_index=False)[cols].mean()


def failed_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs that did not finish normally (diverged, failed, oom, ...), with their error."""
    bad = runs[runs["status"] != "ok"]
    return bad[["arm", "dataset", "seed", "status", "error"]]


def arm_mi_by_depth(runs: pd.DataFrame, arm: str, dataset: str) -> pd.DataFrame:
    """:func:`mi_by_depth` over the runs of one arm on one dataset."""
    return mi_by_depth(runs[(runs["arm"] == arm) & (runs["dataset"] == dataset)])


def analyses(runs: pd.DataFrame, arm: str, dataset: str) -> list[dict]:
    """The stored results (with their routing analyses) of one arm's finished runs on one dataset."""
    sel = runs[(runs["arm"] == arm) & (runs["dataset"] == dataset) & (runs["status"] == "ok")]
    return [r for r in sel["result"] if isinstance(r, dict) and "analysis" in r]


def ablation_frame(runs: pd.DataFrame, dataset: str, arms: list, key: str = "ablation") -> pd.DataFrame:
    """Stored ablation drops of the given arms; ``key="domain_ablation"``: per domain instead of per class (E6)."""
    rows = [{**row, "arm": label(a), "seed": i} for a in arms for i, r in enumerate(analyses(runs, a, dataset))
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
E6_ACC = (("both", "acc"), *((d, f"acc_{d}") for d in DOMAINS))  # (shown as, run column)


def e6_runs(runs: pd.DataFrame, dataset: str, epochs: int) -> pd.DataFrame:
    """The E6 arms' runs on the two-context set ``dataset`` at ``epochs``."""
    return runs[(runs["dataset"] == dataset) & (runs["epochs"] == epochs) & runs["arm"].isin(E6_ARMS)]


def context_tables(runs: pd.DataFrame, dataset: str, epochs: int) -> dict:
    """E6 tables: accuracy per arm on the mixture and per domain; MI(domain; edges) per transition with its null
    (MP2-CC and the frozen router); per-domain accuracy drop (pp) when one MP2-CC path is zeroed at one stage."""
    df = e6_runs(runs, dataset, epochs)
    ok = df[df["status"] == "ok"]
    acc = pd.DataFrame([{"arm": label(a), "runs ok": f"{len(g)}/{(df['arm'] == a).sum()}",
                         **{f"{d} acc %": fmt_mean_std(100 * g[c].astype(float), 2) if len(g) else "n/a"
                            for d, c in E6_ACC}} for a in E6_ARMS for g in [ok[ok["arm"] == a]]])
    mi = pd.concat([mi_by_depth(ok[ok["arm"] == a], prefix="domain_").assign(arm=label(a)) for a in E6_ARMS[1:]])
    abl = ablation_frame(ok, dataset, ["mp2_cross_connections"], key="domain_ablation")
    if not abl.empty:
        abl = abl.pivot_table(index=["stage", "path"], columns="domain", values="drop", aggfunc="mean")
        abl = (100 * abl).rename(columns=dict(enumerate(DOMAINS))).add_prefix("acc. drop pp, ").reset_index()
    return {"accuracy": acc, "mi": mi, "ablation": abl}
