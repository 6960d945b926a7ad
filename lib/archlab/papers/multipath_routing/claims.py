"""Paper 3's claims, one measure per claim and ``verdicts``: ``run``'s experiments -> one claims-table row per claim.

Every claim is judged by the harness's outcome rules (``archlab.outcomes``). Comparisons are paired by seed (every arm
shares the seeds and so its initial draws and data order). A directional claim has a non-zero smallest effect that
matters (``min_effect``, with its source): reproduced when the 95% interval lies above it, not reproduced when it lies
below it, inconclusive otherwise. Accuracies are in percentage points. Every trained claim needs each arm it compares
trained (final training loss under half the chance cross-entropy): otherwise "out of regime" with the measured value.
The routing claims (C5, C7, C8) have no routing precondition: uniform routing is their negative result, so MP2-CC's
routing entropy is reported beside them, never required. Criteria were declared before the first run, and some
changed after results were seen: each such claim says so in ``revised``, and the revision log of
docs/papers/multipath_routing.md lists every change with the verdicts under the old and the new rule.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import pandas as pd

from ... import data
from ...claims import Claim
from ...outcomes import Regime, combine, directional, exact, not_run
from ...runs import Runs, why_not_judged
from ...verdicts import Measured, evaluate
from .analysis import per_seed
from .arms import CC, label
from .contexts import DOMAINS, base_dataset, context_dataset
from .grid import CLAIM_ARMS, arms
from .meta import PAPER

TRAINED_MAX = 0.5  # final training loss below half the chance cross-entropy ln(classes): 1.15 nats on 10 classes
ENTROPY_MAX = 0.9  # reference line of the entropy figure (mean 2-source mix 68/32); reported, not a precondition
MI_FLOOR = 0.05  # normalised MI (fraction of the routing entropy that the label explains)
C1_GAIN, C5_GAP, TIE, C6_RATIO, DATA_GAIN = 0.3, 0.05, 0.3, 1.5, 0.2
MATCHED_CP = "mp2_cross_prediction_conv_matched"
FROZEN = CC + "_frozen"

TRAINED = Regime("trained", "final training loss / ln(classes) on the clean training set (worst compared arm, mean "
                 "of seeds)", "<", TRAINED_MAX)
TRAINED_WHY = ("regime chosen: every compared arm has removed at least half of the chance cross-entropy (final "
               "training loss < ln(10) / 2 = 1.15 nats on 10 classes, paper 1's level), an absolute level that any "
               "schedule can fail; a net that has not learned the task cannot show that one architecture learns it "
               "better")
GAIN = (f"convention: {C1_GAIN} pp, the smallest gain over a matched baseline that counts, declared for C1 before the "
        f"first run (the paper's tables were not available to us, so no reported gain exists)")
ANY_GAIN = f"{GAIN}; the same size for every matched comparison"
NONINF = (f"convention: a {TIE} pp non-inferiority margin, the tie tolerance declared before the first run (E3), the "
          f"same size as C1's gain")
MI_WHY = (f"convention: {MI_FLOOR}, the label explains 5% of the mean routing's entropy; each part (level, over the "
          f"frozen router, growth with depth) must reach it, since a difference smaller than the floor is not "
          f"specialisation by the same measure")
DATA_WHY = (f"convention: {DATA_GAIN} pp, declared before the first run as E1's expectation (MP2-CC at least "
            f"{DATA_GAIN} pp above MP2-static, the gain that isolates data dependence); the same size against the "
            "frozen router")
_ACC = "per seed acc({a}) - acc({b}) on the test set, pp, paired by seed; 95% interval above {m:g} pp"
TR = "issue 26: precondition 'converged' -> 'trained'"  # the loss-fall share passes by construction under cosine decay


def _c(cid, text, criterion, **kw) -> Claim:
    return Claim(cid, PAPER, text, criterion, **kw)


CLAIMS = [
    _c("C1", "[V] Multi-path + routing beats conventional widening at similar complexity (NCA, ICPR).",
       _ACC.format(a="MP2-CC", b="SP-wide x1.41", m=C1_GAIN) + "; MP2-static and MP2-none reported beside it",
       unit="pp", min_effect=C1_GAIN, min_effect_source=GAIN, requires=(TRAINED,), source=TRAINED_WHY,
       revised=f"6b87159: Welch p -> 95% interval, 5 -> 20 epochs, 3 -> 4 paired seeds; {TR}"),
    _c("C2", "[V] ...beats adaptive feature extraction (SE/SK type, a common path).",
       "two parts, the weaker decides: " + _ACC.format(a="MP2-CC", b="SP-wide x1.41 + SE", m=C1_GAIN) + "; and the "
       "same against SK (width-searched to +-5% of MP2-CC in params and MACs)", unit="pp", min_effect=C1_GAIN,
       min_effect_source=ANY_GAIN, requires=(TRAINED,), source=TRAINED_WHY,
       revised=f"6b87159: Welch p -> 95% interval; issue 26: smallest effect 0 -> {C1_GAIN} pp, {TR[10:]}"),
    _c("C3", "[V] ...beats ensembles at similar complexity.",
       _ACC.format(a="MP2-CC", b="Ens2", m=C1_GAIN) + " (Ens2: two SP-base trained independently, softmax-averaged)",
       unit="pp", min_effect=C1_GAIN, min_effect_source=ANY_GAIN, requires=(TRAINED,), source=TRAINED_WHY,
       revised=f"6b87159: Welch p -> 95% interval; issue 26: smallest effect 0 -> {C1_GAIN} pp, {TR[10:]}"),
    _c("C4", "[V] ...beats deeper networks at similar complexity.",
       _ACC.format(a="MP2-CC", b="SP-deeper", m=C1_GAIN) + " (twice the convs per stage, width-searched to +-5%)",
       unit="pp", min_effect=C1_GAIN, min_effect_source=ANY_GAIN, requires=(TRAINED,), source=TRAINED_WHY,
       revised=f"6b87159: Welch p -> 95% interval; issue 26: smallest effect 0 -> {C1_GAIN} pp, {TR[10:]}"),
    _c("C5", "[V] Without context-dependent allocation, parallel paths learn similar or redundant features.",
       f"per seed last-stage inter-path linear CKA of MP2-static minus MP2-CC's, paired; 95% interval above "
       f"{C5_GAP}. MP2-static mixes the paths exactly as CC does but independently of the input, so the difference "
       "isolates the data dependence; MP2-none (independent paths, never mixed: lower CKA by construction) and "
       "MP2-CC's routing entropy are reported beside it, not judged", unit="CKA", min_effect=C5_GAP,
       min_effect_source=f"convention: {C5_GAP} CKA, the gap declared before the first run (then against MP2-none)",
       requires=(TRAINED,), source=TRAINED_WHY,
       revised=("6b87159: comparator MP2-none -> MP2-static after the first cpu run (MP2-none 0.55 below MP2-CC), "
                f"routing-entropy precondition added; issue 26: that precondition removed, {TR[10:]}")),
    _c("C6", "[V] Cross-connections reduce the routing overhead of cross-prediction (cost).",
       f"exact: counted CP-conv / CC >= {C6_RATIO}x in parameters and in MACs for every path count m, at the trained "
       "and at the reference backbone", kind="exact",
       source=f"chosen: {C6_RATIO}x, a reduction worth the name; CP-conv needs m*n convs per transition, CC m",
       revised="6b87159: accuracy part split off into C6b (matched cost) after the first cpu runs; cost also counted "
               "at the reference backbone"),
    _c("C6b", "[V] ...at no cost in accuracy: at matched parameters and MACs, cross-connections are at least as "
       "accurate as cross-prediction (reading A).",
       _ACC.format(a="MP2-CC", b="MP2-CP-conv (widths searched to MP2-CC's params and MACs, +-5%)", m=-TIE)
       + " (non-inferiority)", unit="pp", min_effect=-TIE, min_effect_source=NONINF, requires=(TRAINED,),
       source=TRAINED_WHY,
       revised=f"6b87159: split from C6, CP-conv width-searched to MP2-CC's cost after the first cpu runs; {TR}"),
    _c("C7", "[V] Routing is input-dependent, changes with depth, and paths specialise.",
       f"three parts, the weakest decides, each a 95% interval above {MI_FLOOR}: (a) per seed MP2-CC's "
       f"last-transition normalised MI(class; routing) (MI / H(mean routing)); (b) minus the frozen-router "
       "control's, paired; (c) last minus first routed transition, per seed (MI grows with depth). The "
       "label-permutation null, MP2-CC's routing entropy and the router-temperature ablation are reported beside it",
       unit="normalised MI", min_effect=MI_FLOOR, min_effect_source=MI_WHY, requires=(TRAINED,), source=TRAINED_WHY,
       revised=("6b87159: p < 0.01 per seed, > frozen, Spearman rho > 0 -> MI floor 0.05, > frozen, last - first "
                "after the first cpu runs (MI 2e-4 nats), routing-entropy precondition added; issue 26: (b), (c) 0 -> "
                f"0.05, that precondition removed, {TR[10:]}")),
    _c("C8", "[V] One multi-path net serves several datasets, specialising some resources (E6: the first dataset mixed "
       "with its colour inversion, half of every class inverted, the domain never given to the model).",
       f"per seed MP2-CC's largest normalised MI(domain; routing) over the transitions between paths; 95% interval "
       f"above {MI_FLOOR}; its domain-label permutation null and routing entropy reported beside it",
       unit="normalised MI", min_effect=MI_FLOOR, requires=(TRAINED,), source=TRAINED_WHY,
       min_effect_source=f"convention, as C7: {MI_FLOOR}, the domain explains 5% of the mean routing's entropy",
       revised=("6b87159: domain p < 0.01 -> MI floor 0.05 after the first E6 run, sharing part split off into C8b, "
                f"routing-entropy precondition added; issue 26: that precondition removed, {TR[10:]}")),
    _c("C8b", "[V] ...while sharing the others: with no domain input, the one net serves both contexts at least as "
       "well as SP-wide x1.41, which shares every weight.",
       _ACC.format(a="MP2-CC", b="SP-wide x1.41", m=-TIE) + " on the two-context test set (non-inferiority)",
       unit="pp", min_effect=-TIE, min_effect_source=NONINF, requires=(TRAINED,), source=TRAINED_WHY,
       revised=f"6b87159: split from C8, mean gap -> 95% interval; {TR}"),
    _c("C9", "[V] The gains hold on small and large datasets.",
       "needs a large-scale (ImageNet) run, outside this companion; E5 reports CIFAR-100 on the gpu profile",
       unit="pp", min_effect=C1_GAIN, min_effect_source=f"as C1: {GAIN}", source="not testable here",
       revised=f"issue 26: smallest effect 0 -> {C1_GAIN} pp (C1's); never run"),
    _c("C10", "[V] The routing's data dependence is what helps: cross-connections whose weights come from the layer's "
       "own features beat the same multi-path net with input-independent mixing and with a frozen (random) router.",
       "two parts, the weaker decides: " + _ACC.format(a="MP2-CC", b="MP2-static", m=DATA_GAIN) + "; and the same "
       "against MP2-CC with its routers frozen at initialisation (same parameters and MACs)", unit="pp",
       min_effect=DATA_GAIN, min_effect_source=DATA_WHY, requires=(TRAINED,), source=TRAINED_WHY,
       revised="issue 30: claim added after results were seen (its runs existed, never judged); its smallest effect "
               "was declared before the first run"),
]
BY_ID = {c.id: c for c in CLAIMS}
ARMS = CLAIM_ARMS


def _acc(c, runs, ds, seeds, a, b):
    va, vb = (per_seed(runs, x, "test_acc", ds, seeds) for x in (a, b))
    return directional(c, va, vb, paired=True, scale=100)


def _accs(runs, a, ds, seeds) -> str:
    """An arm's mean test and training accuracy: the training one shows how far it fits what it learns from."""
    return (f"{label(a)} test {_mean(runs, a, 'test_acc', ds, seeds, 100):.2f} %, train "
            f"{_mean(runs, a, 'train_acc', ds, seeds, 100):.1f} %")


