"""Paper 4's claims, declared before any run, and ``verdicts``: stored runs -> one claims-table row per claim.

Every claim is judged by the harness's outcome rules (``archlab.outcomes``): a directional claim is reproduced when
the 95% interval of its per-seed effect lies above its smallest effect of interest, an exact check when it holds,
and a claim whose regime precondition fails is "out of regime" with the measured value. Effects are per seed and
paired wherever the arms share a seed: losses and FLOPs as log-ratios (positive: SensLI lower), accuracies and
errors in percentage points. Ids C1..C17; the slugs of earlier result files are kept in brackets in each text.
The rules, thresholds and their sources are written up in docs/papers/layer_insertion.md.
"""
from __future__ import annotations

import numpy as np

from ...claims import Claim
from ...outcomes import Regime, combine, directional, exact, judge, not_run
from . import PAPER
from .analysis import (COMMON_LOSS, SPEC_PARAMS, cost_table, early_table, paired, plateau_drops, runs_frame,
                       study_problem, when_table)
from .analysis_cnn import BIG_LEVEL, cnn_cost_table, cnn_gains

ANY = "chosen: the paper states no size, so any improvement counts (docs/papers/layer_insertion.md)"
PLATEAU = ("chosen: a net still losing more than a fifth of its loss per quarter of the budget would catch up "
           "given more steps, so a comparison at the end would measure speed, not the architecture")
SMALL_PLATEAU = Regime("small net plateaued", "small net's relative training-loss fall over the last quarter",
                       "<", 0.2, over="median")
LARGE_PLATEAU = Regime("large net plateaued", "large net's relative training-loss fall over the last quarter",
                       "<", 0.2, over="median")
DIFFERS = ("chosen: the comparison exists only where the two rules chose different positions; with fewer than 6 "
           "such pairs the rule has barely been exercised")
DIFFER = Regime("positions differ", "pairs of runs whose rules chose different positions", ">=", 6)
CNN_CONVERGED = Regime("converged", "test-accuracy gain over the last quarter of epochs (worst arm, mean of seeds)",
                       "<", 1.0, unit="pp")
JUMP_BOUND = 1e-4  # |loss jump| at insertion: see C17's criterion

LOSS = "per seed log(final training loss of {base} / of SensLI), same init; 95% interval of the mean above 0"
COST = (f"Cost table, target = {COMMON_LOSS}; per seed log(FLOPs of {{base}} / FLOPs of SensLI) to first reach it "
        "(sensitivity pass included); 95% interval of the mean above 0")
EARLY = ("Validity study (FNN [4, 4] and res2 [3, 3, 3] pooled), the seeds where the {other} position differs from "
         "SensLI's: log(loss of {other} / loss of SensLI) 25 steps after insertion; 95% interval above 0")


def _c(i, slug, text, criterion, **kw) -> Claim:
    return Claim(f"C{i}", PAPER, f"{text} [{slug}]", criterion, **kw)


