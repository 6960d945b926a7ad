"""Reference runs: the stored runs and verdicts behind a profile's committed results, shipped in the repository.

``results/reference/<profile>/`` holds
- ``runs.jsonl.xz``: every finished run of the store the results came from, one JSON row a line, sorted by key
  (xz, learning curves kept whole: the cpu profile's 2,088 runs are about 95 MB as SQLite and 14 MB here);
- ``claims/<stem>.csv``: each notebook's claims table as exported; ``make reproduce`` overwrites
  ``results/<stem>/claims.csv``, these stay to compare against;
- ``manifest.json``: the profile, and per notebook its run time, device, versions and code commit;
- ``reproduction.csv``, ``reproduction_notebooks.csv``: the report of the reproduction that made these runs against
  the reference before it (what ``make figures`` shows in the overview, where a self-comparison would say nothing).
Exporting replaces the profile's folder (it never adds to it). A SQLite copy of the runs (``runs.sqlite`` beside
the export, git-ignored) is rebuilt whenever it is missing or older than the export.

    python -m archlab.reference export --profile cpu   # results/ (after make reproduce) -> results/reference/cpu
    python -m archlab.reference figures NOTEBOOK ... --profile cpu   # render from the reference, train nothing
    python -m archlab.reference report [--profile cpu]  # the reproduction report (archlab.report.reproduction)
"""
from __future__ import annotations

import argparse
import json
import lzma
import os
import shutil
import sqlite3
import sys
import tempfile
from contextlib import closing
from pathlib import Path

import pandas as pd

from .paths import reference_root, results_root
from .provenance import notebook_info
from .report import MANIFEST, REPORT_FILES, reproduction, reproduction_text, write_reproduction
from .store import EXPORT as RUNS
from .store import FIELDS, RunStore, finished, load_export

SQLITE = "runs.sqlite"


def export(profile: str, source: Path | None = None, dest: Path | None = None) -> Path:
    """Write ``source``'s runs, claims and per-notebook provenance as ``dest/<profile>/``, replacing what was there.

    Refuses a results folder whose claims were reached at another profile (a smoke run must not become the cpu
    reference)."""
    source, dest = Path(source or results_root()), Path(dest or reference_root())
    store = source / SQLITE
    claims = {p.parent.name: pd.read_csv(p) for p in sorted(source.glob("*/claims.csv"))}
    if not store.exists() or not claims:
        raise FileNotFoundError(f"{source} has no {SQLITE} or no <notebook>/claims.csv: run `make reproduce` first")
    other = {s: sorted(set(c.profile.astype(str)) - {profile}) for s, c in claims.items()}
    other = {s: p for s, p in other.items() if p}
    if other:
        raise ValueError(f"profile {profile!r} asked, but these claims tables were reached at another: {other}")
    tmp = Path(tempfile.mkdtemp(prefix=f".{profile}-", dir=_mkdir(dest)))
    with closing(sqlite3.connect(f"file:{store}?mode=ro", uri=True)) as db:
        marks = ",".join("?" * len(finished()))
        rows = db.execute(f"SELECT {', '.join(FIELDS)} FROM runs WHERE status IN ({marks}) ORDER BY key",
                          finished()).fetchall()
    text = "".join(json.dumps(dict(zip(FIELDS, r)), sort_keys=True) + "\n" for r in rows)
    (tmp / RUNS).write_bytes(lzma.compress(text.encode(), preset=6))
    _mkdir(tmp / "claims")
    for stem, table in claims.items():
        shutil.copy2(source / stem / "claims.csv", tmp / "claims" / f"{stem}.csv")
    for name in REPORT_FILES:  # how this reproduction compared with the reference it replaces
        if (source / "00_overview" / name).exists():
            shutil.copy2(source / "00_overview" / name, tmp / name)
    stems = sorted({p.parent.name for p in source.glob("*/*.ipynb") if p.stem == p.parent.name} | set(claims))
    manifest = {"profile": profile, "runs": len(rows), "notebooks": _provenance(source, stems, dest / profile)}
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    target = dest / profile
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    target.chmod(0o755)  # mkdtemp's folder is private; the export is for everyone who clones
    return target


