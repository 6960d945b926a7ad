"""The leaderboard's claims and ``verdicts``: ``run``'s runs -> one claims-table row each, through the harness's verdict
loop (``archlab.verdicts.evaluate``, one measure per claim id in ``MEASURES``).

One claim per paper: "at an equal parameter budget, under one shared recipe, this paper's design beats the
residual baseline" (paper 1's ResNet on the same macro). Judged by the harness's outcome rules
(``archlab.outcomes``): per budget, the per-seed test-accuracy gap design - ResNet in percentage points, paired by
seed (both nets see the same data order and augmentation draws), is a directional part whose one 95% interval
decides both ways against the smallest gain that matters (``MIN_GAIN``); the budgets the profile trains are
combined and the weakest decides. Each part needs both nets fitted: every compared run reaches a stated share of
the training accuracy its entry's longer probe reaches (``FITTED``, ``evidence.fit_table``), else "out of regime"
with the measured value. C5 is an exact check of the budget matching on the trained runs.
The rules, thresholds and their sources are in docs/papers/leaderboard.md ("Verdict rules"); its revision log lists
what changed after results were seen (``revised``).
"""
from __future__ import annotations

import pandas as pd

from ...claims import Claim
from ...outcomes import Regime, combine, directional, exact, judge
from ...runs import why_not_judged
from ...verdicts import Measured, evaluate
from .analysis import paired_gap, seeds
from .budgets import TOLERANCE
from .evidence import FIT_RATIO, fitted_value
from .grid import PROBE_FACTOR
from .meta import PAPER
from .models import BASELINE, ENTRIES

MIN_GAIN = 0.5  # pp: the smallest gain that makes a design worth choosing over ResNet at these sizes
DESIGNS = {"C1": "elan", "C2": "parallel", "C3": "mp2_cc", "C4": "sensli"}  # each paper's design under test
FITTED = Regime("fitted", f"last-epoch training accuracy of the worst compared run / that of its entry's "
                f"{PROBE_FACTOR}x longer probe (seed 0), lowest of the design and ResNet at each budget", ">=",
                FIT_RATIO)
GAIN_WHY = (f"chosen: {MIN_GAIN} pp, the smallest accuracy gain that would make a reader pick a design over ResNet "
            "for a small-image model; none of the papers states a CIFAR-10 size for a comparison with ResNet")
FITTED_WHY = (f"regime chosen (issue 31): a net whose training accuracy is within {1 - FIT_RATIO:.0%} of what the "
              f"same recipe reaches with {PROBE_FACTOR}x the epochs has been trained about as far as the recipe takes "
              "it, so a gap between two such nets is not a difference in fitting speed; measured against the entry's "
              "own longer probe because what a net can fit depends on its size, data and augmentation (the earlier "
              "absolute "
              "80% was argued from full-size CIFAR-10 nets and could not tell a 50k net on 2,500 augmented 16x16 "
              "images cut short from one at its limit), and because under a cosine schedule decaying to zero every "
              "loss curve looks flat at the end")
REVISED = ("issue 26, after the cpu results: regime 'last-quarter training-loss fall < 0.10' (passes by construction "
           "under a cosine schedule decaying to zero) -> last-epoch training accuracy >= 0.80; power gate dropped. "
           f"Issue 31: -> fitted (>= {FIT_RATIO:g} of the training accuracy of a {PROBE_FACTOR}x longer probe); "
           "full 10,000-image test split")
_CRIT = ("per budget the profile trains: per seed acc({d}) - acc(ResNet) on the test set, pp, paired by seed; 95% "
         "interval of the mean above {m:g} pp (reproduced) or below it (not reproduced); the weakest budget decides")
_TEXT = "At an equal parameter budget and one shared recipe, {what} beats the residual baseline (ResNet)."


def _c(cid: str, what: str) -> Claim:
    d = ENTRIES[DESIGNS[cid]]
    return Claim(cid, PAPER, f"[paper {d.paper}] " + _TEXT.format(what=what), _CRIT.format(d=d.label, m=MIN_GAIN),
                 unit="pp", min_effect=MIN_GAIN, min_effect_source=GAIN_WHY, requires=(FITTED,),
                 source=FITTED_WHY, revised=REVISED)


