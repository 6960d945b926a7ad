"""Two claims tables side by side: did a rerun (or a rule change) reproduce the reference, claim by claim?

``compare(reference, new)`` pairs the rows of two claims tables (``claims.COLUMNS``, e.g. two
``claims_summary.csv``) by paper and id and says, per claim, whether the verdict is the same and whether the new
effect lies inside the reference's interval: two runs whose effects agree within the reference's uncertainty can
still read differently when an interval sits near its threshold, and a reader comparing verdicts alone would
conclude the opposite. ``markdown(table)`` renders it for a note or the README.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .claims import normalise

COLUMNS = ["paper", "id", "kind", "verdict_ref", "verdict_new", "same_verdict", "effect_ref", "ci_low_ref",
           "ci_high_ref", "effect_new", "ci_low_new", "ci_high_new", "inside_ref_interval", "note_new"]


def compare(reference: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """One row per claim in either table (a claim missing on one side has an empty verdict there).

    ``inside_ref_interval`` is True/False where both sides have an effect and the reference an interval, else None.
    """
    keep = ["paper", "id", "kind", "verdict", "effect", "ci_low", "ci_high", "note"]
    ref, nw = (normalise(t)[keep].astype({"paper": str, "id": str}) for t in (reference, new))
    both = ref.merge(nw, on=["paper", "id"], how="outer", suffixes=("_ref", "_new"))
    both["kind"] = both.kind_ref.where(both.kind_ref.notna() & (both.kind_ref != ""), both.kind_new)
    both[["verdict_ref", "verdict_new"]] = both[["verdict_ref", "verdict_new"]].fillna("")
    both["same_verdict"] = both.verdict_ref == both.verdict_new
    both["inside_ref_interval"] = [_inside(r) for r in both.itertuples()]
    return both[COLUMNS].reset_index(drop=True)


def _inside(r) -> bool | None:
    vals = (r.effect_new, r.ci_low_ref, r.ci_high_ref)
    if not all(isinstance(v, (int, float)) and np.isfinite(v) for v in vals):
        return None
    return bool(r.ci_low_ref <= r.effect_new <= r.ci_high_ref)


def markdown(table: pd.DataFrame, changed_only: bool = False) -> str:
    """A Markdown table: claim, verdict before -> after, effect [interval] on each side."""
    rows = table[~table.same_verdict] if changed_only else table
    out = ["| paper | claim | kind | before | after | effect before | effect after | after inside before's interval |",
           "|---|---|---|---|---|---|---|---|"]
    for r in rows.itertuples():
        inside = {True: "yes", False: "no"}.get(r.inside_ref_interval, "")
        out.append(f"| {r.paper} | {r.id} | {r.kind} | {r.verdict_ref} | {r.verdict_new} | "
                   f"{_fmt(r.effect_ref, r.ci_low_ref, r.ci_high_ref)} | {_fmt(r.effect_new, r.ci_low_new, r.ci_high_new)}"
                   f" | {inside} |")
    return "\n".join(out)


def _fmt(e, lo, hi) -> str:
    if not np.isfinite(e):
        return ""
    return f"{e:+.3g}" + (f" [{lo:.3g}, {hi:.3g}]" if np.isfinite(lo) and np.isfinite(hi) else "")
