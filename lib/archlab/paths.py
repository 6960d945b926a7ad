"""Where things live: the repository root, the results folder, the run store, the reference runs and the data.

Each can be moved with an environment variable so that tests write into a temp dir and never clobber committed
results (``ARCHLAB_RESULTS``), ``make figures`` renders into a throw-away store (``ARCHLAB_STORE``), tests keep a
private reference (``ARCHLAB_REFERENCE_DIR``), and offline copies of datasets can live anywhere (``ARCHLAB_DATA``).

A notebook a reader runs in JupyterLab (a kernel that is neither papermill's nor nbval's, so ``ARCHLAB_HEADLESS``
is unset, and no ``ARCHLAB_RESULTS``) writes into ``lab-results/`` (git-ignored), never into the committed
``results/``, and reads the reference runs beneath its own store, so it renders without training.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
COMMITTED = REPO_ROOT / "results"
LAB_RESULTS = REPO_ROOT / "lab-results"


def lab_mode() -> bool:
    """True in a notebook kernel a reader drives: headless runs (``archlab.run``, nbval) set ``ARCHLAB_HEADLESS``."""
    return (not os.environ.get("ARCHLAB_RESULTS") and not os.environ.get("ARCHLAB_HEADLESS")
            and "ipykernel" in sys.modules)


def results_root() -> Path:
    if os.environ.get("ARCHLAB_RESULTS"):
        return Path(os.environ["ARCHLAB_RESULTS"]).expanduser().resolve()
    return LAB_RESULTS if lab_mode() else COMMITTED


def results_dir(stem: str) -> Path:
    """``results/<notebook stem>/``, created on demand (in lab mode seeded with the committed verdicts first)."""
    if lab_mode():
        seed_lab_claims()
    d = results_root() / stem
    d.mkdir(parents=True, exist_ok=True)
    return d


def seed_lab_claims(committed: Path = COMMITTED, lab: Path = LAB_RESULTS) -> None:
    """Copy each committed ``<stem>/claims.csv`` into the lab folder where the lab's copy is missing or older, so
    the overview opened in JupyterLab shows every paper's verdict, not only those of notebooks run there."""
    for src in committed.glob("*/claims.csv"):
        dst = lab / src.parent.name / src.name
        if not dst.exists() or dst.stat().st_mtime < src.stat().st_mtime:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)


def data_root() -> Path:
    return Path(os.environ.get("ARCHLAB_DATA", REPO_ROOT / "data")).expanduser().resolve()


def store_path() -> Path:
    """The one run database shared by every notebook (runs are keyed by config, so they never collide)."""
    if os.environ.get("ARCHLAB_STORE"):
        path = Path(os.environ["ARCHLAB_STORE"]).expanduser().resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        return path
    root = results_root()
    root.mkdir(parents=True, exist_ok=True)
    return root / "runs.sqlite"


def reference_root() -> Path:
    """The reference runs, one folder per profile (``archlab.reference``)."""
    return Path(os.environ.get("ARCHLAB_REFERENCE_DIR", COMMITTED / "reference")).expanduser().resolve()


def reference_profiles() -> tuple[str, ...] | str:
    """Whose reference runs a default run store reads beneath its own: ``ARCHLAB_REFERENCE`` (``none``, ``all`` or
    profiles separated by commas); unset: ``all`` in lab mode, else none, so ``make reproduce`` always retrains."""
    value = os.environ.get("ARCHLAB_REFERENCE", "all" if lab_mode() else "none").strip()
    if value in ("all", "none", ""):
        return "all" if value == "all" else ()
    return tuple(p.strip() for p in value.split(",") if p.strip())