CLAIMS = [
    _c(1, "fnn_vs_small", "[A] Inserting a layer by sensitivity (SensLI) gives a lower training loss than keeping the "
       "small fixed architecture (spirals, FNN [5], full-batch GD, 1850 steps, insertion at 450).",
       LOSS.format(base="FNN1"), unit="log-ratio", requires=(SMALL_PLATEAU,), source=f"{ANY}; regime: {PLATEAU}"),
    _c(2, "resnet_vs_small", "[A] SensLI gives a lower training loss than the small fixed ResNet (spirals, res2 [3, 3]).",
       LOSS.format(base="ResNet1"), unit="log-ratio", requires=(SMALL_PLATEAU,), source=f"{ANY}; regime: {PLATEAU}"),
    _c(3, "fnn_test_error", "[A] SensLI gives a lower test error than the small fixed architecture (spirals FNN [5]).",
       "per seed test error of FNN1 minus of SensLI, pp; 95% interval above 0", unit="pp",
       requires=(SMALL_PLATEAU,), source=f"{ANY}; regime: {PLATEAU}"),
    _c(4, "fnn_cost_vs_large", "[A] SensLI needs less computation than training the large architecture (FNN [5, 5]) "
       "from scratch to reach the same training loss.", COST.format(base="FNN2"), unit="log-ratio",
       requires=(LARGE_PLATEAU,), source="chosen: any saving counts; the authors' schedule implies 0.87 of the big "
       f"net's work over whole runs (docs/papers/layer_insertion.md); regime: {PLATEAU}"),
    _c(5, "resnet_cost_vs_large", "[A] SensLI needs less computation than training the large ResNet from scratch to "
       "reach the same loss (res2 [3, 3, 3], LI's final shape; the as-coded 4-layer net is shown beside it).",
       COST.format(base="ResNet2"), unit="log-ratio", requires=(LARGE_PLATEAU,),
       source=f"chosen: any saving counts; regime: {PLATEAU}"),
    _c(6, "sensli_vs_random", "[A/R] The most sensitive position beats a randomly chosen one shortly after insertion "
       "(a first-order check; no final-loss advantage is claimed).", EARLY.format(other="random"), unit="log-ratio",
       requires=(DIFFER,), source=f"{ANY}; regime: {DIFFERS}"),
    _c(7, "sensli_vs_min", "[C/R] The most sensitive position beats the least sensitive one (the authors' LIother) "
       "shortly after insertion.", EARLY.format(other="least sensitive"), unit="log-ratio", requires=(DIFFER,),
       source=f"{ANY}; regime: {DIFFERS}"),
    _c(8, "when_vs_small", "[R] SensLI beats the small net whenever it inserts (FNN [5], insertion at 150, 250, ..., "
       "850 of 1850 steps).", "per seed, the mean over insertion times of log(final loss of FNN1 / of SensLI); 95% "
       "interval above 0", unit="log-ratio", requires=(SMALL_PLATEAU,), source=f"{ANY}; regime: {PLATEAU}"),
    _c(9, "minibatch_vs_small", "[A] With minibatch SGD (batch 45, 1850 epochs, insertion at 450) SensLI also gives a "
       "lower training loss than the small FNN [5].", LOSS.format(base="FNN1"), unit="log-ratio",
       requires=(SMALL_PLATEAU,), source=f"{ANY}; regime: {PLATEAU}"),
    _c(10, "mnist_vs_small", "[R] On MNIST a growing FNN reaches a lower training loss than the small fixed FNN.",
       LOSS.format(base="the small FNN"), unit="log-ratio", requires=(SMALL_PLATEAU,),
       source=f"{ANY}; regime: {PLATEAU}"),
    _c(11, "cifar10_vs_small", "[R] On CIFAR-10 a growing residual MLP reaches a lower training loss than the small "
       "fixed one.", LOSS.format(base="the small MLP"), unit="log-ratio", requires=(SMALL_PLATEAU,),
       source=f"{ANY}; regime: {PLATEAU}"),
    _c(12, "mnist_cost_vs_large", "[R] On MNIST SensLI reaches the large FNN's loss level with fewer FLOPs.",
       COST.format(base="the large FNN"), unit="log-ratio", requires=(LARGE_PLATEAU,),
       source=f"chosen: any saving counts; regime: {PLATEAU}"),
    _c(13, "cifar10_cost_vs_large", "[R] On CIFAR-10 SensLI reaches the large residual MLP's loss level with fewer "
       "FLOPs.", COST.format(base="the large MLP"), unit="log-ratio", requires=(LARGE_PLATEAU,),
       source=f"chosen: any saving counts; regime: {PLATEAU}"),
    _c(14, "cnn_vs_small", "[A/R] CNN (v2): a VGG grown by one Dirac-initialised conv at the most op22-sensitive "
       "position ends with a higher test accuracy than the small fixed VGG trained as long.",
       "per seed final test accuracy of SensLI minus the small VGG's (same init), pp; 95% interval above 0",
       unit="pp", requires=(CNN_CONVERGED,), source=f"{ANY}; regime: chosen, about twice the sampling error of a "
       "mean over seeds of 3-evaluation means on 2,000 test images"),
    _c(15, "cnn_cost_vs_big", "[A/R] CNN (v2): SensLI beats both fixed VGGs: it reaches the big VGG's accuracy level "
       "with fewer FLOPs than the big VGG, and ends at least as accurate as the small VGG.",
       f"Two parts, the weaker decides. (a) Cost table, target = {BIG_LEVEL}; per seed SensLI's best smoothed "
       "accuracy within the big VGG's FLOPs to that level minus the level, pp (> 0 exactly when SensLI needs fewer "
       "FLOPs); 95% interval above 0. (b) per seed final accuracy SensLI minus small VGG, pp; 95% interval above "
       "-1 pp (non-inferiority)", unit="pp", requires=(CNN_CONVERGED,),
       source="chosen: (a) any saving counts; (b) a 1 pp margin, the sampling error of one accuracy on 2,000 test "
       "images; regime as C14"),
    _c(16, "params", "[C] Parameter counts of the spirals nets equal the authors': FNN 27 -> 57 (big 57), res2 "
       "38 -> 59 (as-coded big net 80).", "exact: small, grown and big counts of the fnn and resnet studies",
       kind="exact", source="the authors' code, as the methods note lists it (docs/papers/layer_insertion.md)"),
    _c(17, "continuity", "[C] Inserting a candidate leaves the network function unchanged: the loss does not jump.",
       f"exact: |loss after - loss before insertion| <= {JUMP_BOUND:g} in every growing run (0 in exact arithmetic; "
       "float32 conv algorithms that round, e.g. Winograd, err by ~72 x 6e-8 ~ 4e-6 relative per activation, while "
       "a candidate that is not an identity moves the loss by O(0.1))", kind="exact",
       source="the identity initialisation of every candidate (docs/papers/layer_insertion.md)"),
]
BY_ID = {c.id: c for c in CLAIMS}

