"""Paper 1's verdicts: E1's exact tables and the E2-E6 run frames (``run``'s ``Runs``) -> one claims-table row per
claim (``verdicts``), one measure per claim (``MEASURES``) through the harness's verdict loop (``archlab.verdicts``)
and outcome rules (``archlab.outcomes``); and, for every claim judged on test accuracy, the split
of each paired difference's spread into test-set and seed parts (``noise_table``, ``archlab.testnoise``).

The claims, their thresholds and preconditions are declared in ``claims``; the compared arms of every accuracy
claim are listed once here (``ACC_PAIRS``), so the verdict and the noise table read the same pairs.
"""
from __future__ import annotations

import numpy as np

from ...outcomes import combine, directional, exact
from ...runs import by_seed, why_not_judged
from ...verdicts import Measured, evaluate
from .analysis import select
from .claims import EXPERIMENT, GAP, claims_for
from .grid import CSP_MODELS, E2_MODELS, FAMILIES

BASE, EQUAL, POINT, ELANPT = {"point": "base"}, {"point": "equal FLOPs"}, {"point": "csp point"}, {"point": "elan point"}
RESNET, PRN, ELAN = ("gp_resnet", BASE), ("gp_prn", {"rho": 0.5}), ("gp_elan", EQUAL)
CSP = [(m, POINT) for m in CSP_MODELS]
FULL, SGB, SGI = ((m, {}) for m in E2_MODELS)
# claim -> part name -> (arm A, arm B): "A beats B", each arm (model, column values). One part: the claim's own
# threshold; several: each part against the paper's gap for it (claims.GAP), the weakest decides.
ACC_PAIRS = {
    "C4": {"full > SG-block": (FULL, SGB), "SG-block > SG-identity": (SGB, SGI)},
    "C4b": {"full > SG-block": (FULL, SGB), "full > SG-identity": (FULL, SGI)},
    "C6": {"CSP fusion >= ResNet - 1 pp": (CSP[0], RESNET)},
    "C6b": {f"{FAMILIES[a[0]]} > {FAMILIES[b[0]]}": (a, b) for a, b in zip(CSP, CSP[1:])},
    "C6c": {"CSP fusion at ResNet's FLOPs > ResNet": (("gp_csp_fusion", EQUAL), RESNET)},
    "C7": {"PRN > ResNet": (PRN, RESNET)},
    "C8": {f"ELAN > {n}": (ELAN, r) for n, r in (("ResNet", RESNET), ("PRN", PRN),
                                                 ("CSP fusion", ("gp_csp_fusion", EQUAL)))},
    "C8b": {"CSP-ELAN >= ELAN - 1 pp": (("gp_csp_elan", EQUAL), ELAN)},
    "C9": {"ELAN at -26% FLOPs >= ResNet - 1 pp": (("gp_elan", ELANPT), RESNET)},
}
TEST_CLAIMS = ("C6", "C6b", "C6c", "C7", "C8", "C8b", "C9")  # judged on test accuracy in every profile


def _fmt(values, scale=100.0, digits=1) -> str:
    v = np.asarray(values, float) * scale
    v = v[np.isfinite(v)]
    if not len(v):
        return "no runs"
    return f"{v.mean():.{digits}f} ± {v.std(ddof=1) if len(v) > 1 else 0.0:.{digits}f}"


def _fig7(c, runs) -> Measured:
    """C1: the Fig. 7 toy nets' timestamp sets and combination counts equal the paper's."""
    fig7 = runs.fig7
    n = fig7[fig7.layer == "combinations"].set_index("net").ours.to_dict()
    return Measured(exact(c, bool(fig7.match.all()), f"combinations ResNet {n['resnet']}, PRN {n['prn']}, DenseNet "
                                                      f"{n['densenet']}; {int(fig7.match.sum())}/{len(fig7)} rows "
                                                      "equal the paper's"))


def _table1(c, runs) -> Measured:
    """C2: Table 1's shortest-path slopes (1 for Plain, 0 for ResNet and DenseNet)."""
    slopes = runs.slopes
    ok = bool((abs(slopes.slope - slopes.expected) < 0.1).all())
    return Measured(exact(c, ok, "; ".join(f"{r.net} slope {r.slope:.2f}" for r in slopes.itertuples())))