def _scope(c: Claim, runs: Runs) -> tuple[pd.DataFrame, str, list]:
    """(run table, dataset, seeds) a claim reads: C8 and C8b on the two-context set, the others on the first one."""
    g = runs.cfg.plan()
    first = g["datasets"][0]
    return runs.arms, (context_dataset(first) if c.id in ("C8", "C8b") else first), list(g["seeds"])


def _m_acc(c, runs: Runs) -> Measured:
    df, ds, seeds = _scope(c, runs)
    extra = [_accs(df, a, ds, seeds) for a in ARMS[c.id]]
    if c.id in ("C2", "C10"):
        outcome = combine({f"vs {label(b)}": _acc(c, df, ds, seeds, CC, b) for b in ARMS[c.id][1:]})
    else:
        outcome = _acc(c, df, ds, seeds, *ARMS[c.id])
    if c.id == "C1":
        extra += [_accs(df, a, ds, seeds) for a in ("mp2_static", "mp2_none")]
    return Measured(outcome, "; ".join(extra), regimes(c, df, ds, seeds))


def _mean(runs, arm, col, ds, seeds, scale=1.0) -> float:
    v = per_seed(runs, arm, col, ds, seeds)
    return scale * float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")


def _entropy(runs, ds, seeds) -> str:
    """MP2-CC's routing entropy, reported beside every routing claim: uniform routing is their negative result."""
    return f"MP2-CC's routing entropy, last transition {_mean(runs, CC, 'entropy_last', ds, seeds):.3f} (1 = uniform)"


