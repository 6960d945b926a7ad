"""Two claims tables side by side: did a rerun (or a rule change) reproduce the reference, claim by claim?

``compare(reference, new)`` pairs the rows of two claims tables (``claims.COLUMNS``, e.g. two
``claims_summary.csv``) by paper and id and says, per claim, whether the verdict is the same and whether the new
effect lies inside the reference's interval: two runs whose effects agree within the reference's uncertainty can
still read differently when an interval sits near its threshold, and a reader comparing verdicts alone would
conclude the opposite. ``markdown(table)`` renders it for a note or the README.

``reproduction()`` is the report that ends ``make reproduce``: the new results folder's claims against the
reference runs' claims of the same profile (``archlab.reference``), per claim the agreement and per notebook the run
time of each side, and the device, versions and profile where they differ; ``write_reproduction`` saves it as
``results/00_overview/reproduction.csv`` (claims) and ``reproduction_notebooks.csv``.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .claims import normalise, read_claims

REPORT_FILES = ("reproduction.csv", "reproduction_notebooks.csv")  # in 00_overview/ and with each reference
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


# Per claim, in the order a reader should look at them: a verdict that moved although the new effect lies in the
# reference's interval is statistical agreement read across a threshold, not a failure to reproduce.
AGREEMENT = ("verdict differs, effect outside reference interval", "verdict differs, effect inside reference interval",
             "verdict differs", "same verdict, effect outside reference interval", "on one side only", "same verdict")
PROVENANCE = ("profile", "device", "versions")
MANIFEST = "manifest.json"  # archlab.reference's per-profile record


def agreement(r) -> str:
    """One of ``AGREEMENT`` for a row of ``compare``'s table ("verdict differs" alone: no interval, e.g. an exact
    check)."""
    if not r.verdict_ref or not r.verdict_new:
        return "on one side only"
    inside = {True: "inside", False: "outside"}.get(r.inside_ref_interval)
    if r.same_verdict:
        return "same verdict" if inside != "outside" else AGREEMENT[3]
    return f"verdict differs, effect {inside} reference interval" if inside else AGREEMENT[2]


def _claims_of(folder: Path, pattern: str, stem_of) -> pd.DataFrame:
    tables = [read_claims(p).assign(notebook=stem_of(p)) for p in sorted(folder.glob(pattern))]
    return pd.concat(tables, ignore_index=True) if tables else normalise(pd.DataFrame()).assign(notebook="")


def reproduction(profile: str | None = None, new_root: Path | None = None, ref: Path | None = None) -> dict:
    """``{"profile", "note", "claims", "notebooks"}``: the new results' claims (``new_root``, default the results
    folder) against the reference claims of ``profile`` (default: the new claims' profile)."""
    from .paths import REPO_ROOT, reference_root, results_root
    from .provenance import notebook_info

    new_root, ref = Path(new_root or results_root()), Path(ref or reference_root())
    new = _claims_of(new_root, "*/claims.csv", lambda p: p.parent.name)
    seen = new.profile.dropna().astype(str)
    profile = profile or (seen.mode().iloc[0] if len(seen) else "cpu")
    folder = ref / profile
    if not (folder / MANIFEST).exists():
        have = sorted(p.parent.name for p in ref.glob(f"*/{MANIFEST}"))
        shown = ref.relative_to(REPO_ROOT) if ref.is_relative_to(REPO_ROOT) else ref.name  # never the build path
        note = (f"no {profile} reference runs under {shown} (profiles with reference runs: "
                f"{', '.join(have) or 'none'}): nothing to compare this {profile} reproduction against")
        return {"profile": profile, "note": note, "claims": pd.DataFrame(columns=["notebook", *COLUMNS, "agreement"]),
                "notebooks": pd.DataFrame()}
    old = _claims_of(folder / "claims", "*.csv", lambda p: p.stem)
    new = new[new.notebook.isin(set(old.notebook)) | ~new.paper.isin(set(old.paper))]  # the profile's notebooks
    table = compare(old, new)
    stems = dict(zip(new.paper, new.notebook)) | dict(zip(old.paper, old.notebook))
    table.insert(0, "notebook", table.paper.map(stems))
    table["agreement"] = [agreement(r) for r in table.itertuples()]
    table = table.sort_values(["notebook", "id"], key=lambda c: c.map(_natural) if c.name == "id" else c)
    manifest = json.loads((folder / MANIFEST).read_text())
    rows = []
    for stem in sorted(set(manifest["notebooks"]) | {p.parent.name for p in new_root.glob("*/claims.csv")}):
        a, b = manifest["notebooks"].get(stem, {}), notebook_info(new_root, stem)
        row = {"notebook": stem, "run_time_ref_s": a.get("run_time_s"), "run_time_new_s": b["run_time_s"]}
        for f in (*PROVENANCE, "git_commit"):
            row |= {f"{f}_ref": a.get(f, ""), f"{f}_new": b[f]}
        row["differs"] = ", ".join(f for f in PROVENANCE if a.get(f) and b[f] and a.get(f) != b[f])
        rows.append(row)
    same, n, outside = agreement_counts(table)
    note = (f"{same} of {n} verdicts match the {profile} reference; "
            f"{outside} new effects lie outside the reference's interval")
    return {"profile": profile, "note": note, "claims": table.reset_index(drop=True), "notebooks": pd.DataFrame(rows)}


def _natural(claim_id: str):
    """C2 before C10 (ids sort by their number, then by their suffix)."""
    import re

    m = re.match(r"([A-Za-z]*)(\d+)(.*)", str(claim_id))
    return (m.group(1), int(m.group(2)), m.group(3)) if m else (str(claim_id), 0, "")


def flagged(rep: dict) -> pd.DataFrame:
    """The claims a reader must look at: every one whose agreement is not plain "same verdict"."""
    t = rep["claims"]
    return t[t.agreement != "same verdict"] if len(t) else t


def agreement_counts(table: pd.DataFrame) -> tuple[int, int, int]:
    """(same verdicts, claims, new effects outside the reference interval) of a report's claims table."""
    outside = int((table.inside_ref_interval == False).sum())  # noqa: E712 - NaN (no interval) is not outside
    return int(table.same_verdict.sum()), len(table), outside


def stored_reproduction(profile: str, ref: Path | None = None) -> dict | None:
    """The report of the reproduction that made ``profile``'s reference runs, against the reference before them
    (stored with the export), or None. Results rendered from the reference runs equal them by construction, so
    this is the report worth showing there."""
    from .paths import reference_root

    folder = Path(ref or reference_root()) / profile
    files = [folder / name for name in REPORT_FILES]
    if not all(f.exists() for f in files):
        return None
    claims, notebooks = (pd.read_csv(f) for f in files)
    same, n, outside = agreement_counts(claims)
    note = (f"rendered from the {profile} reference runs; the reproduction that made them matched the reference "
            f"before them in {same} of {n} verdicts, with {outside} new effects outside that reference's interval")
    return {"profile": profile, "note": note, "claims": claims, "notebooks": notebooks, "files": files}


def write_reproduction(rep: dict, root: Path | None = None) -> Path:
    """``rep`` as ``00_overview/reproduction.csv`` and ``reproduction_notebooks.csv`` (a stored report is copied
    as it was stored)."""
    import shutil

    from .paths import results_dir

    folder = Path(root) / "00_overview" if root is not None else results_dir("00_overview")
    folder.mkdir(parents=True, exist_ok=True)
    if rep.get("files"):
        for f in rep["files"]:
            shutil.copyfile(f, folder / f.name)
    else:
        rep["claims"].to_csv(folder / REPORT_FILES[0], index=False)
        rep["notebooks"].to_csv(folder / REPORT_FILES[1], index=False)
    return folder / REPORT_FILES[0]


def reproduction_text(rep: dict) -> str:
    """The report as a terminal reads it: the count, every flagged claim, each notebook's time and differences."""
    out = [f"Reproduction report ({rep['profile']} profile): {rep['note']}"]
    if not len(rep["claims"]):
        return out[0]
    bad = flagged(rep)
    out += ["", "Claims whose verdict or effect differs:" if len(bad) else "Every claim: same verdict."]
    if len(bad):
        out += ["", "| notebook | claim | kind | reference | new | effect reference | effect new | agreement |",
                "|---|---|---|---|---|---|---|---|"]
        out += [f"| {r.notebook} | {r.id} | {r.kind} | {r.verdict_ref} | {r.verdict_new} | "
                f"{_fmt(r.effect_ref, r.ci_low_ref, r.ci_high_ref)} | {_fmt(r.effect_new, r.ci_low_new, r.ci_high_new)}"
                f" | {r.agreement} |" for r in bad.itertuples()]
    out += ["", "| notebook | run time reference (s) | run time new (s) | differs |", "|---|---|---|---|"]
    for r in rep["notebooks"].itertuples():
        out.append(f"| {r.notebook} | {_secs(r.run_time_ref_s)} | {_secs(r.run_time_new_s)} | {r.differs} |")
    for r in rep["notebooks"].itertuples():
        for f in r.differs.split(", ") if r.differs else ():
            out.append(f"{r.notebook} {f}: reference {getattr(r, f + '_ref')}; new {getattr(r, f + '_new')}")
    return "\n".join(out)


def _secs(v) -> str:
    return "" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{float(v):.0f}"
