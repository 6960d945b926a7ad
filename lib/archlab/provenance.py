"""Provenance of a result: which code, which packages, which device, which profile and seeds."""
from __future__ import annotations

import json
import platform
import subprocess
import time
from functools import lru_cache
from pathlib import Path

from .paths import REPO_ROOT


@lru_cache(maxsize=1)
def git_commit() -> str:
    """The checkout's commit, with ``-dirty`` when tracked files outside ``results/`` differ from it.

    ``results/`` is left out: a reproduction rewrites committed results as it goes, and what the manifest vouches for
    is the code. The timeout is generous because on a fresh clone every notebook is "racily clean", so the first
    ``git status`` runs the nbstripout filter on each of them (seconds on a busy machine); that call also refreshes
    the index, so later ones are fast.
    """
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True,
                             timeout=60).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)results"],
                               cwd=REPO_ROOT, capture_output=True, text=True, timeout=120).stdout.strip()
        return (sha or "unknown") + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def versions() -> dict:
    import numpy
    import pandas
    import torch
    import torchvision

    from . import __version__

    return {"python": platform.python_version(), "archlab": __version__, "torch": torch.__version__,
            "torchvision": torchvision.__version__, "numpy": numpy.__version__, "pandas": pandas.__version__}


def device_name(device=None) -> str:
    import torch

    if (device is None or str(device).startswith("cuda")) and torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"CPU: {cpu_model()} ({torch.get_num_threads()} threads)"


def cpu_model() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo), else the architecture: a rerun on another CPU model can move a
    verdict, and the reproduction report names both sides' devices."""
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def provenance(profile: str | None = None, seeds=None, device=None, **extra) -> dict:
    # a render that may not train (make figures) re-draws runs trained elsewhere: say so, so an export of these
    # results keeps the training run's provenance instead of the render's
    from .store import training_disabled

    rendered = "stored runs only (ARCHLAB_NO_TRAINING)" if training_disabled() else ""
    return {"git_commit": git_commit(), "versions": versions(), "device": device_name(device), "profile": profile,
            "seeds": list(seeds) if seeds is not None else None, "host": platform.node(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **({"rendered_from": rendered} if rendered else {}),
            **extra}


def notebook_info(root: Path, stem: str) -> dict:
    """A results folder's notebook: run time (papermill's record in the executed copy) and the provenance of its
    figures (``figures/manifest.json``: device, versions, profile, code commit), blank where missing."""
    info = {"run_time_s": None, "device": "", "versions": "", "profile": "", "git_commit": "", "rendered_from": ""}
    nb = Path(root) / stem / f"{stem}.ipynb"
    if nb.exists():
        duration = json.loads(nb.read_text()).get("metadata", {}).get("papermill", {}).get("duration")
        info["run_time_s"] = None if duration is None else round(float(duration), 1)
    manifest = Path(root) / stem / "figures" / "manifest.json"
    if manifest.exists():
        figures = json.loads(manifest.read_text()).get("figures", {})
        if figures:
            first = figures[sorted(figures)[0]]
            info.update(device=first.get("device", ""), profile=first.get("profile") or "",
                        git_commit=first.get("git_commit", ""), rendered_from=first.get("rendered_from", ""),
                        versions=", ".join(f"{k} {v}" for k, v in sorted(first.get("versions", {}).items())))
    return info