def preregistered_c5(runs, ds, seeds):
    """C5 as declared before the first run: MP2-none's last-stage CKA minus MP2-CC's above the same 0.05, judged by
    the same rule; shown beside the current comparison (MP2-static), never the verdict."""
    none, cc = (per_seed(runs, a, "cka_last", ds, seeds) for a in ("mp2_none", CC))
    return directional(BY_ID["C5"], none, cc, paired=True)


def c5_table(runs, ds, seeds) -> pd.DataFrame:
    """C5's pre-registered comparison (MP2-none) beside the current one (MP2-static), each with its verdict."""
    c = BY_ID["C5"]
    cka = {a: per_seed(runs, a, "cka_last", ds, seeds) for a in ("mp2_none", "mp2_static", CC)}
    rows = [("pre-registered: MP2-none - MP2-CC", preregistered_c5(runs, ds, seeds)),
            ("current: MP2-static - MP2-CC", directional(c, cka["mp2_static"], cka[CC], paired=True))]
    return pd.DataFrame([{"C5 comparison": k, "threshold": o.threshold, "effect": o.effect, "ci_low": o.ci_low,
                          "ci_high": o.ci_high, "verdict": o.verdict} for k, o in rows])


def _m_cka(c, runs: Runs) -> Measured:
    df, ds, seeds = _scope(c, runs)
    static, cc = (per_seed(df, a, "cka_last", ds, seeds) for a in ("mp2_static", CC))
    text = ", ".join(f"{label(a)} {_mean(df, a, 'cka_last', ds, seeds):.3f}" for a in ("mp2_none", "mp2_static", CC))
    pre = preregistered_c5(df, ds, seeds)
    pre_text = (f"pre-registered comparison MP2-none - MP2-CC > {C5_GAP}: {pre.verdict}, {pre.effect:+.3g} "
                f"[{pre.ci_low:.3g}, {pre.ci_high:.3g}]")
    return Measured(directional(c, static, cc, paired=True),
                    f"mean last-stage CKA: {text}; {pre_text}; {_entropy(df, ds, seeds)}", regimes(c, df, ds, seeds))