CLAIMS = [
    _c("C1", "ELAN (paper 1's gradient-path design)"),
    _c("C2", "the parallel (shallow) residual layer of paper 2"),
    _c("C3", "MP2-CC (paper 3's two-path net with cross-connection routing)"),
    _c("C4", "the SensLI-grown VGG of paper 4 (counted at its size after growth)"),
    Claim("C5", PAPER, "Every entry is matched to its budget: its parameter count lies within 5% of the budget "
          "(the SensLI VGG before and after its insertion).",
          f"every trained run: |params / budget - 1| <= {TOLERANCE:g} (SensLI: also its starting net)", kind="exact",
          source="issue 19's matching rule (+-5%)"),
]
BY_ID = {c.id: c for c in CLAIMS}


def _budgets(table: pd.DataFrame) -> list[int]:
    return sorted(int(b) for b in table.budget.dropna().unique())


def _design(claim: Claim, runs) -> Measured:
    """C1-C4, one design against ResNet: a directional part per budget both were trained at, the weakest decides;
    the fitted value is the lowest over those budgets (None: unmeasured)."""
    table, name = runs.table, DESIGNS[claim.id]
    parts, values = {}, []
    for b in _budgets(table):
        a, r = paired_gap(table, name, b)
        if len(a):
            parts[f"{b // 1000}k"] = directional(claim, a, r, paired=True)
            values.append(fitted_value(table, (name, BASELINE), b))
    outcome = combine(parts) if len(parts) > 1 else next(iter(parts.values()))
    return Measured(outcome, regimes={FITTED.name: None if None in values else min(values)})


def _matching(claim: Claim, runs) -> Measured:
    """C5 on the finished runs: the parameters as trained (and SensLI's starting net) against the budget."""
    df = runs.table[runs.table.status == "ok"]
    ratios = list(df.params / df.budget)
    grown = df.dropna(subset=["params_start"])
    ratios += list(grown.params_start / grown.budget)
    worst = max(abs(r - 1) for r in ratios)
    detail = f"largest |params / budget - 1| = {worst:.4f} over {len(df)} finished runs"
    return Measured(exact(claim, worst <= TOLERANCE, detail))


def _cannot_judge(claim: Claim, runs) -> str | None:
    """Why a claim has nothing to judge: C5 no finished run; C1-C4 no budget and seed where the design and ResNet
    both finished (named: which of the two never finished a compared run, else that they share none)."""
    table = runs.table
    if claim.id not in DESIGNS:
        return None if (table.status == "ok").any() else "no finished runs"
    name = DESIGNS[claim.id]
    if any(len(paired_gap(table, name, b)[0]) for b in _budgets(table)):
        return None
    compared = seeds(table)
    for n in (name, BASELINE):
        if why_not_judged(compared[compared.entry == n], n):
            return f"{ENTRIES[n].label} not trained in this profile (or every run of it failed)"
    return f"{ENTRIES[name].label} and ResNet share no budget and seed in this profile"


MEASURES = {**{cid: _design for cid in DESIGNS}, "C5": _matching}


def per_budget(table: pd.DataFrame, profile: str) -> pd.DataFrame:
    """Every design against ResNet at every budget, each judged alone (the parts the claims combine)."""
    rows = []
    for cid, name in DESIGNS.items():
        for b in _budgets(table):
            a, r = paired_gap(table, name, b)
            if len(a):
                row = judge(BY_ID[cid], directional(BY_ID[cid], a, r, paired=True),
                            regimes={FITTED.name: fitted_value(table, (name, BASELINE), b)}, profile=profile)
                rows.append({"claim": cid, "design": ENTRIES[name].label, "budget": b, **{
                    k: row[k] for k in ("effect", "ci_low", "ci_high", "detectable", "seeds", "regime_measured",
                                        "verdict", "note")}})
    return pd.DataFrame(rows)


def verdicts(runs, profile) -> list[dict]:
    """One claims row per claim from ``run``'s runs (its ``table``), through the harness's verdict loop."""
    return evaluate(CLAIMS, MEASURES, runs, profile, cannot_judge=_cannot_judge)
