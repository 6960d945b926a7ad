"""Paper 3's claims and verdicts: the criteria of every claim, fixed before any run, and the code that turns stored
runs into one verdict per claim by them. Nothing here is hard-coded: every verdict is computed from the runs frame
(accuracies, CKA, MI and its null) and from counted parameters/MACs.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from ...claims import Claim, decide, verdict
from ...stats import welch
from . import PAPER
from . import contexts as mx
from .analysis import mi_by_depth
from .grid import MultipathConfig, label

# Claims (spec section 4) and their criteria, fixed before any result exists. Decision rule (spec section 5):
# "reproduced" needs Welch p < ALPHA over >= MIN_SEEDS seeds per arm; fewer seeds -> inconclusive.
ALPHA, MIN_SEEDS = 0.1, 3
C1_MARGIN, C5_CKA_GAP, C6_TIE, C6_MIN_RATIO = 0.003, 0.05, 0.003, 1.5
_PAIR = f"Welch p < {ALPHA}, >= {MIN_SEEDS} seeds per arm, first dataset; fewer seeds: inconclusive"
CLAIMS = [
    Claim("C1", PAPER, "[V] Multi-path + routing beats conventional widening at similar complexity (NCA, ICPR).",
          f"mean acc(MP2-CC) - mean acc(SP-wide x1.41) >= +{100 * C1_MARGIN:.1f} pp and {_PAIR}. "
          "MP2-static and MP2-none reported beside it."),
    Claim("C2", PAPER, "[V] ...beats adaptive feature extraction (SE/SK type, a common path).",
          f"MP2-CC above both SP-wide x1.41 + SE and SK (width-searched to +-5%), each with {_PAIR}."),
    Claim("C3", PAPER, "[V] ...beats ensembles at similar complexity.",
          f"MP2-CC above Ens2 (two independently trained SP-base, softmax-averaged), {_PAIR}."),
    Claim("C4", PAPER, "[V] ...beats deeper networks at similar complexity.",
          f"MP2-CC above SP-deeper (twice the convs per stage, width-searched to +-5%), {_PAIR}."),
    Claim("C5", PAPER, "[V] Without context-dependent allocation, parallel paths learn similar or redundant features.",
          f"last-stage inter-path linear CKA of MP2-none >= MP2-CC's + {C5_CKA_GAP} (means), {_PAIR}."),
    Claim("C6", PAPER, "[V] Cross-connections reduce the routing overhead of cross-prediction.",
          f"counted: CP-conv / CC >= {C6_MIN_RATIO}x in params and in MACs for every m; and mean acc(MP2-CC) >= "
          f"mean acc(MP2-CP-conv) - {100 * C6_TIE:.1f} pp (>= 2 seeds each, else inconclusive)."),
    Claim("C7", PAPER, "[V] Routing is input-dependent, changes with depth, and paths specialise.",
          "MP2-CC: last-transition MI(class; routing) above the 99th percentile of the label-permutation null "
          "(p < 0.01) in every seed; mean last MI above the frozen-router control's; MI rises with depth "
          "(Spearman rho > 0 between transition index and mean MI)."),
    Claim("C8", PAPER,
          "[V] One multi-path net serves several datasets, sharing some resources and specialising others.",
          mx.criterion(ALPHA, MIN_SEEDS)),
    Claim("C9", PAPER, "[V] The gains hold on small and large datasets.",
          "needs a large-scale (ImageNet) run, outside this companion; E5 reports CIFAR-100 when present."),
]

CC = "mp2_cross_connections"


def _values(runs: pd.DataFrame, arm: str, column: str = "acc", dataset=None, epochs=None) -> np.ndarray:
    sel = (runs["arm"] == arm) & (runs["status"] == "ok")
    if dataset is not None:
        sel &= runs["dataset"] == dataset
    if epochs is not None:
        sel &= runs["epochs"] == epochs
    v = runs.loc[sel, column].astype(float).to_numpy() if column in runs else np.zeros(0)
    return v[np.isfinite(v)]


def _not_ok(runs: pd.DataFrame, arms, dataset=None) -> str:
    bad = runs[runs["arm"].isin(arms) & (runs["status"] != "ok")]
    bad = bad if dataset is None else bad[bad["dataset"] == dataset]
    return f"; {len(bad)} run(s) {', '.join(sorted(set(bad['status'])))}" if len(bad) else ""


def compare(a: np.ndarray, b: np.ndarray, margin: float = 0.0, scale: float = 100.0, unit: str = "pp"):
    """(outcome, text) for "a beats b by >= margin" under the pre-registered rule (Welch p < ALPHA, >= MIN_SEEDS)."""
    if min(len(a), len(b)) == 0:
        return "not run", "no finished runs"
    diff, p = a.mean() - b.mean(), welch(a, b)
    text = f"Δ = {scale * diff:+.2f} {unit} (n = {len(a)} vs {len(b)}, Welch p = {p:.3g})"
    if min(len(a), len(b)) < MIN_SEEDS:
        return "inconclusive", text + f"; fewer than {MIN_SEEDS} seeds"
    return decide(bool(diff >= margin and p < ALPHA)), text


def _acc(v: np.ndarray) -> str:
    return f"{100 * v.mean():.2f} ± {100 * v.std(ddof=1) if len(v) > 1 else 0:.2f} %" if len(v) else "n/a"


def verdicts(cfg: MultipathConfig, runs: pd.DataFrame, overhead: pd.DataFrame) -> list[dict]:
    """One claims-table row per claim of :data:`CLAIMS` from the runs frame and the counted overhead table."""
    g = cfg.plan()
    ds, ep = g["datasets"][0], g["epochs"]
    claims = {c.id: c for c in CLAIMS}
    acc = lambda arm, e=ep: _values(runs, arm, "acc", ds, e)  # noqa: E731
    rows = []

    cc = acc(CC)
    out, text = compare(cc, acc("sp_wide"), C1_MARGIN)
    extra = "; ".join(f"{label(a)} {_acc(acc(a))}" for a in ("sp_wide", "mp2_static", "mp2_none") if len(acc(a)))
    rows.append(verdict(claims["C1"], f"MP2-CC {_acc(cc)}; {extra}; {text}{_not_ok(runs, [CC, 'sp_wide'], ds)}", out))

    parts = [(a, *compare(cc, acc(a))) for a in ("sp_wide_se", "sk")]
    outs = [o for _, o, _ in parts]
    out = ("not run" if "not run" in outs else "inconclusive" if "inconclusive" in outs
           else decide(all(o == "reproduced" for o in outs)))
    rows.append(verdict(claims["C2"], "; ".join(f"vs {label(a)} {_acc(acc(a))}: {t}" for a, _, t in parts), out))

    for cid, arm in (("C3", "ens2"), ("C4", "sp_deeper")):
        out, text = compare(cc, acc(arm))
        rows.append(verdict(claims[cid], f"vs {label(arm)} {_acc(acc(arm))}: {text}{_not_ok(runs, [arm], ds)}", out))

    out, text = compare(_values(runs, "mp2_none", "cka_last", ds, ep), _values(runs, CC, "cka_last", ds, ep),
                        C5_CKA_GAP, scale=1.0, unit="CKA")
    rows.append(verdict(claims["C5"], f"CKA(MP2-none) - CKA(MP2-CC), last stage: {text}", out))

    rows.append(c6_verdict(claims["C6"], runs, overhead, ds, g["e3_epochs"]))
    rows.append(c7_verdict(claims["C7"], runs, ds, ep))
    rows.append(c8_verdict(claims["C8"], runs, mx.context_dataset(ds), ep, smoke=cfg.resolved_profile == "smoke"))
    e5 = [d for d in g["datasets"][1:]]
    rows.append(verdict(claims["C9"], "no large-scale run" + (f"; E5 on {', '.join(e5)} reported in the tables"
                                                               if e5 else ""), "not run"))
    return rows


def c6_verdict(claim, runs, overhead: pd.DataFrame, ds, epochs) -> dict:
    ratios = overhead[overhead["backbone"] == "trained"]
    ok_cost = bool((ratios["param_ratio"] >= C6_MIN_RATIO).all() and (ratios["mac_ratio"] >= C6_MIN_RATIO).all())
    cost = ", ".join(f"m={r.m}: {r.param_ratio:.2f}x params, {r.mac_ratio:.2f}x MACs" for r in ratios.itertuples())
    cc, cp = _values(runs, CC, "acc", ds, epochs), _values(runs, "mp2_cross_prediction_conv", "acc", ds, epochs)
    if not ok_cost:
        return verdict(claim, f"CP-conv / CC: {cost}", "not reproduced")
    if min(len(cc), len(cp)) == 0:
        return verdict(claim, f"CP-conv / CC: {cost}; accuracy not run", "inconclusive")
    gap = cc.mean() - cp.mean()
    text = f"CP-conv / CC: {cost}; acc CC - CP-conv = {100 * gap:+.2f} pp (n = {len(cc)}, {len(cp)})"
    if min(len(cc), len(cp)) < 2:
        return verdict(claim, text + "; fewer than 2 seeds", "inconclusive")
    return verdict(claim, text, decide(bool(gap >= -C6_TIE)))


def c7_verdict(claim, runs, ds, epochs) -> dict:
    sel = runs[(runs["arm"] == CC) & (runs["status"] == "ok") & (runs["dataset"] == ds) & (runs["epochs"] == epochs)]
    frozen = _values(runs, CC + "_frozen", "mi_last", ds, epochs)
    if sel.empty:
        return verdict(claim, "no finished MP2-CC runs", "not run")
    p = sel["mi_last_p"].astype(float).to_numpy()
    mi = sel["mi_last"].astype(float).to_numpy()
    depth = mi_by_depth(sel)
    rho = float(spearmanr(depth["transition"], depth["mi"]).statistic) if len(depth) > 2 else float("nan")
    text = (f"last MI {mi.mean():.3g} nats (null q99 {sel['mi_last_q99'].astype(float).mean():.3g}, max p "
            f"{p.max():.3g}, n = {len(mi)}); frozen router {frozen.mean() if len(frozen) else float('nan'):.3g}; "
            f"Spearman rho(depth, MI) = {rho:.2f}")
    if len(frozen) == 0 or not np.isfinite(rho):
        return verdict(claim, text + "; control or depth profile missing", "inconclusive")
    return verdict(claim, text, decide(bool((p < 0.01).all() and mi.mean() > frozen.mean() and rho > 0)))


def c8_outcome(min_p: np.ndarray, cc: np.ndarray, sw: np.ndarray, smoke: bool = False) -> tuple[str, str]:
    """C8's decision (criterion in ``contexts.criterion``): ``min_p`` holds each MP2-CC seed's smallest
    MI(domain; edges) permutation p over transitions; ``cc``/``sw`` the two arms' accuracies on the mixture."""
    if min(len(min_p), len(cc), len(sw)) == 0:
        return "not run", "no finished E6 runs"
    diff, p = cc.mean() - sw.mean(), welch(cc, sw)
    specialised = bool((min_p < mx.MI_P).all())
    lower = bool(diff < 0 and p < ALPHA)
    text = (f"MI(domain) above the null (p < {mx.MI_P}) at some transition in {int((min_p < mx.MI_P).sum())}/"
            f"{len(min_p)} seeds; acc MP2-CC - SP-wide = {100 * diff:+.2f} pp (n = {len(cc)} vs {len(sw)}, Welch p = "
            f"{p:.3g}{', MP2-CC significantly higher' if diff > 0 and p < ALPHA else ''})")
    if smoke:
        return "inconclusive", text + "; smoke profile (synthetic data)"
    if min(len(min_p), len(cc), len(sw)) < MIN_SEEDS:
        return "inconclusive", text + f"; fewer than {MIN_SEEDS} seeds"
    if not specialised or lower:
        return "not reproduced", text
    return ("reproduced" if diff >= -mx.TIE else "inconclusive"), text


def c8_verdict(claim, runs, ds, epochs, smoke: bool) -> dict:
    val = lambda arm, col: _values(runs, arm, col, ds, epochs)  # noqa: E731
    out, text = c8_outcome(val(CC, "domain_mi_min_p"), val(CC, "acc"), val("sp_wide", "acc"), smoke)
    dom = "; ".join(f"{label(a)}: " + ", ".join(f"{d} {_acc(val(a, f'acc_{d}'))}" for d in mx.DOMAINS)
                    for a in ("sp_wide", CC))
    mi, frozen = (val(a, "domain_mi_max") for a in (CC, CC + "_frozen"))
    ctrl = (f"max MI(domain) over transitions: MP2-CC {mi.mean() if len(mi) else float('nan'):.3g} nats, frozen "
            f"router {frozen.mean() if len(frozen) else float('nan'):.3g}")
    return verdict(claim, f"{text}; {dom}; {ctrl}{_not_ok(runs, [CC, 'sp_wide'], ds)}", out)
