"""Profiles scale every experiment: smoke (seconds, embedded data, tests), cpu (a reduced run for a
2-core machine), gpu (the real reproduction on one GPU), paper (full scale, may be sharded)."""
from __future__ import annotations

import importlib.util
import os

import torch

PROFILES = ("smoke", "cpu", "gpu", "paper")
CHOICES = ("auto",) + PROFILES


def resolve_profile(profile: str = "auto") -> str:
    """``auto`` means ``$ARCHLAB_PROFILE`` if set, else ``gpu`` when CUDA is available, else ``cpu``."""
    if profile == "auto":
        profile = os.environ.get("ARCHLAB_PROFILE") or ("gpu" if torch.cuda.is_available() else "cpu")
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; valid profiles: {', '.join(CHOICES)}")
    return profile


def default_device(profile: str | None = None) -> torch.device:
    """The smoke profile always runs on the CPU, so tests behave the same on a GPU machine."""
    if profile == "smoke" or not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda")


def auto_executor(profile: str, one_core_runs: bool = False) -> str:
    """``ray`` for the gpu/paper profiles when there is something to share (a local GPU or a cluster named by
    ``RAY_ADDRESS``), else ``local``: on a CPU, concurrent runs only compete for the same cores.

    ``one_core_runs``: the caller's runs are too small to use a second core well (measured 1.4x from two threads
    for paper 1's cpu nets), so the cpu profile on a CPU of two or more cores runs one single-thread run per core
    through Ray (each Ray task of one CPU gets OMP_NUM_THREADS=1). The smoke profile stays local: Ray's start-up
    would dominate its seconds.
    """
    import torch

    if profile in ("gpu", "paper") and (torch.cuda.is_available() or os.environ.get("RAY_ADDRESS")):
        if importlib.util.find_spec("ray"):
            return "ray"
        # Ray is an optional extra: without it the runs go one after another instead of failing on the import.
        _notice("Ray is not installed (pip install 'archlab[ray]'): runs go one at a time on the local executor")
        return "local"
    if one_core_runs and profile == "cpu" and (os.cpu_count() or 1) >= 2 and importlib.util.find_spec("ray"):
        return "ray"
    return "local"


_NOTICED: set = set()


def _notice(text: str) -> None:
    """Print ``text`` once per process (every notebook cell that resolves an executor would repeat it)."""
    if text not in _NOTICED:
        _NOTICED.add(text)
        print(f"note: {text}", flush=True)
