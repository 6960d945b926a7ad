"""Where things live: the repository root, the results folder and the data folder.

Both folders can be moved with environment variables so that tests write into a temp dir and
never clobber committed results (``ARCHLAB_RESULTS``), and so that offline copies of datasets can
live anywhere (``ARCHLAB_DATA``).
"""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def results_root() -> Path:
    return Path(os.environ.get("ARCHLAB_RESULTS", REPO_ROOT / "results")).expanduser().resolve()


def results_dir(stem: str) -> Path:
    """``results/<notebook stem>/``, created on demand."""
    d = results_root() / stem
    d.mkdir(parents=True, exist_ok=True)
    return d


def data_root() -> Path:
    return Path(os.environ.get("ARCHLAB_DATA", REPO_ROOT / "data")).expanduser().resolve()


def store_path() -> Path:
    """The one run database shared by every notebook (runs are keyed by config, so they never collide)."""
    root = results_root()
    root.mkdir(parents=True, exist_ok=True)
    return root / "runs.sqlite"