def _stacking(c, runs) -> Measured:
    """C3: stacking OSA modules shifts every earlier shortest path; residual and ELAN stacking only the longest."""
    shifts, stack = runs.shifts, runs.stack
    s = shifts.groupby("model").agg(lo=("min_shift", "min"), hi=("max_shift", "max"))
    flat = ("gp_resnet", "gp_elan", "gp_vovnet_elan")
    grows = all(np.all(np.diff(stack[stack.model == m].sort_values("blocks").longest) > 0) for m in flat)
    ok = s.loc["gp_vovnet", "lo"] >= 1 and all(s.loc[m, "lo"] == 0 == s.loc[m, "hi"] for m in flat) and grows
    text = "; ".join(f"{FAMILIES[m]} shortest-path shift per added block {s.loc[m, 'lo']}..{s.loc[m, 'hi']}"
                     for m in ("gp_vovnet", *flat))
    return Measured(exact(c, bool(ok), text + f"; longest path rises with k: {grows}"))


class _Arms:
    """Per-seed values of one experiment's arms, lined up by seed for paired comparisons."""

    def __init__(self, df):
        self.df, self.seeds = df, sorted(df.seed.dropna().unique())

    def __call__(self, column, model, **eq):
        return by_seed(select(self.df, model, **eq), self.seeds, column)

    def trained(self, *arms) -> list:
        """Mean final training loss of each (model, eq) arm: the "trained" regime's values (the worst must pass)."""
        return [float(np.nanmean(v)) if np.isfinite(v).any() else np.nan
                for v in (self("loss", m, **eq) for m, eq in arms)]


def _pair(c, x, a, b, min_effect):
    """One part: arm A beats B in test accuracy (pp) or, for a claim judged on the fit, in training loss."""
    if c.unit == "log-ratio":  # B's loss above A's, as a log-ratio
        return directional(c, x("loss", b[0], **b[1]), x("loss", a[0], **a[1]), paired=True, log=True,
                           min_effect=min_effect)
    return directional(c, x("acc", a[0], **a[1]), x("acc", b[0], **b[1]), paired=True, scale=100,
                       min_effect=min_effect)


def _judged(c, x):
    """The claim's outcome from its pairs (``ACC_PAIRS``), each part against its own gap where the paper has one."""
    pairs = ACC_PAIRS[c.id]
    gaps = GAP.get(c.id, {}) if c.unit == "pp" else {}
    parts = {n: _pair(c, x, a, b, gaps.get(n, c.min_effect)) for n, (a, b) in pairs.items()}
    return parts[next(iter(parts))] if len(parts) == 1 else combine(parts)


def _e2(c, runs) -> Measured:
    x = _Arms(runs.e2)
    text = "; ".join(f"{FAMILIES[m]} {_fmt(x('acc', m))}% (training loss {_fmt(x('loss', m), 1, 3)})" for m in E2_MODELS)
    return Measured(_judged(c, x), text, {"trained": x.trained(FULL)})


def _e3(c, runs) -> Measured:
    df = runs.e3
    x = _Arms(df)
    ks = sorted(df.k.dropna().unique())
    hi = ks[-1]
    loss = lambda m, k: x("loss", m, k=k)  # noqa: E731
    res = loss("gp_resnet", hi)  # the same 3x3 count (ceil(3k/2) BasicBlocks); its training is the depth control
    if c.id == "C5":
        parts = {f"VoVNet above ResNet at k={hi:g}": directional(c, loss("gp_vovnet", hi), res, paired=True, log=True),
                 f"VoVNet above re-planned at k={hi:g}": directional(c, loss("gp_vovnet", hi),
                                                                      loss("gp_vovnet_elan", hi), paired=True, log=True)}
    else:
        parts = {f"{FAMILIES[m]} not above ResNet at k={hi:g}": directional(c, loss(m, hi), res, paired=True, log=True,
                                                                           higher_is_better=False)
                 for m in ("gp_elan", "gp_vovnet_elan")}
    text = "training loss " + "; ".join(
        f"{FAMILIES[m]} " + ", ".join(f"k={k:g}: {_fmt(loss(m, k), 1, 3)}" for k in ks if len(select(df, m, k=k)))
        for m in ("gp_vovnet", "gp_vovnet_elan", "gp_elan", "gp_resnet"))
    return Measured(combine(parts), text, {"depth control": res})


