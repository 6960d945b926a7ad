"""Outcome rules: one way, for every claim of every paper, to turn per-seed numbers into a verdict.

A claim (``archlab.claims.Claim``) declares its ``kind``, ``unit``, the smallest effect that matters
(``min_effect``) or the equivalence ``margin``, and the regime it needs (``requires``). A rule below measures::

    directional(claim, a, b)   A better than B (or than a scalar floor); 95% interval vs min_effect, both ways
    equivalence(claim, a, b)   A about equal to B; 90% interval (TOST) inside / wholly outside the margin
    exact(claim, ok)           a count or identity, true or false
    combine({"A>B": o1, ...})  a multi-part claim, decided by its weakest part

and ``judge(claim, outcome, regimes={...})`` checks the preconditions and returns the claims-table row.

One standard of evidence for and against: the same interval decides "reproduced" (it clears the smallest effect
that matters) and "not reproduced" (it lies on the other side of it); power and seeds-needed only plan designs and
go in the note (minimum-effect and equivalence testing: Lakens 2017, "Equivalence tests", Social Psychological and
Personality Science 8(4); interval estimates over seeds: Agarwal et al. 2021, "Deep RL at the edge of the
statistical precipice" (rliable)). Verdicts:
"reproduced", "not reproduced", "inconclusive", "out of regime" (a precondition failed: the experiment cannot speak,
so never "not reproduced"), "not run" (no runs, or a precondition could not be measured).

Values are per-seed metrics in any order the caller likes, one entry per run; NaN or inf marks a failed run, which
is dropped and counted in the note. What a *diverged* run scores (chance accuracy, say) is the caller's decision:
give it that value, not NaN. Examples::

    # SensLI's final training loss below the small net's (paired by seed), judged only if training converged
    conv = Regime("converged", "final training loss", "<", 0.5)
    c = Claim("fnn_vs_small", "4", "...", "95% interval of the loss gap above 0.01", unit="nats", min_effect=0.01,
              min_effect_source="chosen: ...", requires=(conv,))
    judge(c, directional(c, loss_li, loss_small, paired=True, higher_is_better=False),
          regimes={"converged": final_losses_all_arms}, profile="cpu")
    # an effect-size floor (normalised MI at least 0.05): the floor is the claim's min_effect, tested one-sample
    c = Claim("C7", "3", "...", "95% interval of the MI above 0.05", unit="nats", min_effect=0.05,
              min_effect_source="chosen: ...")
    judge(c, directional(c, mi_per_seed, 0.0))
    # paper 2's validation band 0.98-1.10 on the ratio par/seq, as log-ratio bounds
    c = Claim("val-close-high-q", "2", "...", "90% interval of log(par/seq) inside log(0.98)..log(1.10)",
              kind="equivalence", unit="log-ratio", margin=ratio_margin(0.98, 1.10), min_effect_source="paper Table 2")
    judge(c, equivalence(c, val_par, val_seq, paired=True, log=True))
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from . import stats
from .claims import RANK, Claim, Regime, RegimeCheck, verdict  # noqa: F401  (Regime, RegimeCheck: re-exported)

POWER, ALPHA = 0.8, 0.05


@dataclass(frozen=True)
class Outcome:
    """What a rule measured, in the claim's unit. ``slack`` is how far the interval clears its threshold (negative:
    it does not); ``combine`` uses it to pick the weakest part."""
    kind: str
    verdict: str
    effect: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan
    ci_method: str = ""
    threshold: str = ""
    threshold_low: float = math.nan
    threshold_high: float = math.nan
    detectable: float = math.nan
    seeds: str = ""
    note: str = ""
    detail: str = ""
    slack: float = -math.inf
    regime: str = ""
    regime_measured: str = ""
    regime_ok: bool | None = None
    parts: tuple = ()


def ratio_margin(low: float, high: float) -> tuple[float, float]:
    """A ratio band (e.g. paper 2's 0.98-1.10) as log-ratio margin bounds, for ``log=True`` equivalence."""
    return (math.log(low), math.log(high))


def not_run(reason: str, kind: str = "directional") -> Outcome:
    return Outcome(kind, "not run", note=reason)


def exact(claim: Claim | None, ok: bool | None, detail: str = "") -> Outcome:
    """A count, an identity or a counted FLOP ratio: reproduced iff ``ok`` (None: not computed -> not run)."""
    if ok is None:
        return Outcome("exact", "not run", note="not computed", detail=detail)
    return Outcome("exact", "reproduced" if ok else "not reproduced", detail=detail, threshold="exact",
                   slack=math.inf if ok else -math.inf)


def _prepare(values, sign, scale, log):
    v = np.asarray(values, dtype=float)
    if log:
        with np.errstate(divide="ignore", invalid="ignore"):
            v = np.where(v > 0, np.log(np.where(v > 0, v, 1.0)), np.nan)  # non-positive -> NaN -> dropped
    return v * scale * sign


def _measure(a, b, paired, scale, log, sign, confidence, seed, interval="mean"):
    """(interval, sd upper bound, seeds text, notes), or the reason there is nothing to judge (a str): no values,
    or no finite one (a measure that failed on every run measured nothing, so it cannot be "inconclusive")."""
    if np.size(a) == 0 or (b is not None and np.ndim(b) > 0 and np.size(b) == 0):
        return "no runs"
    xb = None if b is None else _prepare(b, sign, scale, log)
    xb = float(xb) if xb is not None and np.ndim(xb) == 0 else xb
    xa = _prepare(a, sign, scale, log)
    for name, x in (("A", xa), ("B", xb)):
        if x is not None and not np.isfinite(x).any():
            return f"no finite value to judge: all {np.size(x)} value(s) of {name} are NaN or infinite"
    if interval == "median":
        iv = stats.median_difference(xa, xb, paired=paired, confidence=confidence)
    else:
        iv = stats.mean_difference(xa, xb, paired=paired, confidence=confidence, seed=seed)
    sd_c = stats.sd_upper(iv.sd, iv.df)
    seeds = f"{iv.n[0]}/{iv.n[0]}" if iv.design == "paired" else "/".join(map(str, iv.n))
    notes = [f"{iv.dropped} non-finite value(s) dropped"] if iv.dropped else []
    return iv, sd_c, seeds, notes


def _fmt(est, low, high, unit):
    return f"{est:+.3g} {unit} [{low:.3g}, {high:.3g}]".replace("  ", " ")


def _ratio_text(low, high, log, scale):
    return f" (ratio {math.exp(low):.3g}-{math.exp(high):.3g})" if log and scale == 1 else ""


def _seeds_note(need, design):
    per = " per arm" if design == "independent" else ""
    return (f"about {need} seeds{per} would likely decide it" if need else
            f"more than {stats.MAX_SEEDS} seeds{per} would be needed")


def directional(claim: Claim | None, a, b=None, *, paired: bool = False, higher_is_better: bool = True,
                min_effect: float | None = None, scale: float = 1.0, log: bool = False, seed: int = 0,
                interval: str | None = None) -> Outcome:
    """A better than B: effect = mean(a) - mean(b) (median with ``interval="median"``), signed so that positive is
    "as claimed".

    ``b`` is per-seed values (paired by position with ``paired=True``) or a scalar floor (one-sample); ``scale``
    converts the metric into the claim's unit first (100: accuracy fraction -> pp) and ``log`` compares log values
    (effect = log-ratio), so the effect, interval and ``min_effect`` share the claim's unit. ``min_effect`` (default:
    the claim's) is the smallest effect that matters; negative for a non-inferiority claim ("at least as good,
    within"). ``interval`` (default: the claim's): "mean" (``stats.mean_difference``) or "median"
    (``stats.median_difference``, for skewed per-seed values).

    One 95% interval decides both ways: reproduced when it lies above min_effect, not reproduced when it lies below
    it, inconclusive when it contains it. Power plays no part in the decision; ``detectable`` and "about N seeds
    would decide it" (at the observed distance from the threshold) are planning notes. Fewer than 2 finite values per
    arm (or too few for a median interval): inconclusive; no values, or none finite: not run.
    """
    if min_effect is None:
        min_effect = claim.min_effect if claim is not None else 0.0
    if interval is None:
        interval = claim.interval if claim is not None else "mean"
    me = float(min_effect)
    unit = claim.unit if claim is not None else ""
    threshold = f"> {me:g} {unit}".strip()
    m = _measure(a, b, paired, scale, log, 1.0 if higher_is_better else -1.0, 0.95, seed, interval)
    if isinstance(m, str):
        return Outcome("directional", "not run", note=m, threshold=threshold, threshold_low=me)
    iv, sd_c, seeds, notes = m
    base = dict(effect=iv.estimate, ci_low=iv.low, ci_high=iv.high, ci_method=iv.method, threshold=threshold,
                threshold_low=me, seeds=seeds)
    if not (np.isfinite(iv.low) and np.isfinite(iv.high)):
        notes.insert(0, f"no interval from {seeds} value(s): {iv.method}")
        return Outcome("directional", "inconclusive", note="; ".join(notes), **base)
    detect = stats.detectable_effect(sd_c, iv.n, iv.design, ALPHA, POWER)
    outcome = "reproduced" if iv.low > me else "not reproduced" if iv.high < me else "inconclusive"
    notes.insert(0, _direction_note(outcome, iv, me, sd_c))
    return Outcome("directional", outcome, detectable=detect, note="; ".join(n for n in notes if n),
                   slack=iv.low - me, detail=_fmt(iv.estimate, iv.low, iv.high, unit)
                   + (f" (ratio {math.exp(iv.estimate):.3g})" if log and scale == 1 else ""), **base)


def _direction_note(outcome, iv, me, sd_c) -> str:
    """Why the interval says what it says, and (inconclusive only) how many seeds would likely decide it."""
    if outcome == "reproduced":
        return ""
    if outcome == "not reproduced":
        if me > 0:
            return "reversed: interval below 0" if iv.high < 0 else f"negligible: interval below {me:g}"
        return f"worse than the non-inferiority margin {me:g}"
    note = "effect present, size not shown" if me > 0 and iv.low > 0 else ""
    need = stats.seeds_needed(abs(iv.estimate - me), sd_c, iv.design, ALPHA, POWER)
    plan = (f"planning: about {need} seeds{' per arm' if iv.design == 'independent' else ''} would likely decide it"
            if need else f"planning: more than {stats.MAX_SEEDS} seeds would be needed")
    return "; ".join(x for x in (note, plan) if x)


def equivalence(claim: Claim | None, a, b=None, *, paired: bool = False, margin: tuple[float, float] | None = None,
                log: bool = False, scale: float = 1.0, seed: int = 0) -> Outcome:
    """A about equal to B: effect = mean(a) - mean(b) (log-ratio with ``log=True``) against ``margin`` (low, high).

    Two one-sided tests at 5% each are equivalent to the 90% interval lying inside the margin, so the decision uses
    the 90% interval (wider of t and bootstrap, as for directional claims) and the statsmodels TOST p is reported
    beside it. One interval decides both ways: reproduced when it lies inside the margin, not reproduced when it
    lies wholly outside it, otherwise inconclusive (with, as a planning note, the seeds TOST needs for 80% power at
    the observed effect).
    ``detectable`` is the tightest symmetric margin this design could confirm if the truth were 0.
    """
    margin = margin if margin is not None else getattr(claim, "margin", None)
    if margin is None:
        raise ValueError("an equivalence rule needs a margin (low, high): declare it on the claim")
    lo, hi = map(float, margin)
    unit = claim.unit if claim is not None else ""
    threshold = f"[{lo:.3g}, {hi:.3g}] {unit}".strip() + _ratio_text(lo, hi, log, scale)
    m = _measure(a, b, paired, scale, log, 1.0, 0.90, seed)
    if isinstance(m, str):
        return Outcome("equivalence", "not run", note=m, threshold=threshold, threshold_low=lo,
                       threshold_high=hi)
    iv, sd_c, seeds, notes = m
    base = dict(effect=iv.estimate, ci_low=iv.low, ci_high=iv.high, ci_method=iv.method, threshold=threshold,
                threshold_low=lo, threshold_high=hi, seeds=seeds)
    if min(iv.n) < 2:
        notes.insert(0, f"fewer than 2 finite values per arm ({seeds}): no interval")
        return Outcome("equivalence", "inconclusive", note="; ".join(notes), **base)
    xa, xb = _prepare(a, 1.0, scale, log), None if b is None else _prepare(b, 1.0, scale, log)
    p = stats.tost_pvalue(xa, xb if xb is None or np.ndim(xb) else float(xb), lo, hi, paired=paired)
    detect = stats.tost_detectable_margin(sd_c, iv.n, iv.design, ALPHA, POWER)
    distance = lo - iv.high if iv.high < lo else iv.low - hi  # the interval's edge beyond the nearer bound
    if lo < iv.low and iv.high < hi:
        outcome = "reproduced"
    elif iv.high < lo or iv.low > hi:
        outcome = "not reproduced"
        notes.insert(0, f"interval wholly outside the margin, {distance:.3g} beyond its nearer bound")
    else:
        outcome = "inconclusive"
        if not lo < iv.estimate < hi:
            notes.insert(0, "observed difference lies outside the margin: more seeds would not confirm equivalence")
        elif sd_c > 0 and stats.tost_power(iv.estimate, sd_c, min(iv.n), iv.design, lo, hi) < POWER:
            need = stats.tost_seeds_needed(iv.estimate, sd_c, iv.design, lo, hi, ALPHA, POWER)
            notes.insert(0, "planning: " + _seeds_note(need, iv.design))
    detail = _fmt(iv.estimate, iv.low, iv.high, unit) + (f", TOST p = {p:.2g}" if np.isfinite(p) else "")
    return Outcome("equivalence", outcome, detectable=detect, note="; ".join(notes), detail=detail,
                   slack=min(iv.low - lo, hi - iv.high), **base)


def within(outcome: Outcome, requires, values: dict) -> Outcome:
    """Apply regime preconditions: any not measurable -> "not run"; any not met -> "out of regime".

    ``values`` maps each regime's name to its measured scalar or per-seed values (None: could not be measured);
    a missing name is a caller error. The statistics stay in the row (shown, not judged).
    """
    if not requires:
        return outcome
    missing = [r.name for r in requires if r.name not in values]
    if missing:
        raise ValueError(f"no measured value for regime(s) {missing}; pass None when it could not be measured")
    checks = [r.check(values[r.name]) for r in requires]
    oks = [c.ok for c in checks]
    ok = None if None in oks else all(oks)
    v, note = outcome.verdict, outcome.note
    if v != "not run" and None in oks:
        v, note = "not run", "precondition not measured: " + "; ".join(c.text for c in checks if c.ok is None)
    elif v != "not run" and False in oks:
        v, note = "out of regime", f"statistics alone: {v}" + (f"; {note}" if note else "")
    join = lambda *xs: "; ".join(x for x in xs if x)  # noqa: E731
    return replace(outcome, verdict=v, note=note, regime=join(outcome.regime, *(r.describe() for r in requires)),
                   regime_measured=join(outcome.regime_measured, *(c.text for c in checks)),
                   regime_ok=ok if outcome.regime_ok is None else (ok and outcome.regime_ok))


def combine(parts: dict[str, Outcome]) -> Outcome:
    """A multi-part claim (an ordering A > B > C: parts "A>B", "B>C") decided by its weakest part.

    Any part not reproduced -> not reproduced; else any out of regime -> out of regime; else any not run -> not
    run; else any inconclusive -> inconclusive; else reproduced. The weakest part (worst verdict, then smallest
    slack) gives the numeric columns; ``detail`` lists every part briefly.
    """
    if not parts:
        raise ValueError("combine needs at least one part")
    name, weakest = min(parts.items(), key=lambda kv: (RANK[kv[1].verdict], kv[1].slack))
    kinds = [o.kind for o in parts.values() if o.kind != "exact"]
    kind = "exact" if not kinds else weakest.kind if weakest.kind != "exact" else kinds[0]
    detail = "; ".join(f"{k} {o.verdict}" + (f": {o.detail}" if o.detail else "") for k, o in parts.items())
    def uniq(field):
        return "; ".join(dict.fromkeys(getattr(o, field) for o in parts.values() if getattr(o, field)))
    oks = [o.regime_ok for o in parts.values() if o.regime]
    return replace(weakest, kind=kind, detail=detail, parts=tuple(parts.items()),
                   note=f"weakest part {name}" + (f": {weakest.note}" if weakest.note else ""),
                   regime=uniq("regime"), regime_measured=uniq("regime_measured"),
                   regime_ok=None if not oks or None in oks else all(oks))


def judge(claim: Claim, outcome: Outcome, regimes: dict | None = None, measured: str = "",
          profile: str | None = None) -> dict:
    """The claims-table row (``claims.COLUMNS``) for ``claim`` given a rule's ``outcome``.

    ``regimes`` maps the names of ``claim.requires`` to measured values (see ``within``); ``measured`` is free text
    put before the rule's own summary. The outcome's kind must match the claim's (an exact check is never counted
    as a statistical claim, nor the reverse).
    """
    regimes = dict(regimes or {})
    unknown = set(regimes) - {r.name for r in claim.requires}
    if unknown:
        raise ValueError(f"claim {claim.paper}/{claim.id} declares no regime named {sorted(unknown)}")
    mixed_parts = bool(outcome.parts) and "exact" not in (claim.kind, outcome.kind)  # e.g. directional + equivalence
    if outcome.verdict != "not run" and outcome.kind != claim.kind and not mixed_parts:
        raise ValueError(f"claim {claim.paper}/{claim.id} is {claim.kind} but the outcome is {outcome.kind}")
    o = within(outcome, claim.requires, regimes)
    row = verdict(claim, "; ".join(x for x in (measured, o.detail) if x), o.verdict, profile)
    row.update({k: getattr(o, k) for k in ("effect", "ci_low", "ci_high", "ci_method", "detectable", "seeds", "note",
                                           "regime_ok")})
    if o.threshold:  # what the rule judged against (a part may override the claim's min_effect)
        row.update(threshold=o.threshold, threshold_low=o.threshold_low, threshold_high=o.threshold_high)
    row.update({k: getattr(o, k) or row[k] for k in ("regime", "regime_measured")})
    return row
