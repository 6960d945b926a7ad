"""Claims and verdicts.

Each experiment module declares its ``CLAIMS`` (what the paper says and the criterion we test it
with) in code, before any result exists; the notebook then turns measured numbers into one verdict
per claim and writes ``results/<stem>/claims.csv``, which the overview notebook collects.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .paths import results_root

OUTCOMES = ("reproduced", "not reproduced", "inconclusive", "not run")
COLUMNS = ["paper", "id", "claim", "criterion", "measured", "verdict", "profile"]


@dataclass(frozen=True)
class Claim:
    id: str
    paper: str
    text: str
    criterion: str


def verdict(claim: Claim, measured: str, outcome: str, profile: str | None = None) -> dict:
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown verdict {outcome!r}; valid verdicts: {', '.join(OUTCOMES)}")
    return {"paper": claim.paper, "id": claim.id, "claim": claim.text, "criterion": claim.criterion,
            "measured": measured, "verdict": outcome, "profile": profile}


def decide(ok: bool | None, inconclusive: bool = False) -> str:
    """Map a criterion's outcome to a verdict: None or ``inconclusive`` -> inconclusive."""
    if inconclusive or ok is None:
        return "inconclusive"
    return "reproduced" if ok else "not reproduced"


def write_claims(rows: list[dict], path: Path) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=COLUMNS)
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False)
    return df


def all_claims() -> list[Claim]:
    """Every claim declared by the experiment modules, in paper order."""
    import importlib
    import pkgutil

    from . import experiments

    claims, seen = [], set()
    for m in sorted(pkgutil.iter_modules(experiments.__path__), key=lambda m: m.name):
        mod = importlib.import_module(f"{experiments.__name__}.{m.name}")
        declared = getattr(mod, "CLAIMS", [])
        if id(declared) not in seen:  # a plotting module may re-export its experiment module's CLAIMS
            seen.add(id(declared))
            claims += list(declared)
    return sorted(claims, key=lambda c: (c.paper, c.id))


def collect_claims(root: Path | None = None) -> pd.DataFrame:
    """One row per declared claim with its latest verdict from ``results/*/claims.csv`` ("not run" if none)."""
    root = Path(root) if root is not None else results_root()
    found = [pd.read_csv(p, dtype={"paper": str, "id": str}) for p in sorted(root.glob("*/claims.csv"))]
    measured = pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=COLUMNS)
    measured = measured.drop_duplicates(["paper", "id"], keep="last").set_index(["paper", "id"])
    rows = []
    for c in all_claims():
        if (c.paper, c.id) in measured.index:
            m = measured.loc[(c.paper, c.id)]
            rows.append({"paper": c.paper, "id": c.id, "claim": c.text, "criterion": c.criterion,
                         "measured": m["measured"], "verdict": m["verdict"], "profile": m["profile"]})
        else:
            rows.append(verdict(c, "", "not run"))
    return pd.DataFrame(rows, columns=COLUMNS)