SPIRALS_VS_SMALL = {"C1": "fnn", "C2": "resnet", "C8": "when", "C9": "minibatch", "C10": "mnist", "C11": "cifar10"}
COSTS = {"C4": "fnn", "C5": "resnet", "C12": "mnist", "C13": "cifar10"}
STUDY = {**SPIRALS_VS_SMALL, **COSTS, "C3": "fnn", "C6": "validity", "C7": "validity", "C14": "cnn", "C15": "cnn",
         "C16": "fnn", "C17": None}
EXPECTED_PARAMS = {("fnn", "small"): SPEC_PARAMS["fnn"]["small"], ("fnn", "sensli"): SPEC_PARAMS["fnn"]["grown"],
                   ("fnn", "large"): SPEC_PARAMS["fnn"]["large"], ("resnet", "small"): SPEC_PARAMS["resnet"]["small"],
                   ("resnet", "sensli"): SPEC_PARAMS["resnet"]["grown"],
                   ("resnet", "large+1"): SPEC_PARAMS["resnet"]["large"]}


def _median(v) -> float:
    v = np.asarray(v, float)
    v = v[np.isfinite(v)]
    return float(np.median(v)) if len(v) else float("nan")


def _vs_small(c, df, study):
    """Final training loss, SensLI vs the small net of ``study`` (C1, C2, C9-C11)."""
    pr = paired(df, study, "small", "final_loss")
    text = (f"median final loss SensLI {_median(pr['sensli']):.4g} vs small {_median(pr['base']):.4g}; SensLI lower "
            f"in {int((pr['sensli'] < pr['base']).sum())}/{len(pr)} seeds")
    return directional(c, pr["sensli"], pr["base"], paired=True, higher_is_better=False, log=True), text


def _when(c, df, study):
    """C8: per seed, the mean over insertion times of log(loss FNN1 / loss SensLI@t)."""
    wt = when_table(df)
    per_seed = wt.groupby("seed")["log_ratio"].mean()
    text = (f"{wt['t'].nunique()} insertion times x {len(per_seed)} seeds; SensLI lower in "
            f"{int((wt['log_ratio'] > 0).sum())}/{len(wt)} (seed, time) pairs")
    return directional(c, per_seed.to_numpy(), 0.0), text


def _error(c, df, study):
    pr = paired(df, study, "small", "test_err")
    text = f"median test error SensLI {_median(pr['sensli']):.3f} vs small {_median(pr['base']):.3f}"
    return directional(c, pr["sensli"], pr["base"], paired=True, higher_is_better=False, scale=100), text


def _cost(c, df, study):
    ct = cost_table(df, study, "large")
    text = (f"median FLOP ratio SensLI/large to the target {_median(ct['ratio']):.3f}, cheaper in "
            f"{int((ct['ratio'] < 1).sum())}/{len(ct)} seeds (whole runs {_median(ct['total_ratio']):.3f})")
    return directional(c, ct["ratio"], 1.0, higher_is_better=False, log=True), text


