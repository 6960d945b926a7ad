"""The one verdict loop of every paper: claim -> can it be judged -> measure -> preconditions -> outcome rule.

A paper declares its claims (``archlab.claims.Claim``, in its ``claims`` module), one measure per claim id and,
optionally, why a claim cannot be judged on the runs at hand; ``evaluate`` turns them into claims-table rows:

    MEASURES = {"C1": _parity, "C2": _slope, ...}   # claim id -> measure(claim, runs) -> Measured

    def verdicts(runs: Runs, profile: str) -> list[dict]:
        return evaluate(CLAIMS, MEASURES, runs, profile, cannot_judge=_cannot_judge)

A claim that cannot be judged (its experiment did not run, every run failed) is "not run" with the reason; the
others are measured, their preconditions checked (``archlab.outcomes.within``) and judged by their outcome rule.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

from .claims import Claim
from .outcomes import Outcome, judge, not_run


@dataclass(frozen=True)
class Measured:
    """What a measure returns: the rule's outcome, the measured values in words (shown before the rule's own
    summary) and the measured value of each precondition the claim declares (regime name -> value; None where it
    cannot be measured)."""

    outcome: Outcome
    measured: str = ""
    regimes: Mapping = field(default_factory=dict)


Measure = Callable[[Claim, object], Measured]


def evaluate(claims: list[Claim], measures: Mapping[str, Measure], runs, profile: str | None,
             cannot_judge: Callable[[Claim, object], str | None] | None = None) -> list[dict]:
    """One claims-table row per claim, in ``claims``' order (see the module docstring)."""
    missing = [c.id for c in claims if c.id not in measures]
    if missing:
        raise ValueError(f"no measure for claim(s) {missing}; measures exist for {sorted(measures)}")
    rows = []
    for c in claims:
        reason = cannot_judge(c, runs) if cannot_judge else None
        if reason:
            rows.append(judge(c, not_run(reason, kind=c.kind), {r.name: None for r in c.requires}, profile=profile))
            continue
        m = measures[c.id](c, runs)
        if not isinstance(m, Measured):
            raise TypeError(f"the measure of claim {c.paper}/{c.id} returned {type(m).__name__}, not Measured")
        rows.append(judge(c, m.outcome, dict(m.regimes), measured=m.measured, profile=profile))
    return rows
