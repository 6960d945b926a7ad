"""Provenance of a result: which code, which packages, which device, which profile and seeds."""
from __future__ import annotations

import platform
import subprocess
import time
from functools import lru_cache

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
    return f"CPU: {platform.processor() or platform.machine()} ({torch.get_num_threads()} threads)"


def provenance(profile: str | None = None, seeds=None, device=None, **extra) -> dict:
    return {"git_commit": git_commit(), "versions": versions(), "device": device_name(device), "profile": profile,
            "seeds": list(seeds) if seeds is not None else None, "host": platform.node(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **extra}