def _arms_text(x, pairs) -> str:
    arms = {(a[0], tuple(a[1].items())): a for pair in pairs.values() for a in pair}
    return "; ".join(f"{FAMILIES[m]}{'' if eq.get('point', 'base') == 'base' else ' (' + eq['point'] + ')'} "
                     f"{_fmt(x('acc', m, **eq))}%" for m, eq in arms.values())


def _design_fact(df) -> str:
    """C6's FLOP saving: CSP's widths are solved to 80% +- 10% of ResNet's FLOPs, so it holds by construction."""
    cost = {m: select(df, m, **eq)[["flops", "params"]].astype(float).median() for m, eq in [RESNET, *CSP]}
    return "design fact (widths solved to it): " + ", ".join(
        f"{FAMILIES[m]} {100 * (cost[m].flops / cost['gp_resnet'].flops - 1):+.0f}% FLOPs, "
        f"{100 * (cost[m].params / cost['gp_resnet'].params - 1):+.0f}% params" for m, _ in CSP[:1])


def _e456(c, runs) -> Measured:
    df = runs.e456
    x = _Arms(df)
    if c.id == "C7b":
        delta = {n: x("sim_final", m, **eq) - x("sim_init", m, **eq) for n, (m, eq) in (("ResNet", RESNET), ("PRN", PRN))}
        text = "similarity init -> end: " + "; ".join(
            f"{n} {_fmt(x('sim_init', m, **eq), 1, 3)} -> {_fmt(x('sim_final', m, **eq), 1, 3)}"
            for n, (m, eq) in (("ResNet", RESNET), ("PRN rho=0.5", PRN)))
        return Measured(directional(c, delta["ResNet"], delta["PRN"], paired=True), text,
                        {"trained": x.trained(RESNET, PRN)})
    pairs = ACC_PAIRS[c.id]
    arms = list({(a[0], tuple(a[1].items())): a for pair in pairs.values() for a in pair}.values())
    text = _arms_text(x, pairs)
    if c.id == "C6":
        text += "; " + _design_fact(df)
    return Measured(_judged(c, x), text, {"trained": x.trained(*arms)})


FRAME = {"E2": "e2", "E3": "e3", "E4-E6": "e456"}  # claims.EXPERIMENT's names -> ``run``'s tables
MEASURES = {"C1": _fig7, "C2": _table1, "C3": _stacking,
            **{cid: {"E2": _e2, "E3": _e3, "E4-E6": _e456}[e] for cid, e in EXPERIMENT.items()}}


def _cannot_judge(c, runs) -> str | None:
    """Why a trained claim's experiment cannot be judged (no runs, every run failed); E1's checks always can."""
    name = EXPERIMENT.get(c.id)
    return why_not_judged(runs.get(FRAME[name]), name) if name else None


def verdicts(runs, profile) -> list[dict]:
    """One claims-table row per claim (``claims.claims_for(profile)``): C1-C3 from E1's tables, the others from the
    E2, E3 and E4-E6 run tables of ``runs`` (``run``). A claim whose experiment has no finished run is "not run"
    with the reason; the others are measured and judged with their preconditions (``archlab.verdicts``)."""
    return evaluate(claims_for(profile), MEASURES, runs, profile, cannot_judge=_cannot_judge)


def noise_table(runs, profile=None):
    """Every part of every claim judged on test accuracy in this profile: the spread of its paired per-seed
    differences split into test-set and seed parts (``archlab.testnoise.table``, pp), projected to 10,000 images."""
    from ...testnoise import bits_by_seed, paired_split, table

    judged = [c.id for c in claims_for(profile) if c.id in ACC_PAIRS and c.unit == "pp"]
    splits = {}
    for cid in judged:
        df = runs.get(FRAME[EXPERIMENT[cid]])
        if df is None or not len(df) or "result" not in df:
            continue
        for part, (a, b) in ACC_PAIRS[cid].items():
            row = paired_split(*(bits_by_seed(select(df, m, **eq)) for m, eq in (a, b)))
            if row is not None:
                splits[f"{cid}: {part}"] = row
    return table(splits) if splits else None
