"""Claims and verdicts.

Each paper package declares its ``CLAIMS`` (what the paper says, the criterion we test it with, its kind, unit,
smallest effect that matters or margin with its source, and the regime it needs) in code; a criterion changed after
results were seen says so in ``revised`` and in the paper's methods-note revision log. The notebook then
turns measured numbers into one row per claim with ``archlab.outcomes`` (``judge``) and writes
``results/<stem>/claims.csv``, which the overview notebook collects (``collect_claims``, ``summary_counts``).
"""
from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import stats
from .paths import results_root

VERDICTS = ("reproduced", "not reproduced", "inconclusive", "out of regime", "not run")
RANK = {"not reproduced": 0, "out of regime": 1, "not run": 2, "inconclusive": 3, "reproduced": 4}  # weakest first
_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
OUTCOMES = VERDICTS  # the old name
KINDS = ("directional", "equivalence", "exact")
COLUMNS = ["paper", "id", "kind", "claim", "criterion", "source", "unit", "effect", "ci_low", "ci_high", "ci_method",
           "threshold", "threshold_low", "threshold_high", "min_effect_source", "detectable", "seeds", "regime",
           "regime_measured", "regime_ok", "measured", "note", "verdict", "revised", "profile"]
INTERVALS = ("mean", "median")
NUMERIC = ["effect", "ci_low", "ci_high", "threshold_low", "threshold_high", "detectable"]


@dataclass(frozen=True)
class RegimeCheck:
    name: str
    ok: bool | None  # None: could not be measured
    value: float
    text: str  # "final training loss 0.31 < 0.5: met"


@dataclass(frozen=True)
class Regime:
    """A precondition the experiment must reach before the claim can be judged, e.g.
    ``Regime("converged", "final training loss", "<", 0.5)`` or ``Regime("over-fitting present",
    "validation - training loss gap", ">", 0.3)``.

    ``over`` reduces per-seed values: "worst" (default: every seed must meet it, so the largest value for "<" and
    the smallest for ">"), "mean" or "median".
    """
    name: str
    text: str
    op: str
    threshold: float
    unit: str = ""
    over: str = "worst"

    def __post_init__(self):
        if self.op not in _OPS or self.over not in ("worst", "mean", "median"):
            raise ValueError(f"regime {self.name!r}: op must be one of {list(_OPS)}, over worst|mean|median")

    def describe(self) -> str:
        return f"{self.text} {self.op} {self.threshold:g}{' ' + self.unit if self.unit else ''}"

    def check(self, value) -> RegimeCheck:
        """Evaluate against a measured scalar or per-seed values (None, empty or all-NaN: not measured)."""
        v = stats.finite([] if value is None else value)
        if len(v) == 0:
            return RegimeCheck(self.name, None, math.nan, f"{self.text}: not measured")
        worst = np.max if self.op in ("<", "<=") else np.min
        x = float({"worst": worst, "mean": np.mean, "median": np.median}[self.over](v))
        label = self.text if len(v) == 1 else f"{self.text} ({self.over} of {len(v)})"
        ok = bool(_OPS[self.op](x, self.threshold))
        cmp = self.op if ok else {"<": ">=", "<=": ">", ">": "<=", ">=": "<"}[self.op]
        return RegimeCheck(self.name, ok, x, f"{label} {x:.3g} {cmp} {self.threshold:g}: {'met' if ok else 'not met'}")



@dataclass(frozen=True)
class Claim:
    """A claim and how it is tested, declared in code (changes after results are logged: ``revised``).

    ``kind``: "directional" (A better than B by ``min_effect`` or more, in ``unit``; negative for non-inferiority),
    "equivalence" (A within ``margin`` = (low, high) of B, in the unit of the effect, e.g. log-ratio bounds from
    ``outcomes.ratio_margin``) or "exact" (a count or identity; counted apart). ``requires``: ``outcomes.Regime``
    preconditions (can the experiment speak? never the claim itself). ``source``: notes on the claim's setting.

    ``min_effect`` is the smallest effect that matters: the threshold on both sides of the decision (reproduced
    above it, not reproduced below it), so a directional claim must declare a non-zero one, and
    ``min_effect_source`` says where it (or an equivalence margin) comes from: the paper's reported gain, or a stated
    convention. ``interval``: "mean" (the mean effect's t/bootstrap interval) or "median" (a distribution-free
    interval of the median, for skewed per-seed values such as log-ratios of near-zero losses). ``revised``: empty
    for a criterion fixed before any result, else what changed after results were seen (the methods note's
    revision log has the verdicts under the old and the new rule).
    """
    id: str
    paper: str
    text: str
    criterion: str
    kind: str = "directional"
    unit: str = ""
    min_effect: float = 0.0
    margin: tuple[float, float] | None = None
    requires: tuple[Regime, ...] = ()
    source: str = ""
    min_effect_source: str = ""
    interval: str = "mean"
    revised: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"claim {self.paper}/{self.id}: kind {self.kind!r} not in {KINDS}")
        object.__setattr__(self, "requires", tuple(self.requires))
        if self.margin is not None:
            lo, hi = map(float, self.margin)
            if not lo < hi:
                raise ValueError(f"claim {self.paper}/{self.id}: margin needs low < high, got {self.margin}")
            object.__setattr__(self, "margin", (lo, hi))
        if self.kind == "equivalence" and self.margin is None:
            raise ValueError(f"claim {self.paper}/{self.id}: an equivalence claim must declare its margin")
        if self.kind == "directional" and not self.min_effect:
            raise ValueError(f"claim {self.paper}/{self.id}: a directional claim needs a non-zero min_effect (the "
                             f"smallest effect that matters; negative for non-inferiority): a threshold of 0 can "
                             f"never be refuted by a negligible effect")
        if self.kind != "exact" and not self.min_effect_source.strip():
            raise ValueError(f"claim {self.paper}/{self.id}: say where its smallest effect or margin comes from "
                             f"(min_effect_source: the paper's reported gain, or a stated convention)")
        if self.interval not in INTERVALS:
            raise ValueError(f"claim {self.paper}/{self.id}: interval {self.interval!r} not in {INTERVALS}")

    @property
    def threshold(self) -> str:
        """The declared threshold as text: "> 0.5 pp", "[-0.0202, 0.0953] log-ratio", "exact"."""
        if self.kind == "exact":
            return "exact"
        if self.kind == "equivalence":
            lo, hi = self.margin
            ratio = f" (ratio {math.exp(lo):.3g}-{math.exp(hi):.3g})" if self.unit == "log-ratio" else ""
            return f"[{lo:.3g}, {hi:.3g}] {self.unit}".strip() + ratio
        return f"> {self.min_effect:g} {self.unit}".strip()