def _m_mi(c, runs: Runs) -> Measured:
    temperatures = arms(runs.cfg)["E4"][1:]  # the router-temperature ablation, reported beside
    df, ds, seeds = _scope(c, runs)
    v = {k: per_seed(df, CC, k, ds, seeds) for k in ("mi_norm_last", "mi_norm_first", "mi_last_p", "mi_last")}
    frozen = per_seed(df, FROZEN, "mi_norm_last", ds, seeds)
    # every part against the claim's floor (min_effect): a level, a learned excess and a growth below it all fail
    parts = {"(a) above the floor": directional(c, v["mi_norm_last"], 0.0),
             "(b) above the frozen router": directional(c, v["mi_norm_last"], frozen, paired=True),
             "(c) grows with depth": directional(c, v["mi_norm_last"] - v["mi_norm_first"], 0.0)}
    taus = "; ".join(f"{label(a)}: normalised MI {_mean(df, a, 'mi_norm_last', ds, seeds):.3g}, entropy "
                     f"{_mean(df, a, 'entropy_last', ds, seeds):.3f}" for a in temperatures)
    text = (f"last-transition MI {np.nanmean(v['mi_last']):.3g} nats, permutation p <= {np.nanmax(v['mi_last_p']):.3g} "
            f"in every seed; frozen router: normalised MI {np.nanmean(frozen):.3g}; {_entropy(df, ds, seeds)}"
            + (f"; {taus}" if taus else ""))
    return Measured(combine(parts), text, regimes(c, df, ds, seeds))