def _early(c, df, study):
    other = "random" if c.id == "C6" else "min"
    t = early_table(df)
    t = t[(t["other"] == other) & (t["k"] == 25) & t["differs"]]
    text = f"{len(t)} differing pairs, SensLI lower in {int((t['sensli'] < t['base']).sum())}"
    return directional(c, t["sensli"], t["base"], paired=True, higher_is_better=False, log=True), text, len(t)


def _cnn_acc(c, df, study):
    pr = paired(df, "cnn", "small", "test_acc")
    text = f"median final accuracy SensLI {_median(pr['sensli']):.4f} vs small VGG {_median(pr['base']):.4f}"
    return directional(c, pr["sensli"], pr["base"], paired=True, scale=100), text


def _cnn_cost(c, df, study):
    ct = cnn_cost_table(df)
    pr = paired(df, "cnn", "small", "test_acc")
    parts = {"(a) fewer FLOPs than the big VGG to its level": directional(c, ct["effect_pp"], 0.0),
             "(b) final accuracy >= the small VGG's - 1 pp": directional(c, pr["sensli"], pr["base"], paired=True,
                                                                         scale=100, min_effect=-1.0)}
    text = (f"big VGG's levels {', '.join(f'{v:.3f}' for v in ct['target'])}; FLOP ratio SensLI/big to them "
            f"{', '.join(f'{v:.2f}' for v in ct['ratio'])}")
    return combine(parts), text


def _params(c, df, study):
    d = df[df["study"].isin(["fnn", "resnet"]) & (df["status"] == "ok")]
    ours = {k: int(g["params_end"].iloc[0]) for k, g in d.groupby(["study", "method"])}
    missing = [k for k in EXPECTED_PARAMS if k not in ours]
    if missing:
        return not_run(f"no finished run of {missing}", kind="exact"), ""
    text = "; ".join(f"{s} {m} {ours[(s, m)]} (authors {n})" for (s, m), n in EXPECTED_PARAMS.items())
    return exact(c, all(ours[k] == n for k, n in EXPECTED_PARAMS.items()), text), ""


def _continuity(c, df, study):
    jumps = [abs(i["loss_jump"]) for r in df[df["status"] == "ok"]["result"] for i in r.get("insertions", [])]
    if not jumps:
        return not_run("no insertion ran", kind="exact"), ""
    return exact(c, max(jumps) <= JUMP_BOUND, f"max |loss jump| {max(jumps):.2g} over {len(jumps)} insertions"), ""


MEASURES = {**{k: _vs_small for k in SPIRALS_VS_SMALL}, **{k: _cost for k in COSTS}, "C3": _error, "C6": _early,
            "C7": _early, "C8": _when, "C14": _cnn_acc, "C15": _cnn_cost, "C16": _params, "C17": _continuity}


def _regimes(c, df, study, extra) -> dict:
    """The measured value of every precondition ``c`` declares (None where it cannot be measured)."""
    values = {}
    for r in c.requires:
        if r is SMALL_PLATEAU or r is LARGE_PLATEAU:
            v = plateau_drops(df, study, "small" if r is SMALL_PLATEAU else "large")
            values[r.name] = v if len(v) else None
        elif r is DIFFER:
            values[r.name] = extra
        elif r is CNN_CONVERGED:
            arms = ["sensli", "small"] + (["large"] if c.id == "C15" else [])
            g = cnn_gains(df).set_index("method")["gain_pp"]
            values[r.name] = [g.get(a, np.nan) for a in arms]
    return values


def verdicts(frames: dict, profile: str | None = None) -> list[dict]:
    """One claims row per declared claim, computed from the stored runs (``run``'s ``study -> frame``).

    A claim whose study did not run, or whose every run failed, is "not run" with the reason; the others are
    measured by ``MEASURES`` and judged with their preconditions (``archlab.outcomes.judge``)."""
    df = runs_frame(frames)
    rows = []
    for c in CLAIMS:
        study = STUDY[c.id]
        problem = study_problem(df, study) if study else (None if len(df) else "no runs")
        if c.id == "C16" and problem is None:
            problem = study_problem(df, "resnet")
        if problem:
            rows.append(judge(c, not_run(problem, kind=c.kind), {r.name: None for r in c.requires}, profile=profile))
            continue
        outcome, text, *extra = MEASURES[c.id](c, df, study)
        rows.append(judge(c, outcome, _regimes(c, df, study, extra[0] if extra else None), measured=text,
                          profile=profile))
    return rows