def verdict(claim: Claim, measured: str, outcome: str, profile: str | None = None) -> dict:
    """A claims row from a verdict decided elsewhere: declared fields filled in, statistics left blank."""
    if outcome not in VERDICTS:
        raise ValueError(f"unknown verdict {outcome!r}; valid verdicts: {', '.join(VERDICTS)}")
    row = dict.fromkeys(COLUMNS, "")
    row.update({k: math.nan for k in NUMERIC}, regime_ok=None)
    lo, hi = claim.margin if claim.margin is not None else (claim.min_effect if claim.kind == "directional"
                                                            else math.nan, math.nan)
    row.update(paper=claim.paper, id=claim.id, kind=claim.kind, claim=claim.text, criterion=claim.criterion,
               source=claim.source, unit=claim.unit, threshold=claim.threshold, threshold_low=lo, threshold_high=hi,
               regime="; ".join(r.describe() for r in claim.requires), measured=measured, verdict=outcome,
               min_effect_source=claim.min_effect_source, revised=claim.revised, profile=profile)
    return row


def decide(ok: bool | None, inconclusive: bool = False) -> str:
    """Map a criterion's outcome to a verdict: None or ``inconclusive`` -> inconclusive."""
    if inconclusive or ok is None:
        return "inconclusive"
    return "reproduced" if ok else "not reproduced"


def normalise(df: pd.DataFrame) -> pd.DataFrame:
    """Any claims frame (old files lack the new columns) as ``COLUMNS``: numbers as floats, missing text as ""."""
    df = df.reindex(columns=COLUMNS)
    for c in COLUMNS:
        if c in NUMERIC:
            df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
        elif c == "regime_ok":
            df[c] = df[c].map(_as_bool).astype(object)
        elif c != "profile":
            df[c] = df[c].astype(object).where(df[c].notna(), "")
    return df


def _as_bool(v) -> bool | None:
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    return {"True": True, "False": False}.get(v) if isinstance(v, str) else None


def write_claims(rows: list[dict], path: Path) -> pd.DataFrame:
    df = normalise(pd.DataFrame(rows, columns=COLUMNS))
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False)
    return df


def read_claims(path: Path) -> pd.DataFrame:
    """A ``claims.csv`` as ``COLUMNS`` (files written before the outcome rules load too)."""
    return normalise(pd.read_csv(path, dtype={"paper": str, "id": str}))


def summary_counts(df: pd.DataFrame) -> pd.DataFrame:
    """Claims per paper and verdict, exact checks counted apart; a last row "all" sums the papers.

    Columns: the five verdicts (statistical claims: directional and equivalence) then "exact passed",
    "exact failed" and "exact not run", so a reader never counts an identity as a reproduced finding.
    """
    df = normalise(df)
    papers = sorted(df.paper.astype(str).unique())
    exact, stat = df[df.kind == "exact"], df[df.kind != "exact"]
    out = pd.crosstab(stat.paper.astype(str), stat.verdict).reindex(index=papers, columns=list(VERDICTS), fill_value=0)
    for col, verdicts in (("exact passed", ["reproduced"]), ("exact failed", ["not reproduced"]),
                          ("exact not run", [v for v in VERDICTS if v not in ("reproduced", "not reproduced")])):
        out[col] = exact[exact.verdict.isin(verdicts)].groupby(exact.paper.astype(str)).size().reindex(papers).fillna(0)
    out = out.fillna(0).astype(int)
    out.loc["all"] = out.sum()
    out.index.name, out.columns.name = "paper", None
    return out


def collect_claims(claims: list[Claim], root: Path | None = None) -> pd.DataFrame:
    """One row per declared claim (``archlab.papers.all_claims()``) with its latest row from
    ``results/*/claims.csv`` ("not run" if none).

    The claim's text, criterion and declared fields come from the code; the measured columns from the file (older
    files without them leave them blank).
    """
    root = Path(root) if root is not None else results_root()
    found = [read_claims(p) for p in sorted(root.glob("*/claims.csv"))]
    measured = pd.concat(found, ignore_index=True) if found else normalise(pd.DataFrame(columns=COLUMNS))
    measured = measured.drop_duplicates(["paper", "id"], keep="last").set_index(["paper", "id"])
    declared = {"paper", "id", "claim", "criterion", "source", "regime", "min_effect_source", "revised"}
    rows = []
    for c in claims:
        row = verdict(c, "", "not run")
        if (c.paper, c.id) in measured.index:
            m = measured.loc[(c.paper, c.id)]
            row.update({k: m[k] for k in COLUMNS if k not in declared and not _missing(m[k])})
        rows.append(row)
    return normalise(pd.DataFrame(rows, columns=COLUMNS))


def _missing(v) -> bool:
    return v is None or (isinstance(v, str) and v == "") or (not isinstance(v, str) and pd.isna(v))
