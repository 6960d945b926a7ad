"""The harness's width-to-budget matcher: the scale at which a net's cost (parameters, FLOPs) reaches a budget.

``match_scale(cost, budget, lo, hi, xtol=...)`` solves ``cost(s) = budget`` for the scale ``s`` in ``[lo, hi]``
with scipy's ``brentq`` on ``cost(s) - budget``. It assumes ``cost`` does not decrease with ``s`` (the widths, so
the counts, grow with the scale); with integer widths ``cost`` is a step function, and the answer is then a point
within ``xtol`` (absolute, in ``s``) of the step where the count passes the budget: rounding it to widths, and
checking the rounded net against a tolerance, is the caller's. A budget outside ``[cost(lo), cost(hi)]`` is refused
with a ValueError naming it and that range, or (``clip=True``) answered with the nearer end of the bracket.
"""
from __future__ import annotations

from typing import Callable

from scipy import optimize


def match_scale(cost: Callable[[float], float], budget: float, lo: float, hi: float, *, xtol: float,
                clip: bool = False) -> float:
    """The scale ``s`` in ``[lo, hi]`` where the non-decreasing ``cost(s)`` crosses ``budget`` (within ``xtol``)."""
    at_lo, at_hi = cost(lo), cost(hi)
    below, above = at_lo - budget, at_hi - budget
    if below < 0 < above:
        return optimize.brentq(lambda s: cost(s) - budget, lo, hi, xtol=xtol)
    if below == 0 or above == 0:
        return lo if below == 0 else hi
    if clip:
        return lo if below > 0 else hi
    raise ValueError(f"budget {budget:.6g} is outside the range the scales {lo:g} to {hi:g} reach: "
                     f"{at_lo:.6g} to {at_hi:.6g}")
