"""Paper 3's test-set noise vs seed noise (``archlab.testnoise``) for every claim judged on test accuracy.

Each run stores its per-example test correctness (``test_bits``); a claim's paired per-seed differences then split
into the part the finite test set explains and the part the seeds do. The table says where more budget would
help: more test images shrink only the first part (the cpu profile already evaluates the full test split), more
seeds only the second.
"""
from __future__ import annotations

import pandas as pd

from ... import testnoise
from .analysis import ok_runs
from .arms import CC, label
from .contexts import context_dataset
from .grid import CLAIM_ARMS

ACCURACY_CLAIMS = ("C1", "C2", "C3", "C4", "C6b", "C8b", "C10")  # judged on paired test accuracies


def pairs(claim: str) -> list[tuple[str, str]]:
    """The (A, B) arm pairs whose paired difference a claim judges (C2 and C10 have two)."""
    if claim not in ACCURACY_CLAIMS:
        raise ValueError(f"claim {claim!r} is not judged on test accuracy; valid: {list(ACCURACY_CLAIMS)}")
    return [(CC, b) for b in CLAIM_ARMS[claim][1:]]


def splits(runs: pd.DataFrame, first: str) -> dict:
    """``"<claim> vs <B>" -> testnoise.split`` row for every pair with at least two seeds finished in both arms."""
    out = {}
    for claim in ACCURACY_CLAIMS:
        ds = context_dataset(first) if claim == "C8b" else first
        for a, b in pairs(claim):
            row = testnoise.paired_split(*(_bits(runs, arm, ds) for arm in (a, b)))
            if row is not None:
                out[f"{claim} vs {label(b)}"] = row
    return out


def _bits(runs: pd.DataFrame, arm: str, dataset: str) -> dict:
    sel = ok_runs(runs, arm, dataset)
    return testnoise.bits_by_seed(sel)


def table(runs: pd.DataFrame, first: str, full_test: int = 10_000) -> pd.DataFrame:
    """One row per judged pair: effect and spreads in pp, the test-set share of the spread, and the spread projected
    to ``full_test`` images; empty when no run stored its test correctness."""
    s = splits(runs, first)
    return testnoise.table(s, full_test=full_test) if s else pd.DataFrame()