def _m_domain(c, runs: Runs) -> Measured:
    df, ds, seeds = _scope(c, runs)
    mi = per_seed(df, CC, "domain_mi_norm_max", ds, seeds)
    p = per_seed(df, CC, "domain_mi_min_p", ds, seeds)
    text = (f"smallest domain-permutation p per seed {', '.join(f'{x:.3g}' for x in p[np.isfinite(p)])}; "
            f"{_entropy(df, ds, seeds)}")
    return Measured(directional(c, mi, 0.0), text, regimes(c, df, ds, seeds))


def _m_domain_acc(c, runs: Runs) -> Measured:
    df, ds, seeds = _scope(c, runs)
    dom = "; ".join(f"{label(a)}: " + ", ".join(f"{d} {_mean(df, a, f'acc_{d}', ds, seeds, 100):.2f} %"
                                                 for d in DOMAINS) for a in ("sp_wide", CC))
    return Measured(_acc(c, df, ds, seeds, CC, "sp_wide"), dom, regimes(c, df, ds, seeds))


def _m_cost(c, runs: Runs) -> Measured:
    overhead = runs.overhead
    ok = bool((overhead["param_ratio"] >= C6_RATIO).all() and (overhead["mac_ratio"] >= C6_RATIO).all())
    text = ", ".join(f"{r.backbone} m={r.m}: {r.param_ratio:.2f}x params, {r.mac_ratio:.2f}x MACs"
                     for r in overhead.itertuples())
    return Measured(exact(c, ok, f"CP-conv / CC: {text}"))


@lru_cache(maxsize=None)
def chance_loss(ds: str) -> float:
    """ln(classes) of a run dataset (an E6 set has its base set's classes): the cross-entropy of a uniform guess."""
    return math.log(data.dataset_info(base_dataset(ds))["classes"])


def trained_loss(runs: pd.DataFrame, arms_, ds: str, seeds) -> np.ndarray:
    """Each arm's mean final training loss over its finished seeds, as a share of the chance loss (NaN: no run)."""
    v = [per_seed(runs, a, "train_loss", ds, seeds) for a in arms_]
    return np.array([np.nanmean(x) if np.isfinite(x).any() else np.nan for x in v]) / chance_loss(ds)


def regimes(c: Claim, runs: pd.DataFrame, ds: str, seeds) -> dict:
    """The measured value of every precondition ``c`` declares (None where nothing could be measured)."""
    values = {}
    for r in c.requires:
        assert r is TRAINED, r  # the only precondition: a new one needs its measure here
        v = trained_loss(runs, ARMS[c.id], ds, seeds)
        values[r.name] = v if np.isfinite(v).any() else None
    return values


MEASURES = {**dict.fromkeys(("C1", "C2", "C3", "C4", "C6b", "C10"), _m_acc), "C5": _m_cka, "C6": _m_cost,
            "C7": _m_mi, "C8": _m_domain, "C8b": _m_domain_acc,
            "C9": lambda c, runs: Measured(not_run("no large-scale (ImageNet) run in this companion"))}


def cannot_judge(c: Claim, runs: Runs) -> str | None:
    """Why ``c`` cannot be judged on these runs (C6: no overhead table; else an arm it compares without a run that
    finished ok: a diverged run here stores no accuracy, so it cannot stand in for one), or None."""
    if c.id == "C6":
        ov = runs.get("overhead")
        return "no overhead table" if ov is None or ov.empty else None
    df, ds, _ = _scope(c, runs)
    for arm in ARMS.get(c.id, ()):
        rows = df[(df["arm"] == arm) & (df["dataset"] == ds)] if len(df) else None
        why = why_not_judged(rows, f"{label(arm)} on {ds}", "arm")
        if why is None and not rows["status"].eq("ok").any():
            why = f"no run of {label(arm)} on {ds} finished ok ({', '.join(sorted(set(rows['status'])))})"
        if why:
            return why
    return None


def verdicts(runs: Runs, profile: str) -> list[dict]:
    """One claims row per declared claim from ``run``'s experiments (``runs.arms``, the counted ``runs.overhead``),
    through the harness's verdict loop (``archlab.verdicts.evaluate``)."""
    return evaluate(CLAIMS, MEASURES, runs, profile, cannot_judge=cannot_judge)