def _provenance(source: Path, stems: list[str], previous: Path) -> dict:
    """Each notebook's provenance; a notebook rendered from stored runs only (``make figures``) keeps the entry of
    the reference it was rendered from, whose commit and run time are those of the training run."""
    old = json.loads((previous / MANIFEST).read_text()).get("notebooks", {}) if (previous / MANIFEST).exists() else {}
    out = {}
    for s in stems:
        info = notebook_info(source, s)
        rendered = info.pop("rendered_from", "")
        out[s] = old[s] if rendered and s in old else info
    return out


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def profiles(ref: Path | None = None) -> list[str]:
    """The profiles that have reference runs."""
    ref = Path(ref or reference_root())
    return sorted(p.parent.name for p in ref.glob(f"*/{RUNS}"))


def materialise(profile: str, ref: Path | None = None) -> Path | None:
    """The reference runs of ``profile`` as a SQLite store, or None when the profile has none."""
    export_file = Path(ref or reference_root()) / profile / RUNS
    return load_export(export_file) if export_file.exists() else None


def figures(notebooks: list[Path], profile: str) -> int:
    """Render ``notebooks`` at ``profile`` from its reference runs alone: a throw-away store of their own (so a
    missing run is never taken from, or written into, another store), training forbidden. Returns how many runs
    had to be computed anyway (0 when the reference is complete)."""
    from .run import run_notebook

    if materialise(profile) is None:
        raise FileNotFoundError(f"no {profile} reference runs under {reference_root()} (profiles with reference runs:"
                                f" {profiles() or 'none'}); `make reproduce PROFILE={profile}` then `make reference`")
    with tempfile.TemporaryDirectory() as tmp:
        own = Path(tmp) / SQLITE
        os.environ.update(ARCHLAB_STORE=str(own), ARCHLAB_REFERENCE=profile, ARCHLAB_NO_TRAINING="1")
        for nb in notebooks:
            try:
                run_notebook(nb, {"profile": profile})
            except Exception as e:  # papermill's error carries the cell's; say which notebook, not a traceback
                if not hasattr(e, "ename"):
                    raise
                raise NotRendered(f"{Path(nb).name} did not render from the {profile} reference runs: "
                                  f"{e.ename}: {e.evalue}") from None
        return len(RunStore(own, references=[])) if own.exists() else 0


class NotRendered(RuntimeError):
    """A notebook failed while rendering from the reference runs (e.g. a run they lack: ``TrainingDisabled``)."""


def main(argv=None) -> int:
    from .profiles import PROFILES
    from .run import exit_status

    ap = argparse.ArgumentParser(prog="python -m archlab.reference", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("export", help="results/ -> results/reference/<profile>/ (replacing it)")
    e.add_argument("--profile", required=True, choices=PROFILES)
    e.add_argument("--source", type=Path, default=None, help="results folder (default: results/ or ARCHLAB_RESULTS)")
    f = sub.add_parser("figures", help="render notebooks from the reference runs; trains nothing")
    f.add_argument("notebooks", nargs="+", type=Path)
    f.add_argument("--profile", default="cpu", choices=PROFILES)
    r = sub.add_parser("report", help="the reproduction report of results/ against the reference")
    r.add_argument("--profile", default=None, choices=PROFILES, help="default: the profile of the new claims")
    args = ap.parse_args(argv)

    def body():
        if args.cmd == "export":
            target = export(args.profile, args.source)
            size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file() and p.name != SQLITE)
            print(f"reference runs of profile {args.profile} -> {target} ({size / 1e6:.1f} MB)")
        elif args.cmd == "figures":
            trained = figures(args.notebooks, args.profile)
            if trained:
                print(f"error: {trained} runs were missing from the {args.profile} reference runs", file=sys.stderr)
                return 1
            print(f"every notebook rendered from the {args.profile} reference runs; nothing trained")
        else:

            rep = reproduction(args.profile)
            write_reproduction(rep)
            print(reproduction_text(rep))
        return 0

    try:
        return exit_status(body, bad_input=(ValueError, FileNotFoundError))
    except NotRendered as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
